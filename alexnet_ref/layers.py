"""The layers of AlexNet as plain functions: the contract the exercises implement.

Chapters: CONV1 (``conv2d_forward``, ``relu``), NORM1 (``local_response_norm``),
MAX POOL1 (``max_pool2d_forward``), FC6 (``linear_forward``,
``dropout_forward``), FC8 (``softmax``).

Every function takes and returns ``torch.Tensor`` objects, works on any device
and floating dtype, and raises ``ValueError`` naming the function and the
expected and actual shape when its input is malformed.

This is the teaching path: one formula per layer, as the book writes it.  The
same values computed faster (memory layouts, in-place work) are in
:mod:`alexnet_ref.fast`; the backward passes are in :mod:`alexnet_ref.backward`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .shapes import conv_output_size, pool_output_size


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _require_tensor(layer: str, name: str, t) -> None:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{layer}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise ValueError(f"{layer}: {name} must be a floating-point tensor, got dtype {t.dtype}")


def _require_ndim(layer: str, name: str, t: torch.Tensor, ndim: int, layout: str) -> None:
    _require_tensor(layer, name, t)
    if t.dim() != ndim:
        raise ValueError(f"{layer}: {name} must have shape {layout}, got shape {_shape(t)}")


def _check_conv(layer: str, x, weight, bias, stride: int, padding: int) -> tuple[int, int]:
    """The input checks of :func:`conv2d_forward` (and of its backward); returns (H', W')."""
    _require_ndim(layer, "x", x, 4, "[N, C, H, W]")
    _require_ndim(layer, "weight", weight, 4, "[K, C, F, F]")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{layer}: weight expects {weight.shape[1]} input channels "
                         f"(weight shape {_shape(weight)}), x has {x.shape[1]} (x shape {_shape(x)})")
    if bias is not None:
        _require_ndim(layer, "bias", bias, 1, f"[{weight.shape[0]}]")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"{layer}: bias must have shape ({weight.shape[0]},), got {_shape(bias)}")
    fh, fw = weight.shape[2:]
    try:
        return (conv_output_size(x.shape[2], fh, padding, stride),
                conv_output_size(x.shape[3], fw, padding, stride))
    except ValueError as err:
        raise ValueError(f"{layer}: x shape {_shape(x)} with weight {_shape(weight)}, "
                         f"stride {stride}, padding {padding}: {err}") from None


def conv2d_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                   stride: int, padding: int) -> torch.Tensor:
    """2-D convolution as in PyTorch (cross-correlation: the kernel is not flipped).

    x [N, C, H, W], weight [K, C, F, F], bias [K] or None -> [N, K, H', W'] with
    H' = (H - F + 2P)/S + 1 (see :func:`conv_output_size`).
    """
    _check_conv("conv2d_forward", x, weight, bias, stride, padding)
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)


def relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU, f(x) = max(0, x), element-wise; any shape.  Its gradient at the kink x = 0 is 0."""
    _require_tensor("relu", "x", x)
    return torch.relu(x)


def local_response_norm(a: torch.Tensor, n: int = 5, k: float = 2.0,
                        alpha: float = 1e-4, beta: float = 0.75) -> torch.Tensor:
    """Local response normalisation across channels, exactly as in the 2012 paper.

    b[:, i] = a[:, i] / (k + alpha * sum_j a[:, j]**2) ** beta, with j from
    max(0, i - n//2) to min(C - 1, i + n//2).  alpha is *not* divided by n:
    this equals ``torch.nn.LocalResponseNorm(n, alpha=n * alpha, beta, k)``.

    a [N, C, H, W] -> [N, C, H, W].
    """
    _check_lrn(a, n)
    return a / (k + alpha * _channel_window_sum(a * a, n)) ** beta


def _check_lrn(a, n, layer: str = "local_response_norm") -> None:
    _require_ndim(layer, "a", a, 4, "[N, C, H, W]")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{layer}: n must be a positive integer, got {n!r}")


def _channel_window_sum(t: torch.Tensor, n: int) -> torch.Tensor:
    """s[:, i] = sum of t[:, j] for j = max(0, i - n//2) .. min(C - 1, i + n//2).

    The window stops at the first and last channel (no padding), so edge channels sum fewer terms.
    """
    half, channels = n // 2, t.shape[1]
    s = t.clone()
    for shift in range(1, min(half, channels - 1) + 1):
        s[:, shift:] += t[:, :-shift]      # channel i - shift, for i >= shift
        s[:, :-shift] += t[:, shift:]      # channel i + shift, for i < C - shift
    return s


def _check_pool(layer: str, x, f: int, s: int) -> tuple[int, int]:
    """The input checks of :func:`max_pool2d_forward` (and of its backward); returns (H', W')."""
    _require_ndim(layer, "x", x, 4, "[N, C, H, W]")
    try:
        return pool_output_size(x.shape[2], f, s), pool_output_size(x.shape[3], f, s)
    except ValueError as err:
        raise ValueError(f"{layer}: x shape {_shape(x)} with f={f}, s={s}: {err}") from None


def max_pool2d_forward(x: torch.Tensor, f: int = 3, s: int = 2) -> torch.Tensor:
    """Overlapping max pooling, F x F windows at stride S, no padding.

    x [N, C, H, W] -> [N, C, (H - F)/S + 1, (W - F)/S + 1].
    """
    _check_pool("max_pool2d_forward", x, f, s)
    return F.max_pool2d(x, kernel_size=f, stride=s)


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Fully connected layer: x [N, in], weight [out, in], bias [out] -> x W^T + b, [N, out]."""
    layer = "linear_forward"
    _require_ndim(layer, "x", x, 2, "[N, in]")
    _require_ndim(layer, "weight", weight, 2, "[out, in]")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{layer}: weight shape {_shape(weight)} expects {weight.shape[1]} input "
                         f"features, x shape {_shape(x)} has {x.shape[1]}")
    if bias is not None:
        _require_ndim(layer, "bias", bias, 1, f"[{weight.shape[0]}]")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"{layer}: bias must have shape ({weight.shape[0]},), got {_shape(bias)}")
    return F.linear(x, weight, bias)


def dropout_forward(x: torch.Tensor, p: float = 0.5, training: bool = True,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout: zero each unit with probability p and scale the kept ones by 1/(1-p).

    At evaluation time (``training=False``) it returns x unchanged, so that the
    expected activation is the same in both modes.  Any shape.
    """
    layer = "dropout_forward"
    _require_tensor(layer, "x", x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{layer}: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p
    return x * keep / (1.0 - p)


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax: exp(x - max) / sum(exp(x - max)) along ``dim``."""
    layer = "softmax"
    _require_tensor(layer, "x", x)
    if x.dim() == 0 or not -x.dim() <= dim < x.dim():
        raise ValueError(f"{layer}: dim {dim} is out of range for x of shape {_shape(x)}")
    z = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
