"""CONV1: the work is done by a helper the student called convolution(...), one output position at a time."""
import torch

ASSIGNMENT = "conv1"
BREAKS = ()


def convolution(x, weight, stride):
    n, c, h, w = x.shape
    k, _, fh, fw = weight.shape
    oh, ow = (h - fh) // stride + 1, (w - fw) // stride + 1
    out = x.new_zeros((n, k, oh, ow))
    flat = weight.reshape(k, -1)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride:i * stride + fh, j * stride:j * stride + fw].reshape(n, -1)
            out[:, :, i, j] = patch @ flat.T
    return out


def zero_border(x, p):
    if p == 0:
        return x
    n, c, h, w = x.shape
    out = x.new_zeros((n, c, h + 2 * p, w + 2 * p))
    out[:, :, p:p + h, p:p + w] = x
    return out


def conv2d_forward(x, weight, bias, stride, padding):
    if x.dim() != 4 or weight.dim() != 4:
        raise ValueError(f"conv2d_forward: x and weight must be 4-d, got {x.dim()} and {weight.dim()}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d_forward: x has {x.shape[1]} channels, weight expects {weight.shape[1]}")
    h, w = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    if (h - weight.shape[2]) % stride or (w - weight.shape[3]) % stride:
        raise ValueError(f"conv2d_forward: {h}x{w} is not tiled at stride {stride}")
    out = convolution(zero_border(x, padding), weight, stride)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out
