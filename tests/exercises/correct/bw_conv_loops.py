"""BW CONV: loops over the output positions in float64, torch.where for ReLU, numpy for the relative error,
and a numerical gradient that perturbs a fresh copy for every element."""
import numpy as np
import torch
import torch.nn.functional as F

ASSIGNMENT = "bw_conv"
BREAKS = ()


def relu_backward(dout, x):
    if dout.shape != x.shape:
        raise ValueError(f"relu_backward: dout {tuple(dout.shape)} and x {tuple(x.shape)} differ")
    return torch.where(x > 0, dout, torch.zeros_like(dout))


def conv2d_backward(dout, x, weight, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_backward: bad shapes x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    n, c, h, w = x.shape
    k, _, f, _ = weight.shape
    if (h - f + 2 * padding) % stride or (w - f + 2 * padding) % stride:
        raise ValueError(f"conv2d_backward: x {tuple(x.shape)} is not tiled by the filter")
    oh, ow = (h - f + 2 * padding) // stride + 1, (w - f + 2 * padding) // stride + 1
    if tuple(dout.shape) != (n, k, oh, ow):
        raise ValueError(f"conv2d_backward: dout must have shape {(n, k, oh, ow)}, got {tuple(dout.shape)}")
    d, wt = dout.double(), weight.double()
    padded = torch.zeros(n, c, h + 2 * padding, w + 2 * padding, dtype=torch.float64)
    padded[:, :, padding:padding + h, padding:padding + w] = x.double()
    dpadded = torch.zeros_like(padded)
    dweight = torch.zeros_like(wt)
    for i in range(oh):
        for j in range(ow):
            rows, cols = slice(i * stride, i * stride + f), slice(j * stride, j * stride + f)
            dweight += torch.einsum("nk,ncuv->kcuv", d[:, :, i, j], padded[:, :, rows, cols])
            dpadded[:, :, rows, cols] += torch.einsum("nk,kcuv->ncuv", d[:, :, i, j], wt)
    return dpadded[:, :, padding:padding + h, padding:padding + w], dweight, d.sum(dim=(0, 2, 3))


def numerical_gradient(f, x, h=1e-5):
    if not h > 0:
        raise ValueError("numerical_gradient: h must be > 0")
    base = x.detach().double()
    grad = np.zeros(tuple(base.shape))
    for index in np.ndindex(*grad.shape):
        plus, minus = base.clone(), base.clone()
        plus[index] += h
        minus[index] -= h
        grad[index] = (float(f(plus)) - float(f(minus))) / (2 * h)
    return torch.from_numpy(grad)


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes {a.shape} and {b.shape} differ")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def conv_numerical_grads(x, weight, bias, dout, stride, padding):
    expected = F.conv2d(x.double(), weight.double(), bias.double(), stride=stride, padding=padding).shape
    if dout.shape != expected:
        raise ValueError(f"conv_numerical_grads: dout {tuple(dout.shape)} is not the output shape {tuple(expected)}")

    def loss(t, which):
        args = [x.double(), weight.double(), bias.double()]
        args[which] = t
        return float((F.conv2d(args[0], args[1], args[2], stride=stride, padding=padding) * dout.double()).sum())
    return tuple(numerical_gradient(lambda t, i=i: loss(t, i), v) for i, v in enumerate((x, weight, bias)))
