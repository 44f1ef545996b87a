"""FC8: Tensor.softmax (banned in softmax)."""
ASSIGNMENT = "fc8"
BREAKS = ("test_softmax_values", "test_softmax_dims", "test_softmax_errors")


def softmax(x, dim=-1):
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"softmax: dim {dim} out of range for shape {tuple(x.shape)}")
    return x.softmax(dim)
