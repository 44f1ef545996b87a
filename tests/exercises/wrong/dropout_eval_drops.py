"""FC6: dropout that also drops units at evaluation time."""
import torch

ASSIGNMENT = "fc6"
BREAKS = ("test_dropout_forward_eval",)


def dropout_forward(x, p=0.5, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: p must be in [0, 1], got {p}")
    if p == 0.0:
        return x
    return x * (torch.rand(x.shape, generator=generator) >= p) / (1 - p)
