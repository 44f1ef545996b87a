"""BW TRAIN: each recorded loss is computed after its update instead of before it."""
import torch

ASSIGNMENT = "bw_train"
BREAKS = ("test_train_loss_falls",)


def train(params, x, labels, lr, steps):
    if steps < 1:
        raise ValueError(f"train: steps must be at least 1, got {steps}")
    velocity = {name: torch.zeros_like(w) for name, w in params.items()}
    losses = []
    for _ in range(steps):
        _, grads = mlp_loss_and_grads(params, x, labels)
        params, velocity = sgd_momentum_step(params, grads, velocity, lr)
        losses.append(float(mlp_loss_and_grads(params, x, labels)[0]))
    return losses
