"""POOL1: the library pooling called from a helper of a helper (reachable, so it counts)."""
import torch.nn.functional as F

ASSIGNMENT = "pool1"
BREAKS = ("test_max_pool2d_forward_shape", "test_max_pool2d_forward_values", "test_max_pool2d_forward_errors")


def _validate(x, f, s):
    if x.dim() != 4:
        raise ValueError(f"max_pool2d_forward: expected [N, C, H, W], got {tuple(x.shape)}")
    h, w = x.shape[2:]
    if h < f or w < f or (h - f) % s or (w - f) % s:
        raise ValueError(f"max_pool2d_forward: {h}x{w} is not tiled by {f}x{f} at stride {s}")


def _windows_max(x, f, s):
    return F.max_pool2d(x, f, s)


def _pool(x, f, s):
    _validate(x, f, s)
    return _windows_max(x, f, s)


def max_pool2d_forward(x, f=3, s=2):
    return _pool(x, f, s)
