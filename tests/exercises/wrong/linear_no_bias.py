"""FC6: the bias is never added (the source's FC equations omit it)."""
ASSIGNMENT = "fc6"
BREAKS = ("test_linear_forward_values",)


def linear_forward(x, weight, bias):
    if x.dim() != 2 or weight.dim() != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"linear_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    return x @ weight.T
