"""FC8: softmax as exp of the student's own log_softmax (shifted by the maximum)."""
import torch

ASSIGNMENT = "fc8"
BREAKS = ()


def log_softmax(x, dim):
    shifted = x - x.amax(dim=dim, keepdim=True)
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def softmax(x, dim=-1):
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"softmax: dim {dim} is out of range for a {x.dim()}-d tensor")
    return log_softmax(x, dim).exp()
