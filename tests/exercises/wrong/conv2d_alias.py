"""CONV1: the library's convolution under another name (the policy scan resolves the alias)."""
from torch.nn.functional import conv2d as _helper

ASSIGNMENT = "conv1"
BREAKS = ("test_conv2d_forward_shape", "test_conv2d_forward_values", "test_conv2d_forward_errors")


def conv2d_forward(x, weight, bias, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_forward: bad shapes x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    if (x.shape[2] - weight.shape[2] + 2 * padding) % stride or (x.shape[3] - weight.shape[3] + 2 * padding) % stride:
        raise ValueError(f"conv2d_forward: x {tuple(x.shape)} is not tiled by the filter")
    return _helper(x, weight, bias, stride=stride, padding=padding)
