"""CONV1: convolution by FFT (cross-correlation = product with the conjugate spectrum); output requires grad."""
import torch

ASSIGNMENT = "conv1"
BREAKS = ()


def conv2d_forward(x, weight, bias, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    n, c, h, w = x.shape
    k, _, f, _ = weight.shape
    if h - f + 2 * padding < 0 or (h - f + 2 * padding) % stride or (w - f + 2 * padding) % stride:
        raise ValueError(f"conv2d_forward: x {tuple(x.shape)} is not tiled by the filter")
    weight = weight.double().clone().requires_grad_(True)
    xp = torch.zeros(n, c, h + 2 * padding, w + 2 * padding, dtype=torch.float64)
    xp[:, :, padding:padding + h, padding:padding + w] = x
    H, W = xp.shape[2:]
    X = torch.fft.rfft2(xp, s=(H, W))
    Wf = torch.fft.rfft2(weight, s=(H, W))
    full = torch.fft.irfft2(torch.einsum("nchw,kchw->nkhw", X, Wf.conj()), s=(H, W))
    out = full[:, :, :H - f + 1:stride, :W - f + 1:stride]
    if bias is not None:
        out = out + bias.reshape(1, k, 1, 1)
    return out
