"""FC7: h2 @ W instead of h2 @ W^T: no shape error because W is square."""
import torch

ASSIGNMENT = "fc7"
BREAKS = ("test_fc7_forward_values",)


def fc7_forward(h2, weight, bias):
    if h2.dim() != 2 or weight.dim() != 2 or weight.shape[1] != h2.shape[1]:
        raise ValueError(f"fc7_forward: h2 {tuple(h2.shape)} and weight {tuple(weight.shape)} do not match")
    return torch.clamp(h2 @ weight + bias, min=0)
