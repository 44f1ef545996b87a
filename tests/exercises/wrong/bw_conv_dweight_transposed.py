"""BW CONV: the weight gradient with its two kernel axes swapped (dweight[k, c, v, u] for [k, c, u, v])."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "bw_conv"
BREAKS = ("test_conv2d_backward_values", "test_conv2d_backward_strided")


def conv2d_backward(dout, x, weight, stride, padding):
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_backward: bad shapes x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    n, _, h, w = x.shape
    k, _, f, _ = weight.shape
    if (h - f + 2 * padding) % stride or (w - f + 2 * padding) % stride:
        raise ValueError(f"conv2d_backward: x {tuple(x.shape)} is not tiled by the filter")
    oh, ow = (h - f + 2 * padding) // stride + 1, (w - f + 2 * padding) // stride + 1
    if tuple(dout.shape) != (n, k, oh, ow):
        raise ValueError(f"conv2d_backward: dout must have shape {(n, k, oh, ow)}, got {tuple(dout.shape)}")
    cols = F.unfold(x, f, padding=padding, stride=stride)
    d = dout.reshape(n, k, -1)
    dweight = torch.einsum("nkl,nml->km", d, cols).reshape(weight.shape).transpose(2, 3)
    dx = F.fold(weight.reshape(k, -1).T @ d, (h, w), f, padding=padding, stride=stride)
    return dx, dweight, dout.sum(dim=(0, 2, 3))
