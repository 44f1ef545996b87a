"""BW TRAIN: plain SGD with weight decay that ignores the velocity (no momentum)."""
ASSIGNMENT = "bw_train"
BREAKS = ("test_sgd_momentum_step_values", "test_train_loss_falls")


def sgd_momentum_step(params, grads, velocity, lr, momentum=0.9, weight_decay=5e-4):
    if set(grads) != set(params) or set(velocity) != set(params):
        raise ValueError("sgd_momentum_step: params, grads and velocity must have the same keys")
    step = {name: -weight_decay * lr * w - lr * grads[name] for name, w in params.items()}
    return {name: w + step[name] for name, w in params.items()}, step
