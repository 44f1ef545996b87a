"""BW CONV: a centred difference divided by h instead of 2h (every gradient twice too large)."""
import torch

ASSIGNMENT = "bw_conv"
BREAKS = ("test_conv_numerical_grads_values", "test_numerical_gradient_float64")


def numerical_gradient(f, x, h=1e-5):
    if h <= 0:
        raise ValueError(f"numerical_gradient: h must be positive, got {h}")
    x = x.detach().to(torch.float64).clone()
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        plus = float(f(x))
        flat[i] = old - h
        minus = float(f(x))
        flat[i] = old
        gflat[i] = (plus - minus) / h
    return grad
