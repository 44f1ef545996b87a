"""BW CONV: where windows overlap, each window's share of dx overwrites the previous one instead of adding to it."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "bw_conv"
BREAKS = ("test_conv2d_backward_values", "test_conv2d_backward_strided")


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
    padded = F.pad(x, (padding,) * 4)
    dpadded = torch.zeros_like(padded)
    dweight = torch.zeros_like(weight)
    for i in range(oh):
        for j in range(ow):
            window = padded[:, :, i * stride:i * stride + f, j * stride:j * stride + f]
            dweight += torch.einsum("nk,ncuv->kcuv", dout[:, :, i, j], window)
            dpadded[:, :, i * stride:i * stride + f, j * stride:j * stride + f] = \
                torch.einsum("nk,kcuv->ncuv", dout[:, :, i, j], weight)
    return dpadded[:, :, padding:padding + h, padding:padding + w], dweight, dout.sum(dim=(0, 2, 3))
