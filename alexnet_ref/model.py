"""The whole network: the ``AlexNet`` module and the functional ``alexnet_forward``.

Chapters: *Overview* (the table), *FC8* (probabilities and logits) and
*The full forward pass on GPU*; the appendix *The original 2012 network*
(``grouped=True``).

This is the simplified AlexNet of the course's source document, i.e. the
2012 network of Krizhevsky, Sutskever and Hinton run on one device:
227x227x3 input, CONV1 96@11x11/4 -> ReLU -> LRN -> MAX POOL 3/2,
CONV2 256@5x5 pad 2 -> ReLU -> LRN -> MAX POOL 3/2, CONV3 384, CONV4 384,
CONV5 256 (3x3 pad 1, ReLU), MAX POOL 3/2, FC6 4096, FC7 4096 (ReLU,
dropout 0.5), FC8 1000 + softmax.  It is *not* torchvision's ``alexnet``,
which follows the later "one weird trick" variant (64/192/384/256/256
filters, no LRN, adaptive pooling).  Its 62,378,344 parameters are random:
no pretrained weights are used anywhere in the course.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import torch
from torch import nn

from . import fast as _fast
from .layers import (conv2d_forward, dropout_forward, linear_forward, local_response_norm,
                     max_pool2d_forward, relu, softmax)
from .shapes import ARCHITECTURE, INPUT_CHANNELS, INPUT_SIZE, layer_shapes, param_shapes

# LRN hyper-parameters of the paper and the source (k, n, alpha, beta).
LRN = {"n": 5, "k": 2.0, "alpha": 1e-4, "beta": 0.75}
DROPOUT = 0.5
_BIAS_ONE = {"conv2", "conv4", "conv5", "fc6", "fc7"}


def init_params(grouped: bool = False, seed: int = 0,
                dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Deterministic random parameters, initialised as in the 2012 paper.

    Weights ~ N(0, 0.01²); biases 1 in CONV2, CONV4, CONV5, FC6 and FC7 (so
    that their ReLUs start with positive inputs) and 0 elsewhere.  The same
    ``seed`` gives the same numbers on every machine (drawn on the CPU).
    """
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in param_shapes(grouped).items():
        layer, kind = name.split(".")
        if kind == "weight":
            t = torch.randn(shape, generator=gen).mul_(0.01)
        else:
            t = torch.full(shape, 1.0 if layer in _BIAS_ONE else 0.0)
        params[name] = t.to(dtype)
    return params


def check_input(x, layer: str = "input") -> None:
    """Raise ``ValueError`` unless x is a float tensor of shape (N, 3, 227, 227)."""
    expected = f"(N, {INPUT_CHANNELS}, {INPUT_SIZE}, {INPUT_SIZE})"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{layer}: expected a torch.Tensor of shape {expected}, got {type(x).__name__}")
    if x.dim() != 4 or tuple(x.shape[1:]) != (INPUT_CHANNELS, INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"{layer}: expected shape {expected}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{layer}: expected a floating-point tensor, got dtype {x.dtype}")


def check_params(params: Mapping[str, torch.Tensor], grouped: bool = False) -> None:
    """Raise ``ValueError`` naming the layer when a parameter is missing or mis-shaped."""
    for name, shape in param_shapes(grouped).items():
        if name not in params:
            raise ValueError(f"{name.split('.')[0]}: missing parameter {name!r} (expected shape {shape})")
        t = params[name]
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name.split('.')[0]}: parameter {name!r} must be a torch.Tensor, "
                             f"got {type(t).__name__}")
        if tuple(t.shape) != shape:
            raise ValueError(f"{name.split('.')[0]}: parameter {name!r} expected shape {shape}, "
                             f"got {tuple(t.shape)}")


class AlexNet(nn.Module):
    """The simplified 2012 AlexNet (see the module docstring).

    ``model(x)`` returns class probabilities [N, 1000]; ``model.logits(x)``
    the scores before softmax.  ``grouped=True`` builds the original two-GPU
    network (``groups=2`` on CONV2, CONV4, CONV5; 60,965,224 parameters).
    Runs unchanged on CPU and CUDA, in float32 and float64 (``model.double()``).

    ``fast=True`` (the default) computes the same values with the speed work of
    :mod:`alexnet_ref.fast`, so that everything that runs the whole network (the
    book, the grader, ``make bench``) gets it; ``fast=False`` runs the plain
    forward pass written out in :meth:`logits`.  The two agree within float32
    rounding, gradients included.
    """

    def __init__(self, grouped: bool = False, seed: int = 0, dropout: float = DROPOUT, fast: bool = True):
        super().__init__()
        self.grouped = grouped
        self.dropout = dropout
        self.fast = fast
        # Layers are created on the meta device (no memory, no default init) and
        # receive the paper's initialisation from init_params.
        with torch.device("meta"):
            for row in layer_shapes(grouped):
                spec = row.spec
                if spec.kind == "conv":
                    layer = nn.Conv2d(row.in_shape[0], spec.filters, spec.size, spec.stride, spec.pad,
                                      groups=spec.groups_2012 if grouped else 1)
                elif spec.kind == "fc":
                    layer = nn.Linear(math.prod(row.in_shape), spec.filters)
                else:
                    continue
                setattr(self, spec.name, layer)
        self.load_state_dict(init_params(grouped, seed), assign=True)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """FC8's scores H_4 before softmax, [N, 1000]."""
        check_input(x)
        if self.fast:
            return _fast.alexnet_logits(x, dict(self.named_parameters()), LRN, self.grouped,
                                        self.dropout, self.training)
        x = relu(self.conv1(x))                              # (N, 96, 55, 55)   M_2
        x = local_response_norm(x, **LRN)                    # (N, 96, 55, 55)   NORM1
        x = max_pool2d_forward(x, 3, 2)                      # (N, 96, 27, 27)   M_3
        x = relu(self.conv2(x))                              # (N, 256, 27, 27)  M_4
        x = local_response_norm(x, **LRN)                    # (N, 256, 27, 27)  NORM2
        x = max_pool2d_forward(x, 3, 2)                      # (N, 256, 13, 13)  M_5
        x = relu(self.conv3(x))                              # (N, 384, 13, 13)  M_6
        x = relu(self.conv4(x))                              # (N, 384, 13, 13)  M_7
        x = relu(self.conv5(x))                              # (N, 256, 13, 13)  M_8
        x = max_pool2d_forward(x, 3, 2)                      # (N, 256, 6, 6)    M_9
        x = torch.flatten(x, 1)                              # (N, 9216)         H_1
        x = dropout_forward(relu(self.fc6(x)), self.dropout, self.training)  # (N, 4096)  H_2
        x = dropout_forward(relu(self.fc7(x)), self.dropout, self.training)  # (N, 4096)  H_3
        return self.fc8(x)                                   # (N, 1000)         H_4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return softmax(self.logits(x), dim=1)                # (N, 1000) probabilities


def alexnet_stages(x: torch.Tensor, params: Mapping[str, torch.Tensor], device=None,
                   grouped: bool = False) -> Iterator[tuple[str, torch.Tensor]]:
    """Walk :data:`ARCHITECTURE` in evaluation mode, yielding ``(layer name, output)`` per layer.

    The outputs are the source document's tensors: ``input`` M_1, ``conv1`` M_2 (after
    ReLU), ``norm1`` M_2 normalised, ``pool1`` M_3, … ``pool3`` M_9, ``fc6`` H_2,
    ``fc7`` H_3, ``fc8`` H_4 (logits).  Used by the book to show every stage.
    """
    x, p = _prepare(x, params, device, grouped)
    for spec in ARCHITECTURE:
        if spec.kind == "conv":
            w, b = p[f"{spec.name}.weight"], p[f"{spec.name}.bias"]
            if w.shape[1] != x.shape[1]:  # grouped convolution of the 2012 network
                x = torch.cat([conv2d_forward(xg, wg, bg, spec.stride, spec.pad)
                               for xg, wg, bg in zip(x.chunk(2, 1), w.chunk(2, 0), b.chunk(2, 0))], 1)
            else:
                x = conv2d_forward(x, w, b, spec.stride, spec.pad)
        elif spec.kind == "norm":
            x = local_response_norm(x, **LRN)
        elif spec.kind == "pool":
            x = max_pool2d_forward(x, spec.size, spec.stride)
        elif spec.kind == "fc":
            x = linear_forward(x.flatten(1), p[f"{spec.name}.weight"], p[f"{spec.name}.bias"])
        if spec.relu:
            x = relu(x)
        # Dropout is the identity in evaluation mode.
        yield spec.name, x


def _prepare(x, params, device, grouped: bool):
    """Check x and params, and put both on ``device`` (default: x's) in x's dtype."""
    check_input(x)
    check_params(params, grouped)
    device = torch.device(device) if device is not None else x.device
    x = x.to(device)
    return x, {name: t.to(device=device, dtype=x.dtype) for name, t in params.items()}


def alexnet_logits(x: torch.Tensor, params: Mapping[str, torch.Tensor], device=None,
                   grouped: bool = False) -> torch.Tensor:
    """Evaluation-mode logits H_4 [N, 1000]: the last stage of :func:`alexnet_stages`,
    computed by :func:`alexnet_ref.fast.alexnet_logits` (same values, faster)."""
    x, p = _prepare(x, params, device, grouped)
    return _fast.alexnet_logits(x, p, LRN, grouped)


def alexnet_forward(x: torch.Tensor, params: Mapping[str, torch.Tensor], device=None) -> torch.Tensor:
    """The whole network in evaluation mode: x [N, 3, 227, 227] -> probabilities [N, 1000] on ``device``.

    ``params`` is named like :class:`AlexNet`'s ``state_dict`` (``conv1.weight``,
    ``conv1.bias``, … ``fc8.bias``); tensors are moved to ``device`` and to x's
    dtype.  ``device=None`` keeps x's device.
    """
    return softmax(alexnet_logits(x, params, device), dim=1)


