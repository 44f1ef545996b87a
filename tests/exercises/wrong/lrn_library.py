"""NORM1: nn.LocalResponseNorm with the right alpha, but it is the library's operator (banned)."""
import torch

ASSIGNMENT = "norm1"
BREAKS = ("test_local_response_norm_shape", "test_local_response_norm_values",
          "test_local_response_norm_edges", "test_local_response_norm_errors")


def local_response_norm(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    if a.dim() != 4:
        raise ValueError(f"local_response_norm: expected [N, C, H, W], got {tuple(a.shape)}")
    return torch.nn.LocalResponseNorm(n, alpha=n * alpha, beta=beta, k=k)(a)
