"""BW FC: dropout backward that masks the gradient but forgets the 1 / (1 - p) scale of inverted dropout."""
ASSIGNMENT = "bw_fc"
BREAKS = ("test_dropout_backward_values",)


def dropout_backward(dout, mask, p):
    if tuple(mask.shape) != tuple(dout.shape):
        raise ValueError(f"dropout_backward: mask must have the shape of dout, {tuple(dout.shape)}, got {tuple(mask.shape)}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout_backward: p must be in [0, 1), got {p}")
    return dout * mask.to(dout.dtype)
