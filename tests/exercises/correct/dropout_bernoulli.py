"""FC6: torch.bernoulli keep-mask drawn with the generator."""
import torch

ASSIGNMENT = "fc6"
BREAKS = ()


def dropout_forward(x, p=0.5, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x.clone()
    keep = torch.bernoulli(torch.full(x.shape, 1.0 - p), generator=generator)
    return x * keep / (1.0 - p)
