"""BW FC: the loss from F.cross_entropy and its gradient from autograd."""
import torch
import torch.nn.functional as F

ASSIGNMENT = "bw_fc"
BREAKS = ("test_softmax_cross_entropy_values", "test_softmax_cross_entropy_stable", "test_softmax_cross_entropy_errors")


def softmax_cross_entropy(logits, labels):
    z = logits.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(z, labels)
    loss.backward()
    return loss.detach(), z.grad
