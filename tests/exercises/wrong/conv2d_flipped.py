"""CONV1: a true convolution (the kernel flipped), not PyTorch's cross-correlation."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "conv1"
BREAKS = ("test_conv2d_forward_values",)


def conv2d_forward(x, weight, bias, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_forward: bad shapes x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    n, _, h, w = x.shape
    k, _, f, _ = weight.shape
    if (h - f + 2 * padding) % stride or (w - f + 2 * padding) % stride:
        raise ValueError(f"conv2d_forward: x {tuple(x.shape)} is not tiled by the filter")
    oh, ow = (h - f + 2 * padding) // stride + 1, (w - f + 2 * padding) // stride + 1
    flipped = torch.flip(weight, dims=(2, 3))
    cols = F.unfold(x, f, padding=padding, stride=stride)
    out = flipped.reshape(k, -1) @ cols
    if bias is not None:
        out = out + bias.reshape(1, k, 1)
    return out.reshape(n, k, oh, ow)
