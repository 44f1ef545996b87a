"""BW CONV: centred differences computed in float32, where h = 1e-5 drowns in rounding error."""
import torch

ASSIGNMENT = "bw_conv"
BREAKS = ("test_conv_numerical_grads_values", "test_numerical_gradient_float64")


def numerical_gradient(f, x, h=1e-5):
    if h <= 0:
        raise ValueError(f"numerical_gradient: h must be positive, got {h}")
    x = x.detach().to(torch.float32).clone()
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        plus = float(f(x))
        flat[i] = old - h
        minus = float(f(x))
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad
