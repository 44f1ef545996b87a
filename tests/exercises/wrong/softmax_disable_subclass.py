"""FC8: the library softmax under DisableTorchFunctionSubclass, through an alias held by a helper."""
import torch

ASSIGNMENT = "fc8"
BREAKS = ("test_softmax_values", "test_softmax_dims", "test_softmax_errors")

_normalise = torch.softmax


def _rows(x, dim):
    with torch._C.DisableTorchFunctionSubclass():
        return _normalise(x, dim)


def softmax(x, dim=-1):
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"softmax: dim {dim} is out of range for a {x.dim()}-d tensor")
    return _rows(x, dim)
