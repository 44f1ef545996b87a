"""BW POOL NORM: overlapping windows overwrite each other's gradient instead of adding up."""
import torch

ASSIGNMENT = "bw_pool_norm"
BREAKS = ("test_max_pool2d_backward_values", "test_max_pool2d_backward_overlap")


def max_pool2d_backward(dout, x, f=3, s=2):
    if x.dim() != 4:
        raise ValueError(f"max_pool2d_backward: x must have shape [N, C, H, W], got {tuple(x.shape)}")
    n, c, h, w = x.shape
    if h < f or w < f or (h - f) % s or (w - f) % s:
        raise ValueError(f"max_pool2d_backward: {f}x{f} windows at stride {s} do not tile x {tuple(x.shape)}")
    oh, ow = (h - f) // s + 1, (w - f) // s + 1
    if tuple(dout.shape) != (n, c, oh, ow):
        raise ValueError(f"max_pool2d_backward: dout must have shape {(n, c, oh, ow)}, got {tuple(dout.shape)}")
    dx = torch.zeros_like(x)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * s:i * s + f, j * s:j * s + f].reshape(n, c, f * f)
            grad = torch.zeros_like(window).scatter_(2, window.argmax(dim=2, keepdim=True), dout[:, :, i, j, None])
            region = dx[:, :, i * s:i * s + f, j * s:j * s + f]
            hit = grad.reshape(n, c, f, f) != 0
            region[hit] = grad.reshape(n, c, f, f)[hit]
    return dx
