"""BW POOL NORM: the arg-max positions taken from the library's max pooling (return_indices=True)."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "bw_pool_norm"
BREAKS = ("test_max_pool2d_backward_shape", "test_max_pool2d_backward_values", "test_max_pool2d_backward_overlap",
          "test_max_pool2d_backward_errors")


def max_pool2d_backward(dout, x, f=3, s=2):
    if x.dim() != 4:
        raise ValueError(f"max_pool2d_backward: x must have shape [N, C, H, W], got {tuple(x.shape)}")
    _, indices = F.max_pool2d(x, f, s, return_indices=True)
    if dout.shape != indices.shape:
        raise ValueError(f"max_pool2d_backward: dout must have shape {tuple(indices.shape)}, got {tuple(dout.shape)}")
    dx = torch.zeros_like(x).flatten(2)
    dx.scatter_add_(2, indices.flatten(2), dout.flatten(2))
    return dx.reshape(x.shape)
