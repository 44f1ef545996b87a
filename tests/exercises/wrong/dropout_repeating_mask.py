"""FC6: one random row of mask repeated over the batch: honours the generator, but units are not independent."""
import torch

ASSIGNMENT = "fc6"
BREAKS = ("test_dropout_forward_train",)


def dropout_forward(x, p=0.5, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x.clone()
    row = torch.rand(x.shape[-1], generator=generator) >= p
    return x * row.expand(x.shape) / (1.0 - p)
