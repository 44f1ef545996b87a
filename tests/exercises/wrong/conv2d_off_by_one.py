"""CONV1: the output size forgets the + 1 (the last row and column of windows are lost)."""
import torch.nn.functional as F

ASSIGNMENT = "conv1"
BREAKS = ("test_conv2d_forward_shape", "test_conv2d_forward_values")


def conv2d_forward(x, weight, bias, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_forward: bad shapes x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    n, _, h, w = x.shape
    k, _, f, _ = weight.shape
    if (h - f + 2 * padding) % stride or (w - f + 2 * padding) % stride:
        raise ValueError(f"conv2d_forward: x {tuple(x.shape)} is not tiled by the filter")
    oh, ow = (h - f + 2 * padding) // stride, (w - f + 2 * padding) // stride
    out = weight.reshape(k, -1) @ F.unfold(x, f, padding=padding, stride=stride)
    out = out.reshape(n, k, oh + 1, ow + 1)[:, :, :oh, :ow]
    return out if bias is None else out + bias.reshape(1, k, 1, 1)
