"""POOL3: flattens in (H, W, C) order (channels last), which FC6's weights do not expect."""
ASSIGNMENT = "pool3"
BREAKS = ("test_flatten_chw_values",)


def flatten_chw(x):
    if x.dim() != 4:
        raise ValueError(f"flatten_chw: expected [N, C, H, W], got {tuple(x.shape)}")
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
