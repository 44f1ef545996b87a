"""CONV1: relu through torch.nn.functional.relu (banned in relu)."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "conv1"
BREAKS = ("test_relu_values", "test_relu_errors")


def relu(x):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError("relu: x must be a floating-point tensor")
    return F.relu(x)
