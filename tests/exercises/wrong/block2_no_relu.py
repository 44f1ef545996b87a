"""POOL2: the second block without its ReLU."""
import torch.nn.functional as F

ASSIGNMENT = "pool2"
BREAKS = ("test_block2_forward_values",)


def block2_forward(x, weight, bias):
    if x.dim() != 4 or weight.dim() != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"block2_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    a = F.conv2d(x, weight, bias, padding=2)
    return F.max_pool2d(F.local_response_norm(a, 5, alpha=5e-4, beta=0.75, k=2.0), 3, 2)
