"""FC6: einsum; bias added in place on a float64 copy."""
import torch

ASSIGNMENT = "fc6"
BREAKS = ()


def linear_forward(x, weight, bias):
    if x.dim() != 2 or weight.dim() != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"linear_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    out = torch.einsum("ni,oi->no", x.double(), weight.double())
    if bias is not None:
        out += bias
    return out
