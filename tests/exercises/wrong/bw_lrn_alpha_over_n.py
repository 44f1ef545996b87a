"""BW POOL NORM: LRN backward with PyTorch's alpha / n instead of the paper's alpha."""
ASSIGNMENT = "bw_pool_norm"
BREAKS = ("test_local_response_norm_backward_values", "test_local_response_norm_backward_cross_channel")


def local_response_norm_backward(dout, a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    if a.dim() != 4 or tuple(dout.shape) != tuple(a.shape):
        raise ValueError(f"local_response_norm_backward: dout {tuple(dout.shape)} and a {tuple(a.shape)} "
                         "must both be [N, C, H, W]")
    alpha = alpha / n
    channels, half = a.shape[1], n // 2

    def window_sum(t):
        out = t.clone()
        for shift in range(1, min(half, channels - 1) + 1):
            out[:, shift:] += t[:, :-shift]
            out[:, :-shift] += t[:, shift:]
        return out

    d = k + alpha * window_sum(a * a)
    return dout * d.pow(-beta) - 2 * alpha * beta * a * window_sum(dout * a * d.pow(-beta - 1))
