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
  the trusted side :meth:`TestSpec.cases`, :func:`static_failure` and
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
* Operators an exercise asks for may not be taken from a library: each
  :class:`TestSpec` lists, per function, the banned names (fnmatch patterns
  such as ``"max_pool*"``, from the ``*_BANNED`` tuples, described for the
  notebooks in :data:`BANNED_TEXT`; whole-operator numpy/scipy equivalents
  such as ``np.pad`` count too, building blocks such as ``max``, ``sum``,
  ``unfold``, ``sliding_window_view``, ``matmul`` and ``einsum`` do not).
  :mod:`course_grader.policy` decides it from the source of every cell, over
  everything the function can reach (its helpers, classes and aliases; the
  student's own names are never library operators); internal operator
  namespaces, dispatch controls and dynamic lookups cannot be verified and
  fail the rule.  Runtime tripwires (a ``TorchFunctionMode`` and a
  ``TorchDispatchMode`` recording the aten operators that run) are a second
  line.  Using one, or ``alexnet_ref``, scores 0 for every test cell of that
  function, with a message saying why.
* Messages (:mod:`course_grader.messages`) are in Vietnamese and English and
  say how an answer is wrong, never the expected value, unless the
  instructor sets ``c.CourseGrader.show_expected = True``.

Tolerances (measured in ``docs/measured-facts.md``)
---------------------------------------------------------
fp32 results are compared with a float64 reference after the exact shape.
``atol_rel`` is multiplied by the largest ``|expected|`` of the case, because
entries near zero carry relative errors up to 1e-3 in correct fp32 code:

* one layer: ``rtol=1e-4, atol=1e-5 * max|ref|`` (correct implementations
  measured at <= 2.5e-6 * max|ref|);
* the full forward pass on the CPU: ``rtol=1e-4, atol=3e-5 * max|ref|`` on
  the probabilities, plus the same argmax per image;
* the full forward pass is compared on the CPU only, so a grade does not
  depend on the grader's hardware; device handling is checked on PyTorch's
  ``meta`` device (kind ``device``) and the timing protocol with recording
  stand-ins for the model, ``sync`` and the clock (kind ``timing``);
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
SOFTMAX = {"rtol": 0.0, "atol": 1e-4}
EXACT_FLOAT = {"rtol": 1e-9}


# --------------------------------------------------------------------------- markers, cases and the student side
# The code that calls a student's function runs in the sandbox too: it lives in its own module.
from .sandbox_student import (Case, Device, Gen, Raises, _device_probe, _matches, _qualified,  # noqa: E402,F401
                              _timing_call, _to_student, _torch, _tripwire, banned_message, call_student,
                              to_plain)


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
    """Banned names used anywhere ``function`` can reach in ``source`` (all of a submission's code).

    A thin wrapper of :func:`course_grader.policy.scan`: library paths that
    match a pattern, code that cannot be verified, and the course's reference
    solution, as written in the source (``F.conv2d``, ``x.softmax``).
    ``namespace`` is accepted for compatibility and not used.
    """
    from . import policy
    return [f.text for f in policy.scan([textwrap.dedent(source)], function, banned)]


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


def policy_failure(function: str, findings) -> str | None:
    """The message of the banned-operator rule for ``findings`` of :func:`course_grader.policy.scan`."""
    from . import messages as M
    if not findings:
        return None
    refs = [f for f in findings if f.kind == "reference"]
    if refs:
        return M.say("reference", function=function, used=", ".join(f.text for f in refs))
    unverifiable = [f for f in findings if f.kind == "unverifiable"]
    if unverifiable:
        why_vi, why_en, instead_vi, instead_en = M.UNVERIFIABLE_WHY[unverifiable[0].resolved]
        return M.say("unverifiable", function=function, used=", ".join(f.text for f in unverifiable[:3]),
                     why_vi=why_vi, why_en=why_en, instead_vi=instead_vi, instead_en=instead_en)
    used = ", ".join(f.text if f.text == f.resolved or "." not in f.resolved else f"{f.text} ({f.resolved})"
                     for f in findings[:3])
    return M.say("banned", function=function, used=used)


def static_failure(grade_id: str, spec: TestSpec, cases, trees, notebook_refs=()) -> str:
    """The trusted side's verdict of the banned-operator rule for one test cell ("" when it holds).

    ``trees``: :func:`course_grader.policy.parse_cells` of every cell that runs;
    ``notebook_refs``: labels of student cells that import the reference.  The
    same rule as :func:`check` in the kernel.
    """
    from . import messages as M
    from . import policy
    if notebook_refs and spec.banned:
        return M.part(grade_id, "", M.say("reference_notebook", used=notebook_refs[0]))
    for function in dict.fromkeys(case.call for case in cases):
        failure = policy_failure(function, policy.scan_trees(trees, function, spec.banned.get(function, ())))
        if failure:
            return M.part(grade_id, "", failure)
    return ""


# --------------------------------------------------------------------------- comparison
def _describe(actual) -> str:
    from . import messages as M
    if isinstance(actual, tuple) and actual and actual[0] == "banned":
        return str(actual[2])
    return M.describe(actual)[1]


def _short(value) -> str:
    from . import messages as M
    return M.short(value)


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


AXES = {4: ("N", "C", "H", "W"), 3: ("C", "H", "W"), 2: ("N", "D")}


def _shape_message(got: tuple, want: tuple):
    from . import messages as M
    if len(got) != len(want):
        dims_vi = f"cần {len(want)} chiều, kết quả có {len(got)} chiều"
        dims_en = f"expected {len(want)} dimensions, the result has {len(got)}"
    else:
        names = AXES.get(len(want))
        bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
        label = ", ".join(f"{i} ({names[i]})" if names else str(i) for i in bad)
        dims_vi = f"chiều {label} sai"
        dims_en = f"dimension{'s' if len(bad) > 1 else ''} {label} differ{'' if len(bad) > 1 else 's'}"
    return M.say("wrong_shape", got=tuple(got), dims_vi=dims_vi, dims_en=dims_en)


def _not_tensor(actual):
    from . import messages as M
    vi, en = M.describe(actual)
    return M.say("not_tensor", got_vi=vi, got_en=en)


def _allclose(expected: np.ndarray, actual, tol: dict, show: bool = False):
    from . import messages as M
    if not isinstance(actual, np.ndarray):
        if isinstance(actual, (int, float)) and not isinstance(actual, bool) and expected.ndim == 0:
            actual = np.asarray(actual, dtype=np.float64)
        else:
            return False, _not_tensor(actual)
    if actual.shape != expected.shape:
        return False, _shape_message(tuple(actual.shape), tuple(expected.shape))
    if actual.size == 0:
        return True, "ok"
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    finite = np.isfinite(e)
    if not np.all(np.isfinite(a[finite])):
        idx = np.unravel_index(int(np.argmax(~np.isfinite(a) & finite)), a.shape)
        return False, M.say("nan", where=tuple(int(i) for i in idx))
    scale = float(np.max(np.abs(e[finite]))) if finite.any() else 0.0
    atol = tol.get("atol", 0.0) + tol.get("atol_rel", 0.0) * scale
    rtol = tol.get("rtol", 0.0)
    err = np.where(finite, np.abs(a - e), 0.0)
    bound = atol + rtol * np.abs(np.where(finite, e, 0.0))
    bad = err > bound
    if not bad.any():
        return True, "ok"
    worst = np.unravel_index(int(np.argmax(np.where(bad, err / np.maximum(bound, 1e-300), -np.inf))), a.shape)
    where = tuple(int(i) for i in worst)
    ratio = float(err[worst] / bound[worst]) if bound[worst] > 0 else float("inf")
    text = M.say("values", bad=int(bad.sum()), total=a.size, where=where, err=float(err[worst]), ratio=ratio)
    return False, text + _expected_note(f"{e[worst]:.7g} (index {where})") if show else text


def _expected_note(expected: str):
    """Shown only when the instructor opted in (``c.CourseGrader.show_expected = True``)."""
    from . import messages as M
    return M.say("expected_is", expected=expected)


def _exact_message(expected, actual):
    from . import messages as M
    if isinstance(expected, (bool, int, float)):
        want = {bool: ("True hoặc False", "True or False"), int: ("một số nguyên", "an integer"),
                float: ("một số", "a number")}[type(expected)]
        number = isinstance(actual, (int, float)) and not isinstance(actual, bool)
        if isinstance(expected, bool) != isinstance(actual, bool) or not number and not isinstance(actual, bool):
            vi, en = M.describe(actual)
            return M.say("wrong_type", want_vi=want[0], want_en=want[1], got_vi=vi, got_en=en)
        return M.say("wrong_value", got=_short(actual))
    if isinstance(expected, (list, tuple)):
        if isinstance(actual, np.ndarray):
            actual = actual.tolist()
        if not isinstance(actual, (list, tuple)):
            vi, en = M.describe(actual)
            return M.say("wrong_type", want_vi="một dãy (tuple hoặc list)", want_en="a sequence (tuple or list)",
                         got_vi=vi, got_en=en)
        if len(actual) != len(expected):
            return M.say("wrong_length", got=len(actual), want=len(expected))
        where = [i for i, (e, a) in enumerate(zip(expected, actual)) if not _exact_equal(e, a)]
        return M.say("wrong_elements", where=", ".join(map(str, where[:8])), got=_short(actual))
    return M.say("wrong_value", got=_short(actual))


def compare(case: Case, actual, show_expected: bool | None = None):
    """Compare plain ``actual`` with ``case.expected``: ``(ok, message)``.

    The message (a :class:`course_grader.messages.Text`, both languages) says
    how the result is wrong and never the expected value, unless
    ``show_expected`` (default: the instructor's ``c.CourseGrader.show_expected``).
    """
    from . import messages as M
    show = M.show_expected() if show_expected is None else bool(show_expected)
    ok, text = _compare(case, actual, show)
    if ok:
        return True, "ok"
    if case.kind in ("exact", "shape", "device") and show:
        text = text + _expected_note(_short(case.expected))
    return False, text


def _compare(case: Case, actual, show: bool = False):
    from . import messages as M
    kind = case.kind
    if isinstance(actual, tuple) and actual and actual[0] == "banned":
        return False, M.say("banned_runtime", function=case.call, used=str(actual[1])[:80])
    if kind == "raises" or (kind == "timing" and isinstance(case.expected, Raises)):
        exp: Raises = case.expected
        if isinstance(actual, tuple) and len(actual) == 3 and actual[0] == "raised":
            if actual[1] != exp.type:
                return False, M.say("raises_other", expected=exp.type, error=actual[1], message=actual[2])
            missing = [c for c in exp.contains if c.lower() not in actual[2].lower()]
            if missing:
                return False, M.say("raises_unnamed", expected=exp.type, message=actual[2],
                                    missing=", ".join(repr(m) for m in missing))
            return True, "ok"
        vi, en = M.describe(actual)
        return False, M.say("raises_none", expected=exp.type, got_vi=vi, got_en=en)
    if _is_failure(actual):
        return False, M.say("raised", error=actual[1], message=actual[2])
    if kind == "exact":
        if _exact_equal(case.expected, actual, case.tol.get("rtol", 1e-9)):
            return True, "ok"
        return False, _exact_message(case.expected, actual)
    if kind == "shape":
        expected = tuple(case.expected)
        if isinstance(actual, np.ndarray) and tuple(actual.shape) == expected:
            return True, "ok"
        if not isinstance(actual, np.ndarray):
            return False, _not_tensor(actual)
        return False, _shape_message(tuple(actual.shape), expected)
    if kind == "allclose":
        return _allclose(np.asarray(case.expected, dtype=np.float64), actual, case.tol, show)
    if kind == "probs":
        ok, msg = _allclose(np.asarray(case.expected, dtype=np.float64), actual, case.tol, show)
        if not ok:
            return ok, msg
        e_arg = np.argmax(case.expected, axis=-1)
        a_arg = np.argmax(actual, axis=-1)
        if not np.array_equal(e_arg, a_arg):
            rows = [int(i) for i in np.argwhere(np.atleast_1d(e_arg != a_arg))[:, 0][:8]]
            return False, M.say("argmax", rows=rows)
        return True, "ok"
    if kind == "topk":
        values, indices = case.expected
        indices = np.asarray(indices)
        if not isinstance(actual, list) or len(actual) != 2:
            vi, en = M.describe(actual)
            return False, M.say("topk_pair", got_vi=vi, got_en=en)
        got_idx = actual[1]
        if not isinstance(got_idx, np.ndarray):
            return False, _not_tensor(got_idx)
        if got_idx.shape != indices.shape:
            return False, _shape_message(tuple(got_idx.shape), tuple(indices.shape))
        wrong = np.any(got_idx.astype(np.int64) != indices, axis=-1) if indices.ndim else got_idx != indices
        if np.any(wrong):
            return False, M.say("topk_indices", rows=[int(i) for i in np.argwhere(np.atleast_1d(wrong))[:, 0][:8]])
        ok, msg = _allclose(np.asarray(values, dtype=np.float64), actual[0], case.tol, show)
        return (True, "ok") if ok else (False, M.say("topk_values", detail_vi=msg.vi, detail_en=msg.en))
    if kind == "dropout_train":
        return _compare_dropout(case, actual)
    if kind == "dropout_generator":
        return _compare_dropout_generator(case, actual)
    if kind == "device":
        return _compare_device(case, actual)
    if kind == "timing":
        return _compare_timing(case, actual)
    raise ValueError(f"unknown comparison kind {kind!r}")


def _compare_device(case: Case, actual):
    """``actual`` from the device probe: the result and every compute operator on ``case.expected``."""
    from . import messages as M
    want = case.expected
    if not (isinstance(actual, dict) and set(actual) == {"result", "computed"}):
        return False, _not_tensor(actual)
    if actual["result"] != want:
        if not isinstance(actual["result"], str):
            return False, _not_tensor(actual["result"])
        return False, M.Text(f"Kết quả phải nằm trên thiết bị {want!r}, nhưng nó nằm trên {actual['result']!r}.",
                             f"The result should be on the {want!r} device, but it is on {actual['result']!r}.")
    elsewhere = {dev: op for dev, op in actual["computed"].items() if dev != want}
    if elsewhere:
        dev, op = sorted(elsewhere.items())[0]
        return False, M.Text(f"Kết quả nằm trên {want!r}, nhưng {op} đã chạy với tensor trên {dev!r}: hãy chuyển "
                             f"x và mọi tham số sang thiết bị trước khi tính, không chỉ chuyển kết quả.",
                             f"The result is on {want!r}, but {op} ran on {dev!r} tensors: move x and every "
                             f"parameter to the device before computing, not only the result.")
    return True, "ok"


def _timing_problem(events, readings, got, warmup, repeats, device, synced):
    """What is wrong with a recorded time_forward run, as (vi, en), or None."""
    calls = [e for e in events if e[0] == "forward"]
    if len(calls) != warmup + repeats:
        return (f"forward được gọi {len(calls)} lần, cần warmup + repeats = {warmup} + {repeats} lần.",
                f"forward was called {len(calls)} times, expected warmup + repeats = {warmup} + {repeats}.")
    wrong = [e[1] for e in calls if e[1] != device]
    if wrong:
        return (f"forward nhận x trên {wrong[0]!r}: hãy chuyển x sang {device!r} một lần, trước khi khởi động.",
                f"forward received x on {wrong[0]!r}: move x to {device!r} once, before the warm-up.")
    if not (isinstance(got, list) and len(got) == repeats
            and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in got)):
        return (f"Cần trả về một danh sách {repeats} thời gian (giây), mỗi lần chạy một số; nhận được {_short(got)}.",
                f"Expected a list of {repeats} times in seconds, one per timed run; got {_short(got)}.")
    pos = {e[1]: i for i, e in enumerate(events) if e[0] == "clock"}
    spans = []
    for j, t in enumerate(got):
        match = [(a, b) for a in range(len(readings)) for b in range(a + 1, len(readings))
                 if math.isclose(readings[b] - readings[a], t, rel_tol=1e-9, abs_tol=1e-15)]
        if not match:
            return (f"Thời gian thứ {j} ({t!r}) không phải clock() sau lần chạy trừ clock() trước nó: hãy đọc "
                    f"đồng hồ `clock` ngay trước và ngay sau mỗi lần chạy, tính bằng giây.",
                    f"Time {j} ({t!r}) is not clock() after the run minus clock() before it: read the `clock` "
                    f"passed in just before and just after each run, in seconds.")
        spans.append((pos[match[0][0]], pos[match[0][1]]))
    if len(set(spans)) != repeats:
        return ("Hai thời gian trả về đo cùng một lần chạy: hãy đo riêng từng lần trong repeats lần.",
                "Two returned times measure the same run: time each of the repeats runs separately.")
    for j, (start, stop) in enumerate(spans):
        inside = [i for i in range(start + 1, stop) if events[i][0] == "forward"]
        if len(inside) != 1:
            return (f"Lần chạy {j}: có {len(inside)} lời gọi forward giữa hai lần đọc clock(), cần đúng 1.",
                    f"Run {j}: {len(inside)} forward calls between its two clock() readings, expected 1.")
        if not synced:
            continue
        if not any(events[i][0] == "sync" for i in range(inside[0] + 1, stop)):
            return (f"Lần chạy {j}: không có sync() giữa forward và clock() dừng đồng hồ; trên CUDA đồng hồ sẽ "
                    f"dừng trước khi GPU tính xong.",
                    f"Run {j}: no sync() between forward and the clock() that stops the timer; on CUDA the clock "
                    f"would stop before the GPU has finished.")
        before = [i for i in range(start) if events[i][0] == "forward"]
        if before and not any(events[i][0] == "sync" for i in range(before[-1] + 1, start)):
            return (f"Lần chạy {j}: không có sync() giữa lời gọi forward trước đó và clock() bắt đầu đo; trên CUDA "
                    f"lần chạy này sẽ đo cả phần việc chưa xong trước đó.",
                    f"Run {j}: no sync() between the previous forward call and the clock() that starts the timer; "
                    f"on CUDA this run would also time the unfinished earlier work.")
    warm = sum(1 for e in events[:min(start for start, _ in spans)] if e[0] == "forward")
    if warm < warmup:
        return (f"Chỉ có {warm} lời gọi forward trước lần chạy được đo đầu tiên, cần warmup = {warmup} lần khởi động "
                f"không đo.",
                f"{warm} forward calls before the first timed run, expected warmup = {warmup} untimed calls.")
    return None


def _compare_timing(case: Case, actual):
    """The run protocol of time_forward, read from the events of :func:`_timing_call`."""
    from . import messages as M
    exp = case.expected
    if not (isinstance(actual, dict) and {"returned", "events", "readings"} <= set(actual)):
        vi, en = M.describe(actual)
        return False, M.Text(f"Không ghi lại được lần đo: nhận được {vi}.", f"No timing record: got {en}.")
    problem = _timing_problem(actual["events"], actual["readings"], actual["returned"], exp["warmup"],
                              exp["repeats"], exp["device"], exp["sync"])
    return (True, "ok") if problem is None else (False, M.Text(*problem))


def _dropout_p(case: Case) -> float:
    return float(case.kwargs.get("p", case.args[1] if len(case.args) > 1 else 0.5))


def _compare_dropout(case: Case, actual):
    from . import messages as M
    x = np.asarray(case.args[0], dtype=np.float64)
    p = _dropout_p(case)
    if not isinstance(actual, np.ndarray):
        return False, _not_tensor(actual)
    if actual.shape != x.shape:
        return False, _shape_message(tuple(actual.shape), tuple(x.shape))
    scaled = x / (1.0 - p)
    dropped = np.abs(actual) <= 1e-12
    kept = np.abs(actual - scaled) <= 1e-5 * np.abs(scaled) + 1e-7
    stray = ~(dropped | kept)
    if stray.any():
        i = tuple(int(v) for v in np.argwhere(stray)[0])
        unscaled = bool(np.isclose(actual[i], x[i], rtol=1e-5))
        return False, M.say("dropout_stray", keep=1 - p, where=i,
                            hint_vi=" (phần tử được giữ phải chia cho 1 − p: inverted dropout)" if unscaled else "",
                            hint_en=" (kept units must be divided by 1 − p: inverted dropout)" if unscaled else "")
    rate = float(dropped.mean())
    sigma = math.sqrt(p * (1 - p) / x.size)
    if abs(rate - p) > 6 * sigma + 0.01:
        return False, M.say("dropout_rate", rate=rate, p=p)
    return True, "ok"


def _mask_period(kept: np.ndarray, p: float) -> int | None:
    """A period k at which the flattened mask agrees with itself far more than independent units would."""
    flat = kept.reshape(-1)
    n = flat.size
    chance = p * p + (1 - p) * (1 - p)
    periods = set(range(1, min(64, n // 4) + 1))
    size = 1
    for d in reversed(kept.shape[1:]):
        size *= d
        if size < n:
            periods.add(size)
    for k in sorted(periods):
        agree = float(np.mean(flat[:-k] == flat[k:]))
        sigma = math.sqrt(chance * (1 - chance) / (n - k))
        if agree > chance + 8 * sigma + 0.02:
            return k
    return None


def _compare_dropout_generator(case: Case, actual):
    from . import messages as M
    if not isinstance(actual, list) or len(actual) != 4:
        return False, _not_tensor(actual)
    base = Case(case.call, case.args, case.kwargs, None, "dropout_train", {}, case.what)
    for one in actual:
        ok, msg = _compare_dropout(base, one)
        if not ok:
            return ok, msg
    first, second, again, other = (np.abs(a) > 1e-12 for a in actual)
    if not np.array_equal(first, again):
        return False, M.say("dropout_same_state")
    if np.array_equal(first, other):
        return False, M.say("dropout_seeds")
    if np.array_equal(first, second):
        return False, M.say("dropout_calls")
    period = _mask_period(first, _dropout_p(case))
    if period is not None:
        return False, M.say("dropout_pattern", period=period)
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


def _without_hidden_tests(source: str) -> str:
    out, hidden = [], False
    for line in source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "### END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out) + "\n"


def kernel_sources(namespace: dict) -> list[str]:
    """The code that defined ``namespace``: the kernel's cells (IPython's ``In``), else the source files."""
    cells = namespace.get("In")
    if isinstance(cells, list) and cells and all(isinstance(c, str) for c in cells):
        return [_without_hidden_tests(c) for c in cells]
    out, seen = [], set()
    file = namespace.get("__file__")
    files = [file] if isinstance(file, str) else []
    import sysconfig
    libraries = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")})
    for value in namespace.values():
        code = getattr(value, "__code__", None)
        module = str(getattr(value, "__module__", "") or "")
        if code is None or not isinstance(getattr(code, "co_filename", None), str):
            continue
        if module.split(".")[0] in ("torch", "numpy", "scipy", "alexnet_ref", "course_grader") or \
                code.co_filename.startswith(libraries):
            continue
        files.append(code.co_filename)
    for path in files:
        if path in seen or not path.endswith(".py"):
            continue
        seen.add(path)
        try:
            with open(path, encoding="utf-8") as f:
                out.append(f.read())
        except OSError:
            continue
    if not out:
        out = [s for s in (_source(v) for v in namespace.values() if inspect.isfunction(v)) if s]
    return out


def check(grade_id: str, namespace: dict, seed: int | None = None) -> None:
    """Run the hidden cases of test cell ``grade_id`` against the functions in ``namespace``.

    Raises :class:`AssertionError` (a :class:`GradingFailure`) at the first
    failure, with a message in Vietnamese and English that says what was
    checked and how the answer is wrong; prints nothing.
    """
    __tracebackhide__ = True
    from . import testing
    if testing.current() is not None:  # the course's grader: the cases go through the sandbox's proxies
        from .testrun import check_trusted
        return check_trusted(grade_id)
    from . import messages as M
    from . import policy
    spec = SPECS.get(grade_id)
    if spec is None:
        raise GradingFailure(str(M.say("unknown_test", name=grade_id)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = spec.cases(DEFAULT_SEED if seed is None else seed)
    refs = _namespace_refs(namespace)
    if refs:
        raise GradingFailure(M.part(grade_id, "", M.say("reference_notebook", used=", ".join(refs))))
    trees = policy.parse_cells(kernel_sources(namespace))
    for function in dict.fromkeys(case.call for case in cases):
        failure = policy_failure(function, policy.scan_trees(trees, function, spec.banned.get(function, ())))
        if failure:
            raise GradingFailure(M.part(grade_id, "", failure))
    for case in cases:
        if case.call not in namespace:
            raise GradingFailure(M.part(grade_id, "", M.say("not_defined", name=case.call)))
        actual = call_student(namespace[case.call], case, spec.banned.get(case.call, ()))
        ok, message = compare(case, actual)
        if not ok:
            raise GradingFailure(M.part(grade_id, case.what, message))


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

# The operators each exercise asks for may not come from a library, in torch, numpy or scipy alike
# (the whole-operator equivalents: np.pad, scipy.signal.correlate2d, scipy.ndimage.maximum_filter,
# scipy.special.softmax, ...).  Building blocks stay allowed everywhere: reductions (max, sum),
# indexing and slicing, unfold, np.lib.stride_tricks.sliding_window_view, matmul, einsum, exp.
CONV_BANNED = ("conv1d", "conv2d", "conv3d", "conv_transpose*", "convolution", "_convolution",
               "*_convolution", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose*", "correlate*", "convolve*",
               "fftconvolve", "oaconvolve")
RELU_BANNED = ("relu", "relu_", "ReLU", "relu6", "ReLU6")
LRN_BANNED = ("local_response_norm", "LocalResponseNorm")
POOL_BANNED = ("max_pool*", "MaxPool*", "adaptive_max_pool*", "AdaptiveMaxPool*", "fractional_max_pool*",
               "*_max_pool*", "maximum_filter*", "block_reduce")
LINEAR_BANNED = ("linear", "Linear", "LazyLinear", "bilinear")
DROPOUT_BANNED = ("dropout*", "Dropout*", "*_dropout", "alpha_dropout", "AlphaDropout", "native_dropout")
SOFTMAX_BANNED = ("softmax", "_softmax", "log_softmax", "_log_softmax", "Softmax", "LogSoftmax",
                  "Softmax2d", "softmin", "Softmin", "special_softmax")
PAD_BANNED = ("pad", "constant_pad_nd", "*_pad*d", "*Pad*d")
# The backward exercises: no automatic differentiation (autograd, torch.func, torch.nn.grad, the
# aten *_backward operators), and for a layer whose forward was an exercise, not that library layer either.
AUTOGRAD_BANNED = ("backward", "*_backward", "autograd", "grad", "enable_grad", "set_grad_enabled", "vjp", "jvp",
                   "vmap", "jacrev", "jacfwd", "jacobian", "hessian", "conv*_input", "conv*_weight")
CONV_BACKWARD_BANNED = CONV_BANNED + AUTOGRAD_BANNED
POOL_BACKWARD_BANNED = POOL_BANNED + ("max_unpool*", "MaxUnpool*") + AUTOGRAD_BANNED
LRN_BACKWARD_BANNED = LRN_BANNED + AUTOGRAD_BANNED
XENT_BANNED = SOFTMAX_BANNED + ("logsumexp", "cross_entropy*", "*_cross_entropy*", "nll_loss*", "CrossEntropyLoss",
                                "NLLLoss") + AUTOGRAD_BANNED
SGD_BANNED = ("optim", "SGD", "sgd", "*_sgd") + AUTOGRAD_BANNED

# What the notebooks' instructions say about each list (vi, en); the tuples above are what is enforced.
_ALLOWED_TEXT = ("Được dùng: vòng lặp, chỉ số và cắt lát, phép rút gọn (max, sum), unfold, "
                 "np.lib.stride_tricks.sliding_window_view, matmul, einsum, trong torch cũng như numpy.",
                 "Allowed: loops, indexing and slicing, reductions (max, sum), unfold, "
                 "np.lib.stride_tricks.sliding_window_view, matmul, einsum, in torch and numpy alike.")
BANNED_TEXT: dict[str, dict[str, str]] = {
    "CONV_BANNED": {
        "vi": "Không dùng phép tích chập có sẵn: torch.nn.functional.conv2d, nn.Conv2d, torch.conv*, "
              "scipy.signal.correlate*/convolve*/fftconvolve, np.convolve/np.correlate. " + _ALLOWED_TEXT[0],
        "en": "Do not use a library convolution: torch.nn.functional.conv2d, nn.Conv2d, torch.conv*, "
              "scipy.signal.correlate*/convolve*/fftconvolve, np.convolve/np.correlate. " + _ALLOWED_TEXT[1]},
    "RELU_BANNED": {
        "vi": "Không dùng relu có sẵn (torch.relu, F.relu, nn.ReLU, x.relu()); torch.maximum, clamp, "
              "np.maximum và phép so sánh đều được.",
        "en": "Do not use a library relu (torch.relu, F.relu, nn.ReLU, x.relu()); torch.maximum, clamp, "
              "np.maximum and comparisons are fine."},
    "LRN_BANNED": {
        "vi": "Không dùng chuẩn hóa phản hồi cục bộ có sẵn (F.local_response_norm, nn.LocalResponseNorm). "
              + _ALLOWED_TEXT[0],
        "en": "Do not use a library local response normalisation (F.local_response_norm, "
              "nn.LocalResponseNorm). " + _ALLOWED_TEXT[1]},
    "POOL_BANNED": {
        "vi": "Không dùng phép gộp cực đại có sẵn: F.max_pool2d, nn.MaxPool2d, adaptive/fractional max pool, "
              "scipy.ndimage.maximum_filter, skimage block_reduce. " + _ALLOWED_TEXT[0],
        "en": "Do not use a library max pooling: F.max_pool2d, nn.MaxPool2d, adaptive/fractional max pool, "
              "scipy.ndimage.maximum_filter, skimage block_reduce. " + _ALLOWED_TEXT[1]},
    "LINEAR_BANNED": {
        "vi": "Không dùng tầng tuyến tính có sẵn (F.linear, nn.Linear, bilinear); matmul, @ và einsum đều được.",
        "en": "Do not use a library linear layer (F.linear, nn.Linear, bilinear); matmul, @ and einsum are fine."},
    "DROPOUT_BANNED": {
        "vi": "Không dùng dropout có sẵn (F.dropout, nn.Dropout, alpha_dropout); torch.rand và torch.bernoulli "
              "với generator được truyền vào đều được.",
        "en": "Do not use a library dropout (F.dropout, nn.Dropout, alpha_dropout); torch.rand and "
              "torch.bernoulli with the generator you are given are fine."},
    "SOFTMAX_BANNED": {
        "vi": "Không dùng softmax có sẵn (torch.softmax, F.softmax, log_softmax, nn.Softmax, "
              "scipy.special.softmax); exp, max, sum và logsumexp đều được.",
        "en": "Do not use a library softmax (torch.softmax, F.softmax, log_softmax, nn.Softmax, "
              "scipy.special.softmax); exp, max, sum and logsumexp are fine."},
    "PAD_BANNED": {
        "vi": "Không dùng phép đệm có sẵn (F.pad, nn.ZeroPad2d, np.pad); tạo tensor 0 rồi gán vào phần giữa "
              "bằng cắt lát là được.",
        "en": "Do not use a library padding (F.pad, nn.ZeroPad2d, np.pad); creating zeros and assigning the "
              "middle by slicing is fine."},
    "AUTOGRAD_BANNED": {
        "vi": "Không dùng tự động tính đạo hàm hay đạo hàm có sẵn: .backward(), torch.autograd, torch.func "
              "(vjp, jvp, vmap), torch.nn.grad, các toán tử *_backward; hãy tự viết công thức. Các phép tính "
              "tensor thông thường đều được.",
        "en": "Do not use automatic differentiation or a library gradient: .backward(), torch.autograd, "
              "torch.func (vjp, jvp, vmap), torch.nn.grad, the *_backward operators; write the formula "
              "yourself. Ordinary tensor operations are fine."},
    "CONV_BACKWARD_BANNED": {
        "vi": "Không dùng autograd (.backward(), torch.autograd, torch.nn.grad, *_backward) và không dùng phép "
              "tích chập có sẵn (F.conv2d, F.conv_transpose2d, nn.Conv2d, torch.conv*, scipy.signal). Được "
              "dùng: vòng lặp, cắt lát, F.unfold, F.fold, matmul, einsum.",
        "en": "Do not use autograd (.backward(), torch.autograd, torch.nn.grad, *_backward) nor a library "
              "convolution (F.conv2d, F.conv_transpose2d, nn.Conv2d, torch.conv*, scipy.signal). Allowed: "
              "loops, slicing, F.unfold, F.fold, matmul, einsum."},
    "POOL_BACKWARD_BANNED": {
        "vi": "Không dùng autograd (.backward(), torch.autograd, *_backward) và không dùng phép gộp có sẵn "
              "(F.max_pool2d kể cả return_indices, F.max_unpool2d, nn.MaxPool2d). Được dùng: vòng lặp, cắt "
              "lát, argmax, scatter, unfold.",
        "en": "Do not use autograd (.backward(), torch.autograd, *_backward) nor a library pooling "
              "(F.max_pool2d, return_indices included, F.max_unpool2d, nn.MaxPool2d). Allowed: loops, "
              "slicing, argmax, scatter, unfold."},
    "LRN_BACKWARD_BANNED": {
        "vi": "Không dùng autograd (.backward(), torch.autograd, *_backward) và không dùng chuẩn hóa phản hồi "
              "cục bộ có sẵn (F.local_response_norm, nn.LocalResponseNorm).",
        "en": "Do not use autograd (.backward(), torch.autograd, *_backward) nor a library local response "
              "normalisation (F.local_response_norm, nn.LocalResponseNorm)."},
    "XENT_BANNED": {
        "vi": "Không dùng autograd (.backward(), torch.autograd, *_backward) và không dùng softmax, "
              "log_softmax, logsumexp hay hàm mất mát entropy chéo có sẵn (F.cross_entropy, F.nll_loss, "
              "nn.CrossEntropyLoss); exp, log, max, sum đều được.",
        "en": "Do not use autograd (.backward(), torch.autograd, *_backward) nor a library softmax, "
              "log_softmax, logsumexp or cross-entropy loss (F.cross_entropy, F.nll_loss, "
              "nn.CrossEntropyLoss); exp, log, max and sum are fine."},
    "SGD_BANNED": {
        "vi": "Không dùng autograd (.backward(), torch.autograd, *_backward) và không dùng bộ tối ưu có sẵn "
              "(torch.optim.SGD); cộng, nhân tensor đều được.",
        "en": "Do not use autograd (.backward(), torch.autograd, *_backward) nor a library optimiser "
              "(torch.optim.SGD); adding and multiplying tensors is fine."},
}


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


@_spec(A, "test_conv_output_size_values", 2.5)
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


@_spec(A, "test_conv_output_size_errors", 0.5)
def _(rng):
    bad = [(10, 3, 0, 2), (226, 11, 0, 4), (3, 5, 0, 1)]
    return [Case("conv_output_size", c, {}, Raises("ValueError"), "raises", {},
                 f"conv_output_size{c} must raise ValueError (the size is not a whole number >= 1)")
            for c in bad]


@_spec(A, "test_pool_output_size_values", 1.5)
def _(rng):
    ref = _ref()
    fixed = [(55, 3, 2), (27, 3, 2), (13, 3, 2), (8, 2, 2), (9, 3, 3)]
    for _ in range(4):
        f, s, out = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 15))
        fixed.append(((out - 1) * s + f, f, s))
    return [Case("pool_output_size", c, {}, ref.pool_output_size(*c), "exact", {},
                 f"pool_output_size{c}") for c in fixed]


@_spec(A, "test_pool_output_size_errors", 0.5)
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


@_spec(A, "test_to_nchw_values", 2.5)
def _(rng):
    return [Case("to_nchw", (img,), {}, _ref_to_nchw(img), "allclose", ONE_LAYER,
                 f"to_nchw of an image of shape {img.shape}") for img in _images(rng)]


@_spec(A, "test_to_nchw_errors", 0.5)
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


@_spec(A, "test_conv2d_forward_shape", 1.5, {"conv2d_forward": CONV_BANNED})
def _(rng):
    ref = _ref()
    cases = []
    for x, w, b, s, p in _conv_cases(rng):
        oh = ref.conv_output_size(x.shape[2], w.shape[2], p, s)
        ow = ref.conv_output_size(x.shape[3], w.shape[3], p, s)
        cases.append(Case("conv2d_forward", (x, w, b, s, p), {}, (x.shape[0], w.shape[0], oh, ow), "shape",
                          {}, _conv_what(x, w, b, s, p)))
    return cases


@_spec(A, "test_conv2d_forward_values", 5, {"conv2d_forward": CONV_BANNED})
def _(rng):
    ref = _ref()
    cases = []
    for x, w, b, s, p in _conv_cases(rng):
        exp = _np(ref.conv2d_forward(_t(x), _t(w), None if b is None else _t(b), s, p))
        cases.append(Case("conv2d_forward", (x, w, b, s, p), {}, exp, "allclose", ONE_LAYER,
                          _conv_what(x, w, b, s, p)))
    return cases


@_spec(A, "test_conv2d_forward_errors", 0.5, {"conv2d_forward": CONV_BANNED})
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


@_spec(A, "test_relu_values", 1.5, {"relu": RELU_BANNED})
def _(rng):
    ref = _ref()
    cases = []
    for shape, dtype in [((2, 3, 4, 5), np.float32), ((7, 3), np.float64), ((11,), np.float32)]:
        x = _randn(rng, shape, 10.0, dtype)
        x.flat[0] = 0.0
        cases.append(Case("relu", (x,), {}, _np(ref.relu(_t(x))), "allclose", ONE_LAYER,
                          f"relu of a tensor of shape {shape}"))
    return cases


@_spec(A, "test_relu_errors", 0.5, {"relu": RELU_BANNED})
def _(rng):
    return [Case("relu", ([1.0, -2.0, 3.0],), {}, Raises("ValueError", ("relu",)), "raises", {},
                 "relu of a Python list (not a tensor) must raise ValueError naming relu"),
            Case("relu", (np.array([1, -2, 3], dtype=np.int64),), {}, Raises("ValueError", ("relu",)),
                 "raises", {}, "relu of an integer tensor must raise ValueError naming relu")]


_value(A, "test_W_M2", 0.5, "W_M2", 55, "W_M2 (the width of M_2, CONV1's output)")
_value(A, "test_conv1_params", 0.5, "CONV1_PARAMS", 96 * 3 * 11 * 11 + 96,
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


@_spec(A, "test_local_response_norm_values", 3.5, {"local_response_norm": LRN_BANNED})
def _(rng):
    ref = _ref()
    return [Case("local_response_norm", (a,), kw, _np(ref.local_response_norm(_t(a), **kw)), "allclose",
                 ONE_LAYER, _lrn_what(a, kw)) for a, kw in _lrn_inputs(rng)]


@_spec(A, "test_local_response_norm_edges", 3, {"local_response_norm": LRN_BANNED})
def _(rng):
    ref = _ref()
    return [Case("local_response_norm", (a,), kw, _np(ref.local_response_norm(_t(a), **kw)), "allclose",
                 ONE_LAYER, _lrn_what(a, kw) + " (edge channels: the window stops at 0 and C - 1)")
            for a, kw in _lrn_edge_inputs(rng)]


@_spec(A, "test_local_response_norm_errors", 0.5, {"local_response_norm": LRN_BANNED})
def _(rng):
    r = Raises("ValueError", ("local_response_norm",))
    return [Case("local_response_norm", (_randn(rng, (8, 5, 5)),), {}, r, "raises", {},
                 "a of shape (8, 5, 5) (no batch axis) must raise ValueError naming local_response_norm"),
            Case("local_response_norm", (_randn(rng, (2, 8)),), {}, r, "raises", {},
                 "a of shape (2, 8) must raise ValueError naming local_response_norm")]


_value(A, "test_norm1_shape", 1, "NORM1_SHAPE", (55, 55, 96),
       "NORM1_SHAPE (NORM1's output in the source's notation [W x H x C])")
_value(A, "test_torch_alpha", 1, "TORCH_ALPHA", 5e-4,
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


@_spec(A, "test_max_pool2d_forward_shape", 1.5, {"max_pool2d_forward": POOL_BANNED})
def _(rng):
    ref = _ref()
    return [Case("max_pool2d_forward", (x,), kw or {},
                 (x.shape[0], x.shape[1], ref.pool_output_size(x.shape[2], f, s),
                  ref.pool_output_size(x.shape[3], f, s)), "shape", {}, _pool_what(x, kw))
            for x, kw, f, s in _pool_inputs(rng)]


@_spec(A, "test_max_pool2d_forward_values", 6, {"max_pool2d_forward": POOL_BANNED})
def _(rng):
    ref = _ref()
    return [Case("max_pool2d_forward", (x,), kw or {}, _np(ref.max_pool2d_forward(_t(x), f, s)), "allclose",
                 ONE_LAYER, _pool_what(x, kw)) for x, kw, f, s in _pool_inputs(rng)]


@_spec(A, "test_max_pool2d_forward_errors", 0.5, {"max_pool2d_forward": POOL_BANNED})
def _(rng):
    r = Raises("ValueError", ("max_pool2d_forward",))
    return [Case("max_pool2d_forward", (_randn(rng, (1, 2, 10, 9)),), {}, r, "raises", {},
                 "x of shape (1, 2, 10, 9) with f=3, s=2 ((10 - 3)/2 + 1 is not whole) must raise "
                 "ValueError naming max_pool2d_forward"),
            Case("max_pool2d_forward", (_randn(rng, (2, 9, 9)),), {}, r, "raises", {},
                 "x of shape (2, 9, 9) must raise ValueError naming max_pool2d_forward")]


_value(A, "test_W_M3", 0.5, "W_M3", 27, "W_M3 (the width of M_3, MAX POOL1's output)")
_value(A, "test_pool1_numel", 1, "POOL1_NUMEL", 27 * 27 * 96, "POOL1_NUMEL (numbers in M_3)")
_value(A, "test_pool1_params", 0.5, "POOL1_PARAMS", 0, "POOL1_PARAMS (learned parameters of MAX POOL1)")


# =========================================================================== CONV2
A = "conv2"


@_spec(A, "test_same_padding_values", 1.5)
def _(rng):
    fs = [1, 3, 5, 7, 11] + [int(2 * rng.integers(6, 20) + 1)]
    return [Case("same_padding", (f,), {}, (f - 1) // 2, "exact", {}, f"same_padding({f})") for f in fs]


@_spec(A, "test_same_padding_errors", 0.5)
def _(rng):
    return [Case("same_padding", (f,), {}, Raises("ValueError", ("same_padding",)), "raises", {},
                 f"same_padding({f}) must raise ValueError naming same_padding") for f in (4, 0)]


@_spec(A, "test_receptive_field_values", 5.5)
def _(rng):
    stacks = [[], [(11, 4)], [(11, 4), (3, 2)], [(11, 4), (3, 2), (5, 1)], [(3, 1), (3, 1)],
              [(5, 1), (2, 2), (3, 1)]]
    for _ in range(3):
        stacks.append([(int(rng.integers(1, 8)), int(rng.integers(1, 4))) for _ in range(int(rng.integers(1, 6)))])
    return [Case("receptive_field", (st,), {}, _ref_receptive_field(st), "exact", {},
                 f"receptive_field({st})") for st in stacks]


@_spec(A, "test_receptive_field_errors", 0.5)
def _(rng):
    return [Case("receptive_field", (st,), {}, Raises("ValueError", ("receptive_field",)), "raises", {},
                 f"receptive_field({st}) must raise ValueError naming receptive_field")
            for st in ([(11, 4), (0, 2)], [(3, 0)])]


_value(A, "test_W_M4", 0.5, "W_M4", 27, "W_M4 (the width of M_4, CONV2's output)")
_value(A, "test_conv2_padding", 0.5, "CONV2_PAD", 2, "CONV2_PAD (the padding that keeps 27x27)")
_value(A, "test_RF_M4", 1, "RF_M4", 51,
       "RF_M4 (the receptive field of one M_4 unit in the input, in pixels)")


# =========================================================================== NORM2
A = "norm2"


@_spec(A, "test_lrn_window_values", 1.5)
def _(rng):
    calls = [(0, 256), (1, 256), (2, 256), (128, 256), (254, 256), (255, 256), (0, 1), (1, 2)]
    calls += [(int(rng.integers(0, 256)), 256)]
    cases = [Case("lrn_window", c, {}, [max(0, c[0] - 2), min(c[1] - 1, c[0] + 2)], "exact", {},
                  f"lrn_window{c}") for c in calls]
    for i, c, n in [(0, 256, 3), (255, 256, 7), (5, 10, 1), (int(rng.integers(0, 96)), 96, 9)]:
        cases.append(Case("lrn_window", (i, c), {"n": n}, [max(0, i - n // 2), min(c - 1, i + n // 2)], "exact",
                          {}, f"lrn_window({i}, {c}, n={n})"))
    return cases


@_spec(A, "test_lrn_window_errors", 0.5)
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


@_spec(A, "test_lrn_denominator_values", 4.5)
def _(rng):
    return [Case("lrn_denominator", (a,), kw, _ref_lrn_denominator(a, **kw), "allclose", ONE_LAYER,
                 _den_what(a, kw)) for a, kw in _denominator_inputs(rng)]


@_spec(A, "test_lrn_denominator_errors", 0.5)
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


@_spec(A, "test_window_coverage_values", 2.5)
def _(rng):
    calls = [(7, 3, 2), (13, 3, 2), (8, 2, 2), (6, 3, 1), (3, 3, 2)]
    f, s = int(rng.integers(2, 5)), int(rng.integers(1, 4))
    calls.append(((int(rng.integers(2, 6)) - 1) * s + f, f, s))
    return [Case("window_coverage", c, {}, _ref_window_coverage(*c), "exact", {}, f"window_coverage{c}")
            for c in calls]


@_spec(A, "test_window_coverage_errors", 0.5)
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


@_spec(A, "test_block2_forward_values", 4.5)
def _(rng):
    return [Case("block2_forward", (x, w, b), {}, _ref_block2(x, w, b), "allclose", ONE_LAYER,
                 f"block2_forward(x {x.shape}, weight {w.shape}, bias {b.shape}) = MAX POOL(LRN(ReLU(CONV)))")
            for x, w, b in _block2_inputs(rng)]


@_spec(A, "test_block2_forward_errors", 0.5)
def _(rng):
    return [Case("block2_forward", (_randn(rng, (1, 4, 9, 9)), _randn(rng, (8, 6, 5, 5)), _randn(rng, (8,))), {},
                 Raises("ValueError", ("block2_forward",)), "raises", {},
                 "x with 4 channels and weight (8, 6, 5, 5) must raise ValueError naming block2_forward")]


_value(A, "test_W_M5", 0.5, "W_M5", 13, "W_M5 (the width of M_5, MAX POOL2's output)")
_value(A, "test_M5_numel", 0.5, "M5_NUMEL", 13 * 13 * 256, "M5_NUMEL (numbers in M_5)")


# =========================================================================== CONV3
A = "conv3"


def _pad_inputs(rng):
    return [(_randn(rng, (2, 3, 4, 5)), 1), (_randn(rng, (1, 2, 3, 2), 1.0, np.float64), 2),
            (_randn(rng, (1, 4, 5, 3)), 0), (_randn(rng, (1, 1, 1, 1)), 3)]


@_spec(A, "test_pad2d_shape", 1, {"pad2d": PAD_BANNED})
def _(rng):
    return [Case("pad2d", (x, p), {}, (x.shape[0], x.shape[1], x.shape[2] + 2 * p, x.shape[3] + 2 * p), "shape",
                 {}, f"pad2d(x of shape {x.shape}, {p})") for x, p in _pad_inputs(rng)]


@_spec(A, "test_pad2d_values", 4.5, {"pad2d": PAD_BANNED})
def _(rng):
    return [Case("pad2d", (x, p), {}, np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p))), "allclose",
                 ONE_LAYER, f"pad2d(x of shape {x.shape}, {p})") for x, p in _pad_inputs(rng)]


@_spec(A, "test_pad2d_errors", 0.5, {"pad2d": PAD_BANNED})
def _(rng):
    r = Raises("ValueError", ("pad2d",))
    return [Case("pad2d", (_randn(rng, (1, 2, 3, 3)), -1), {}, r, "raises", {},
                 "pad2d with p = -1 must raise ValueError naming pad2d"),
            Case("pad2d", (_randn(rng, (2, 3, 3)), 1), {}, r, "raises", {},
                 "pad2d of x with shape (2, 3, 3) must raise ValueError naming pad2d")]


_value(A, "test_W_M6", 0.5, "W_M6", 13, "W_M6 (the width of M_6, CONV3's output)")
_value(A, "test_conv3_padding", 0.5, "CONV3_PAD", 1, "CONV3_PAD (the padding that keeps 13x13)")
_value(A, "test_RF_M6", 1.5, "RF_M6", 99, "RF_M6 (the receptive field of one M_6 unit in the input)")
_value(A, "test_conv3_params", 1.5, "CONV3_PARAMS", 384 * 256 * 9 + 384, "CONV3_PARAMS (weights and biases)")


# =========================================================================== CONV4
A = "conv4"


@_spec(A, "test_conv_params_values", 2.5)
def _(rng):
    calls = [(3, 96, 11), (96, 256, 5), (384, 384, 3), (1, 1, 1)]
    calls += [(int(rng.integers(1, 50)), int(rng.integers(1, 50)), int(rng.integers(1, 8))) for _ in range(3)]
    return [Case("conv_params", c, {}, c[1] * c[0] * c[2] * c[2] + c[1], "exact", {}, f"conv_params{c}")
            for c in calls]


@_spec(A, "test_conv_params_errors", 0.5)
def _(rng):
    return [Case("conv_params", c, {}, Raises("ValueError", ("conv_params",)), "raises", {},
                 f"conv_params{c} must raise ValueError naming conv_params") for c in [(0, 96, 11), (3, 96, -1)]]


@_spec(A, "test_conv_macs_values", 3.5)
def _(rng):
    facts = _facts()
    calls = [(3, 96, 11, 55, 55), (384, 384, 3, 13, 13), (2, 3, 4, 5, 7)]
    calls += [tuple(int(rng.integers(1, 30)) for _ in range(5)) for _ in range(3)]
    cases = [Case("conv_macs", c, {}, c[0] * c[1] * c[2] * c[2] * c[3] * c[4], "exact", {}, f"conv_macs{c}")
             for c in calls]
    assert cases[1].expected == facts["macs"]["conv4"]
    return cases


@_spec(A, "test_conv_macs_errors", 0.5)
def _(rng):
    return [Case("conv_macs", c, {}, Raises("ValueError", ("conv_macs",)), "raises", {},
                 f"conv_macs{c} must raise ValueError naming conv_macs") for c in [(3, 96, 11, 0, 55), (-3, 96, 11, 55, 55)]]


_value(A, "test_W_M7", 0.5, "W_M7", 13, "W_M7 (the width of M_7, CONV4's output)")
_value(A, "test_conv4_params", 1, "CONV4_PARAMS", 384 * 384 * 9 + 384, "CONV4_PARAMS (weights and biases)")
_value(A, "test_conv4_macs", 1.5, "CONV4_MACS", 384 * 384 * 9 * 13 * 13, "CONV4_MACS (multiply-adds per image)")


# =========================================================================== CONV5
A = "conv5"


@_spec(A, "test_tensor_bytes_values", 2.5)
def _(rng):
    calls = [((256, 13, 13), 4), ((96, 55, 55), 4), ((1, 3, 227, 227), 8), ((4096,), 2), ((), 4)]
    calls.append((tuple(int(v) for v in rng.integers(1, 20, size=3)), 4))
    cases = [Case("tensor_bytes", (s,), {"itemsize": i}, int(np.prod(s, dtype=np.int64)) * i, "exact", {},
                  f"tensor_bytes({s}, itemsize={i})") for s, i in calls]
    cases.append(Case("tensor_bytes", ((384, 13, 13),), {}, 384 * 169 * 4, "exact", {},
                      "tensor_bytes((384, 13, 13)) with the default itemsize 4"))
    return cases


@_spec(A, "test_tensor_bytes_errors", 0.5)
def _(rng):
    return [Case("tensor_bytes", ((256, -13, 13),), {}, Raises("ValueError", ("tensor_bytes",)), "raises", {},
                 "tensor_bytes((256, -13, 13)) must raise ValueError naming tensor_bytes")]


@_spec(A, "test_count_params_values", 3.5)
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


@_spec(A, "test_count_params_errors", 0.5)
def _(rng):
    return [Case("count_params", ({"w": (3, -2)},), {}, Raises("ValueError", ("count_params",)), "raises", {},
                 "count_params({'w': (3, -2)}) must raise ValueError naming count_params")]


_value(A, "test_W_M8", 0.5, "W_M8", 13, "W_M8 (the width of M_8, CONV5's output)")
_value(A, "test_conv5_params", 0.5, "CONV5_PARAMS", 256 * 384 * 9 + 256, "CONV5_PARAMS (weights and biases)")
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


@_spec(A, "test_flatten_chw_values", 3.5)
def _(rng):
    return [Case("flatten_chw", (x,), {}, _np(_t(x).flatten(1)), "allclose", ONE_LAYER,
                 f"flatten_chw(x of shape {x.shape}): channel-major order (C, H, W) like torch.flatten(x, 1)")
            for x in _flatten_inputs(rng)]


@_spec(A, "test_flatten_chw_errors", 0.5)
def _(rng):
    return [Case("flatten_chw", (_randn(rng, (256, 6, 6)),), {}, Raises("ValueError", ("flatten_chw",)), "raises",
                 {}, "flatten_chw of x with shape (256, 6, 6) (no batch axis) must raise ValueError naming "
                     "flatten_chw")]


@_spec(A, "test_flat_index_values", 2.5)
def _(rng):
    calls = [(0, 0, 0, 256, 6, 6), (0, 0, 1, 256, 6, 6), (0, 1, 0, 256, 6, 6), (1, 0, 0, 256, 6, 6),
             (255, 5, 5, 256, 6, 6), (2, 1, 3, 3, 4, 5)]
    for _ in range(3):
        C, H, W = (int(v) for v in rng.integers(1, 10, size=3))
        calls.append((int(rng.integers(0, C)), int(rng.integers(0, H)), int(rng.integers(0, W)), C, H, W))
    return [Case("flat_index", c, {}, c[0] * c[4] * c[5] + c[1] * c[5] + c[2], "exact", {}, f"flat_index{c}")
            for c in calls]


@_spec(A, "test_flat_index_errors", 0.5)
def _(rng):
    return [Case("flat_index", c, {}, Raises("ValueError", ("flat_index",)), "raises", {},
                 f"flat_index{c} (position out of range) must raise ValueError naming flat_index")
            for c in [(256, 0, 0, 256, 6, 6), (0, 6, 0, 256, 6, 6), (0, 0, -1, 256, 6, 6)]]


_value(A, "test_W_M9", 0.5, "W_M9", 6, "W_M9 (the width of M_9, MAX POOL3's output)")
_value(A, "test_H1_size", 1, "H1_SIZE", 9216, "H1_SIZE (length of the flattened H_1)")
_value(A, "test_M9_shape", 0.5, "M9_SHAPE", (6, 6, 256), "M9_SHAPE (M_9 in the source's notation [W x H x C])")


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


@_spec(A, "test_linear_forward_values", 3.5, {"linear_forward": LINEAR_BANNED})
def _(rng):
    ref = _ref()
    return [Case("linear_forward", (x, w, b), {},
                 _np(ref.linear_forward(_t(x), _t(w), None if b is None else _t(b))), "allclose", ONE_LAYER,
                 _lin_what(x, w, b)) for x, w, b in _linear_inputs(rng)]


@_spec(A, "test_linear_forward_errors", 0.5, {"linear_forward": LINEAR_BANNED})
def _(rng):
    r = Raises("ValueError", ("linear_forward",))
    return [Case("linear_forward", (_randn(rng, (2, 7)), _randn(rng, (5, 6)), _randn(rng, (5,))), {}, r, "raises",
                 {}, "x (2, 7) with weight (5, 6) must raise ValueError naming linear_forward"),
            Case("linear_forward", (_randn(rng, (2, 3, 7)), _randn(rng, (5, 7)), None), {}, r, "raises", {},
                 "x of shape (2, 3, 7) must raise ValueError naming linear_forward")]


@_spec(A, "test_dropout_forward_train", 3, {"dropout_forward": DROPOUT_BANNED})
def _(rng):
    cases = []
    for shape, kw, seed in [((8, 512), {}, 1), ((4, 1000), {"p": 0.2}, 2), ((2, 3, 20, 20), {"p": 0.7}, 3)]:
        x = rng.uniform(0.5, 3.0, size=shape) * np.where(rng.random(shape) < 0.5, 1.0, -1.0)
        x = x.astype(np.float32)
        kw = dict(kw, training=True, generator=Gen(int(rng.integers(0, 2**31)) + seed))
        # four calls: a generator, the same object again, a fresh one with the same seed, the next seed
        cases.append(Case("dropout_forward", (x,), kw, None, "dropout_generator", {},
                          f"dropout_forward(x of shape {shape}, p={kw.get('p', 0.5)}, training=True, generator): "
                          f"values, rate, and masks drawn from the generator"))
    x = _randn(rng, (3, 50))
    cases.append(Case("dropout_forward", (x,), {"p": 0.0, "training": True}, x.astype(np.float64), "allclose",
                      ONE_LAYER, "dropout_forward(x, p=0.0, training=True) keeps every unit"))
    return cases


@_spec(A, "test_dropout_forward_eval", 0.5, {"dropout_forward": DROPOUT_BANNED})
def _(rng):
    cases = []
    for shape, kw in [((4, 300), {"training": False}), ((2, 3, 5, 5), {"p": 0.3, "training": False})]:
        x = _randn(rng, shape)
        cases.append(Case("dropout_forward", (x,), kw, x.astype(np.float64), "allclose", ONE_LAYER,
                          f"dropout_forward(x of shape {shape}, {kw}) must return x unchanged"))
    return cases


@_spec(A, "test_dropout_forward_errors", 0.5, {"dropout_forward": DROPOUT_BANNED})
def _(rng):
    return [Case("dropout_forward", (_randn(rng, (2, 5)),), {"p": p}, Raises("ValueError", ("dropout_forward",)),
                 "raises", {}, f"dropout_forward with p={p} must raise ValueError naming dropout_forward")
            for p in (1.5, -0.1)]


_value(A, "test_fc6_params", 0.5, "FC6_PARAMS", 4096 * 9216 + 4096, "FC6_PARAMS (weights and biases)")
_value(A, "test_H2_size", 0.5, "H2_SIZE", 4096, "H2_SIZE (length of H_2)")


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


@_spec(A, "test_fc7_forward_values", 4.5, {"fc7_forward": LINEAR_BANNED})
def _(rng):
    return [Case("fc7_forward", (x, w, b), {}, _ref_fc7(x, w, b), "allclose", ONE_LAYER,
                 _lin_what(x, w, b, "fc7_forward") + " = ReLU(x W^T + b) with a square, non-symmetric W")
            for x, w, b in _fc7_inputs(rng)]


@_spec(A, "test_fc7_forward_errors", 0.5, {"fc7_forward": LINEAR_BANNED})
def _(rng):
    return [Case("fc7_forward", (_randn(rng, (2, 5)), _randn(rng, (6, 6)), _randn(rng, (6,))), {},
                 Raises("ValueError", ("fc7_forward",)), "raises", {},
                 "x (2, 5) with weight (6, 6) must raise ValueError naming fc7_forward")]


@_spec(A, "test_to_out_in_values", 2.5)
def _(rng):
    mats = [_randn(rng, (5, 3)), _randn(rng, (4, 4)), _randn(rng, (1, 7), 1.0, np.float64)]
    return [Case("to_out_in", (m,), {}, m.T.astype(np.float64), "allclose", {"rtol": 0.0},
                 f"to_out_in(a weight stored [in, out] = {m.shape})") for m in mats]


@_spec(A, "test_to_out_in_errors", 0.5)
def _(rng):
    return [Case("to_out_in", (_randn(rng, (2, 3, 4)),), {}, Raises("ValueError", ("to_out_in",)), "raises", {},
                 "to_out_in of a tensor with shape (2, 3, 4) must raise ValueError naming to_out_in")]


_value(A, "test_fc7_params", 0.5, "FC7_PARAMS", 4096 * 4096 + 4096, "FC7_PARAMS (weights and biases)")
_value(A, "test_H3_size", 0.5, "H3_SIZE", 4096, "H3_SIZE (length of H_3)")


# =========================================================================== FC8
A = "fc8"


@_spec(A, "test_softmax_values", 4, {"softmax": SOFTMAX_BANNED})
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


@_spec(A, "test_softmax_dims", 1.5, {"softmax": SOFTMAX_BANNED})
def _(rng):
    ref = _ref()
    x = _randn(rng, (3, 4, 5), 5.0)
    cases = [Case("softmax", (x,), {"dim": d}, _np(ref.softmax(_t(x), dim=d)), "allclose", SOFTMAX,
                  f"softmax(x of shape (3, 4, 5), dim={d})") for d in (0, 1, 2, -2)]
    return cases


@_spec(A, "test_softmax_errors", 0.5, {"softmax": SOFTMAX_BANNED})
def _(rng):
    return [Case("softmax", (_randn(rng, (2, 5)),), {"dim": d}, Raises("ValueError", ("softmax",)), "raises", {},
                 f"softmax(x of shape (2, 5), dim={d}) must raise ValueError naming softmax") for d in (2, -3)]


@_spec(A, "test_top_k_values", 2.5)
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


@_spec(A, "test_top_k_errors", 0.5)
def _(rng):
    p = rng.dirichlet(np.ones(10), size=2).astype(np.float32)
    return [Case("top_k", (p, k), {}, Raises("ValueError", ("top_k",)), "raises", {},
                 f"top_k(probs of shape (2, 10), k={k}) must raise ValueError naming top_k") for k in (11, 0)]


_value(A, "test_fc8_params", 0.5, "FC8_PARAMS", 4096 * 1000 + 1000, "FC8_PARAMS (weights and biases)")
_value(A, "test_H4_size", 0.5, "H4_SIZE", 1000, "H4_SIZE (length of H_4: one score per class)")


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


@_spec(A, "test_alexnet_forward_shape", 0.5)
def _(rng, seed):
    x, params, _ = _forward_case_data(seed)
    return [Case("alexnet_forward", (x, params, Device("cpu")), {}, (2, 1000), "shape", {},
                 "alexnet_forward(x of shape (2, 3, 227, 227), params, device=cpu)")]


@_spec(A, "test_alexnet_forward_values", 3)
def _(rng, seed):
    x, params, probs = _forward_case_data(seed)
    return [Case("alexnet_forward", (x, params, Device("cpu")), {}, probs, "probs", FORWARD_CPU,
                 "alexnet_forward(x of shape (2, 3, 227, 227), params, device=cpu) in evaluation mode")]


# Device handling is graded the same way on every machine: on PyTorch's meta device (shapes only, no
# values) every compute operator must see meta tensors and the result must be a meta tensor.
@_spec(A, "test_alexnet_forward_device", 2)
def _(rng, seed):
    x, params, _ = _forward_case_data(seed)
    return [Case("alexnet_forward", (x, params, Device(d)), {}, d, "device", {},
                 f"alexnet_forward(x, params, device={d}) must move x and every parameter to {d}, compute "
                 f"there and return its result on {d}") for d in ("meta", "cpu")]


@_spec(A, "test_alexnet_forward_errors", 0.5)
def _(rng, seed):
    x = _randn(rng, (1, 3, 224, 224))
    _, params, _ = _forward_case_data(seed)
    return [Case("alexnet_forward", (x, params, Device("cpu")), {}, Raises("ValueError"), "raises", {},
                 "alexnet_forward of x with shape (1, 3, 224, 224) must raise ValueError (AlexNet needs 227x227)")]


for _name in ("test_alexnet_forward_shape", "test_alexnet_forward_values", "test_alexnet_forward_device",
              "test_alexnet_forward_errors"):
    SPECS[_name].build.wants_seed = True


_value(A, "test_forward_macs", 0.5, "FORWARD_MACS", 1_135_256_096, "FORWARD_MACS (multiply-adds per image)")
_value(A, "test_total_params", 0.5, "TOTAL_PARAMS", 62_378_344, "TOTAL_PARAMS (parameters with biases)")


@_spec(A, "test_time_forward_runs", 2.5)
def _(rng):
    cases = []
    for device, warmup, repeats, sync in [("cpu", 2, 3, True), ("meta", 1, 4, True),
                                          ("cpu", int(rng.integers(0, 4)), int(rng.integers(1, 6)), True),
                                          ("cpu", 1, 2, False), ("meta", 3, 1, False)]:
        x = _randn(rng, (1, 3, 5, 5))
        kwargs = {"warmup": warmup, "repeats": repeats} | ({} if sync else {"sync": None})
        what = (f"time_forward(forward, x, {device!r}, warmup={warmup}, repeats={repeats}"
                f"{'' if sync else ', sync=None'}, clock=...)")
        cases.append(Case("time_forward", (x, Device(device)), kwargs,
                          {"warmup": warmup, "repeats": repeats, "device": device, "sync": sync}, "timing", {},
                          what))
    return cases


@_spec(A, "test_time_forward_errors", 0.5)
def _(rng):
    x = _randn(rng, (1, 3, 5, 5))
    return [Case("time_forward", (x, Device("cpu")), kw, Raises("ValueError", ("time_forward",)), "timing", {},
                 f"time_forward(forward, x, 'cpu', {', '.join(f'{k}={v}' for k, v in kw.items())}) must raise "
                 f"ValueError naming time_forward")
            for kw in ({"warmup": 1, "repeats": 0}, {"warmup": -1, "repeats": 3})]


del A


def specs_for(assignment: str) -> dict[str, TestSpec]:
    """The specs of one assignment, in chapter order of their test cells."""
    return {gid: spec for gid, spec in SPECS.items() if spec.assignment == assignment}


def total_points(assignment: str) -> float:
    return sum(spec.points for spec in specs_for(assignment).values())
