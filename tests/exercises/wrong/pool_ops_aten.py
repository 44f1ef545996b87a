"""POOL1: the aten operator behind F.max_pool2d, through torch.ops.aten."""
import torch

ASSIGNMENT = "pool1"
BREAKS = ("test_max_pool2d_forward_shape", "test_max_pool2d_forward_values", "test_max_pool2d_forward_errors")


def _validate(x, f, s):
    if x.dim() != 4:
        raise ValueError(f"max_pool2d_forward: expected [N, C, H, W], got {tuple(x.shape)}")
    h, w = x.shape[2:]
    if h < f or w < f or (h - f) % s or (w - f) % s:
        raise ValueError(f"max_pool2d_forward: {h}x{w} is not tiled by {f}x{f} at stride {s}")


def max_pool2d_forward(x, f=3, s=2):
    _validate(x, f, s)
    return torch.ops.aten.max_pool2d_with_indices(x, [f, f], [s, s])[0]
