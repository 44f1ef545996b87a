"""FC8: exp(x - logsumexp(x)); top_k with argsort on numpy."""
import numpy as np
import torch

ASSIGNMENT = "fc8"
BREAKS = ()


def softmax(x, dim=-1):
    if x.dim() == 0 or not -x.dim() <= dim < x.dim():
        raise ValueError(f"softmax: dim {dim} out of range for shape {tuple(x.shape)}")
    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))


def top_k(probs, k):
    if probs.dim() != 2 or not 1 <= k <= probs.shape[1]:
        raise ValueError(f"top_k: k={k} for probs of shape {tuple(probs.shape)}")
    p = probs.numpy()
    idx = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(p, idx, axis=1), idx
