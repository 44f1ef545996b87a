"""Inputs and small float64 references that the hidden tests of several test cells share.

Trusted side only (the hidden blocks of ``solutions/<id>/<id>.ipynb`` and the
instructor's environment; never the sandbox): a builder takes the cell's
``numpy.random.Generator`` (:func:`course_grader.testing.rng`) and returns
torch tensors, which the student's function receives as they are.  A
``*_what`` function says what one call checked, for the failure message.
References that :mod:`alexnet_ref` does not have (receptive field, window
coverage, the LRN denominator) are plain float64 loops here.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from .testing import randn


def _shape(t) -> tuple:
    return tuple(int(d) for d in t.shape)


# --------------------------------------------------------------------------- INPUT
def images(g: np.random.Generator) -> list[torch.Tensor]:
    """uint8 images [H, W, 3]: non-square, tall, and the full 227x227."""
    return [torch.from_numpy(g.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
            for h, w in [(5, 7), (9, 4), (227, 227)]]


def bad_images(g: np.random.Generator) -> list[torch.Tensor]:
    """uint8 arrays that are not [H, W, 3]: 4 channels, 2-D, channels first."""
    return [torch.from_numpy(g.integers(0, 256, size=s, dtype=np.uint8)) for s in [(6, 5, 4), (6, 5), (3, 6, 5)]]


def to_nchw_reference(img: torch.Tensor) -> torch.Tensor:
    return (img.double() / 255.0).permute(2, 0, 1)[None]


# --------------------------------------------------------------------------- CONV1
def conv_input_size(f: int, s: int, p: int, out_h: int, out_w: int) -> tuple[int, int]:
    """The input height and width that give an ``out_h`` x ``out_w`` output."""
    return (out_h - 1) * s + f - 2 * p, (out_w - 1) * s + f - 2 * p


def conv_cases(g: np.random.Generator) -> list[tuple]:
    """(x, weight, bias, stride, padding): batched, non-square, odd and even filters, no bias, float64."""
    out = []
    for n, c, k, f, s, p, oh, ow, scale, dtype in [
        (2, 3, 4, 3, 1, 0, 5, 7, 1.0, torch.float32),
        (1, 3, 5, 11, 4, 0, 4, 3, 1.0, torch.float32),      # CONV1's filter and stride
        (2, 4, 3, 5, 1, 2, 6, 5, 100.0, torch.float32),     # CONV2's padding, raw-pixel scale
        (3, 2, 6, 3, 2, 1, 4, 3, 1.0, torch.float64),
        (1, 5, 2, 4, 3, 1, 3, 4, 1.0, torch.float32),       # even filter, stride 3
    ]:
        h, w = conv_input_size(f, s, p, oh, ow)
        x = randn(g, (n, c, h, w), scale, dtype)
        wt = randn(g, (k, c, f, f), 1.0, dtype)
        b = None if k == 3 else randn(g, (k,), 1.0, dtype)
        out.append((x, wt, b, s, p))
    return out


def conv_what(x, w, b, s, p) -> str:
    return (f"conv2d_forward(x {_shape(x)}, weight {_shape(w)}, bias {None if b is None else _shape(b)}, "
            f"stride={s}, padding={p})")


def relu_inputs(g: np.random.Generator) -> list[torch.Tensor]:
    """Float tensors of 4, 2 and 1 dimensions (float32 and float64), values up to ~30, one exact 0."""
    out = []
    for shape, dtype in [((2, 3, 4, 5), torch.float32), ((7, 3), torch.float64), ((11,), torch.float32)]:
        x = randn(g, shape, 10.0, dtype)
        x.view(-1)[0] = 0.0
        out.append(x)
    return out


# --------------------------------------------------------------------------- NORM1
def lrn_inputs(g: np.random.Generator) -> list[tuple[torch.Tensor, dict]]:
    """Raw-pixel-scale activations (10^2..10^3, 20 % negative): LRN bugs hide on small inputs."""
    out = []
    for shape, kwargs, dtype in [
        ((2, 9, 3, 4), {}, np.float32),
        ((1, 16, 2, 3), {}, np.float32),
        ((2, 7, 3, 2), {"n": 3, "k": 1.0, "alpha": 2e-4, "beta": 0.5}, np.float32),
        ((1, 10, 2, 2), {"n": 7}, np.float64),
    ]:
        mag = g.uniform(100.0, 1000.0, size=shape)
        sign = np.where(g.random(shape) < 0.8, 1.0, -1.0)
        out.append((torch.from_numpy((mag * sign).astype(dtype)), kwargs))
    return out


def lrn_edge_inputs(g: np.random.Generator) -> list[tuple[torch.Tensor, dict]]:
    """Few channels (1, 2, 4, 5, 6) with windows wider than half of them: the window stops at 0 and C - 1."""
    return [(torch.from_numpy(g.uniform(200.0, 900.0, size=shape).astype(np.float32)), kwargs)
            for shape, kwargs in [((1, 6, 2, 3), {}), ((2, 2, 3, 2), {}), ((1, 1, 2, 2), {}),
                                  ((1, 4, 2, 2), {"n": 7}), ((1, 5, 1, 1), {"n": 3})]]


def lrn_what(a, kwargs: dict) -> str:
    extra = "".join(f", {k}={v}" for k, v in kwargs.items())
    return f"local_response_norm(a of shape {_shape(a)}, values up to {float(a.abs().max()):.0f}{extra})"


# --------------------------------------------------------------------------- POOL1
def pool_inputs(g: np.random.Generator) -> list[tuple[torch.Tensor, dict | None, int, int]]:
    """(x, keyword arguments or None for the defaults, f, s)."""
    out = []
    for n, c, f, s, oh, ow, kw, sign in [
        (2, 3, 3, 2, 4, 5, None, 1.0),                  # the defaults f=3, s=2
        (1, 4, 2, 2, 3, 4, {"f": 2, "s": 2}, 1.0),
        (2, 2, 3, 1, 5, 3, {"f": 3, "s": 1}, -1.0),     # all negative: a zero start value is wrong
        (1, 3, 5, 3, 2, 3, {"f": 5, "s": 3}, 1.0),
        (1, 2, 3, 2, 13, 13, None, 1.0),                # 27x27 like MAX POOL1's input
    ]:
        h, w = (oh - 1) * s + f, (ow - 1) * s + f
        x = g.standard_normal((n, c, h, w)).astype(np.float32)
        if sign < 0:
            x = -np.abs(x) - 0.5
        out.append((torch.from_numpy(x), kw, f, s))
    return out


def pool_what(x, kwargs: dict | None) -> str:
    return f"max_pool2d_forward(x of shape {_shape(x)}{''.join(f', {k}={v}' for k, v in (kwargs or {}).items())})"


# --------------------------------------------------------------------------- CONV2
def receptive_field(layers) -> int:
    """One unit's receptive field in input pixels after the layers [(F, S), ...]."""
    r, jump = 1, 1
    for f, s in layers:
        r += (f - 1) * jump
        jump *= s
    return r


# --------------------------------------------------------------------------- NORM2
def lrn_denominator(a, n: int = 5, k: float = 2.0, alpha: float = 1e-4) -> np.ndarray:
    """k + alpha * (sum of squares over the channel window [i - n//2, i + n//2] clipped to [0, C - 1]), float64."""
    a = np.asarray(a, dtype=np.float64)
    sq = a * a
    out = np.empty_like(a)
    c = a.shape[1]
    for i in range(c):
        lo, hi = max(0, i - n // 2), min(c - 1, i + n // 2)
        out[:, i] = k + alpha * sq[:, lo:hi + 1].sum(axis=1)
    return out


def denominator_inputs(g: np.random.Generator) -> list[tuple[torch.Tensor, dict]]:
    """NORM2's 256 channels, other n, k, alpha, and few channels; values up to 900 of both signs."""
    return [(torch.from_numpy(g.uniform(-900.0, 900.0, size=shape).astype(np.float32)), kw)
            for shape, kw in [((2, 256, 2, 3), {}), ((1, 256, 1, 2), {"n": 3, "k": 1.0, "alpha": 3e-4}),
                              ((1, 7, 3, 3), {}), ((2, 3, 2, 2), {"n": 5})]]


def denominator_what(a, kwargs: dict) -> str:
    return f"lrn_denominator(a of shape {_shape(a)}{''.join(f', {k}={v}' for k, v in kwargs.items())})"


# --------------------------------------------------------------------------- POOL2
def window_coverage(w_in: int, f: int, s: int) -> list[int]:
    """Per position of one axis, how many F-wide windows at stride S cover it."""
    cover = [0] * w_in
    for start in range(0, w_in - f + 1, s):
        for i in range(start, start + f):
            cover[i] += 1
    return cover


def block2_inputs(g: np.random.Generator) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(x, weight [K, C, 5, 5], bias): activations ~30, weights ~0.2, biases ~5 (LRN and ReLU both matter)."""
    out = []
    for n, c, k, h, w in [(2, 6, 8, 11, 9), (1, 3, 5, 7, 13)]:
        out.append((randn(g, (n, c, h, w), 30.0), randn(g, (k, c, 5, 5), 0.2), randn(g, (k,), 5.0)))
    return out


def block2_reference(x, w, b) -> torch.Tensor:
    """MAX POOL(LRN(ReLU(CONV))) of CONV2's block in float64, from alexnet_ref."""
    import alexnet_ref as ref
    a = ref.relu(ref.conv2d_forward(x.double(), w.double(), b.double(), 1, 2))
    return ref.max_pool2d_forward(ref.local_response_norm(a, **ref.LRN), 3, 2)


def block2_what(x, w, b) -> str:
    return f"block2_forward(x {_shape(x)}, weight {_shape(w)}, bias {_shape(b)})"


# --------------------------------------------------------------------------- CONV3
def pad_inputs(g: np.random.Generator) -> list:
    """(x, p) pairs for pad2d: float32 and float64, p = 0 and a padding larger than x."""
    return [(randn(g, (2, 3, 4, 5)), 1), (randn(g, (1, 2, 3, 2), dtype=torch.float64), 2),
            (randn(g, (1, 4, 5, 3)), 0), (randn(g, (1, 1, 1, 1)), 3)]


def ref_pad2d(x, p: int):
    """x [N, C, H, W] with p zeros on every side of H and W, in float64."""
    n, c, h, w = x.shape
    out = torch.zeros((n, c, h + 2 * p, w + 2 * p), dtype=torch.float64)
    out[:, :, p:p + h, p:p + w] = x.double()
    return out


# --------------------------------------------------------------------------- POOL3
def flatten_inputs(g: np.random.Generator) -> list:
    return [randn(g, (2, 3, 4, 5)), randn(g, (1, 5, 2, 3), dtype=torch.float64), randn(g, (3, 2, 6, 6))]


# --------------------------------------------------------------------------- FC6
def linear_inputs(g: np.random.Generator) -> list:
    """(x, weight, bias) triples: large inputs, float64, no bias, more outputs than inputs."""
    out = []
    for n, i, o, bias, scale, dtype in [(2, 7, 5, True, 1.0, torch.float32), (3, 6, 6, True, 100.0, torch.float32),
                                        (1, 9, 4, False, 1.0, torch.float64), (4, 5, 8, True, 1.0, torch.float32)]:
        out.append((randn(g, (n, i), scale, dtype), randn(g, (o, i), dtype=dtype),
                    randn(g, (o,), dtype=dtype) if bias else None))
    return out


def linear_what(x, w, b, name: str = "linear_forward") -> str:
    return f"{name}(x {_shape(x)}, weight {_shape(w)}, bias {None if b is None else _shape(b)})"


# --------------------------------------------------------------------------- FC7
def fc7_inputs(g: np.random.Generator) -> list:
    """(x, weight, bias) with a square, non-symmetric weight (a transposed W gives other values)."""
    return [(randn(g, (n, d), scale), randn(g, (d, d)), randn(g, (d,)))
            for n, d, scale in [(2, 6, 1.0), (3, 16, 10.0), (1, 5, 1.0)]]


def dropout_inputs(g: np.random.Generator) -> list:
    """(x, p, seed): inputs bounded away from 0 (a dropped unit is exactly 0), a seed per call."""
    out = []
    for shape, p, k in [((8, 512), 0.5, 1), ((4, 1000), 0.2, 2), ((2, 3, 20, 20), 0.7, 3)]:
        x = g.uniform(0.5, 3.0, size=shape) * np.where(g.random(shape) < 0.5, 1.0, -1.0)
        out.append((torch.from_numpy(x.astype(np.float32)), p, int(g.integers(0, 2**31)) + k))
    return out


# --------------------------------------------------------------------------- FC8
def top_k_inputs(g: np.random.Generator) -> list:
    """(probs float32, k, expected values float64, expected indices int64): distinct probabilities."""
    out = []
    for n, c, k in [(2, 1000, 5), (3, 10, 1), (1, 7, 7)]:
        logits = g.permutation(n * c).reshape(n, c).astype(np.float64) / (n * c)
        p = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
        idx = np.argsort(-p.astype(np.float64), axis=1, kind="stable")[:, :k]
        values = np.take_along_axis(p.astype(np.float64), idx, axis=1)
        out.append((torch.from_numpy(p), k, torch.from_numpy(values), torch.from_numpy(idx.astype(np.int64))))
    return out


# --------------------------------------------------------------------------- FORWARD_GPU
@functools.lru_cache(maxsize=2)
def _forward_data(seed: int):
    import alexnet_ref as ref
    g = np.random.default_rng([int(seed) & 0xFFFFFFFF, 227])
    params = {}
    for name, shape in ref.param_shapes().items():
        scale = math.sqrt(2.0 / math.prod(shape[1:])) if name.endswith(".weight") else 0.1
        params[name] = torch.from_numpy(g.standard_normal(shape, dtype=np.float32) * np.float32(scale))
    x = torch.from_numpy(g.standard_normal((2, 3, 227, 227), dtype=np.float32))
    return x, params


def forward_inputs(seed: int):
    """(x [2, 3, 227, 227], params) for alexnet_forward, the same for every test cell of one notebook.

    He-scaled weights keep the activations O(1) through the network: the paper's N(0, 0.01²)
    weights give almost uniform probabilities, so a missing ReLU or LRN would hide.  In a kernel
    they are copies (code that changes them in place cannot change another cell's inputs or the
    reference); the grader sends them to the sandbox as data, which copies them already.
    """
    from .testing import current
    x, params = _forward_data(int(seed))
    if current() is not None:
        return x, dict(params)
    return x.clone(), {name: t.clone() for name, t in params.items()}


@functools.lru_cache(maxsize=2)
def forward_reference(seed: int):
    """alexnet_ref's probabilities for :func:`forward_inputs` (``seed``), in float64."""
    import alexnet_ref as ref
    x, params = _forward_data(int(seed))
    with torch.no_grad():
        return ref.alexnet_forward(x.double(), {k: v.double() for k, v in params.items()})
