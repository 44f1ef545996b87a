"""The speed work of the forward pass, in one place: the same values as the plain layers, sooner.

:mod:`alexnet_ref.layers` and ``AlexNet(fast=False)`` are the teaching path, one
formula per layer as the book writes it.  On the course's CPUs (2-core AVX2 and
AVX-512 machines, torch 2.13 with oneDNN) the same numbers come out faster with
three tricks, measured by ``make bench``:

* memory layout: a convolution's input in channels_last once the output has
  ~1024 positions (N x H x W), and max pooling in channels_last (~10x faster);
* working in place: ReLU and LRN overwrite the layer's own fresh output when
  autograd records nothing;
* LRN a chunk of the batch at a time in two reused, cache-sized buffers, with
  d^-0.75 taken from two ``rsqrt`` (``torch.pow(x, 0.75)`` is not vectorised on the CPU).

The results equal the teaching path's within float32 rounding, and so do the
gradients, because nothing works in place while autograd records
(``tests/test_ref_fast.py``).  :class:`~alexnet_ref.AlexNet` and
:func:`~alexnet_ref.alexnet_logits` run :func:`alexnet_logits` below.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from .layers import _check_lrn, dropout_forward
from .shapes import ARCHITECTURE

# Output positions (N x H x W) from which a convolution's input is put in channels_last.
CHANNELS_LAST_MIN_POSITIONS = 1024

# Elements per chunk of the batch in the in-place LRN on the CPU: its two scratch
# buffers (4 MiB each in float32) stay in cache and are reused for every chunk,
# instead of ~6 full-size temporaries (at batch 64 each is 74 MiB, and fresh memory of
# that size is page-faulted in on every call: NORM1 went from ~200 to ~55 ms).
# On a GPU the whole batch is one chunk.
LRN_CHUNK = 1 << 20


def _records_graph(t: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and t.requires_grad


def conv_layout(x: torch.Tensor) -> torch.Tensor:
    """x in the memory order in which a convolution on it runs fastest on the CPU (same values).

    In channels_last, CONV1/CONV2 run as fast or faster, and so do CONV3-5 from batch ~8,
    but at batch 1 those 13x13 convolutions are 1.3-1.8x slower: hence the threshold.
    """
    if x.device.type != "cpu":
        return x
    if x.shape[0] * x.shape[2] * x.shape[3] >= CHANNELS_LAST_MIN_POSITIONS:
        return x.contiguous(memory_format=torch.channels_last)
    return x.contiguous()


def relu_(x: torch.Tensor) -> torch.Tensor:
    """ReLU overwriting x (a layer's own output) unless autograd records; then out of place."""
    if _records_graph(x):
        return torch.relu(x)
    return x.relu_()


def max_pool2d(x: torch.Tensor, f: int, s: int) -> torch.Tensor:
    """Max pooling computed in channels_last on the CPU (exact: the same maxima), returned in NCHW."""
    if x.device.type == "cpu" and x.is_contiguous() and not x.is_contiguous(memory_format=torch.channels_last):
        return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), kernel_size=f, stride=s).contiguous()
    return F.max_pool2d(x, kernel_size=f, stride=s)


def _window_sum_(total: torch.Tensor, sq: torch.Tensor, half: int) -> torch.Tensor:
    """total (holding a copy of sq) += sq's neighbours within `half` channels, in place."""
    channels = sq.shape[1]
    for shift in range(1, min(half, channels - 1) + 1):
        total[:, shift:] += sq[:, :-shift]
        total[:, :-shift] += sq[:, shift:]
    return total


def local_response_norm(a: torch.Tensor, n: int = 5, k: float = 2.0, alpha: float = 1e-4,
                        beta: float = 0.75, inplace: bool = False) -> torch.Tensor:
    """:func:`alexnet_ref.local_response_norm`, faster.  ``inplace=True`` overwrites a
    (the caller's own ReLU output) when autograd records nothing."""
    _check_lrn(a, n)
    if _records_graph(a):
        sq = a * a
        d = _window_sum_(sq.clone(), sq, n // 2).mul_(alpha).add_(k)
        if beta == 0.75:
            r = torch.rsqrt(d)                               # d^-0.75 = d^-0.5 * (d^-0.5)^0.5
            return a * r * torch.sqrt(r)
        return a / d.pow(beta)
    return _lrn_into(a, a if inplace else torch.empty_like(a), n, k, alpha, beta)


def _lrn_into(a: torch.Tensor, out: torch.Tensor, n: int, k: float, alpha: float,
              beta: float) -> torch.Tensor:
    """LRN of a written into out (which may be a itself), a chunk of the batch at a time."""
    batch = a.shape[0]
    if a.numel() == 0:
        return out
    step = max(1, min(batch, LRN_CHUNK // a[0].numel())) if a.device.type == "cpu" else batch
    sq_buf, total_buf = torch.empty_like(a[:step]), torch.empty_like(a[:step])
    for start in range(0, batch, step):
        chunk = a[start:start + step]
        m = chunk.shape[0]
        sq = torch.mul(chunk, chunk, out=sq_buf[:m])
        total = total_buf[:m]
        total.copy_(sq)
        factor = _window_sum_(total, sq, n // 2).mul_(alpha).add_(k)   # the denominator d
        if beta == 0.75:
            factor.rsqrt_()                                  # d^-0.5
            factor.div_(torch.rsqrt(factor, out=sq))         # / d^0.25 = rsqrt(d^-0.5)
        else:
            factor.pow_(-beta)
        torch.mul(chunk, factor, out=out[start:start + m])
    return out


def alexnet_logits(x: torch.Tensor, params: Mapping[str, torch.Tensor], lrn: Mapping[str, float],
                   grouped: bool = False, dropout: float = 0.0, training: bool = False) -> torch.Tensor:
    """FC8's logits of the network of :data:`~alexnet_ref.ARCHITECTURE`, with the tricks above.

    The caller has checked x and params (same device and dtype).  Grouped layers of the
    2012 network (``grouped=True``) are convolutions with ``groups=2``; dropout is applied
    after FC6 and FC7 when ``training``.
    """
    for spec in ARCHITECTURE:
        if spec.kind == "conv":
            w, b = params[f"{spec.name}.weight"], params[f"{spec.name}.bias"]
            x = F.conv2d(conv_layout(x), w, b, stride=spec.stride, padding=spec.pad,
                         groups=x.shape[1] // w.shape[1])
        elif spec.kind == "norm":
            x = local_response_norm(x, **lrn, inplace=True)  # x is the ReLU's own output
        elif spec.kind == "pool":
            x = max_pool2d(x, spec.size, spec.stride)
        elif spec.kind == "fc":
            x = F.linear(x.flatten(1), params[f"{spec.name}.weight"], params[f"{spec.name}.bias"])
        if spec.relu:
            x = relu_(x)
        if spec.dropout:
            x = dropout_forward(x, dropout, training)
    return x
