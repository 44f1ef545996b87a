"""BW CONV: ReLU backward that lets the gradient through at the kink x = 0 (x >= 0 instead of x > 0)."""
ASSIGNMENT = "bw_conv"
BREAKS = ("test_relu_backward_values",)


def relu_backward(dout, x):
    if tuple(dout.shape) != tuple(x.shape):
        raise ValueError(f"relu_backward: dout must have the shape of x, {tuple(x.shape)}, got {tuple(dout.shape)}")
    return dout * (x >= 0)
