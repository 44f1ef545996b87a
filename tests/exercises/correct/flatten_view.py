"""POOL3: flatten with an explicit loop over channels and torch.cat."""
import torch

ASSIGNMENT = "pool3"
BREAKS = ()


def flatten_chw(x):
    if x.dim() != 4:
        raise ValueError(f"flatten_chw: expected [N, C, H, W], got {tuple(x.shape)}")
    return torch.cat([x[:, c].reshape(x.shape[0], -1) for c in range(x.shape[1])], dim=1)
