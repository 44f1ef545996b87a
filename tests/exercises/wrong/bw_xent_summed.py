"""BW FC: cross-entropy summed over the batch instead of averaged (loss and dlogits N times too large)."""
import torch

ASSIGNMENT = "bw_fc"
BREAKS = ("test_softmax_cross_entropy_values", "test_softmax_cross_entropy_stable")


def softmax_cross_entropy(logits, labels):
    if logits.dim() != 2 or tuple(labels.shape) != (logits.shape[0],):
        raise ValueError(f"softmax_cross_entropy: bad shapes logits {tuple(logits.shape)}, labels {tuple(labels.shape)}")
    n, classes = logits.shape
    if (labels < 0).any() or (labels >= classes).any():
        raise ValueError(f"softmax_cross_entropy: labels must lie in 0..{classes - 1}")
    z = logits - logits.amax(dim=1, keepdim=True)
    log_probs = z - torch.log(torch.exp(z).sum(dim=1, keepdim=True))
    rows = torch.arange(n)
    dlogits = torch.exp(log_probs)
    dlogits[rows, labels] -= 1
    return -log_probs[rows, labels].sum(), dlogits
