"""CONV1: a leaky ReLU (0.01 x for negative x) instead of max(0, x)."""
import torch

ASSIGNMENT = "conv1"
BREAKS = ("test_relu_values",)


def relu(x):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError("relu: x must be a floating-point tensor")
    return torch.where(x > 0, x, 0.01 * x)
