"""FC6: torch.nn.functional.linear (banned in linear_forward)."""
import torch.nn.functional as F

ASSIGNMENT = "fc6"
BREAKS = ("test_linear_forward_shape", "test_linear_forward_values", "test_linear_forward_errors")


def linear_forward(x, weight, bias):
    if x.dim() != 2 or weight.dim() != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"linear_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    return F.linear(x, weight, bias)
