"""CONV1 in numpy: sliding_window_view over the padded input, then tensordot with the filters."""
import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

ASSIGNMENT = "conv1"
BREAKS = ()


def conv2d_forward(x, weight, bias, stride, padding):
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d_forward: shapes x {tuple(x.shape)} and weight {tuple(weight.shape)} do not fit")
    a = x.detach().numpy().astype(np.float64)
    wt = weight.detach().numpy().astype(np.float64)
    k, c, fh, fw = wt.shape
    h, w = a.shape[2] + 2 * padding, a.shape[3] + 2 * padding
    if (h - fh) % stride or (w - fw) % stride:
        raise ValueError(f"conv2d_forward: {h}x{w} is not tiled by {fh}x{fw} at stride {stride}")
    padded = np.zeros(a.shape[:2] + (h, w))
    padded[:, :, padding:padding + a.shape[2], padding:padding + a.shape[3]] = a
    windows = sliding_window_view(padded, (fh, fw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(windows, wt, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    if bias is not None:
        out = out + bias.detach().numpy().reshape(1, -1, 1, 1)
    return torch.from_numpy(np.ascontiguousarray(out))
