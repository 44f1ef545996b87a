"""CONV1: ReLU with torch.maximum against zeros, keeping the dtype."""
import torch

ASSIGNMENT = "conv1"
BREAKS = ()


def relu(x):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError("relu: x must be a floating-point torch.Tensor")
    return torch.maximum(x, torch.zeros((), dtype=x.dtype))
