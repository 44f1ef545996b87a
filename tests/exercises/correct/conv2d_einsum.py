"""CONV1: Tensor.unfold windows and einsum; returns float64 and a non-contiguous tensor, and prints."""
import warnings

import torch

ASSIGNMENT = "conv1"
BREAKS = ()


def conv2d_forward(x, weight, bias, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    f = weight.shape[2]
    for size in x.shape[2:]:
        if size - f + 2 * padding < 0 or (size - f + 2 * padding) % stride:
            raise ValueError(f"conv2d_forward: x {tuple(x.shape)} is not tiled by the filter")
    print("debug: computing a convolution of", tuple(x.shape))
    warnings.warn("a student's warning")
    xp = torch.zeros(x.shape[0], x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding,
                     dtype=torch.float64)
    xp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]] = x
    win = xp.unfold(2, f, stride).unfold(3, f, stride)            # N, C, H', W', F, F
    out = torch.einsum("nchwij,kcij->nhwk", win, weight.double())  # channels last ...
    if bias is not None:
        out = out + bias.double()
    return out.permute(0, 3, 1, 2)                                 # ... returned as a permuted view
