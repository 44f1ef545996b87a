"""FC6: torch.nn.functional.dropout (banned in dropout_forward)."""
import torch.nn.functional as F

ASSIGNMENT = "fc6"
BREAKS = ("test_dropout_forward_train", "test_dropout_forward_eval", "test_dropout_forward_errors")


def dropout_forward(x, p=0.5, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: p must be in [0, 1], got {p}")
    return F.dropout(x, p, training)
