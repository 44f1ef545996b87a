"""NORM1: a one-sided window, channels i .. i + n - 1."""
import torch

ASSIGNMENT = "norm1"
BREAKS = ("test_local_response_norm_values", "test_local_response_norm_edges")


def local_response_norm(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    if a.dim() != 4:
        raise ValueError(f"local_response_norm: expected [N, C, H, W], got {tuple(a.shape)}")
    c = a.shape[1]
    sq = a * a
    out = torch.empty_like(a)
    for i in range(c):
        out[:, i] = a[:, i] / (k + alpha * sq[:, i:min(c, i + n)].sum(1)) ** beta
    return out
