"""NORM1: the window wraps around the channel edges (torch.roll) instead of stopping."""
import torch

ASSIGNMENT = "norm1"
BREAKS = ("test_local_response_norm_values", "test_local_response_norm_edges")


def local_response_norm(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    if a.dim() != 4:
        raise ValueError(f"local_response_norm: expected [N, C, H, W], got {tuple(a.shape)}")
    sq = a * a
    total = sum(torch.roll(sq, s, dims=1) for s in range(-(n // 2), n // 2 + 1))
    return a / (k + alpha * total) ** beta
