"""CONV2: adds F - 1 per layer but forgets to multiply by the earlier strides."""
ASSIGNMENT = "conv2"
BREAKS = ("test_receptive_field_values",)


def receptive_field(layers):
    r = 1
    for f, s in layers:
        if f < 1 or s < 1:
            raise ValueError(f"receptive_field: bad layer ({f}, {s})")
        r += f - 1
    return r
