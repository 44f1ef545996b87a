"""FC6: dropout that does not divide the kept units by 1 - p."""
import torch

ASSIGNMENT = "fc6"
BREAKS = ("test_dropout_forward_train",)


def dropout_forward(x, p=0.5, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: p must be in [0, 1], got {p}")
    if not training:
        return x
    return x * (torch.rand(x.shape, generator=generator) >= p)
