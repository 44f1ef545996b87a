"""CONV1: plain loops over the output positions (slow, correct)."""
import torch

ASSIGNMENT = "conv1"
BREAKS = ()


def conv2d_forward(x, weight, bias, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    n, c, h, w = x.shape
    k, _, f, _ = weight.shape
    if h - f + 2 * padding < 0 or (h - f + 2 * padding) % stride or (w - f + 2 * padding) % stride:
        raise ValueError(f"conv2d_forward: x {tuple(x.shape)} is not tiled by {f}x{f} at stride {stride}")
    oh, ow = (h - f + 2 * padding) // stride + 1, (w - f + 2 * padding) // stride + 1
    xp = torch.zeros(n, c, h + 2 * padding, w + 2 * padding, dtype=x.dtype)
    xp[:, :, padding:padding + h, padding:padding + w] = x
    out = torch.zeros(n, k, oh, ow, dtype=x.dtype)
    flat_w = weight.reshape(k, -1)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + f, j * stride:j * stride + f].reshape(n, -1)
            out[:, :, i, j] = patch @ flat_w.T
    if bias is not None:
        out += bias.reshape(1, k, 1, 1)
    return out
