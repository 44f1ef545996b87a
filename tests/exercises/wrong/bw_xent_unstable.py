"""BW FC: cross-entropy with exp of the raw logits, which overflows to inf (and nan) at logits of about 1000."""
import torch

ASSIGNMENT = "bw_fc"
BREAKS = ("test_softmax_cross_entropy_stable",)


def softmax_cross_entropy(logits, labels):
    if logits.dim() != 2 or tuple(labels.shape) != (logits.shape[0],):
        raise ValueError(f"softmax_cross_entropy: bad shapes logits {tuple(logits.shape)}, labels {tuple(labels.shape)}")
    n, classes = logits.shape
    if (labels < 0).any() or (labels >= classes).any():
        raise ValueError(f"softmax_cross_entropy: labels must lie in 0..{classes - 1}")
    e = torch.exp(logits)
    probs = e / e.sum(dim=1, keepdim=True)
    rows = torch.arange(n)
    loss = -torch.log(probs[rows, labels]).mean()
    dlogits = probs.clone()
    dlogits[rows, labels] -= 1
    return loss, dlogits / n
