"""FC6: the mask comes from the student's own dropout_mask(...) helper, drawn with the generator."""
import torch

ASSIGNMENT = "fc6"
BREAKS = ()


def dropout_mask(shape, p, generator, dtype):
    return (torch.rand(shape, generator=generator) >= p).to(dtype)


def dropout_forward(x, p=0.5, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: p must lie in [0, 1], got {p}")
    if not training or p == 0:
        return x
    return x * dropout_mask(x.shape, p, generator, x.dtype) / (1.0 - p)
