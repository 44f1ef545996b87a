"""CONV1: correct values but no input checks: malformed input raises RuntimeError, not ValueError."""
import torch.nn.functional as F

ASSIGNMENT = "conv1"
BREAKS = ("test_conv2d_forward_errors",)


def conv2d_forward(x, weight, bias, stride, padding):
    n, _, h, w = x.shape
    k, _, f, _ = weight.shape
    oh, ow = (h - f + 2 * padding) // stride + 1, (w - f + 2 * padding) // stride + 1
    out = weight.reshape(k, -1) @ F.unfold(x, f, padding=padding, stride=stride)
    if bias is not None:
        out = out + bias.reshape(1, k, 1)
    return out.reshape(n, k, oh, ow)
