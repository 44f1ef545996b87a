"""POOL1: windows taken at stride f (non-overlapping) instead of s."""
ASSIGNMENT = "pool1"
BREAKS = ("test_max_pool2d_forward_shape", "test_max_pool2d_forward_values")


def max_pool2d_forward(x, f=3, s=2):
    if x.dim() != 4:
        raise ValueError(f"max_pool2d_forward: expected [N, C, H, W], got {tuple(x.shape)}")
    for size in x.shape[2:]:
        if size < f or (size - f) % s:
            raise ValueError(f"max_pool2d_forward: x {tuple(x.shape)} is not tiled")
    return x.unfold(2, f, f).unfold(3, f, f).amax(dim=(-2, -1))
