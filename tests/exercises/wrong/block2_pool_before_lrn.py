"""POOL2: the second block in the wrong order: MAX POOL before LRN."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "pool2"
BREAKS = ("test_block2_forward_values",)


def block2_forward(x, weight, bias):
    if x.dim() != 4 or weight.dim() != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"block2_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    a = torch.clamp(F.conv2d(x, weight, bias, padding=2), min=0)
    return F.local_response_norm(F.max_pool2d(a, 3, 2), 5, alpha=5e-4, beta=0.75, k=2.0)
