"""BW TRAIN: the backward pass skips the ReLU's mask (the gradient flows through units that were off)."""
import torch

ASSIGNMENT = "bw_train"
BREAKS = ("test_mlp_loss_and_grads_values", "test_train_loss_falls")


def mlp_loss_and_grads(params, x, labels):
    if x.dim() != 2 or tuple(labels.shape) != (x.shape[0],):
        raise ValueError(f"mlp_loss_and_grads: x {tuple(x.shape)} and labels {tuple(labels.shape)} do not match")
    w1, b1, w2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    n = x.shape[0]
    h = x @ w1.T + b1
    a = h.clamp(min=0)
    z = a @ w2.T + b2
    z = z - z.amax(dim=1, keepdim=True)
    log_probs = z - torch.log(torch.exp(z).sum(dim=1, keepdim=True))
    rows = torch.arange(n)
    loss = -log_probs[rows, labels].mean()
    dz = torch.exp(log_probs)
    dz[rows, labels] -= 1
    dz = dz / n
    dh = dz @ w2
    return loss, {"W2": dz.T @ a, "b2": dz.sum(dim=0), "W1": dh.T @ x, "b1": dh.sum(dim=0)}
