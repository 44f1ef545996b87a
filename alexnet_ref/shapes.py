"""Output sizes, the architecture table, and parameter / multiply-add counts.

Chapters: *Overview* and the output-size section of every layer chapter
(``book/<lang>/01_input.md`` … ``book/<lang>/14_fc8.md``).

The table :data:`ARCHITECTURE` is the single source of the network's numbers:
the model (:mod:`alexnet_ref.model`), the book's tables and the exercises all
read it.  Output shapes are *computed* from it with the formulas below, never
typed in a second time.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

INPUT_SIZE = 227
INPUT_CHANNELS = 3
NUM_CLASSES = 1000


def _as_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def conv_output_size(w_in: int, f: int, p: int, s: int) -> int:
    """Width of a convolution's output: (W - F + 2P) / S + 1.

    >>> conv_output_size(227, 11, 0, 4)   # CONV1: W_M2
    55

    Raises ``ValueError`` naming the numbers when the division is not exact
    (the filter would not tile the padded input) or the result is < 1.
    """
    w_in = _as_int("w_in", w_in, 1)
    f = _as_int("f", f, 1)
    p = _as_int("p", p, 0)
    s = _as_int("s", s, 1)
    span = w_in - f + 2 * p
    if span < 0:
        raise ValueError(
            f"output size (W - F + 2P)/S + 1 = ({w_in} - {f} + 2*{p})/{s} + 1 < 1: "
            f"the {f}x{f} filter is larger than the padded input ({w_in + 2 * p})"
        )
    if span % s:
        raise ValueError(
            f"output size (W - F + 2P)/S + 1 = ({w_in} - {f} + 2*{p})/{s} + 1 "
            f"= {span / s + 1:g} is not a whole number"
        )
    return span // s + 1


def pool_output_size(w_in: int, f: int, s: int) -> int:
    """Width of a pooling output: (W - F) / S + 1 (no padding).

    >>> pool_output_size(55, 3, 2)        # MAX POOL1: W_M3
    27
    """
    return conv_output_size(w_in, f, 0, s)


@dataclass(frozen=True)
class LayerSpec:
    """One row of the architecture table, in the source document's notation.

    ``kind`` is one of ``input conv norm pool fc``.  ``tensor`` names the
    layer's output as the source does (``M_2`` … ``M_9``, ``H_2`` … ``H_4``).
    ``groups_2012`` is 2 where the original two-GPU network split the layer.
    """

    name: str
    kind: str
    tensor: str
    filters: int = 0
    size: int = 0
    stride: int = 1
    pad: int = 0
    relu: bool = False
    dropout: bool = False
    groups_2012: int = 1


# The simplified 2012 AlexNet of the source document, in chapter order.
# NORM1/NORM2 follow CONV→ReLU and precede MAX POOL, so they keep the
# convolution's size (the source's summary list shows them at the pooled
# size; see the errata appendix).
ARCHITECTURE: tuple[LayerSpec, ...] = (
    LayerSpec("input", "input", "M_1", filters=INPUT_CHANNELS),
    LayerSpec("conv1", "conv", "M_2", filters=96, size=11, stride=4, pad=0, relu=True),
    LayerSpec("norm1", "norm", "M_2", size=5),
    LayerSpec("pool1", "pool", "M_3", size=3, stride=2),
    LayerSpec("conv2", "conv", "M_4", filters=256, size=5, stride=1, pad=2, relu=True, groups_2012=2),
    LayerSpec("norm2", "norm", "M_4", size=5),
    LayerSpec("pool2", "pool", "M_5", size=3, stride=2),
    LayerSpec("conv3", "conv", "M_6", filters=384, size=3, stride=1, pad=1, relu=True),
    LayerSpec("conv4", "conv", "M_7", filters=384, size=3, stride=1, pad=1, relu=True, groups_2012=2),
    LayerSpec("conv5", "conv", "M_8", filters=256, size=3, stride=1, pad=1, relu=True, groups_2012=2),
    LayerSpec("pool3", "pool", "M_9", size=3, stride=2),
    LayerSpec("fc6", "fc", "H_2", filters=4096, relu=True, dropout=True),
    LayerSpec("fc7", "fc", "H_3", filters=4096, relu=True, dropout=True),
    LayerSpec("fc8", "fc", "H_4", filters=NUM_CLASSES),
)

LAYERS: dict[str, LayerSpec] = {spec.name: spec for spec in ARCHITECTURE}

# The source document's display names, used by the book's tables.
DISPLAY_NAMES = {
    "input": "INPUT", "conv1": "CONV1", "norm1": "NORM1", "pool1": "MAX POOL1",
    "conv2": "CONV2", "norm2": "NORM2", "pool2": "MAX POOL2", "conv3": "CONV3",
    "conv4": "CONV4", "conv5": "CONV5", "pool3": "MAX POOL3", "fc6": "FC6",
    "fc7": "FC7", "fc8": "FC8",
}


@dataclass(frozen=True)
class LayerShapes:
    """Computed facts of one layer: input/output shape as (C, H, W) or (features,)."""

    spec: LayerSpec
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    macs: int


def layer_shapes(grouped: bool = False, input_size: int = INPUT_SIZE) -> list[LayerShapes]:
    """Walk :data:`ARCHITECTURE` and compute every layer's shapes and counts.

    ``macs`` counts the multiply-adds of the weights (one per weight per
    output position); biases, ReLU, LRN and pooling are not counted, as in the
    usual 1.1-billion figure.  ``grouped=True`` gives the original two-GPU
    network (``groups=2`` on CONV2, CONV4, CONV5).
    """
    rows: list[LayerShapes] = []
    shape: tuple[int, ...] = (INPUT_CHANNELS, input_size, input_size)
    for spec in ARCHITECTURE:
        in_shape = shape
        params = macs = 0
        if spec.kind == "conv":
            c, h, w = shape
            groups = spec.groups_2012 if grouped else 1
            oh = conv_output_size(h, spec.size, spec.pad, spec.stride)
            ow = conv_output_size(w, spec.size, spec.pad, spec.stride)
            weights = spec.filters * (c // groups) * spec.size * spec.size
            params = weights + spec.filters
            macs = weights * oh * ow
            shape = (spec.filters, oh, ow)
        elif spec.kind == "pool":
            c, h, w = shape
            shape = (c, pool_output_size(h, spec.size, spec.stride), pool_output_size(w, spec.size, spec.stride))
        elif spec.kind == "fc":
            n_in = 1
            for d in shape:
                n_in *= d
            params = spec.filters * n_in + spec.filters
            macs = spec.filters * n_in
            shape = (spec.filters,)
        rows.append(LayerShapes(spec, in_shape, shape, params, macs))
    return rows


def total_params(grouped: bool = False) -> int:
    """Number of weights and biases: 62,378,344 (60,965,224 when ``grouped``)."""
    return sum(row.params for row in layer_shapes(grouped))


def total_macs(grouped: bool = False) -> int:
    """Multiply-adds per image: 1,135,256,096 for the simplified network."""
    return sum(row.macs for row in layer_shapes(grouped))


def param_shapes(grouped: bool = False) -> dict[str, tuple[int, ...]]:
    """Expected ``state_dict`` shapes: ``{'conv1.weight': (96, 3, 11, 11), …}``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for row in layer_shapes(grouped):
        spec = row.spec
        if spec.kind == "conv":
            groups = spec.groups_2012 if grouped else 1
            shapes[f"{spec.name}.weight"] = (spec.filters, row.in_shape[0] // groups, spec.size, spec.size)
        elif spec.kind == "fc":
            n_in = 1
            for d in row.in_shape:
                n_in *= d
            shapes[f"{spec.name}.weight"] = (spec.filters, n_in)
        else:
            continue
        shapes[f"{spec.name}.bias"] = (spec.filters,)
    return shapes


def paper_shape(shape: tuple[int, ...]) -> str:
    """Format a (C, H, W) shape the way the source writes it: ``[55×55×96]``."""
    if len(shape) == 3:
        c, h, w = shape
        return f"[{h}×{w}×{c}]"
    return f"[{shape[0]}]"


def architecture_rows(grouped: bool = False) -> list[dict[str, object]]:
    """The architecture table as plain rows for the book (one dict per layer)."""
    out = []
    for row in layer_shapes(grouped):
        spec = row.spec
        out.append({
            "layer": DISPLAY_NAMES[spec.name],
            "tensor": spec.tensor,
            "filters": spec.filters if spec.kind in ("conv", "fc") else "",
            "size": f"{spec.size}×{spec.size}" if spec.kind in ("conv", "pool") else (spec.size or ""),
            "stride": spec.stride if spec.kind in ("conv", "pool") else "",
            "pad": spec.pad if spec.kind == "conv" else "",
            "output": paper_shape(row.out_shape),
            "params": row.params,
            "macs": row.macs,
        })
    return out
