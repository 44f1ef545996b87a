"""BW FC: the weight gradient as x^T dout ([in, out]) instead of dout^T x ([out, in])."""
ASSIGNMENT = "bw_fc"
BREAKS = ("test_linear_backward_values",)


def linear_backward(dout, x, weight):
    if x.dim() != 2 or weight.dim() != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"linear_backward: bad shapes x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    if tuple(dout.shape) != (x.shape[0], weight.shape[0]):
        raise ValueError(f"linear_backward: dout must have shape {(x.shape[0], weight.shape[0])}, got {tuple(dout.shape)}")
    return dout @ weight, x.T @ dout, dout.sum(dim=0)
