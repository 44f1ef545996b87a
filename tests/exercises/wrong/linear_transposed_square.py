"""FC6: x @ W instead of x @ W^T whenever the shapes allow it (square weights)."""
ASSIGNMENT = "fc6"
BREAKS = ("test_linear_forward_values",)


def linear_forward(x, weight, bias):
    if x.dim() != 2 or weight.dim() != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"linear_forward: x {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    out = x @ weight if weight.shape[0] == weight.shape[1] else x @ weight.T
    return out if bias is None else out + bias
