"""BW TRAIN: everything in float64, the update written in place on copies, a forward/backward through small
helper layers of the student's own, and the losses returned as 0-d tensors."""
import torch

ASSIGNMENT = "bw_train"
BREAKS = ()


def _fc(x, w, b):
    return x @ w.T + b


def _fc_back(dout, x, w):
    return dout @ w, dout.T @ x, dout.sum(0)


def sgd_momentum_step(params, grads, velocity, lr, momentum=0.9, weight_decay=5e-4):
    if params.keys() != grads.keys() or params.keys() != velocity.keys():
        raise ValueError("sgd_momentum_step: the three dicts need the same keys")
    new_params = {k: v.double().clone() for k, v in params.items()}
    new_velocity = {k: v.double().clone() for k, v in velocity.items()}
    for k in new_params:
        new_velocity[k].mul_(momentum).sub_(weight_decay * lr * new_params[k]).sub_(lr * grads[k].double())
        new_params[k].add_(new_velocity[k])
    return new_params, new_velocity


def mlp_loss_and_grads(params, x, labels):
    if labels.dim() != 1 or labels.shape[0] != x.shape[0]:
        raise ValueError(f"mlp_loss_and_grads: {labels.shape[0] if labels.dim() else 0} labels for {x.shape[0]} rows")
    p = {k: v.double() for k, v in params.items()}
    x = x.double()
    h = _fc(x, p["W1"], p["b1"])
    a = torch.where(h > 0, h, torch.zeros_like(h))
    z = _fc(a, p["W2"], p["b2"])
    m = z.max(dim=1, keepdim=True).values
    lse = m + torch.log(torch.exp(z - m).sum(dim=1, keepdim=True))
    onehot = torch.zeros_like(z).scatter_(1, labels.long()[:, None], 1.0)
    loss = (lse.squeeze(1) - (z * onehot).sum(1)).mean()
    dz = (torch.exp(z - lse) - onehot) / x.shape[0]
    da, dw2, db2 = _fc_back(dz, a, p["W2"])
    _, dw1, db1 = _fc_back(da * (h > 0), x, p["W1"])
    return loss, {"W1": dw1, "b1": db1, "W2": dw2, "b2": db2}


def train(params, x, labels, lr, steps):
    if steps < 1:
        raise ValueError("train: steps must be >= 1")
    velocity = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in params.items()}
    history = []
    for _ in range(steps):
        loss, grads = mlp_loss_and_grads(params, x, labels)
        history.append(loss)
        params, velocity = sgd_momentum_step(params, grads, velocity, lr)
    return history
