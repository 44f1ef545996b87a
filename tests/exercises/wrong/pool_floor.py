"""POOL1: sizes rounded down like PyTorch's floor mode: no ValueError when the windows do not tile."""
ASSIGNMENT = "pool1"
BREAKS = ("test_max_pool2d_forward_errors",)


def max_pool2d_forward(x, f=3, s=2):
    return x.unfold(2, f, s).unfold(3, f, s).amax(dim=(-2, -1))
