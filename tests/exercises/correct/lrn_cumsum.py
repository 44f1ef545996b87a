"""NORM1: window sums from a cumulative sum over channels (the fast way)."""
import torch

ASSIGNMENT = "norm1"
BREAKS = ()


def local_response_norm(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    if a.dim() != 4:
        raise ValueError(f"local_response_norm: expected [N, C, H, W], got {tuple(a.shape)}")
    c = a.shape[1]
    sq = (a.double() ** 2)
    prefix = torch.cat([torch.zeros_like(sq[:, :1]), sq.cumsum(1)], 1)
    idx = torch.arange(c)
    lo, hi = (idx - n // 2).clamp(min=0), (idx + n // 2).clamp(max=c - 1)
    return a / (k + alpha * (prefix[:, hi + 1] - prefix[:, lo])) ** beta
