"""FC8: exp(x) / sum(exp(x)) without subtracting the maximum: overflows on large logits."""
import torch

ASSIGNMENT = "fc8"
BREAKS = ("test_softmax_values",)


def softmax(x, dim=-1):
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"softmax: dim {dim} out of range for shape {tuple(x.shape)}")
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)
