"""BW POOL NORM: LRN backward that treats the denominator as a constant (the cross-channel term is missing)."""
ASSIGNMENT = "bw_pool_norm"
BREAKS = ("test_local_response_norm_backward_values", "test_local_response_norm_backward_cross_channel")


def local_response_norm_backward(dout, a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    if a.dim() != 4 or tuple(dout.shape) != tuple(a.shape):
        raise ValueError(f"local_response_norm_backward: dout {tuple(dout.shape)} and a {tuple(a.shape)} "
                         "must both be [N, C, H, W]")
    channels, half = a.shape[1], n // 2
    sq = a * a
    s = sq.clone()
    for shift in range(1, min(half, channels - 1) + 1):
        s[:, shift:] += sq[:, :-shift]
        s[:, :-shift] += sq[:, shift:]
    return dout * (k + alpha * s).pow(-beta)
