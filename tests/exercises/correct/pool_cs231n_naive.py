"""POOL1: a numpy max_pool_forward_naive(x, size, stride) helper in the CS231n style, wrapped for torch."""
import numpy as np
import torch

ASSIGNMENT = "pool1"
BREAKS = ()


def max_pool_forward_naive(x, size, stride):
    n, c, h, w = x.shape
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def max_pool2d_forward(x, f=3, s=2):
    if x.dim() != 4:
        raise ValueError(f"max_pool2d_forward: expected [N, C, H, W], got {tuple(x.shape)}")
    h, w = x.shape[2:]
    if h < f or w < f or (h - f) % s or (w - f) % s:
        raise ValueError(f"max_pool2d_forward: {h}x{w} is not tiled by {f}x{f} windows at stride {s}")
    return torch.from_numpy(max_pool_forward_naive(x.detach().numpy(), f, s))
