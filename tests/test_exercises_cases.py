"""The hidden tests of the solution notebooks, and the comparisons and student-side helpers they rely on.

Every test cell's hidden block is ordinary Python with the helpers of course_grader.testing and the
builders of course_grader.exercise_inputs; these tests check the rules those blocks follow (imports,
the banned-operator rule first, the solution passes, inputs depend on the cell's seed and only on it),
the trusted references that alexnet_ref does not have, and the comparisons of course_grader.cases.
"""
from __future__ import annotations

import ast
import warnings

import numpy as np
import pytest
import torch

import alexnet_ref
from course_grader import cases, exercise_inputs, testing
from course_grader.cases import Case, Device, Gen, Raises
from tests.exercises import incell

HIDDEN_IMPORTS = {"course_grader.testing", "course_grader.exercise_inputs", "alexnet_ref", "torch", "numpy", "math"}


def _slow_forward(aids):
    return [pytest.param(a, marks=pytest.mark.slow) if a == "forward_gpu" else a for a in aids]


def test_assignments():
    forward = ("input", "conv1", "norm1", "pool1", "conv2", "norm2", "pool2", "conv3", "conv4", "conv5", "pool3",
               "fc6", "fc7", "fc8", "forward_gpu")
    assert cases.ASSIGNMENTS[:15] == forward, "the forward chapters' exercises come first, in chapter order"
    assert len(set(cases.ASSIGNMENTS)) == len(cases.ASSIGNMENTS)
    for name in ("compare", "to_plain", "call_student", "banned_uses"):
        assert callable(getattr(cases, name))


def _forbidden(tree) -> dict[str, tuple]:
    """forbid("name", PATTERNS) calls at the top level of a hidden block: name -> the patterns' source."""
    out = {}
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "forbid":
            out[call.args[0].value] = tuple(ast.unparse(a) for a in call.args[1:])
    return out


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_hidden_blocks_follow_the_rules(aid):
    """A hidden block in every test cell; it imports only the course's helpers, the reference, torch, numpy and
    math; every student function it reads is forbid()-den first, with the same patterns in every cell."""
    nb = incell.notebook(aid)
    functions = incell.solution_functions(nb)
    patterns: dict[str, tuple] = {}
    for cell in incell.graded_cells(nb):
        hidden = cell.hidden
        assert hidden.strip(), f"{aid} {cell.grade_id}: no hidden block"
        assert cell.code.rstrip().endswith(incell.HIDDEN_END), f"{aid} {cell.grade_id}: code after the hidden block"
        tree = ast.parse(hidden)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module in HIDDEN_IMPORTS or module.split(".")[0] in {"torch", "numpy"}, \
                    f"{aid} {cell.grade_id}: the hidden block imports {module}"
        forbidden = _forbidden(tree)
        read = incell.names_read(cell.code) & functions
        assert read <= set(forbidden), f"{aid} {cell.grade_id}: no forbid(...) for {sorted(read - set(forbidden))}"
        first = next(i for i, node in enumerate(tree.body) if not isinstance(node, (ast.Import, ast.ImportFrom)))
        calls = [i for i, node in enumerate(tree.body) if isinstance(node, ast.Expr)
                 and getattr(getattr(node.value, "func", None), "id", None) == "forbid"]
        assert calls == list(range(first, first + len(calls))), f"{aid} {cell.grade_id}: forbid(...) must come first"
        for name, pats in forbidden.items():
            assert patterns.setdefault(name, pats) == pats, f"{aid} {cell.grade_id}: forbid({name!r}) differs"


@pytest.mark.parametrize("aid", [a for a in cases.ASSIGNMENTS if a != "forward_gpu"])
def test_hidden_blocks_leave_no_reference_in_the_kernel(aid):
    """In a student's kernel the hidden blocks' globals stay behind; one bound to alexnet_ref (``ref = reference()``)
    would be taken for the student's use of the reference by forbid() as soon as a student cell says ``ref``."""
    namespace = incell.kernel(aid)
    for cell in incell.graded_cells(incell.notebook(aid)):
        incell.run_cell(cell, namespace)
    left = cases._namespace_refs(namespace)
    assert not left, f"{aid}: hidden blocks leave {left} bound to alexnet_ref; use reference() inline or a _name"


@pytest.mark.parametrize("aid", _slow_forward(cases.ASSIGNMENTS))
def test_solution_passes_every_test_cell_in_process(aid):
    failures = {gid: message for gid, message in incell.run(aid).items() if message is not None}
    assert not failures, f"{aid}: the solution fails " + "\n".join(f"{g}: {m}" for g, m in failures.items())


def _fingerprint(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype), tuple(value.shape), value.detach().cpu().numpy().tobytes())
    if isinstance(value, np.ndarray):
        return ("array", str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, torch.Generator):
        return ("generator", value.get_state().numpy().tobytes())
    if callable(value):     # a student function handing another one a closure
        return "<callable>"
    if isinstance(value, (tuple, list)):
        return tuple(_fingerprint(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _fingerprint(v)) for k, v in sorted(value.items()))
    return repr(value)


def _inputs_seen(aid: str, grade_id: str, seed: int) -> list:
    """The arguments the solution's functions receive from one test cell's hidden block under ``seed``."""
    nb = incell.notebook(aid)
    namespace = incell.kernel(aid)
    seen = []

    def recording(name, fn):
        def call(*args, **kwargs):
            seen.append((name, _fingerprint(args), _fingerprint(kwargs)))
            return fn(*args, **kwargs)
        return call

    for name in incell.solution_functions(nb):
        namespace[name] = recording(name, namespace[name])
    cell = next(c for c in incell.graded_cells(nb) if c.grade_id == grade_id)
    with testing.active(testing.Context(grade_id, seed)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(cell.hidden, f"<{grade_id}>", "exec"), namespace)
    return seen


@pytest.mark.parametrize("aid", [a for a in cases.ASSIGNMENTS if a != "forward_gpu"])
def test_inputs_depend_on_the_seed_and_only_on_it(aid):
    nb = incell.notebook(aid)
    for cell in incell.graded_cells(nb):
        if "rng(" not in cell.hidden:
            continue
        first, again = _inputs_seen(aid, cell.grade_id, 7), _inputs_seen(aid, cell.grade_id, 7)
        assert first, f"{aid} {cell.grade_id}: the hidden block calls no student function"
        assert first == again, f"{aid} {cell.grade_id}: the same seed gave other inputs"
        # a few small random integers may coincide for two seeds: one of five other seeds must differ
        assert any(_inputs_seen(aid, cell.grade_id, seed) != first for seed in range(8, 13)), \
            f"{aid} {cell.grade_id}: other seeds gave the same inputs"


FACTS = {  # constant -> its value from alexnet_ref's layer table
    "W_M1": lambda rows: rows["input"].out_shape[-1],
    "M1_NUMEL": lambda rows: int(np.prod(rows["input"].out_shape)),
    "W_M2": lambda rows: rows["conv1"].out_shape[-1],
    "CONV1_PARAMS": lambda rows: rows["conv1"].params,
    "NORM1_SHAPE": lambda rows: rows["norm1"].out_shape[1:] + rows["norm1"].out_shape[:1],
    "W_M3": lambda rows: rows["pool1"].out_shape[-1],
    "POOL1_NUMEL": lambda rows: int(np.prod(rows["pool1"].out_shape)),
    "POOL1_PARAMS": lambda rows: rows["pool1"].params,
    "W_M4": lambda rows: rows["conv2"].out_shape[-1],
    "NORM2_SHAPE": lambda rows: rows["norm2"].out_shape[1:] + rows["norm2"].out_shape[:1],
    "W_M5": lambda rows: rows["pool2"].out_shape[-1],
    "M5_NUMEL": lambda rows: int(np.prod(rows["pool2"].out_shape)),
    "W_M6": lambda rows: rows["conv3"].out_shape[-1],
    "CONV3_PARAMS": lambda rows: rows["conv3"].params,
    "W_M7": lambda rows: rows["conv4"].out_shape[-1],
    "CONV4_PARAMS": lambda rows: rows["conv4"].params,
    "CONV4_MACS": lambda rows: rows["conv4"].macs,
    "W_M8": lambda rows: rows["conv5"].out_shape[-1],
    "ALL_CONV_PARAMS": lambda rows: sum(rows[f"conv{i}"].params for i in range(1, 6)),
    "W_M9": lambda rows: rows["pool3"].out_shape[-1],
    "FC6_PARAMS": lambda rows: rows["fc6"].params,
    "FC7_PARAMS": lambda rows: rows["fc7"].params,
    "FC8_PARAMS": lambda rows: rows["fc8"].params,
    "TOTAL_PARAMS": lambda rows: alexnet_ref.total_params(),
    "FORWARD_MACS": lambda rows: alexnet_ref.total_macs(),
}


def test_solution_constants_agree_with_alexnet_ref():
    rows = {row.spec.name: row for row in alexnet_ref.layer_shapes()}
    found = {}
    for aid in cases.ASSIGNMENTS:
        namespace = incell.kernel(aid)
        found |= {name: namespace[name] for name in FACTS if name in namespace}
    assert set(found) == set(FACTS), f"constants no solution defines: {set(FACTS) - set(found)}"
    for name, fact in FACTS.items():
        value = found[name]
        assert (tuple(value) if isinstance(value, (tuple, list)) else value) == fact(rows), name
    assert found["TOTAL_PARAMS"] == 62_378_344 and found["FORWARD_MACS"] == 1_135_256_096


def test_lrn_denominator_reference_agrees_with_alexnet_ref():
    a = np.random.default_rng(0).uniform(-900, 900, size=(2, 9, 3, 2))
    den = exercise_inputs.lrn_denominator(a, n=5, k=2.0, alpha=1e-4)
    ref = alexnet_ref.local_response_norm(torch.from_numpy(a), n=5, k=2.0, alpha=1e-4, beta=0.75).numpy()
    np.testing.assert_allclose(a / den ** 0.75, ref, rtol=1e-12)


def test_receptive_field_reference_matches_gradients():
    """The trusted receptive field equals the input pixels that reach one output through autograd."""
    for stack in ([(11, 4), (3, 2), (5, 1)], [(3, 1), (2, 2), (5, 3)]):
        x = torch.zeros(1, 1, 227, 227, requires_grad=True)
        y = x
        for f, s in stack:
            y = torch.nn.functional.conv2d(y, torch.ones(1, 1, f, f), stride=s)
        y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(1))
        assert int(rows.max() - rows.min() + 1) == exercise_inputs.receptive_field(stack)
    assert exercise_inputs.receptive_field([(11, 4), (3, 2), (5, 1)]) == 51


def test_window_coverage_reference_matches_fold_of_unfold():
    """Coverage counts equal fold(unfold(ones)): how many windows each position is copied into."""
    for w_in, f, s in [(7, 3, 2), (13, 3, 2), (8, 2, 2), (6, 3, 1), (3, 3, 2)]:
        ones = torch.ones(1, 1, 1, w_in, dtype=torch.float64)
        cols = torch.nn.functional.unfold(ones, (1, f), stride=(1, s))
        counts = torch.nn.functional.fold(cols, (1, w_in), (1, f), stride=(1, s))
        assert exercise_inputs.window_coverage(w_in, f, s) == [int(v) for v in counts.flatten()]


def test_builders_depend_on_the_generator_only():
    for build in (exercise_inputs.conv_cases, exercise_inputs.lrn_inputs, exercise_inputs.lrn_edge_inputs,
                  exercise_inputs.pool_inputs, exercise_inputs.denominator_inputs, exercise_inputs.block2_inputs,
                  exercise_inputs.images, exercise_inputs.bad_images, exercise_inputs.relu_inputs):
        first, again, other = (build(np.random.default_rng(s)) for s in (7, 7, 8))
        assert _fingerprint(first) == _fingerprint(again) and _fingerprint(first) != _fingerprint(other), build


def test_to_plain_accepts_every_correct_result_form():
    base = torch.arange(12.0).reshape(3, 4)
    for value in [base.T, base.double().T, base.clone().requires_grad_(True) * 1, base.numpy().T,
                  base.T.contiguous().to(torch.float16)]:
        plain = cases.to_plain(value)
        assert isinstance(plain, np.ndarray) and plain.dtype == np.float64
    assert np.array_equal(cases.to_plain(base.T), base.numpy().T)
    assert cases.to_plain(torch.tensor(55)) == 55 and cases.to_plain(np.int64(3)) == 3
    assert cases.to_plain((55, 55, 96)) == [55, 55, 96] and cases.to_plain(torch.Size([2, 3])) == [2, 3]
    assert cases.to_plain(torch.return_types.topk((base, base.long())))[1].dtype == np.int64


def test_compare_kinds():
    exp = np.array([[1.0, -1000.0], [0.0, 3.0]])
    case = Case("f", (), {}, exp, "allclose", cases.ONE_LAYER, "f")
    assert cases.compare(case, exp + 1e-3)[0]                      # 1e-3 < 1e-5 * 1000 + rtol
    ok, msg = cases.compare(case, exp + np.array([[0, 0], [0, 0.1]]))
    assert not ok and "index (1, 1)" in msg and "off by 0.1" in msg and "3.1" not in msg, msg
    ok, msg = cases.compare(case, exp + np.array([[0, 0], [0, 0.1]]), show_expected=True)
    assert not ok and "expected value: 3" in " ".join(msg.split()), msg
    assert "Wrong shape" in cases.compare(case, exp.T[:1])[1]
    assert not cases.compare(case, np.full((2, 2), np.nan))[0]
    assert not cases.compare(case, ("raised", "RuntimeError", "boom"))[0]
    exact = Case("W_M2", None, {}, 55, "exact", {}, "W_M2")
    assert cases.compare(exact, 55)[0] and cases.compare(exact, 55.0)[0]
    assert not cases.compare(exact, 55.5)[0] and not cases.compare(exact, True)[0]
    shape = Case("NORM1_SHAPE", None, {}, (55, 55, 96), "exact", {}, "s")
    assert cases.compare(shape, [55, 55, 96])[0] and not cases.compare(shape, [27, 27, 96])[0]
    raises = Case("f", (), {}, Raises("ValueError", ("conv2d_forward",)), "raises", {}, "r")
    assert cases.compare(raises, ("raised", "ValueError", "conv2d_forward: bad"))[0]
    assert not cases.compare(raises, ("raised", "ValueError", "bad shape"))[0]
    assert not cases.compare(raises, ("raised", "RuntimeError", "conv2d_forward"))[0]
    assert not cases.compare(raises, np.zeros(2))[0]
    probs = Case("softmax", (), {}, np.array([[0.2, 0.8]]), "probs", cases.SOFTMAX, "p")
    assert cases.compare(probs, np.array([[0.20005, 0.79995]]))[0]
    assert not cases.compare(probs, np.array([[0.8, 0.2]]))[0]


def test_call_student_tripwire_and_capture(capsys):
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 3)).astype(np.float32)
    case = Case("conv2d_forward", (x, w, None, 1, 0), {}, None, "allclose", {}, "c")
    conv = torch.nn.functional.conv2d

    def sneaky(x, weight, bias, stride, padding):
        print("noise")
        warnings.warn("noise")
        return conv(x, weight, bias, stride, padding)

    result = cases.call_student(sneaky, case, cases.CONV_BANNED)
    assert result[0] == "banned" and result[1] == "torch.conv2d"
    assert isinstance(cases.call_student(sneaky, case), np.ndarray)   # no tripwire without a ban list
    assert capsys.readouterr().err == "" and "noise" not in capsys.readouterr().out

    def mutates(x, weight, bias, stride, padding):
        x.zero_()
        raise RuntimeError("oops")

    assert cases.call_student(mutates, case) == ("raised", "RuntimeError", "oops")
    assert np.abs(x).sum() > 0, "the case's array was modified through the student's tensor"
    gen_case = Case("f", (Gen(3), Device("cpu")), {}, None, "exact", {}, "g")
    got = cases.call_student(lambda g, d: [torch.rand(2, generator=g), str(d)], gen_case)
    assert np.allclose(got[0], torch.rand(2, generator=torch.Generator().manual_seed(3)).numpy()) and got[1] == "cpu"


def test_banned_uses_ast_scan():
    src = '''
def conv2d_forward(x, weight, bias, stride, padding):
    import torch.nn.functional as F
    helper = F.conv2d
    return torch.nn.Conv2d(1, 1, 1)(x) + x.softmax(0)
'''
    found = cases.banned_uses(src, "conv2d_forward", cases.CONV_BANNED)
    assert "F.conv2d" in found and "torch.nn.Conv2d" in found
    assert cases.banned_uses(src, "conv2d_forward", cases.SOFTMAX_BANNED) == ["x.softmax"]
    clean = "def relu(x):\n    relu_out = x.clamp(min=0)\n    return relu_out\n"
    assert cases.banned_uses(clean, "relu", cases.RELU_BANNED) == []
    imported = "def relu(x):\n    from torch.nn.functional import relu as r\n    return r(x)\n"
    assert cases.banned_uses(imported, "relu", cases.RELU_BANNED) == ["torch.nn.functional.relu"]
    ref = "def relu(x):\n    return alexnet_ref.relu(x)\n"
    assert "alexnet_ref.relu" in cases.banned_uses(ref, "relu", cases.RELU_BANNED)


def _fwd_case(device):
    return Case("alexnet_forward", (np.zeros((1, 3, 8, 8), np.float32), {"w": np.ones((2, 3, 3, 3), np.float32)},
                                    Device(device)), {}, device, "device", {}, "d")


def _tiny_forward(x, params, device, move_params=True):
    """A stand-in for alexnet_forward: one convolution, optionally forgetting to move the parameters."""
    w = params["w"].to(device) if move_params else params["w"]
    return torch.nn.functional.conv2d(x.to(device), w).flatten(1).softmax(1)


def _flat(text) -> str:
    return " ".join(str(text).split())


def test_device_is_graded_on_meta_the_same_on_every_machine():
    """The device cases run on PyTorch's meta device: no GPU needed to catch a function that ignores device."""
    hidden = "".join(c.hidden for c in incell.graded_cells(incell.notebook("forward_gpu")))
    assert "cuda" not in hidden, "values must be checked on the CPU (and devices on meta) on every grader"
    good = cases.call_student(_tiny_forward, _fwd_case("meta"))
    assert good["result"] == "meta" and set(good["computed"]) == {"meta"}
    assert cases.compare(_fwd_case("meta"), good) == (True, "ok")
    ignores = cases.call_student(lambda x, p, d: _tiny_forward(x, p, "cpu"), _fwd_case("meta"))
    ok, msg = cases.compare(_fwd_case("meta"), ignores)
    assert not ok and "'meta'" in msg and "'cpu'" in msg, msg
    only_result = cases.call_student(lambda x, p, d: _tiny_forward(x, p, "cpu").to(d), _fwd_case("meta"))
    ok, msg = cases.compare(_fwd_case("meta"), only_result)
    assert only_result["result"] == "meta" and not ok and "conv2d" in msg and "not only the result" in _flat(msg)
    forgot_params = cases.call_student(lambda x, p, d: _tiny_forward(x, p, d, move_params=False), _fwd_case("meta"))
    assert not cases.compare(_fwd_case("meta"), forgot_params)[0], forgot_params
    assert not cases.compare(_fwd_case("meta"), cases.call_student(lambda x, p, d: 3, _fwd_case("meta")))[0]


def _timing_case(warmup=2, repeats=3, device="cpu", sync=True):
    kwargs = {"warmup": warmup, "repeats": repeats} | ({} if sync else {"sync": None})
    return Case("time_forward", (np.zeros((1, 3, 4, 4), np.float32), Device(device)), kwargs,
                {"warmup": warmup, "repeats": repeats, "device": device, "sync": sync}, "timing", {}, "t")


def _timer(no_warmup=False, sync_after=True, sync_before=True, total=False, move=True, ms=False):
    """A student's time_forward with switches for the usual timing mistakes."""
    def time_forward(forward, x, device, warmup=2, repeats=5, sync=None, clock=None):
        if repeats < 1 or warmup < 0:
            raise ValueError(f"time_forward: repeats={repeats}, warmup={warmup}")
        sync = sync or (lambda: None)
        x = x.to(device) if move else x
        for _ in range(0 if no_warmup else warmup):
            forward(x)
        times, begin = [], clock()
        for _ in range(repeats):
            if sync_before:
                sync()
            start = clock()
            forward(x)
            if sync_after:
                sync()
            times.append((clock() - start) * (1000 if ms else 1))
        return [clock() - begin] * repeats if total else times
    return time_forward


def test_timing_protocol_is_graded_with_recording_stand_ins():
    for case in (_timing_case(), _timing_case(0, 1), _timing_case(3, 2, "meta"), _timing_case(1, 2, sync=False)):
        record = cases.call_student(_timer(), case)
        assert cases.compare(case, record) == (True, "ok"), (case.kwargs, cases.compare(case, record))
    for wrong, words, device in [(_timer(sync_after=False), "stops the timer", "cpu"),
                                 (_timer(sync_before=False), "starts the timer", "cpu"),
                                 (_timer(no_warmup=True), "forward was called", "cpu"),
                                 (_timer(total=True), "the same run", "cpu"),
                                 (_timer(ms=True), "is not clock()", "cpu"),
                                 (_timer(move=False), "move x to 'meta'", "meta")]:
        case = _timing_case(device=device)
        ok, msg = cases.compare(case, cases.call_student(wrong, case))
        assert not ok and words in _flat(msg), (words, msg)
    raises = Case("time_forward", _timing_case().args, {"warmup": 1, "repeats": 0},
                  Raises("ValueError", ("time_forward",)), "timing", {}, "e")
    assert cases.compare(raises, cases.call_student(_timer(), raises)) == (True, "ok")
    assert not cases.compare(raises, cases.call_student(lambda f, x, d, **kw: [], raises))[0]
