"""CONV3 in numpy: pad2d as zeros with the input assigned to the middle (np.pad itself is banned)."""
import numpy as np
import torch

ASSIGNMENT = "conv3"
BREAKS = ()


def pad2d(x, p):
    if x.dim() != 4:
        raise ValueError(f"pad2d: expected [N, C, H, W], got {tuple(x.shape)}")
    if p < 0:
        raise ValueError(f"pad2d: p must be >= 0, got {p}")
    a = x.numpy()
    out = np.zeros(a.shape[:2] + (a.shape[2] + 2 * p, a.shape[3] + 2 * p), dtype=a.dtype)
    out[:, :, p:p + a.shape[2], p:p + a.shape[3]] = a
    return torch.from_numpy(out)
