"""BW TRAIN: the update adds the gradient instead of subtracting it (gradient ascent: the loss rises)."""
ASSIGNMENT = "bw_train"
BREAKS = ("test_sgd_momentum_step_values", "test_train_loss_falls")


def sgd_momentum_step(params, grads, velocity, lr, momentum=0.9, weight_decay=5e-4):
    if set(grads) != set(params) or set(velocity) != set(params):
        raise ValueError("sgd_momentum_step: params, grads and velocity must have the same keys")
    new_params, new_velocity = {}, {}
    for name, w in params.items():
        v = momentum * velocity[name] - weight_decay * lr * w + lr * grads[name]
        new_velocity[name], new_params[name] = v, w + v
    return new_params, new_velocity
