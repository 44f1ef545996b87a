"""The student side of the grader: the code that calls a student's function.

It runs in three places and is imported normally in each: inside the sandbox
(:mod:`course_grader.sandbox_child` mounts this file and :mod:`course_grader.wire`
beside itself, as a package of their own), in a student's or instructor's kernel
(:mod:`course_grader.testing`), and in tests.
It imports only the standard library, numpy and torch (lazily), never
:mod:`alexnet_ref` or the hidden tests: nothing in it is secret.

:func:`call_mode` runs one call in one of :data:`MODES`; :func:`call_student`
is the older form that takes a :class:`Case` and returns plain data
(``("raised", type, message)`` / ``("banned", operator, message)`` tuples instead
of exceptions).
"""
from __future__ import annotations

import contextlib
import fnmatch
import io
import warnings
from dataclasses import dataclass

import numpy as np

from .wire import BannedOperator

MODES = ("value", "device", "timing", "dropout_generator")


# --------------------------------------------------------------------------- markers and cases
@dataclass(frozen=True)
class Gen:
    """Argument marker: the student receives ``torch.Generator().manual_seed(seed)``."""
    seed: int


@dataclass(frozen=True)
class Device:
    """Argument marker: the student receives ``torch.device(name)``."""
    name: str


@dataclass(frozen=True)
class Raises:
    """Expected outcome: the call raises ``type`` with a message containing every string of ``contains``."""
    type: str = "ValueError"
    contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One call of a student function (or one read of a variable when ``args`` is None).

    ``kind`` selects the comparison of :func:`compare`: ``exact``, ``allclose``,
    ``shape`` (only the result's shape), ``raises``, ``dropout_train``,
    ``probs`` (allclose plus the same argmax along the last axis), ``topk``
    (a pair values, indices), ``device`` (the result and every compute
    operator on the device type ``expected``, e.g. ``"meta"``), ``timing``
    (the call goes through :func:`_timing_call`; ``expected`` is the run
    protocol or a :class:`Raises`).
    """
    call: str
    args: tuple | None
    kwargs: dict
    expected: object
    kind: str
    tol: dict
    what: str


# --------------------------------------------------------------------------- calling the student
def _torch():
    import torch
    return torch


def to_plain(value):
    """A student's result as plain data: float arrays become float64 numpy arrays.

    Tensors are detached and moved to the CPU (any device, any layout, grad or
    not); 0-d arrays become Python numbers; tuples and lists become lists;
    ``torch.Size`` a list of ints; dicts dicts; anything else a short
    description ``{"type": name, "repr": text}``.
    """
    torch = _torch()
    if isinstance(value, torch.Size):
        return [int(v) for v in value]
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if t.is_complex():
            return {"type": "complex tensor", "repr": f"shape {tuple(t.shape)} dtype {t.dtype}"}
        t = t.to("cpu")
        if t.dtype == torch.bool:
            value = t.numpy().copy()
        elif t.is_floating_point():
            value = t.to(torch.float64).numpy().copy()
        else:
            value = t.to(torch.int64).numpy().copy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and value.dtype.kind != "c":
            value = np.ascontiguousarray(value, dtype=np.float64)
        elif value.dtype.kind in "iu":
            value = np.ascontiguousarray(value, dtype=np.int64)
        elif value.dtype.kind != "b":
            return {"type": "ndarray", "repr": f"dtype {value.dtype} shape {value.shape}"}
        if value.ndim == 0:
            return value.item()
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    text = repr(value)
    return {"type": type(value).__name__, "repr": text[:200]}


def _to_student(value):
    torch = _torch()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, Gen):
        return torch.Generator().manual_seed(value.seed)
    if isinstance(value, Device):
        return torch.device(value.name)
    if isinstance(value, tuple):
        return tuple(_to_student(v) for v in value)
    if isinstance(value, list):
        return [_to_student(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_student(v) for k, v in value.items()}
    return value


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _qualified(func) -> str:
    name = getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", None) or ""
    qual = getattr(func, "__qualname__", "") or ""
    if qual.startswith(("TensorBase.", "Tensor.")):
        return f"Tensor.{name}"
    if qual.startswith("_VariableFunctionsClass.") or module == "torch":
        return f"torch.{name}"
    return f"{module}.{name}" if module else name


def _tripwire(patterns):
    """The runtime check of one call: the first banned torch function or aten operator that ran.

    Two modes: a ``TorchFunctionMode`` sees the torch functions the student's
    code calls (aliases and ``nn`` modules included), a ``TorchDispatchMode``
    the aten operators that actually execute (``torch.ops.aten``, ``torch._C``
    and ``torch._VF`` included).  Student code can switch both off, so they are
    a second line behind the static scan of :mod:`course_grader.policy`.
    """
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    class Functions(TorchFunctionMode):
        def __init__(self, owner):
            super().__init__()
            self.owner = owner

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if self.owner.hit is None and _matches(getattr(func, "__name__", ""), patterns):
                self.owner.hit = _qualified(func)
            return func(*args, **(kwargs or {}))

    class Operators(TorchDispatchMode):
        def __init__(self, owner):
            super().__init__()
            self.owner = owner

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if self.owner.hit is None:
                name = getattr(getattr(func, "overloadpacket", None), "__name__", "") or ""
                if _matches(name, patterns):
                    self.owner.hit = f"aten.{name}"
            return func(*args, **(kwargs or {}))

    class Tripwire:
        hit = None

        def __enter__(self):
            self.modes = [Functions(self), Operators(self)]
            for mode in self.modes:
                mode.__enter__()
            return self

        def __exit__(self, *exc):
            for mode in reversed(self.modes):
                try:
                    mode.__exit__(None, None, None)
                except Exception:  # the student's code popped the mode itself
                    pass
            return False

    return Tripwire()


def banned_message(function: str, used: str) -> str:
    return (f"{function} uses {used}, the library's version of the operator this part asks you to "
            f"write yourself, so this part scores 0.")


def _device_probe():
    """A torch function mode recording, per device type, the first compute operator that ran there.

    ``report(result)`` gives ``{"result": device type of the result, "computed": {device type: operator}}``:
    a function that moves only its result to the device computed elsewhere.
    """
    from torch.overrides import TorchFunctionMode
    torch = _torch()
    compute = ("conv*", "*linear", "matmul", "mm", "bmm", "addmm", "baddbmm", "einsum", "__matmul__",
               "__rmatmul__", "*max_pool*", "*avg_pool*", "local_response_norm", "*softmax", "relu*", "unfold")

    class DeviceProbe(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.computed = {}

        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if _matches(name, compute):
                for value in list(args) + list((kwargs or {}).values()):
                    if isinstance(value, torch.Tensor):
                        self.computed.setdefault(value.device.type, name)
            return func(*args, **(kwargs or {}))

        def report(self, result):
            where = (str(result.device.type) if isinstance(result, torch.Tensor)
                     else {"type": type(result).__name__, "repr": repr(result)[:200]})
            return {"result": where, "computed": dict(self.computed)}

    return DeviceProbe()


def _timing_call(fn, args, kwargs):
    """Call ``fn(forward, *args, **kwargs, sync=..., clock=...)`` with recording stand-ins.

    ``forward`` records the device of what it receives, ``sync`` (unless
    ``kwargs`` sets it, e.g. to None) and ``clock`` record each call; the
    k-th clock reading is ``2**k * 1e-6`` s, so every difference of two
    readings is unique.  Returns ``{"returned", "events", "readings"}``.
    """
    torch = _torch()
    events, readings = [], []

    def forward(x):
        events.append(["forward", x.device.type if isinstance(x, torch.Tensor) else type(x).__name__])
        return x

    def sync():
        events.append(["sync"])

    def clock():
        readings.append(2.0 ** len(readings) * 1e-6)
        events.append(["clock", len(readings) - 1])
        return readings[-1]

    kwargs = dict(kwargs)
    kwargs.setdefault("sync", sync)
    returned = fn(forward, *args, clock=clock, **kwargs)
    return {"returned": to_plain(returned), "events": events, "readings": readings}


def _dropout_generator_calls(fn, args, kwargs):
    """``fn`` called four times: with a generator, the same generator object again, a fresh generator
    with the same seed, and one with the next seed.  ``kwargs["generator"]`` gives the seed: an int, a
    :class:`Gen` or a ``torch.Generator`` (its ``initial_seed()``)."""
    torch = _torch()
    gen = kwargs["generator"]
    seed = int(gen) if type(gen) is int else int(gen.seed) if isinstance(gen, Gen) else int(gen.initial_seed())
    shared = torch.Generator().manual_seed(seed)
    out = []
    for gen in (shared, shared, torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)):
        out.append(fn(*_copied(args), **dict(_copied(kwargs), generator=gen)))
    return out


def _copied(value):
    """Fresh copies of the tensors of a call (the four dropout calls must not see each other's in-place changes)."""
    torch = _torch()
    if type(value) is tuple or type(value) is list:
        return type(value)(_copied(v) for v in value)
    if type(value) is dict:
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.clone()
    return value


def call_mode(fn, mode: str = "value", args=(), kwargs=None, banned=()):
    """Call the student's ``fn(*args, **kwargs)`` in one of :data:`MODES` and return what the mode gives.

    ``value``: the result itself; ``device``: ``{"result": device type, "computed": {device type: operator}}``
    (:func:`_device_probe`); ``timing``: the record of :func:`_timing_call`; ``dropout_generator``: the four
    results of :func:`_dropout_generator_calls`.  stdout, stderr and warnings are captured.  Raises what
    ``fn`` raised, or :class:`~course_grader.wire.BannedOperator` when the runtime tripwire saw a banned
    torch function or aten operator (``banned``: fnmatch patterns), even if ``fn`` raised afterwards.
    """
    if mode not in MODES:
        raise ValueError(f"call_mode: mode must be one of {MODES}, got {mode!r}")
    kwargs = dict(kwargs or {})
    name = str(getattr(fn, "__name__", "the function"))
    sink = io.StringIO()
    trip = _tripwire(tuple(banned)) if banned else contextlib.nullcontext()
    probe = _device_probe() if mode == "device" else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            with trip, probe:
                if mode == "timing":
                    result = _timing_call(fn, args, kwargs)
                elif mode == "dropout_generator":
                    result = _dropout_generator_calls(fn, args, kwargs)
                else:
                    result = fn(*args, **kwargs)
    except Exception:
        hit = getattr(trip, "hit", None)
        if hit is not None:
            raise BannedOperator(hit, banned_message(name, hit)) from None
        raise
    hit = getattr(trip, "hit", None)
    if hit is not None:
        raise BannedOperator(hit, banned_message(name, hit))
    return probe.report(result) if mode == "device" else result


def call_student(fn, case: Case, banned=()):
    """Call the student's ``fn`` on ``case`` and return plain data.

    Returns :func:`to_plain` of the result, ``("raised", type name, message)``
    when the call raised, or ``("banned", torch name, message)`` when the
    runtime tripwire saw a banned torch function or aten operator (``banned``:
    fnmatch patterns).  A case with ``args=None`` returns ``to_plain(fn)``:
    ``fn`` is then the student's variable.  The case's ``kind`` picks the mode of
    :func:`call_mode` (``device``, ``timing``, ``dropout_generator``; any other kind
    is a plain call).
    """
    if case.args is None:
        return to_plain(fn)
    mode = case.kind if case.kind in MODES else "value"
    try:
        result = call_mode(fn, mode, _to_student(case.args), _to_student(dict(case.kwargs)), banned)
    except BannedOperator as hit:
        return ("banned", hit.used, str(hit))
    except Exception as err:  # the student's code may raise anything
        return ("raised", type(err).__name__, str(err)[:500])
    return result if mode == "device" else to_plain(result)
