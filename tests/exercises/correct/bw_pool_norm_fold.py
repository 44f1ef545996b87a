"""BW POOL NORM: pooling through a one-hot of the unfolded windows and F.fold (which adds the overlaps);
LRN with a plain loop over channels in float64."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "bw_pool_norm"
BREAKS = ()


def max_pool2d_backward(dout, x, f=3, s=2):
    if x.dim() != 4:
        raise ValueError(f"max_pool2d_backward: x must be 4-D, got {tuple(x.shape)}")
    n, c, h, w = x.shape
    if h < f or w < f or (h - f) % s or (w - f) % s:
        raise ValueError(f"max_pool2d_backward: windows do not tile x {tuple(x.shape)}")
    oh, ow = (h - f) // s + 1, (w - f) // s + 1
    if tuple(dout.shape) != (n, c, oh, ow):
        raise ValueError(f"max_pool2d_backward: dout should be {(n, c, oh, ow)}, got {tuple(dout.shape)}")
    cols = F.unfold(x.reshape(n * c, 1, h, w), f, stride=s)                 # [N*C, f*f, L]
    onehot = F.one_hot(cols.argmax(dim=1), f * f).transpose(1, 2).to(dout.dtype)
    grads = onehot * dout.reshape(n * c, 1, oh * ow)
    return F.fold(grads, (h, w), f, stride=s).reshape(n, c, h, w)


def local_response_norm_backward(dout, a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    if a.dim() != 4 or dout.shape != a.shape:
        raise ValueError(f"local_response_norm_backward: need dout and a of one 4-D shape, got "
                         f"{tuple(dout.shape)} and {tuple(a.shape)}")
    a64, g64 = a.double(), dout.double()
    channels, half = a.shape[1], n // 2
    window = [range(max(0, i - half), min(channels - 1, i + half) + 1) for i in range(channels)]
    d = torch.stack([k + alpha * sum(a64[:, j] ** 2 for j in window[i]) for i in range(channels)], dim=1)
    t = g64 * a64 * d ** (-beta - 1)
    cross = torch.stack([sum(t[:, i] for i in window[m]) for m in range(channels)], dim=1)
    return g64 * d ** (-beta) - 2 * alpha * beta * a64 * cross
