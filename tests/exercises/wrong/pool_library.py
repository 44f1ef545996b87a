"""POOL1: torch.max_pool2d (banned in max_pool2d_forward)."""
import torch

ASSIGNMENT = "pool1"
BREAKS = ("test_max_pool2d_forward_shape", "test_max_pool2d_forward_values", "test_max_pool2d_forward_errors")


def max_pool2d_forward(x, f=3, s=2):
    if x.dim() != 4:
        raise ValueError(f"max_pool2d_forward: expected [N, C, H, W], got {tuple(x.shape)}")
    if (x.shape[2] - f) % s or (x.shape[3] - f) % s:
        raise ValueError(f"max_pool2d_forward: x {tuple(x.shape)} is not tiled")
    return torch.max_pool2d(x, f, s)
