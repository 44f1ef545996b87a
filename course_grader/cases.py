"""The hidden test cases of every exercise: one place, shared by nbgrader and the course's grader.

Every autograded test cell of ``solutions/<id>/<id>.ipynb`` ends with a hidden
block that is exactly::

    ### BEGIN HIDDEN TESTS
    from course_grader.cases import check
    check("<grade_id>", globals())
    ### END HIDDEN TESTS

:data:`SPECS` maps each such ``grade_id`` (unique across all assignments) to a
:class:`TestSpec`: its assignment, its points, the library operators its
functions must not use, and ``cases(seed)``, which builds the :class:`Case`
list on the trusted side (expected values come from :mod:`alexnet_ref`, or
for the few exercises that it does not cover, from small float64 references
in this module).  A case holds plain data only (numpy arrays, numbers,
strings, tuples, dicts, ``None`` and the markers :class:`Gen`, :class:`Device`
and :class:`Raises`), so a grader can send it to another process.

Two ways to run a case:

* in the notebook's kernel (stock ``nbgrader autograde``): :func:`check` runs
  every case of a test cell and raises an :class:`AssertionError` (shown
  without a traceback into this module) at the first failure; nothing is
  written to stderr, which nbgrader would count as a failure;
* out of process (the course's sandboxed grader): the student side needs only
  :func:`call_student` (which imports torch and numpy, never ``alexnet_ref``),
  the trusted side :meth:`TestSpec.cases`, :func:`banned_uses` and
  :func:`compare`.  ``call_student(fn, case, banned=())`` returns plain data,
  ``("raised", type name, message)`` or ``("banned", torch name, message)``
  (the runtime tripwire fired); :func:`compare` turns both tuples into a
  failure with their message.

Student-facing conventions checked here
---------------------------------------
* A case with ``args=None`` reads a variable (``W_M2 = 55``) instead of
  calling a function.  Integers compare exactly (``55.0`` equals ``55``);
  floats with a relative tolerance of 1e-9; tuples and lists element-wise.
* numpy arguments reach the student as torch tensors of the same dtype, on the
  CPU, and as copies (in-place changes cannot alter the case).
* Any correct implementation passes: loops, unfold + matmul, einsum, FFT,
  float64 or float32 results, non-contiguous results, results that require
  grad, CUDA results (moved to the CPU first), printing and warnings (both are
  captured).
* Invalid input must raise ``ValueError``, like :mod:`alexnet_ref`; where
  :mod:`alexnet_ref` names the function in its message the case requires the
  student's message to name it too.
* Operators an exercise asks for may not be taken from the library: each
  :class:`TestSpec` lists, per function, the banned torch names (fnmatch
  patterns such as ``"max_pool*"``).  They are found twice: by an AST scan of
  the function's source (:func:`banned_uses`) and by a runtime tripwire (a
  ``TorchFunctionMode`` that sees every torch function the student's code
  calls, aliases and ``nn`` modules included).  Using one, or ``alexnet_ref``,
  scores 0 for every test cell of that function, with a message saying why.

Tolerances (see ``/work/shared/notes/measured-facts.md``)
---------------------------------------------------------
fp32 results are compared with a float64 reference after the exact shape.
``atol_rel`` is multiplied by the largest ``|expected|`` of the case, because
entries near zero carry relative errors up to 1e-3 in correct fp32 code:

* one layer: ``rtol=1e-4, atol=1e-5 * max|ref|`` (correct implementations
  measured at <= 2.5e-6 * max|ref|);
* the full forward pass on the CPU: ``rtol=1e-4, atol=3e-5 * max|ref|`` on
  the probabilities, plus the same argmax per image;
* the full forward pass computed on CUDA (TF32 convolutions and matmuls are
  allowed there): ``rtol=5e-3, atol=5e-3 * max|ref|`` plus the argmax; used
  only for cases whose device is CUDA;
* softmax probabilities: ``atol=1e-4`` plus the argmax per row.
"""
from __future__ import annotations

import ast
import contextlib
import fnmatch
import functools
import inspect
import io
import math
import textwrap
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

ASSIGNMENTS: tuple[str, ...] = (
    "input", "conv1", "norm1", "pool1", "conv2", "norm2", "pool2", "conv3",
    "conv4", "conv5", "pool3", "fc6", "fc7", "fc8", "forward_gpu",
)

DEFAULT_SEED = 2012

ONE_LAYER = {"rtol": 1e-4, "atol_rel": 1e-5}
FORWARD_CPU = {"rtol": 1e-4, "atol_rel": 3e-5}
FORWARD_CUDA = {"rtol": 5e-3, "atol_rel": 5e-3}
SOFTMAX = {"rtol": 0.0, "atol": 1e-4}
EXACT_FLOAT = {"rtol": 1e-9}


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
    (a pair values, indices), ``device`` (the result lies on ``expected``'s
    device type: ``"cpu"`` or ``"cuda"``).
    """
    call: str
    args: tuple | None
    kwargs: dict
    expected: object
    kind: str
    tol: dict
    what: str


@dataclass(frozen=True)
class TestSpec:
    """The hidden part of one autograded test cell."""
    assignment: str
    grade_id: str
    points: float
    banned: dict
    build: Callable[[np.random.Generator], list] = field(repr=False)

    def cases(self, seed: int) -> list[Case]:
        """The cases for ``seed`` (trusted side: may import alexnet_ref)."""
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(self.grade_id.encode())])
        if getattr(self.build, "wants_seed", False):
            return self.build(rng, int(seed))
        return self.build(rng)


# --------------------------------------------------------------------------- student side
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
    from torch.overrides import TorchFunctionMode

    class Tripwire(TorchFunctionMode):
        hit = None

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if self.hit is None and _matches(getattr(func, "__name__", ""), patterns):
                self.hit = _qualified(func)
            return func(*args, **(kwargs or {}))

    return Tripwire()


def banned_message(function: str, used: str) -> str:
    return (f"{function} uses {used}, the library's version of the operator this part asks you to "
            f"write yourself, so this part scores 0. Build it from other tensor operations "
            f"(loops, indexing, unfold, matmul, einsum, ...) and run the tests again.")


def call_student(fn, case: Case, banned=()):
    """Call the student's ``fn`` on ``case`` and return plain data.

    Returns :func:`to_plain` of the result, ``("raised", type name, message)``
    when the call raised, or ``("banned", torch name, message)`` when the
    runtime tripwire saw a banned torch function (``banned``: fnmatch
    patterns).  A case with ``args=None`` returns ``to_plain(fn)``: ``fn`` is
    then the student's variable.  stdout, stderr and warnings are captured.
    """
    if case.args is None:
        return to_plain(fn)
    args = _to_student(case.args)
    kwargs = _to_student(dict(case.kwargs))
    sink = io.StringIO()
    mode = _tripwire(tuple(banned)) if banned else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            with mode:
                result = fn(*args, **kwargs)
            hit = getattr(mode, "hit", None)
            if hit is not None:
                return ("banned", hit, banned_message(getattr(fn, "__name__", case.call), hit))
            if case.kind == "device":
                torch = _torch()
                if not isinstance(result, torch.Tensor):
                    return {"type": type(result).__name__, "repr": repr(result)[:200]}
                return str(result.device.type)
            return to_plain(result)
    except Exception as err:  # the student's code may raise anything
        hit = getattr(mode, "hit", None)
        if hit is not None:
            return ("banned", hit, banned_message(getattr(fn, "__name__", case.call), hit))
        return ("raised", type(err).__name__, str(err)[:500])


# --------------------------------------------------------------------------- AST scan
def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def banned_uses(source: str, function: str, banned, namespace: dict | None = None) -> list[str]:
    """Banned names used in ``function``'s source (AST scan).

    Reports attribute accesses whose last part matches a pattern (``F.conv2d``,
    ``x.softmax``, ``nn.MaxPool2d``), imports of banned names or of
    ``alexnet_ref``/``course_grader``, and bare names that match a pattern and
    are not assigned in the function (a ``from torch... import conv2d``).
    With ``namespace``, a bare name counts only when it refers to a torch
    object there or is not defined at all.
    """
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return []
    target = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            target = node
            break
    if target is None:
        target = tree
    bound = {a.arg for a in ast.walk(target) if isinstance(a, ast.arg)}
    for node in ast.walk(target):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not target:
            bound.add(node.name)
    found: list[str] = []

    def add(text):
        if text not in found:
            found.append(text)

    body = target.body if hasattr(target, "body") else []
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Attribute):
                dotted = _dotted(node) or node.attr
                if _matches(node.attr, banned):
                    add(dotted)
                elif dotted.split(".")[0] in ("alexnet_ref", "course_grader"):
                    add(dotted)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id in ("alexnet_ref", "course_grader"):
                    add(node.id)
                elif _matches(node.id, banned) and node.id not in bound and node.id != function:
                    if namespace is None or node.id not in namespace:
                        add(node.id)
                    else:
                        module = getattr(namespace[node.id], "__module__", "") or ""
                        if module.startswith("torch"):
                            add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                module = getattr(node, "module", None) or ""
                for alias in node.names:
                    full = f"{module}.{alias.name}" if module else alias.name
                    if _matches(alias.name.split(".")[-1], banned) or \
                            full.split(".")[0] in ("alexnet_ref", "course_grader"):
                        add(full)
    return found


def _namespace_refs(namespace: dict) -> list[str]:
    """Names in the student's namespace bound to alexnet_ref objects."""
    out = []
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        module = getattr(value, "__module__", None)
        if not isinstance(module, str):
            module = getattr(value, "__name__", "") if inspect.ismodule(value) else ""
        if isinstance(module, str) and module.split(".")[0] == "alexnet_ref":
            out.append(name)
    return out


# --------------------------------------------------------------------------- comparison
def _describe(actual) -> str:
    if isinstance(actual, tuple) and actual and actual[0] == "raised":
        return f"it raised {actual[1]}: {actual[2]}"
    if isinstance(actual, tuple) and actual and actual[0] == "banned":
        return actual[2]
    if isinstance(actual, np.ndarray):
        return f"an array of shape {tuple(actual.shape)}"
    if isinstance(actual, dict) and set(actual) == {"type", "repr"}:
        return f"a {actual['type']} ({actual['repr']})"
    if isinstance(actual, list):
        return f"a sequence of length {len(actual)}: {_short(actual)}"
    return f"{type(actual).__name__} {_short(actual)}"


def _short(value) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 120 else text[:117] + "..."


def _is_failure(actual) -> bool:
    return isinstance(actual, tuple) and len(actual) == 3 and actual[0] in ("raised", "banned")


def _exact_equal(expected, actual, rtol=1e-9) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)):
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            return False
        if not math.isfinite(actual):
            return False
        if isinstance(expected, int):
            return actual == expected
        return math.isclose(actual, expected, rel_tol=rtol, abs_tol=1e-300)
    if isinstance(expected, (list, tuple, np.ndarray)):
        if isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
            try:
                e = np.asarray(expected)
                a = np.asarray(actual)
            except Exception:
                return False
            if a.shape != e.shape or a.dtype == object:
                return False
            if e.dtype.kind in "iub":
                return bool(np.all(a == e))
            return bool(np.allclose(a, e, rtol=rtol, atol=0.0))
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            return False
        return all(_exact_equal(e, a, rtol) for e, a in zip(expected, actual))
    return expected == actual


def _allclose(expected: np.ndarray, actual, tol: dict) -> tuple[bool, str]:
    if not isinstance(actual, np.ndarray):
        if isinstance(actual, (int, float)) and expected.ndim == 0:
            actual = np.asarray(actual, dtype=np.float64)
        else:
            return False, f"expected a tensor of shape {tuple(expected.shape)}, got {_describe(actual)}"
    if actual.shape != expected.shape:
        return False, f"wrong shape: expected {tuple(expected.shape)}, got {tuple(actual.shape)}"
    if actual.size == 0:
        return True, "ok"
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    finite = np.isfinite(e)
    if not np.all(np.isfinite(a[finite])):
        idx = np.unravel_index(int(np.argmax(~np.isfinite(a) & finite)), a.shape)
        return False, (f"the result contains NaN or inf (first at index {tuple(int(i) for i in idx)}, "
                       f"expected {e[idx]:.6g}): check for overflow or a division by zero")
    scale = float(np.max(np.abs(e[finite]))) if finite.any() else 0.0
    atol = tol.get("atol", 0.0) + tol.get("atol_rel", 0.0) * scale
    rtol = tol.get("rtol", 0.0)
    err = np.where(finite, np.abs(a - e), 0.0)
    bound = atol + rtol * np.abs(np.where(finite, e, 0.0))
    bad = err > bound
    if not bad.any():
        return True, "ok"
    worst = np.unravel_index(int(np.argmax(np.where(bad, err - bound, -np.inf))), a.shape)
    where = tuple(int(i) for i in worst)
    return False, (f"{int(bad.sum())} of {a.size} values are wrong; the worst at index {where}: "
                   f"expected {e[worst]:.7g}, got {a[worst]:.7g} "
                   f"(difference {err[worst]:.3g}, allowed {bound[worst]:.3g})")


def compare(case: Case, actual) -> tuple[bool, str]:
    """Compare plain ``actual`` with ``case.expected``: ``(ok, message with expected vs actual)``."""
    kind = case.kind
    if isinstance(actual, tuple) and actual and actual[0] == "banned":
        return False, actual[2]
    if kind == "raises":
        exp: Raises = case.expected
        if isinstance(actual, tuple) and len(actual) == 3 and actual[0] == "raised":
            if actual[1] != exp.type:
                return False, f"expected {exp.type}, but it raised {actual[1]}: {actual[2]}"
            missing = [c for c in exp.contains if c.lower() not in actual[2].lower()]
            if missing:
                return False, (f"raised {exp.type} as expected, but the message {actual[2]!r} does not "
                               f"name {', '.join(repr(m) for m in missing)}")
            return True, "ok"
        return False, f"expected {exp.type}, but it returned {_describe(actual)}"
    if _is_failure(actual):
        return False, _describe(actual)
    if kind == "exact":
        if _exact_equal(case.expected, actual, case.tol.get("rtol", 1e-9)):
            return True, "ok"
        return False, f"expected {_short(case.expected)}, got {_describe(actual)}"
    if kind == "shape":
        expected = tuple(case.expected)
        if isinstance(actual, np.ndarray) and tuple(actual.shape) == expected:
            return True, "ok"
        got = f"{tuple(actual.shape)}" if isinstance(actual, np.ndarray) else _describe(actual)
        return False, f"wrong output shape: expected {expected}, got {got}"
    if kind == "allclose":
        return _allclose(np.asarray(case.expected, dtype=np.float64), actual, case.tol)
    if kind == "probs":
        ok, msg = _allclose(np.asarray(case.expected, dtype=np.float64), actual, case.tol)
        if not ok:
            return ok, msg
        e_arg = np.argmax(case.expected, axis=-1)
        a_arg = np.argmax(actual, axis=-1)
        if not np.array_equal(e_arg, a_arg):
            return False, f"wrong most likely class: expected {_short(e_arg)}, got {_short(a_arg)}"
        return True, "ok"
    if kind == "topk":
        values, indices = case.expected
        if not isinstance(actual, list) or len(actual) != 2:
            return False, f"expected a pair (values, indices), got {_describe(actual)}"
        got_idx = np.asarray(actual[1]) if not isinstance(actual[1], dict) else None
        if got_idx is None or got_idx.shape != np.asarray(indices).shape:
            return False, (f"indices: expected shape {np.asarray(indices).shape}, "
                           f"got {_describe(actual[1])}")
        if not np.array_equal(got_idx.astype(np.int64), np.asarray(indices)):
            return False, f"indices: expected {_short(np.asarray(indices))}, got {_short(got_idx)}"
        ok, msg = _allclose(np.asarray(values, dtype=np.float64), actual[0], case.tol)
        return (True, "ok") if ok else (False, "values: " + msg)
    if kind == "dropout_train":
        return _compare_dropout(case, actual)
    if kind == "device":
        if actual == case.expected:
            return True, "ok"
        return False, f"the result should be on the {case.expected!r} device, got {_describe(actual)}"
    raise ValueError(f"unknown comparison kind {kind!r}")


def _compare_dropout(case: Case, actual) -> tuple[bool, str]:
    x = np.asarray(case.args[0], dtype=np.float64)
    p = float(case.kwargs.get("p", case.args[1] if len(case.args) > 1 else 0.5))
    if not isinstance(actual, np.ndarray):
        return False, f"expected a tensor of shape {x.shape}, got {_describe(actual)}"
    if actual.shape != x.shape:
        return False, f"wrong shape: expected {x.shape}, got {actual.shape}"
    scaled = x / (1.0 - p)
    dropped = np.abs(actual) <= 1e-12
    kept = np.abs(actual - scaled) <= 1e-5 * np.abs(scaled) + 1e-7
    stray = ~(dropped | kept)
    if stray.any():
        i = tuple(int(v) for v in np.argwhere(stray)[0])
        hint = (" (kept units must be divided by 1 - p: inverted dropout)"
                if np.isclose(actual[i], x[i], rtol=1e-5) else "")
        return False, (f"every output must be 0 or x/(1-p) = x/{1 - p:g}; at index {i} x = {x[i]:.6g}, "
                       f"expected 0 or {scaled[i]:.6g}, got {actual[i]:.6g}{hint}")
    rate = float(dropped.mean())
    sigma = math.sqrt(p * (1 - p) / x.size)
    if abs(rate - p) > 6 * sigma + 0.01:
        return False, f"dropped a fraction {rate:.3f} of the units, expected about p = {p:g}"
    return True, "ok"


# --------------------------------------------------------------------------- in-kernel check
class GradingFailure(AssertionError):
    """A failed hidden test.  Shown in the notebook as its message only (no traceback lines)."""

    def _render_traceback_(self):
        return [f"AssertionError: {self}"]


def _source(fn) -> str | None:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


def check(grade_id: str, namespace: dict, seed: int | None = None) -> None:
    """Run the hidden cases of test cell ``grade_id`` against the functions in ``namespace``.

    Raises :class:`AssertionError` (a :class:`GradingFailure`) with a message
    naming the case and expected vs actual at the first failure; prints
    nothing.
    """
    __tracebackhide__ = True
    spec = SPECS.get(grade_id)
    if spec is None:
        raise GradingFailure(f"unknown test {grade_id!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = spec.cases(DEFAULT_SEED if seed is None else seed)
    refs = _namespace_refs(namespace)
    if refs:
        raise GradingFailure(f"{grade_id}: the notebook uses alexnet_ref ({', '.join(refs)}), the "
                             f"course's reference solution; this part scores 0.")
    for function in dict.fromkeys(case.call for case in cases):
        fn = namespace.get(function)
        if not inspect.isfunction(fn):
            continue
        src = _source(fn)
        used = banned_uses(src, function, spec.banned.get(function, ()), namespace) if src else []
        if used:
            if any(u.split(".")[0] in ("alexnet_ref", "course_grader") for u in used):
                raise GradingFailure(f"{grade_id}: {function} uses {', '.join(used)}: the course's reference "
                                     f"solution may not be used; this part scores 0.")
            raise GradingFailure(f"{grade_id}: " + banned_message(function, ", ".join(used)))
    for case in cases:
        if case.call not in namespace:
            raise GradingFailure(f"{grade_id}: {case.call} is not defined: write it in its cell "
                                 f"and run that cell before this test")
        actual = call_student(namespace[case.call], case, spec.banned.get(case.call, ()))
        ok, message = compare(case, actual)
        if not ok:
            raise GradingFailure(f"{grade_id}: {case.what}: {message}")


# --------------------------------------------------------------------------- trusted references
def _ref():
    import alexnet_ref
    return alexnet_ref


def _t(a):
    torch = _torch()
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def _np(t) -> np.ndarray:
    return t.detach().to("cpu").double().numpy()


def _randn(rng, shape, scale=1.0, dtype=np.float32):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _ref_receptive_field(layers) -> int:
    r, jump = 1, 1
    for f, s in layers:
        r += (f - 1) * jump
        jump *= s
    return r


def _ref_window_coverage(w_in, f, s) -> list[int]:
    _ref().pool_output_size(w_in, f, s)
    cover = [0] * w_in
    for start in range(0, w_in - f + 1, s):
        for i in range(start, start + f):
            cover[i] += 1
    return cover


def _ref_lrn_denominator(a: np.ndarray, n=5, k=2.0, alpha=1e-4) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    sq = a * a
    out = np.empty_like(a)
    c = a.shape[1]
    for i in range(c):
        lo, hi = max(0, i - n // 2), min(c - 1, i + n // 2)
        out[:, i] = k + alpha * sq[:, lo:hi + 1].sum(axis=1)
    return out


# --------------------------------------------------------------------------- spec helpers
SPECS: dict[str, TestSpec] = {}

CONV_BANNED = ("conv1d", "conv2d", "conv3d", "conv_transpose*", "convolution", "_convolution",
               "*_convolution", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose*")
RELU_BANNED = ("relu", "relu_", "ReLU", "relu6", "ReLU6")
LRN_BANNED = ("local_response_norm", "LocalResponseNorm")
POOL_BANNED = ("max_pool*", "MaxPool*", "adaptive_max_pool*", "AdaptiveMaxPool*", "fractional_max_pool*",
               "*_max_pool*")
LINEAR_BANNED = ("linear", "Linear", "LazyLinear", "bilinear")
DROPOUT_BANNED = ("dropout*", "Dropout*", "*_dropout", "alpha_dropout", "AlphaDropout", "native_dropout")
SOFTMAX_BANNED = ("softmax", "_softmax", "log_softmax", "_log_softmax", "Softmax", "LogSoftmax",
                  "Softmax2d", "softmin", "Softmin", "special_softmax")
PAD_BANNED = ("pad", "constant_pad_nd", "*_pad*d", "*Pad*d")


def _spec(assignment, grade_id, points, banned=None):
    def register(build):
        if grade_id in SPECS:
            raise RuntimeError(f"duplicate grade_id {grade_id}")
        SPECS[grade_id] = TestSpec(assignment, grade_id, float(points), dict(banned or {}), build)
        return build
    return register


def _value(assignment, grade_id, points, name, expected, what):
    """A test cell that checks one variable in the source's notation."""
    tol = EXACT_FLOAT if isinstance(expected, float) else {}
    _spec(assignment, grade_id, points)(
        lambda rng: [Case(name, None, {}, expected, "exact", tol, what)])


@functools.lru_cache(maxsize=None)
def _facts() -> dict:
    ref = _ref()
    rows = {row.spec.name: row for row in ref.layer_shapes()}
    return {
        "W": {name: row.out_shape[-1] for name, row in rows.items()},
        "shape": {name: row.out_shape for name, row in rows.items()},
        "params": {name: row.params for name, row in rows.items()},
        "macs": {name: row.macs for name, row in rows.items()},
        "total_params": ref.total_params(),
        "total_macs": ref.total_macs(),
    }


def _seed_notation(shape) -> tuple[int, ...]:
    c, h, w = shape
    return (h, w, c)


def _conv_config(f, s, p, out_h, out_w):
    return (out_h - 1) * s + f - 2 * p, (out_w - 1) * s + f - 2 * p


# =========================================================================== INPUT
A = "input"


@_spec(A, "test_conv_output_size_values", 2)
def _(rng):
    ref = _ref()
    fixed = [(227, 11, 0, 4), (27, 5, 2, 1), (13, 3, 1, 1), (5, 5, 0, 1), (7, 1, 0, 2)]
    for _ in range(6):
        f, s, p, out = int(rng.integers(1, 8)), int(rng.integers(1, 5)), int(rng.integers(0, 4)), \
            int(rng.integers(1, 12))
        w = (out - 1) * s + f - 2 * p
        if w >= 1:
            fixed.append((w, f, p, s))
    return [Case("conv_output_size", c, {}, ref.conv_output_size(*c), "exact", {},
                 f"conv_output_size{c}") for c in fixed]


@_spec(A, "test_conv_output_size_errors", 1)
def _(rng):
    bad = [(10, 3, 0, 2), (226, 11, 0, 4), (3, 5, 0, 1)]
    return [Case("conv_output_size", c, {}, Raises("ValueError"), "raises", {},
                 f"conv_output_size{c} must raise ValueError (the size is not a whole number >= 1)")
            for c in bad]


@_spec(A, "test_pool_output_size_values", 1)
def _(rng):
    ref = _ref()
    fixed = [(55, 3, 2), (27, 3, 2), (13, 3, 2), (8, 2, 2), (9, 3, 3)]
    for _ in range(4):
        f, s, out = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 15))
        fixed.append(((out - 1) * s + f, f, s))
    return [Case("pool_output_size", c, {}, ref.pool_output_size(*c), "exact", {},
                 f"pool_output_size{c}") for c in fixed]


@_spec(A, "test_pool_output_size_errors", 1)
def _(rng):
    bad = [(10, 3, 2), (2, 3, 1), (54, 3, 2)]
    return [Case("pool_output_size", c, {}, Raises("ValueError"), "raises", {},
                 f"pool_output_size{c} must raise ValueError") for c in bad]


@_spec(A, "test_input_sizes", 1)
def _(rng):
    return [Case("W_M1", None, {}, 227, "exact", {}, "W_M1 (the width of M_1)"),
            Case("M1_NUMEL", None, {}, 227 * 227 * 3, "exact", {}, "M1_NUMEL (numbers in M_1)")]


def _ref_to_nchw(img: np.ndarray) -> np.ndarray:
    return (img.astype(np.float64) / 255.0).transpose(2, 0, 1)[None]


def _images(rng):
    out = []
    for h, w in [(5, 7), (9, 4), (227, 227)]:
        out.append(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
    return out


@_spec(A, "test_to_nchw_shape", 1)
def _(rng):
    return [Case("to_nchw", (img,), {}, (1, 3) + img.shape[:2], "shape", {},
                 f"to_nchw of an image of shape {img.shape}") for img in _images(rng)]


@_spec(A, "test_to_nchw_values", 2)
def _(rng):
    return [Case("to_nchw", (img,), {}, _ref_to_nchw(img), "allclose", ONE_LAYER,
                 f"to_nchw of an image of shape {img.shape}") for img in _images(rng)]


@_spec(A, "test_to_nchw_errors", 1)
def _(rng):
    bad = [rng.integers(0, 256, size=s, dtype=np.uint8) for s in [(6, 5, 4), (6, 5), (3, 6, 5)]]
    return [Case("to_nchw", (img,), {}, Raises("ValueError", ("to_nchw",)), "raises", {},
                 f"to_nchw of an array of shape {img.shape} must raise ValueError naming to_nchw")
            for img in bad]


# =========================================================================== CONV1
A = "conv1"


def _conv_cases(rng):
    """(x, w, b, stride, padding) configurations: batched, non-square, odd, asymmetric kernels."""
    out = []
    for n, c, k, f, s, p, oh, ow, scale, dtype in [
        (2, 3, 4, 3, 1, 0, 5, 7, 1.0, np.float32),
        (1, 3, 5, 11, 4, 0, 4, 3, 1.0, np.float32),      # CONV1's filter and stride
        (2, 4, 3, 5, 1, 2, 6, 5, 100.0, np.float32),     # CONV2's padding, raw-pixel scale
        (3, 2, 6, 3, 2, 1, 4, 3, 1.0, np.float64),
        (1, 5, 2, 4, 3, 1, 3, 4, 1.0, np.float32),      # even filter, stride 3
    ]:
        h, w = _conv_config(f, s, p, oh, ow)
        x = _randn(rng, (n, c, h, w), scale, dtype)
        wt = _randn(rng, (k, c, f, f), 1.0, dtype)
        b = None if k == 3 else _randn(rng, (k,), 1.0, dtype)
        out.append((x, wt, b, s, p))
    return out


def _conv_what(x, w, b, s, p):
    return (f"conv2d_forward(x {x.shape}, weight {w.shape}, bias {None if b is None else b.shape}, "
            f"stride={s}, padding={p})")


@_spec(A, "test_conv2d_forward_shape", 2, {"conv2d_forward": CONV_BANNED})
def _(rng):
    ref = _ref()
    cases = []
    for x, w, b, s, p in _conv_cases(rng):
        oh = ref.conv_output_size(x.shape[2], w.shape[2], p, s)
        ow = ref.conv_output_size(x.shape[3], w.shape[3], p, s)
        cases.append(Case("conv2d_forward", (x, w, b, s, p), {}, (x.shape[0], w.shape[0], oh, ow), "shape",
                          {}, _conv_what(x, w, b, s, p)))
    return cases


@_spec(A, "test_conv2d_forward_values", 3, {"conv2d_forward": CONV_BANNED})
def _(rng):
    ref = _ref()
    cases = []
    for x, w, b, s, p in _conv_cases(rng):
        exp = _np(ref.conv2d_forward(_t(x), _t(w), None if b is None else _t(b), s, p))
        cases.append(Case("conv2d_forward", (x, w, b, s, p), {}, exp, "allclose", ONE_LAYER,
                          _conv_what(x, w, b, s, p)))
    return cases


@_spec(A, "test_conv2d_forward_errors", 1, {"conv2d_forward": CONV_BANNED})
def _(rng):
    x3 = _randn(rng, (3, 9, 9))
    x = _randn(rng, (1, 3, 9, 9))
    w = _randn(rng, (2, 3, 3, 3))
    w4 = _randn(rng, (2, 4, 3, 3))
    r = Raises("ValueError", ("conv2d_forward",))
    return [Case("conv2d_forward", (x3, w, None, 1, 0), {}, r, "raises", {},
                 "x of shape (3, 9, 9) (no batch axis) must raise ValueError naming conv2d_forward"),
            Case("conv2d_forward", (x, w4, None, 1, 0), {}, r, "raises", {},
                 "x with 3 channels and weight with 4 input channels must raise ValueError naming "
                 "conv2d_forward"),
            Case("conv2d_forward", (x, w, None, 4, 0), {}, r, "raises", {},
                 "x 9x9, filter 3x3, stride 4 ((9 - 3)/4 + 1 is not whole) must raise ValueError naming "
                 "conv2d_forward")]


@_spec(A, "test_relu_values", 1, {"relu": RELU_BANNED})
def _(rng):
    ref = _ref()
    cases = []
    for shape, dtype in [((2, 3, 4, 5), np.float32), ((7, 3), np.float64), ((11,), np.float32)]:
        x = _randn(rng, shape, 10.0, dtype)
        x.flat[0] = 0.0
        cases.append(Case("relu", (x,), {}, _np(ref.relu(_t(x))), "allclose", ONE_LAYER,
                          f"relu of a tensor of shape {shape}"))
    return cases


@_spec(A, "test_relu_errors", 1, {"relu": RELU_BANNED})
def _(rng):
    return [Case("relu", ([1.0, -2.0, 3.0],), {}, Raises("ValueError", ("relu",)), "raises", {},
                 "relu of a Python list (not a tensor) must raise ValueError naming relu"),
            Case("relu", (np.array([1, -2, 3], dtype=np.int64),), {}, Raises("ValueError", ("relu",)),
                 "raises", {}, "relu of an integer tensor must raise ValueError naming relu")]


_value(A, "test_W_M2", 1, "W_M2", 55, "W_M2 (the width of M_2, CONV1's output)")
_value(A, "test_conv1_params", 1, "CONV1_PARAMS", 96 * 3 * 11 * 11 + 96,
       "CONV1_PARAMS (CONV1's weights and biases)")


# =========================================================================== NORM1
A = "norm1"


def _lrn_inputs(rng):
    """Raw-pixel-scale activations (10^2..10^3): LRN bugs hide on small inputs."""
    out = []
    for shape, kwargs, dtype in [
        ((2, 9, 3, 4), {}, np.float32),
        ((1, 16, 2, 3), {}, np.float32),
        ((2, 7, 3, 2), {"n": 3, "k": 1.0, "alpha": 2e-4, "beta": 0.5}, np.float32),
        ((1, 10, 2, 2), {"n": 7}, np.float64),
    ]:
        mag = rng.uniform(100.0, 1000.0, size=shape)
        sign = np.where(rng.random(shape) < 0.8, 1.0, -1.0)
        out.append(((mag * sign).astype(dtype), kwargs))
    return out


def _lrn_edge_inputs(rng):
    out = []
    for shape, kwargs in [((1, 6, 2, 3), {}), ((2, 2, 3, 2), {}), ((1, 1, 2, 2), {}),
                          ((1, 4, 2, 2), {"n": 7}), ((1, 5, 1, 1), {"n": 3})]:
        out.append((rng.uniform(200.0, 900.0, size=shape).astype(np.float32), kwargs))
    return out


def _lrn_what(a, kw):
    extra = "".join(f", {k}={v}" for k, v in kw.items())
    return f"local_response_norm(a of shape {a.shape}, values up to {np.abs(a).max():.0f}{extra})"


@_spec(A, "test_local_response_norm_shape", 1, {"local_response_norm": LRN_BANNED})
def _(rng):
    return [Case("local_response_norm", (a,), kw, a.shape, "shape", {}, _lrn_what(a, kw))
            for a, kw in _lrn_inputs(rng)]


@_spec(A, "test_local_response_norm_values", 3, {"local_response_norm": LRN_BANNED})
def _(rng):
    ref = _ref()
    return [Case("local_response_norm", (a,), kw, _np(ref.local_response_norm(_t(a), **kw)), "allclose",
                 ONE_LAYER, _lrn_what(a, kw)) for a, kw in _lrn_inputs(rng)]


@_spec(A, "test_local_response_norm_edges", 2, {"local_response_norm": LRN_BANNED})
def _(rng):
    ref = _ref()
    return [Case("local_response_norm", (a,), kw, _np(ref.local_response_norm(_t(a), **kw)), "allclose",
                 ONE_LAYER, _lrn_what(a, kw) + " (edge channels: the window stops at 0 and C - 1)")
            for a, kw in _lrn_edge_inputs(rng)]


@_spec(A, "test_local_response_norm_errors", 1, {"local_response_norm": LRN_BANNED})
def _(rng):
    r = Raises("ValueError", ("local_response_norm",))
    return [Case("local_response_norm", (_randn(rng, (8, 5, 5)),), {}, r, "raises", {},
                 "a of shape (8, 5, 5) (no batch axis) must raise ValueError naming local_response_norm"),
            Case("local_response_norm", (_randn(rng, (2, 8)),), {}, r, "raises", {},
                 "a of shape (2, 8) must raise ValueError naming local_response_norm")]


_value(A, "test_norm1_shape", 1, "NORM1_SHAPE", (55, 55, 96),
       "NORM1_SHAPE (NORM1's output in the source's notation [W x H x C])")
_value(A, "test_torch_alpha", 2, "TORCH_ALPHA", 5e-4,
       "TORCH_ALPHA (the alpha that makes torch.nn.LocalResponseNorm(5, alpha, 0.75, 2) equal the paper's LRN)")


# =========================================================================== POOL1
A = "pool1"


def _pool_inputs(rng):
    out = []
    for n, c, f, s, oh, ow, kw, sign in [
        (2, 3, 3, 2, 4, 5, None, 1.0),          # the defaults f=3, s=2
        (1, 4, 2, 2, 3, 4, {"f": 2, "s": 2}, 1.0),
        (2, 2, 3, 1, 5, 3, {"f": 3, "s": 1}, -1.0),   # all negative: a zero start value is wrong
        (1, 3, 5, 3, 2, 3, {"f": 5, "s": 3}, 1.0),
        (1, 2, 3, 2, 13, 13, None, 1.0),        # 27x27 like MAX POOL1's input
    ]:
        h, w = (oh - 1) * s + f, (ow - 1) * s + f
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        if sign < 0:
            x = -np.abs(x) - 0.5
        out.append((x, kw, f, s))
    return out


def _pool_what(x, kw):
    return f"max_pool2d_forward(x of shape {x.shape}{''.join(f', {k}={v}' for k, v in (kw or {}).items())})"


@_spec(A, "test_max_pool2d_forward_shape", 2, {"max_pool2d_forward": POOL_BANNED})
def _(rng):
    ref = _ref()
    return [Case("max_pool2d_forward", (x,), kw or {},
                 (x.shape[0], x.shape[1], ref.pool_output_size(x.shape[2], f, s),
                  ref.pool_output_size(x.shape[3], f, s)), "shape", {}, _pool_what(x, kw))
            for x, kw, f, s in _pool_inputs(rng)]


@_spec(A, "test_max_pool2d_forward_values", 4, {"max_pool2d_forward": POOL_BANNED})
def _(rng):
    ref = _ref()
    return [Case("max_pool2d_forward", (x,), kw or {}, _np(ref.max_pool2d_forward(_t(x), f, s)), "allclose",
                 ONE_LAYER, _pool_what(x, kw)) for x, kw, f, s in _pool_inputs(rng)]


@_spec(A, "test_max_pool2d_forward_errors", 1, {"max_pool2d_forward": POOL_BANNED})
def _(rng):
    r = Raises("ValueError", ("max_pool2d_forward",))
    return [Case("max_pool2d_forward", (_randn(rng, (1, 2, 10, 9)),), {}, r, "raises", {},
                 "x of shape (1, 2, 10, 9) with f=3, s=2 ((10 - 3)/2 + 1 is not whole) must raise "
                 "ValueError naming max_pool2d_forward"),
            Case("max_pool2d_forward", (_randn(rng, (2, 9, 9)),), {}, r, "raises", {},
                 "x of shape (2, 9, 9) must raise ValueError naming max_pool2d_forward")]


_value(A, "test_W_M3", 1, "W_M3", 27, "W_M3 (the width of M_3, MAX POOL1's output)")
_value(A, "test_pool1_numel", 1, "POOL1_NUMEL", 27 * 27 * 96, "POOL1_NUMEL (numbers in M_3)")
_value(A, "test_pool1_params", 1, "POOL1_PARAMS", 0, "POOL1_PARAMS (learned parameters of MAX POOL1)")


# =========================================================================== CONV2
A = "conv2"


@_spec(A, "test_same_padding_values", 2)
def _(rng):
    fs = [1, 3, 5, 7, 11] + [int(2 * rng.integers(6, 20) + 1)]
    return [Case("same_padding", (f,), {}, (f - 1) // 2, "exact", {}, f"same_padding({f})") for f in fs]


@_spec(A, "test_same_padding_errors", 1)
def _(rng):
    return [Case("same_padding", (f,), {}, Raises("ValueError", ("same_padding",)), "raises", {},
                 f"same_padding({f}) must raise ValueError naming same_padding") for f in (4, 0)]


@_spec(A, "test_receptive_field_values", 3)
def _(rng):
    stacks = [[], [(11, 4)], [(11, 4), (3, 2)], [(11, 4), (3, 2), (5, 1)], [(3, 1), (3, 1)],
              [(5, 1), (2, 2), (3, 1)]]
    for _ in range(3):
        stacks.append([(int(rng.integers(1, 8)), int(rng.integers(1, 4))) for _ in range(int(rng.integers(1, 6)))])
    return [Case("receptive_field", (st,), {}, _ref_receptive_field(st), "exact", {},
                 f"receptive_field({st})") for st in stacks]


@_spec(A, "test_receptive_field_errors", 1)
def _(rng):
    return [Case("receptive_field", (st,), {}, Raises("ValueError", ("receptive_field",)), "raises", {},
                 f"receptive_field({st}) must raise ValueError naming receptive_field")
            for st in ([(11, 4), (0, 2)], [(3, 0)])]


_value(A, "test_W_M4", 1, "W_M4", 27, "W_M4 (the width of M_4, CONV2's output)")
_value(A, "test_conv2_padding", 1, "CONV2_PAD", 2, "CONV2_PAD (the padding that keeps 27x27)")
_value(A, "test_RF_M4", 1, "RF_M4", 51,
       "RF_M4 (the receptive field of one M_4 unit in the input, in pixels)")


# =========================================================================== NORM2
A = "norm2"


@_spec(A, "test_lrn_window_values", 2)
def _(rng):
    calls = [(0, 256), (1, 256), (2, 256), (128, 256), (254, 256), (255, 256), (0, 1), (1, 2)]
    calls += [(int(rng.integers(0, 256)), 256)]
    cases = [Case("lrn_window", c, {}, [max(0, c[0] - 2), min(c[1] - 1, c[0] + 2)], "exact", {},
                  f"lrn_window{c}") for c in calls]
    for i, c, n in [(0, 256, 3), (255, 256, 7), (5, 10, 1), (int(rng.integers(0, 96)), 96, 9)]:
        cases.append(Case("lrn_window", (i, c), {"n": n}, [max(0, i - n // 2), min(c - 1, i + n // 2)], "exact",
                          {}, f"lrn_window({i}, {c}, n={n})"))
    return cases


@_spec(A, "test_lrn_window_errors", 1)
def _(rng):
    return [Case("lrn_window", c, {}, Raises("ValueError", ("lrn_window",)), "raises", {},
                 f"lrn_window{c} (channel out of range) must raise ValueError naming lrn_window")
            for c in [(256, 256), (-1, 256)]]


def _denominator_inputs(rng):
    out = []
    for shape, kw in [((2, 256, 2, 3), {}), ((1, 256, 1, 2), {"n": 3, "k": 1.0, "alpha": 3e-4}),
                      ((1, 7, 3, 3), {}), ((2, 3, 2, 2), {"n": 5})]:
        out.append((rng.uniform(-900.0, 900.0, size=shape).astype(np.float32), kw))
    return out


def _den_what(a, kw):
    return f"lrn_denominator(a of shape {a.shape}{''.join(f', {k}={v}' for k, v in kw.items())})"


@_spec(A, "test_lrn_denominator_shape", 1)
def _(rng):
    return [Case("lrn_denominator", (a,), kw, a.shape, "shape", {}, _den_what(a, kw))
            for a, kw in _denominator_inputs(rng)]


@_spec(A, "test_lrn_denominator_values", 3)
def _(rng):
    return [Case("lrn_denominator", (a,), kw, _ref_lrn_denominator(a, **kw), "allclose", ONE_LAYER,
                 _den_what(a, kw)) for a, kw in _denominator_inputs(rng)]


@_spec(A, "test_lrn_denominator_errors", 1)
def _(rng):
    return [Case("lrn_denominator", (_randn(rng, (256, 3, 3)),), {},
                 Raises("ValueError", ("lrn_denominator",)), "raises", {},
                 "a of shape (256, 3, 3) (no batch axis) must raise ValueError naming lrn_denominator")]


_value(A, "test_norm2_shape", 1, "NORM2_SHAPE", (27, 27, 256),
       "NORM2_SHAPE (NORM2's output in the source's notation [W x H x C])")
_value(A, "test_norm2_edge_terms", 1, "NORM2_EDGE_TERMS", 3,
       "NORM2_EDGE_TERMS (squares summed for channel 0 of NORM2)")


# =========================================================================== POOL2
A = "pool2"


@_spec(A, "test_window_coverage_values", 2)
def _(rng):
    calls = [(7, 3, 2), (13, 3, 2), (8, 2, 2), (6, 3, 1), (3, 3, 2)]
    f, s = int(rng.integers(2, 5)), int(rng.integers(1, 4))
    calls.append(((int(rng.integers(2, 6)) - 1) * s + f, f, s))
    return [Case("window_coverage", c, {}, _ref_window_coverage(*c), "exact", {}, f"window_coverage{c}")
            for c in calls]


@_spec(A, "test_window_coverage_errors", 1)
def _(rng):
    return [Case("window_coverage", c, {}, Raises("ValueError", ("window_coverage",)), "raises", {},
                 f"window_coverage{c} (windows do not tile the input) must raise ValueError naming "
                 f"window_coverage") for c in [(8, 3, 2), (2, 3, 1)]]


def _block2_inputs(rng):
    out = []
    for n, c, k, h, w in [(2, 6, 8, 11, 9), (1, 3, 5, 7, 13)]:
        x = _randn(rng, (n, c, h, w), 30.0)
        wt = _randn(rng, (k, c, 5, 5), 0.2)
        b = _randn(rng, (k,), 5.0)
        out.append((x, wt, b))
    return out


def _ref_block2(x, w, b):
    ref = _ref()
    a = ref.relu(ref.conv2d_forward(_t(x), _t(w), _t(b), 1, 2))
    return _np(ref.max_pool2d_forward(ref.local_response_norm(a, **ref.LRN), 3, 2))


@_spec(A, "test_block2_forward_shape", 1)
def _(rng):
    ref = _ref()
    return [Case("block2_forward", (x, w, b), {},
                 (x.shape[0], w.shape[0], ref.pool_output_size(x.shape[2], 3, 2),
                  ref.pool_output_size(x.shape[3], 3, 2)), "shape", {},
                 f"block2_forward(x {x.shape}, weight {w.shape}, bias {b.shape})") for x, w, b in _block2_inputs(rng)]


@_spec(A, "test_block2_forward_values", 3)
def _(rng):
    return [Case("block2_forward", (x, w, b), {}, _ref_block2(x, w, b), "allclose", ONE_LAYER,
                 f"block2_forward(x {x.shape}, weight {w.shape}, bias {b.shape}) = MAX POOL(LRN(ReLU(CONV)))")
            for x, w, b in _block2_inputs(rng)]


@_spec(A, "test_block2_forward_errors", 1)
def _(rng):
    return [Case("block2_forward", (_randn(rng, (1, 4, 9, 9)), _randn(rng, (8, 6, 5, 5)), _randn(rng, (8,))), {},
                 Raises("ValueError", ("block2_forward",)), "raises", {},
                 "x with 4 channels and weight (8, 6, 5, 5) must raise ValueError naming block2_forward")]


_value(A, "test_W_M5", 1, "W_M5", 13, "W_M5 (the width of M_5, MAX POOL2's output)")
_value(A, "test_M5_numel", 1, "M5_NUMEL", 13 * 13 * 256, "M5_NUMEL (numbers in M_5)")


# =========================================================================== CONV3
A = "conv3"


def _pad_inputs(rng):
    return [(_randn(rng, (2, 3, 4, 5)), 1), (_randn(rng, (1, 2, 3, 2), 1.0, np.float64), 2),
            (_randn(rng, (1, 4, 5, 3)), 0), (_randn(rng, (1, 1, 1, 1)), 3)]


@_spec(A, "test_pad2d_shape", 1, {"pad2d": PAD_BANNED})
def _(rng):
    return [Case("pad2d", (x, p), {}, (x.shape[0], x.shape[1], x.shape[2] + 2 * p, x.shape[3] + 2 * p), "shape",
                 {}, f"pad2d(x of shape {x.shape}, {p})") for x, p in _pad_inputs(rng)]


@_spec(A, "test_pad2d_values", 2, {"pad2d": PAD_BANNED})
def _(rng):
    return [Case("pad2d", (x, p), {}, np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p))), "allclose",
                 ONE_LAYER, f"pad2d(x of shape {x.shape}, {p})") for x, p in _pad_inputs(rng)]


@_spec(A, "test_pad2d_errors", 1, {"pad2d": PAD_BANNED})
def _(rng):
    r = Raises("ValueError", ("pad2d",))
    return [Case("pad2d", (_randn(rng, (1, 2, 3, 3)), -1), {}, r, "raises", {},
                 "pad2d with p = -1 must raise ValueError naming pad2d"),
            Case("pad2d", (_randn(rng, (2, 3, 3)), 1), {}, r, "raises", {},
                 "pad2d of x with shape (2, 3, 3) must raise ValueError naming pad2d")]


_value(A, "test_W_M6", 1, "W_M6", 13, "W_M6 (the width of M_6, CONV3's output)")
_value(A, "test_conv3_padding", 1, "CONV3_PAD", 1, "CONV3_PAD (the padding that keeps 13x13)")
_value(A, "test_RF_M6", 2, "RF_M6", 99, "RF_M6 (the receptive field of one M_6 unit in the input)")
_value(A, "test_conv3_params", 2, "CONV3_PARAMS", 384 * 256 * 9 + 384, "CONV3_PARAMS (weights and biases)")


# =========================================================================== CONV4
A = "conv4"


@_spec(A, "test_conv_params_values", 2)
def _(rng):
    calls = [(3, 96, 11), (96, 256, 5), (384, 384, 3), (1, 1, 1)]
    calls += [(int(rng.integers(1, 50)), int(rng.integers(1, 50)), int(rng.integers(1, 8))) for _ in range(3)]
    return [Case("conv_params", c, {}, c[1] * c[0] * c[2] * c[2] + c[1], "exact", {}, f"conv_params{c}")
            for c in calls]


@_spec(A, "test_conv_params_errors", 1)
def _(rng):
    return [Case("conv_params", c, {}, Raises("ValueError", ("conv_params",)), "raises", {},
                 f"conv_params{c} must raise ValueError naming conv_params") for c in [(0, 96, 11), (3, 96, -1)]]


@_spec(A, "test_conv_macs_values", 2)
def _(rng):
    facts = _facts()
    calls = [(3, 96, 11, 55, 55), (384, 384, 3, 13, 13), (2, 3, 4, 5, 7)]
    calls += [tuple(int(rng.integers(1, 30)) for _ in range(5)) for _ in range(3)]
    cases = [Case("conv_macs", c, {}, c[0] * c[1] * c[2] * c[2] * c[3] * c[4], "exact", {}, f"conv_macs{c}")
             for c in calls]
    assert cases[1].expected == facts["macs"]["conv4"]
    return cases


@_spec(A, "test_conv_macs_errors", 1)
def _(rng):
    return [Case("conv_macs", c, {}, Raises("ValueError", ("conv_macs",)), "raises", {},
                 f"conv_macs{c} must raise ValueError naming conv_macs") for c in [(3, 96, 11, 0, 55), (-3, 96, 11, 55, 55)]]


_value(A, "test_W_M7", 1, "W_M7", 13, "W_M7 (the width of M_7, CONV4's output)")
_value(A, "test_conv4_params", 1, "CONV4_PARAMS", 384 * 384 * 9 + 384, "CONV4_PARAMS (weights and biases)")
_value(A, "test_conv4_macs", 2, "CONV4_MACS", 384 * 384 * 9 * 13 * 13, "CONV4_MACS (multiply-adds per image)")


# =========================================================================== CONV5
A = "conv5"


@_spec(A, "test_tensor_bytes_values", 2)
def _(rng):
    calls = [((256, 13, 13), 4), ((96, 55, 55), 4), ((1, 3, 227, 227), 8), ((4096,), 2), ((), 4)]
    calls.append((tuple(int(v) for v in rng.integers(1, 20, size=3)), 4))
    cases = [Case("tensor_bytes", (s,), {"itemsize": i}, int(np.prod(s, dtype=np.int64)) * i, "exact", {},
                  f"tensor_bytes({s}, itemsize={i})") for s, i in calls]
    cases.append(Case("tensor_bytes", ((384, 13, 13),), {}, 384 * 169 * 4, "exact", {},
                      "tensor_bytes((384, 13, 13)) with the default itemsize 4"))
    return cases


@_spec(A, "test_tensor_bytes_errors", 1)
def _(rng):
    return [Case("tensor_bytes", ((256, -13, 13),), {}, Raises("ValueError", ("tensor_bytes",)), "raises", {},
                 "tensor_bytes((256, -13, 13)) must raise ValueError naming tensor_bytes")]


@_spec(A, "test_count_params_values", 2)
def _(rng):
    ref = _ref()
    small = {"a.weight": (4, 3, 2, 2), "a.bias": (4,), "b.weight": (5, 16), "b.bias": (5,)}
    rand = {f"l{i}.weight": tuple(int(v) for v in rng.integers(1, 9, size=int(rng.integers(1, 5))))
            for i in range(4)}
    return [Case("count_params", (small,), {}, 4 * 12 + 4 + 80 + 5, "exact", {}, f"count_params({small})"),
            Case("count_params", (rand,), {}, sum(int(np.prod(s)) for s in rand.values()), "exact", {},
                 f"count_params({rand})"),
            Case("count_params", (ref.param_shapes(),), {}, ref.total_params(), "exact", {},
                 "count_params of AlexNet's 16 parameter shapes"),
            Case("count_params", (ref.param_shapes(grouped=True),), {}, ref.total_params(grouped=True), "exact",
                 {}, "count_params of the grouped 2012 network's parameter shapes"),
            Case("count_params", ({},), {}, 0, "exact", {}, "count_params({})")]


@_spec(A, "test_count_params_errors", 1)
def _(rng):
    return [Case("count_params", ({"w": (3, -2)},), {}, Raises("ValueError", ("count_params",)), "raises", {},
                 "count_params({'w': (3, -2)}) must raise ValueError naming count_params")]


_value(A, "test_W_M8", 1, "W_M8", 13, "W_M8 (the width of M_8, CONV5's output)")
_value(A, "test_conv5_params", 1, "CONV5_PARAMS", 256 * 384 * 9 + 256, "CONV5_PARAMS (weights and biases)")
_value(A, "test_M8_bytes", 1, "M8_BYTES", 13 * 13 * 256 * 4, "M8_BYTES (bytes of M_8 for one image in float32)")
_value(A, "test_all_conv_params", 1, "ALL_CONV_PARAMS",
       (96 * 3 * 121 + 96) + (256 * 96 * 25 + 256) + (384 * 256 * 9 + 384) + (384 * 384 * 9 + 384)
       + (256 * 384 * 9 + 256), "ALL_CONV_PARAMS (parameters of CONV1..CONV5 together)")


# =========================================================================== POOL3
A = "pool3"


def _flatten_inputs(rng):
    return [_randn(rng, (2, 3, 4, 5)), _randn(rng, (1, 5, 2, 3), 1.0, np.float64), _randn(rng, (3, 2, 6, 6))]


@_spec(A, "test_flatten_chw_shape", 1)
def _(rng):
    return [Case("flatten_chw", (x,), {}, (x.shape[0], int(np.prod(x.shape[1:]))), "shape", {},
                 f"flatten_chw(x of shape {x.shape})") for x in _flatten_inputs(rng)]


@_spec(A, "test_flatten_chw_values", 2)
def _(rng):
    return [Case("flatten_chw", (x,), {}, _np(_t(x).flatten(1)), "allclose", ONE_LAYER,
                 f"flatten_chw(x of shape {x.shape}): channel-major order (C, H, W) like torch.flatten(x, 1)")
            for x in _flatten_inputs(rng)]


@_spec(A, "test_flatten_chw_errors", 1)
def _(rng):
    return [Case("flatten_chw", (_randn(rng, (256, 6, 6)),), {}, Raises("ValueError", ("flatten_chw",)), "raises",
                 {}, "flatten_chw of x with shape (256, 6, 6) (no batch axis) must raise ValueError naming "
                     "flatten_chw")]


@_spec(A, "test_flat_index_values", 2)
def _(rng):
    calls = [(0, 0, 0, 256, 6, 6), (0, 0, 1, 256, 6, 6), (0, 1, 0, 256, 6, 6), (1, 0, 0, 256, 6, 6),
             (255, 5, 5, 256, 6, 6), (2, 1, 3, 3, 4, 5)]
    for _ in range(3):
        C, H, W = (int(v) for v in rng.integers(1, 10, size=3))
        calls.append((int(rng.integers(0, C)), int(rng.integers(0, H)), int(rng.integers(0, W)), C, H, W))
    return [Case("flat_index", c, {}, c[0] * c[4] * c[5] + c[1] * c[5] + c[2], "exact", {}, f"flat_index{c}")
            for c in calls]


@_spec(A, "test_flat_index_errors", 1)
def _(rng):
    return [Case("flat_index", c, {}, Raises("ValueError", ("flat_index",)), "raises", {},
                 f"flat_index{c} (position out of range) must raise ValueError naming flat_index")
            for c in [(256, 0, 0, 256, 6, 6), (0, 6, 0, 256, 6, 6), (0, 0, -1, 256, 6, 6)]]


_value(A, "test_W_M9", 1, "W_M9", 6, "W_M9 (the width of M_9, MAX POOL3's output)")
_value(A, "test_H1_size", 1, "H1_SIZE", 9216, "H1_SIZE (length of the flattened H_1)")
_value(A, "test_M9_shape", 1, "M9_SHAPE", (6, 6, 256), "M9_SHAPE (M_9 in the source's notation [W x H x C])")


# =========================================================================== FC6
A = "fc6"


def _linear_inputs(rng):
    out = []
    for n, i, o, bias, scale, dtype in [(2, 7, 5, True, 1.0, np.float32), (3, 6, 6, True, 100.0, np.float32),
                                        (1, 9, 4, False, 1.0, np.float64), (4, 5, 8, True, 1.0, np.float32)]:
        out.append((_randn(rng, (n, i), scale, dtype), _randn(rng, (o, i), 1.0, dtype),
                    _randn(rng, (o,), 1.0, dtype) if bias else None))
    return out


def _lin_what(x, w, b, name="linear_forward"):
    return f"{name}(x {x.shape}, weight {w.shape}, bias {None if b is None else b.shape})"


@_spec(A, "test_linear_forward_shape", 1, {"linear_forward": LINEAR_BANNED})
def _(rng):
    return [Case("linear_forward", (x, w, b), {}, (x.shape[0], w.shape[0]), "shape", {}, _lin_what(x, w, b))
            for x, w, b in _linear_inputs(rng)]


@_spec(A, "test_linear_forward_values", 2, {"linear_forward": LINEAR_BANNED})
def _(rng):
    ref = _ref()
    return [Case("linear_forward", (x, w, b), {},
                 _np(ref.linear_forward(_t(x), _t(w), None if b is None else _t(b))), "allclose", ONE_LAYER,
                 _lin_what(x, w, b)) for x, w, b in _linear_inputs(rng)]


@_spec(A, "test_linear_forward_errors", 1, {"linear_forward": LINEAR_BANNED})
def _(rng):
    r = Raises("ValueError", ("linear_forward",))
    return [Case("linear_forward", (_randn(rng, (2, 7)), _randn(rng, (5, 6)), _randn(rng, (5,))), {}, r, "raises",
                 {}, "x (2, 7) with weight (5, 6) must raise ValueError naming linear_forward"),
            Case("linear_forward", (_randn(rng, (2, 3, 7)), _randn(rng, (5, 7)), None), {}, r, "raises", {},
                 "x of shape (2, 3, 7) must raise ValueError naming linear_forward")]


@_spec(A, "test_dropout_forward_train", 2, {"dropout_forward": DROPOUT_BANNED})
def _(rng):
    cases = []
    for shape, kw, seed in [((8, 512), {}, 1), ((4, 1000), {"p": 0.2}, 2), ((2, 3, 20, 20), {"p": 0.7}, 3)]:
        x = rng.uniform(0.5, 3.0, size=shape) * np.where(rng.random(shape) < 0.5, 1.0, -1.0)
        x = x.astype(np.float32)
        kw = dict(kw, training=True, generator=Gen(int(rng.integers(0, 2**31)) + seed))
        cases.append(Case("dropout_forward", (x,), kw, None, "dropout_train", {},
                          f"dropout_forward(x of shape {shape}, p={kw.get('p', 0.5)}, training=True)"))
    x = _randn(rng, (3, 50))
    cases.append(Case("dropout_forward", (x,), {"p": 0.0, "training": True}, x.astype(np.float64), "allclose",
                      ONE_LAYER, "dropout_forward(x, p=0.0, training=True) keeps every unit"))
    return cases


@_spec(A, "test_dropout_forward_eval", 1, {"dropout_forward": DROPOUT_BANNED})
def _(rng):
    cases = []
    for shape, kw in [((4, 300), {"training": False}), ((2, 3, 5, 5), {"p": 0.3, "training": False})]:
        x = _randn(rng, shape)
        cases.append(Case("dropout_forward", (x,), kw, x.astype(np.float64), "allclose", ONE_LAYER,
                          f"dropout_forward(x of shape {shape}, {kw}) must return x unchanged"))
    return cases


@_spec(A, "test_dropout_forward_errors", 1, {"dropout_forward": DROPOUT_BANNED})
def _(rng):
    return [Case("dropout_forward", (_randn(rng, (2, 5)),), {"p": p}, Raises("ValueError", ("dropout_forward",)),
                 "raises", {}, f"dropout_forward with p={p} must raise ValueError naming dropout_forward")
            for p in (1.5, -0.1)]


_value(A, "test_fc6_params", 1, "FC6_PARAMS", 4096 * 9216 + 4096, "FC6_PARAMS (weights and biases)")
_value(A, "test_H2_size", 1, "H2_SIZE", 4096, "H2_SIZE (length of H_2)")


# =========================================================================== FC7
A = "fc7"


def _fc7_inputs(rng):
    out = []
    for n, d, scale in [(2, 6, 1.0), (3, 16, 10.0), (1, 5, 1.0)]:
        out.append((_randn(rng, (n, d), scale), _randn(rng, (d, d)), _randn(rng, (d,))))
    return out


def _ref_fc7(x, w, b):
    ref = _ref()
    return _np(ref.relu(ref.linear_forward(_t(x), _t(w), _t(b))))


@_spec(A, "test_fc7_forward_shape", 1, {"fc7_forward": LINEAR_BANNED})
def _(rng):
    return [Case("fc7_forward", (x, w, b), {}, (x.shape[0], w.shape[0]), "shape", {}, _lin_what(x, w, b, "fc7_forward"))
            for x, w, b in _fc7_inputs(rng)]


@_spec(A, "test_fc7_forward_values", 3, {"fc7_forward": LINEAR_BANNED})
def _(rng):
    return [Case("fc7_forward", (x, w, b), {}, _ref_fc7(x, w, b), "allclose", ONE_LAYER,
                 _lin_what(x, w, b, "fc7_forward") + " = ReLU(x W^T + b) with a square, non-symmetric W")
            for x, w, b in _fc7_inputs(rng)]


@_spec(A, "test_fc7_forward_errors", 1, {"fc7_forward": LINEAR_BANNED})
def _(rng):
    return [Case("fc7_forward", (_randn(rng, (2, 5)), _randn(rng, (6, 6)), _randn(rng, (6,))), {},
                 Raises("ValueError", ("fc7_forward",)), "raises", {},
                 "x (2, 5) with weight (6, 6) must raise ValueError naming fc7_forward")]


@_spec(A, "test_to_out_in_values", 2)
def _(rng):
    mats = [_randn(rng, (5, 3)), _randn(rng, (4, 4)), _randn(rng, (1, 7), 1.0, np.float64)]
    return [Case("to_out_in", (m,), {}, m.T.astype(np.float64), "allclose", {"rtol": 0.0},
                 f"to_out_in(a weight stored [in, out] = {m.shape})") for m in mats]


@_spec(A, "test_to_out_in_errors", 1)
def _(rng):
    return [Case("to_out_in", (_randn(rng, (2, 3, 4)),), {}, Raises("ValueError", ("to_out_in",)), "raises", {},
                 "to_out_in of a tensor with shape (2, 3, 4) must raise ValueError naming to_out_in")]


_value(A, "test_fc7_params", 1, "FC7_PARAMS", 4096 * 4096 + 4096, "FC7_PARAMS (weights and biases)")
_value(A, "test_H3_size", 1, "H3_SIZE", 4096, "H3_SIZE (length of H_3)")


# =========================================================================== FC8
A = "fc8"


@_spec(A, "test_softmax_values", 3, {"softmax": SOFTMAX_BANNED})
def _(rng):
    ref = _ref()
    cases = []
    for shape, scale, dtype in [((2, 1000), 1.0, np.float32), ((3, 10), 1000.0, np.float32),
                                ((4, 7), 50.0, np.float64), ((1, 5), 1e4, np.float32)]:
        x = _randn(rng, shape, scale, dtype)
        if scale >= 1000:
            x += dtype(3000.0)
        cases.append(Case("softmax", (x,), {}, _np(ref.softmax(_t(x))), "probs", SOFTMAX,
                          f"softmax(x of shape {shape} with values up to {np.abs(x).max():.0f})"))
    return cases


@_spec(A, "test_softmax_dims", 1, {"softmax": SOFTMAX_BANNED})
def _(rng):
    ref = _ref()
    x = _randn(rng, (3, 4, 5), 5.0)
    cases = [Case("softmax", (x,), {"dim": d}, _np(ref.softmax(_t(x), dim=d)), "allclose", SOFTMAX,
                  f"softmax(x of shape (3, 4, 5), dim={d})") for d in (0, 1, 2, -2)]
    return cases


@_spec(A, "test_softmax_errors", 1, {"softmax": SOFTMAX_BANNED})
def _(rng):
    return [Case("softmax", (_randn(rng, (2, 5)),), {"dim": d}, Raises("ValueError", ("softmax",)), "raises", {},
                 f"softmax(x of shape (2, 5), dim={d}) must raise ValueError naming softmax") for d in (2, -3)]


@_spec(A, "test_top_k_values", 2)
def _(rng):
    cases = []
    for n, c, k in [(2, 1000, 5), (3, 10, 1), (1, 7, 7)]:
        logits = rng.permutation(n * c).reshape(n, c).astype(np.float64) / (n * c)
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        p = p.astype(np.float32)
        idx = np.argsort(-p.astype(np.float64), axis=1, kind="stable")[:, :k]
        vals = np.take_along_axis(p.astype(np.float64), idx, axis=1)
        cases.append(Case("top_k", (p, k), {}, [vals, idx.astype(np.int64)], "topk", ONE_LAYER,
                          f"top_k(probs of shape {p.shape}, k={k})"))
    return cases


@_spec(A, "test_top_k_errors", 1)
def _(rng):
    p = rng.dirichlet(np.ones(10), size=2).astype(np.float32)
    return [Case("top_k", (p, k), {}, Raises("ValueError", ("top_k",)), "raises", {},
                 f"top_k(probs of shape (2, 10), k={k}) must raise ValueError naming top_k") for k in (11, 0)]


_value(A, "test_fc8_params", 1, "FC8_PARAMS", 4096 * 1000 + 1000, "FC8_PARAMS (weights and biases)")
_value(A, "test_H4_size", 1, "H4_SIZE", 1000, "H4_SIZE (length of H_4: one score per class)")


# =========================================================================== FORWARD_GPU
A = "forward_gpu"


@functools.lru_cache(maxsize=2)
def _forward_case_data(seed: int):
    """Batch-2 input and parameters whose activations stay O(1) through the network.

    The paper's N(0, 0.01²) weights give almost uniform probabilities, so a
    missing ReLU or LRN would hide; He-scaled weights keep the logits spread.
    """
    ref = _ref()
    rng = np.random.default_rng([seed, 227])
    params = {}
    for name, shape in ref.param_shapes().items():
        if name.endswith(".weight"):
            fan_in = int(np.prod(shape[1:]))
            params[name] = (rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(2.0 / fan_in)))
        else:
            params[name] = (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1))
    x = rng.standard_normal((2, 3, 227, 227), dtype=np.float32)
    torch = _torch()
    with torch.no_grad():
        probs = _np(ref.alexnet_forward(_t(x), {k: _t(v) for k, v in params.items()}))
    return x, params, probs


def _cuda_available() -> bool:
    try:
        return _torch().cuda.is_available()
    except Exception:
        return False


@_spec(A, "test_alexnet_forward_shape", 2)
def _(rng, seed):
    x, params, _ = _forward_case_data(seed)
    return [Case("alexnet_forward", (x, params, Device("cpu")), {}, (2, 1000), "shape", {},
                 "alexnet_forward(x of shape (2, 3, 227, 227), params, device=cpu)")]


@_spec(A, "test_alexnet_forward_values", 4)
def _(rng, seed):
    x, params, probs = _forward_case_data(seed)
    cases = [Case("alexnet_forward", (x, params, Device("cpu")), {}, probs, "probs", FORWARD_CPU,
                  "alexnet_forward(x of shape (2, 3, 227, 227), params, device=cpu) in evaluation mode")]
    if _cuda_available():
        cases.append(Case("alexnet_forward", (x, params, Device("cuda")), {}, probs, "probs", FORWARD_CUDA,
                          "alexnet_forward(x, params, device=cuda) (TF32 tolerance)"))
    return cases


@_spec(A, "test_alexnet_forward_device", 1)
def _(rng, seed):
    x, params, _ = _forward_case_data(seed)
    devices = ["cpu"] + (["cuda"] if _cuda_available() else [])
    return [Case("alexnet_forward", (x, params, Device(d)), {}, d, "device", {},
                 f"alexnet_forward(x, params, device={d}) must return its result on {d}") for d in devices]


@_spec(A, "test_alexnet_forward_errors", 1)
def _(rng, seed):
    x = _randn(rng, (1, 3, 224, 224))
    _, params, _ = _forward_case_data(seed)
    return [Case("alexnet_forward", (x, params, Device("cpu")), {}, Raises("ValueError"), "raises", {},
                 "alexnet_forward of x with shape (1, 3, 224, 224) must raise ValueError (AlexNet needs 227x227)")]


for _name in ("test_alexnet_forward_shape", "test_alexnet_forward_values", "test_alexnet_forward_device",
              "test_alexnet_forward_errors"):
    SPECS[_name].build.wants_seed = True


_value(A, "test_forward_macs", 1, "FORWARD_MACS", 1_135_256_096, "FORWARD_MACS (multiply-adds per image)")
_value(A, "test_total_params", 1, "TOTAL_PARAMS", 62_378_344, "TOTAL_PARAMS (parameters with biases)")

del A


def specs_for(assignment: str) -> dict[str, TestSpec]:
    """The specs of one assignment, in chapter order of their test cells."""
    return {gid: spec for gid, spec in SPECS.items() if spec.assignment == assignment}


def total_points(assignment: str) -> float:
    return sum(spec.points for spec in specs_for(assignment).values())
