"""The backward pass of every layer: how a gradient flows back through AlexNet.

Each function takes the gradient of the loss with respect to a layer's output,
``dout``, together with what the forward pass saw, and returns the gradient
with respect to the layer's inputs (and parameters).  Shapes are PyTorch's;
``dout`` always has the shape of the forward function's output.

Chapters, in order: CONV1 (``relu_backward``, ``conv2d_backward``), NORM1
(``local_response_norm_backward``), MAX POOL1 (``max_pool2d_backward``),
FC6 (``linear_backward``, ``dropout_backward``), FC8
(``softmax_cross_entropy``).

The code is written to be read next to the book's derivations: plain tensor
formulas, one loop where the formula has a sum over positions.  Bad input raises
``ValueError`` naming the function and the expected and actual shape, as the
forward functions of :mod:`alexnet_ref.layers` do.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .layers import (_check_conv, _check_lrn, _check_pool, _channel_window_sum, _require_ndim,
                     _require_tensor, _shape)


def _require_like(layer: str, name: str, t, shape: tuple[int, ...], what: str) -> None:
    _require_tensor(layer, name, t)
    if _shape(t) != shape:
        raise ValueError(f"{layer}: {name} must have the shape of {what}, {shape}, got {_shape(t)}")


def relu_backward(dout: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`~alexnet_ref.layers.relu` (CONV1 chapter): dx = dout where x > 0, else 0.

    dout and x have the same (any) shape; x is the ReLU's input.

    At the kink x = 0 the gradient is taken as 0, as in ``torch.nn.functional.relu``.
    """
    layer = "relu_backward"
    _require_tensor(layer, "x", x)
    _require_like(layer, "dout", dout, _shape(x), "x")
    return dout * (x > 0)


def conv2d_backward(dout: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, stride: int,
                    padding: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of :func:`~alexnet_ref.layers.conv2d_forward` (CONV1 chapter).

    dout [N, K, H', W'], x [N, C, H, W], weight [K, C, F, F]
    -> (dx [N, C, H, W], dweight [K, C, F, F], dbias [K]).

    With P the zero-padded x, the forward pass is
    out[n, k, i, j] = b[k] + sum_{c, u, v} weight[k, c, u, v] * P[n, c, S*i + u, S*j + v].
    Kernel offset (u, v) therefore links the output grid to the strided slice
    P[:, :, u::S, v::S] (H' x W' positions), and the loop below visits the F x F offsets:
    dweight[:, :, u, v] sums dout times that slice; the slice of dP receives dout
    times weight[:, :, u, v], added up where neighbouring windows overlap.
    """
    layer = "conv2d_backward"
    out_h, out_w = _check_conv(layer, x, weight, None, stride, padding)
    n, c, h, w = x.shape
    _require_like(layer, "dout", dout, (n, weight.shape[0], out_h, out_w), "the forward output [N, K, H', W']")
    padded = F.pad(x, (padding, padding, padding, padding))
    dpadded = torch.zeros_like(padded)
    dweight = torch.zeros_like(weight)
    fh, fw = weight.shape[2:]
    for u in range(fh):
        for v in range(fw):
            rows = slice(u, u + stride * (out_h - 1) + 1, stride)
            cols = slice(v, v + stride * (out_w - 1) + 1, stride)
            dweight[:, :, u, v] = torch.einsum("nkij,ncij->kc", dout, padded[:, :, rows, cols])
            dpadded[:, :, rows, cols] += torch.einsum("nkij,kc->ncij", dout, weight[:, :, u, v])
    dx = dpadded[:, :, padding:padding + h, padding:padding + w]
    dbias = dout.sum(dim=(0, 2, 3))
    return dx, dweight, dbias


def local_response_norm_backward(dout: torch.Tensor, a: torch.Tensor, n: int = 5, k: float = 2.0,
                                 alpha: float = 1e-4, beta: float = 0.75) -> torch.Tensor:
    """Gradient of :func:`~alexnet_ref.layers.local_response_norm` (NORM1 chapter).

    dout [N, C, H, W], a [N, C, H, W] (the LRN's input) -> da [N, C, H, W].

    Forward: b_i = a_i * d_i^(-beta), d_i = k + alpha * sum_{j in W(i)} a_j^2, with W(i)
    the channels max(0, i - n//2) .. min(C - 1, i + n//2) (alpha not divided by n).
    a_m appears in its own b_m and, through d_i, in every b_i with m in W(i), i.e. with
    i in W(m) (the window is symmetric).  Hence

        da_m = dout_m * d_m^(-beta) - 2 * alpha * beta * a_m * sum_{i in W(m)} dout_i * a_i * d_i^(-beta - 1).

    The second, cross-channel term is the one that is easy to forget; it only shows
    when alpha * sum a_j^2 is not small against k (raw-pixel-scale activations).
    """
    layer = "local_response_norm_backward"
    _check_lrn(a, n, layer)
    _require_like(layer, "dout", dout, _shape(a), "a")
    d = k + alpha * _channel_window_sum(a * a, n)
    cross = _channel_window_sum(dout * a * d.pow(-beta - 1), n)
    return dout * d.pow(-beta) - 2 * alpha * beta * a * cross


def max_pool2d_backward(dout: torch.Tensor, x: torch.Tensor, f: int = 3, s: int = 2) -> torch.Tensor:
    """Gradient of :func:`~alexnet_ref.layers.max_pool2d_forward` (MAX POOL1 chapter).

    dout [N, C, H', W'], x [N, C, H, W] -> dx [N, C, H, W].

    Each window passes its gradient to the one element that was its maximum; the
    other elements of the window get nothing.  Windows overlap when f > s (3 > 2 in
    AlexNet), so an element that is the maximum of several windows receives the sum
    of their gradients.  Ties: the first maximum of the window in row-major order
    wins, the element PyTorch's max pooling (and the forward pass) picks.
    """
    layer = "max_pool2d_backward"
    out_h, out_w = _check_pool(layer, x, f, s)
    n, c = x.shape[:2]
    _require_like(layer, "dout", dout, (n, c, out_h, out_w), "the forward output [N, C, H', W']")
    dx = torch.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + f, j * s:j * s + f].reshape(n, c, f * f)
            first_max = window.argmax(dim=2, keepdim=True)          # the first maximum on ties
            grad = torch.zeros_like(window).scatter_(2, first_max, dout[:, :, i, j, None])
            dx[:, :, i * s:i * s + f, j * s:j * s + f] += grad.view(n, c, f, f)
    return dx


def linear_backward(dout: torch.Tensor, x: torch.Tensor,
                    weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of :func:`~alexnet_ref.layers.linear_forward`, out = x W^T + b (FC6 chapter).

    dout [N, out], x [N, in], weight [out, in]
    -> (dx = dout W [N, in], dweight = dout^T x [out, in], dbias = sum_n dout [out]).
    """
    layer = "linear_backward"
    _require_ndim(layer, "x", x, 2, "[N, in]")
    _require_ndim(layer, "weight", weight, 2, "[out, in]")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{layer}: weight shape {_shape(weight)} expects {weight.shape[1]} input "
                         f"features, x shape {_shape(x)} has {x.shape[1]}")
    _require_like(layer, "dout", dout, (x.shape[0], weight.shape[0]), "the forward output [N, out]")
    return dout @ weight, dout.t() @ x, dout.sum(dim=0)


def dropout_backward(dout: torch.Tensor, mask: torch.Tensor, p: float) -> torch.Tensor:
    """Gradient of inverted dropout (:func:`~alexnet_ref.layers.dropout_forward`, FC6 chapter).

    dout and mask have the same (any) shape; mask is True (or 1) where the forward
    pass kept the unit.  The forward pass computed x * mask / (1 - p), so
    dx = dout * mask / (1 - p): dropped units get no gradient and kept ones get
    the same 1/(1 - p) scale as their values.  With p = 1 nothing was kept and dx = 0.
    """
    layer = "dropout_backward"
    _require_tensor(layer, "dout", dout)
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{layer}: mask must be a torch.Tensor, got {type(mask).__name__}")
    if _shape(mask) != _shape(dout):
        raise ValueError(f"{layer}: mask must have the shape of dout, {_shape(dout)}, got {_shape(mask)}")
    if mask.dtype != torch.bool and not ((mask == 0) | (mask == 1)).all():
        raise ValueError(f"{layer}: mask must hold only 0 and 1 (1 = kept), got values such as "
                         f"{mask[(mask != 0) & (mask != 1)].flatten()[0].item()!r}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{layer}: p must be in [0, 1], got {p!r}")
    if p == 1.0:
        return torch.zeros_like(dout)
    return dout * mask / (1.0 - p)


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient (FC8 chapter).

    logits [N, classes] (FC8's H_4), labels [N] of class indices
    -> (loss, a 0-dim tensor, dlogits [N, classes]).

    loss = mean_n (log sum_c exp(z_nc) - z_n,label), computed after subtracting each
    row's maximum (logsumexp), so that logits of +-1e4 neither overflow nor give
    log(0).  dlogits = (softmax(z) - one_hot(labels)) / N: the 1/N comes from the mean.
    """
    layer = "softmax_cross_entropy"
    _require_ndim(layer, "logits", logits, 2, "[N, classes]")
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"{layer}: labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{layer}: labels must be an integer tensor of class indices, got dtype {labels.dtype}")
    num, classes = logits.shape
    if _shape(labels) != (num,):
        raise ValueError(f"{layer}: labels must have shape ({num},) (one per row of logits "
                         f"{_shape(logits)}), got {_shape(labels)}")
    if num == 0:
        raise ValueError(f"{layer}: the mean of an empty batch is undefined: logits shape {_shape(logits)}")
    if (labels < 0).any() or (labels >= classes).any():
        bad = labels[(labels < 0) | (labels >= classes)][0].item()
        raise ValueError(f"{layer}: labels must lie in 0..{classes - 1}, got {bad}")
    labels = labels.long()
    z = logits - logits.amax(dim=1, keepdim=True)
    log_sum_exp = torch.log(torch.exp(z).sum(dim=1, keepdim=True))
    log_probs = z - log_sum_exp
    loss = -log_probs.gather(1, labels[:, None]).mean()
    dlogits = torch.exp(log_probs)
    dlogits[torch.arange(num, device=logits.device), labels] -= 1
    return loss, dlogits / num
