"""NORM1: zero-padded avg_pool3d over channels times n (what nn.LocalResponseNorm does inside), then numpy."""
import numpy as np
import torch
import torch.nn.functional as F

ASSIGNMENT = "norm1"
BREAKS = ()


def local_response_norm(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    if a.dim() != 4:
        raise ValueError(f"local_response_norm: expected [N, C, H, W], got {tuple(a.shape)}")
    sq = (a * a).unsqueeze(1)
    sq = F.pad(sq, (0, 0, 0, 0, n // 2, n // 2))
    total = F.avg_pool3d(sq, (n, 1, 1), stride=1).squeeze(1) * n
    return np.asarray(a / (k + alpha * total) ** beta)
