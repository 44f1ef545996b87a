"""FC6: draws the mask from torch's global generator instead of the one it is given."""
import torch

ASSIGNMENT = "fc6"
BREAKS = ("test_dropout_forward_train",)


def dropout_forward(x, p=0.5, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x.clone()
    keep = torch.rand(x.shape) >= p
    return x * keep / (1.0 - p)
