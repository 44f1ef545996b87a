"""What the hidden tests of every exercise share: the comparisons, the banned-operator rule and its lists.

The hidden tests live in the solution notebooks (``solutions/<id>/<id>.ipynb``), in
each test cell's ``### BEGIN HIDDEN TESTS`` block, written with the helpers of
:mod:`course_grader.testing` (which call :func:`compare` with a :class:`Case`) and
the shared inputs of :mod:`course_grader.exercise_inputs`; points come from the
notebook metadata.  This module holds what those helpers rely on:

* :data:`ASSIGNMENTS` in chapter order, the tolerance dicts and the ``*_BANNED``
  pattern tuples with their notebook text :data:`BANNED_TEXT`;
* :func:`compare` (one comparison kind per :class:`Case`: ``exact``,
  ``allclose``, ``shape``, ``raises``, ``probs``, ``topk``, ``dropout_train``,
  ``dropout_generator``, ``device``, ``timing``), whose bilingual message never
  shows the expected value unless the instructor opts in;
* :func:`policy_failure`, the message of the banned-operator rule, and
  :func:`kernel_sources`, the code a kernel ran (for the rule in a kernel);
* the student side (:func:`call_student`, :func:`to_plain`, the markers
  :class:`Gen`, :class:`Device`, :class:`Raises`), re-exported from
  :mod:`course_grader.sandbox_student`, where it lives because it runs in the
  sandbox too.

Student-facing conventions checked here
---------------------------------------
* Reading a variable (``W_M2 = 55``): integers compare exactly (``55.0`` equals ``55``);
  floats with a relative tolerance of 1e-9; tuples and lists element-wise.
* Tensor arguments reach the student's function as copies (in-place changes
  cannot alter the trusted side's inputs).
* Any correct implementation passes: loops, unfold + matmul, einsum, FFT,
  float64 or float32 results, non-contiguous results, results that require
  grad, CUDA results (moved to the CPU first), printing and warnings (both are
  captured).
* Invalid input must raise ``ValueError``, like :mod:`alexnet_ref`; where
  :mod:`alexnet_ref` names the function in its message the hidden test
  requires the student's message to name it too.
* Operators an exercise asks for may not be taken from a library: a hidden
  block's ``forbid(function, PATTERNS)`` names the banned ones (fnmatch patterns
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
import inspect
import math
import textwrap

import numpy as np

ASSIGNMENTS: tuple[str, ...] = (
    "input", "conv1", "norm1", "pool1", "conv2", "norm2", "pool2", "conv3",
    "conv4", "conv5", "pool3", "fc6", "fc7", "fc8", "forward_gpu",
    "bw_conv", "bw_pool_norm", "bw_fc", "bw_train",
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


# --------------------------------------------------------------------------- failures and the code a kernel ran
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


# --------------------------------------------------------------------------- banned operators
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
