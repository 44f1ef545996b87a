"""CONV3: np.pad is the whole operator pad2d asks for, so it is banned like F.pad."""
import numpy as np
import torch

ASSIGNMENT = "conv3"
BREAKS = ("test_pad2d_shape", "test_pad2d_values", "test_pad2d_errors")


def pad2d(x, p):
    if x.dim() != 4:
        raise ValueError(f"pad2d: expected [N, C, H, W], got {tuple(x.shape)}")
    if p < 0:
        raise ValueError(f"pad2d: p must be >= 0, got {p}")
    return torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (p, p), (p, p))))
