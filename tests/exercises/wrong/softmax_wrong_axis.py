"""FC8: always normalises along axis 0 (the batch) instead of dim."""
import torch

ASSIGNMENT = "fc8"
BREAKS = ("test_softmax_values", "test_softmax_dims")


def softmax(x, dim=-1):
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"softmax: dim {dim} out of range for shape {tuple(x.shape)}")
    e = torch.exp(x - x.amax(dim=0, keepdim=True))
    return e / e.sum(dim=0, keepdim=True)
