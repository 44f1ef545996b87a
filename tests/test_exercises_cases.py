"""course_grader.cases: the API the grader relies on, the comparisons and the trusted references."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

import alexnet_ref
from course_grader import cases
from course_grader.cases import Case, Device, Gen, Raises


def test_api_shape():
    assert len(cases.ASSIGNMENTS) == 15 and cases.ASSIGNMENTS[0] == "input" and cases.ASSIGNMENTS[-1] == "forward_gpu"
    assert {f.name for f in dataclasses.fields(Case)} == {"call", "args", "kwargs", "expected", "kind", "tol", "what"}
    for gid, spec in cases.SPECS.items():
        assert spec.grade_id == gid and spec.assignment in cases.ASSIGNMENTS and spec.points > 0
        assert all(isinstance(p, tuple) for p in spec.banned.values())
    for name in ("compare", "to_plain", "call_student", "banned_uses", "check"):
        assert callable(getattr(cases, name))


def _plain_ok(value) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    if isinstance(value, (Gen, Device, Raises)) or value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_plain_ok(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_ok(v) for k, v in value.items())
    return False


@pytest.mark.parametrize("aid", [a for a in cases.ASSIGNMENTS if a != "forward_gpu"])
def test_cases_are_plain_data_and_depend_on_the_seed(aid):
    for gid, spec in cases.specs_for(aid).items():
        first, again, other = spec.cases(7), spec.cases(7), spec.cases(8)
        assert first, f"{gid} has no cases"
        for case in first:
            assert case.kind in {"exact", "allclose", "shape", "raises", "dropout_train", "probs", "topk", "device",
                                 "timing", "dropout_generator"}
            assert case.args is None or _plain_ok(case.args), f"{gid}: {case.what} has non-plain args"
            assert _plain_ok(case.kwargs) and _plain_ok(case.expected), f"{gid}: {case.what}"
        for a, b in zip(first, again):
            assert a.what == b.what and repr(a.args) == repr(b.args), f"{gid}: cases are not deterministic"
        has_random = any(isinstance(x, np.ndarray) and x.dtype.kind == "f" for c in first for x in (c.args or ()))
        if has_random:
            assert any(repr(a.args) != repr(b.args) for a, b in zip(first, other)), f"{gid}: seed ignored"


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


def test_trusted_references_agree_with_alexnet_ref():
    rng = np.random.default_rng(0)
    a = rng.uniform(-900, 900, size=(2, 9, 3, 2))
    den = cases._ref_lrn_denominator(a, n=5, k=2.0, alpha=1e-4)
    ref = alexnet_ref.local_response_norm(torch.from_numpy(a), n=5, k=2.0, alpha=1e-4, beta=0.75).numpy()
    np.testing.assert_allclose(a / den ** 0.75, ref, rtol=1e-12)
    rows = {r.spec.name: r for r in alexnet_ref.layer_shapes()}
    assert cases.SPECS["test_conv1_params"].cases(0)[0].expected == rows["conv1"].params
    assert cases.SPECS["test_conv4_macs"].cases(0)[0].expected == rows["conv4"].macs
    assert cases.SPECS["test_total_params"].cases(0)[0].expected == alexnet_ref.total_params()
    assert cases.SPECS["test_forward_macs"].cases(0)[0].expected == alexnet_ref.total_macs()
    assert cases.SPECS["test_all_conv_params"].cases(0)[0].expected == sum(
        rows[f"conv{i}"].params for i in range(1, 6))
    for name, expected in [("test_W_M2", 55), ("test_W_M3", 27), ("test_W_M4", 27), ("test_W_M5", 13),
                           ("test_W_M6", 13), ("test_W_M7", 13), ("test_W_M8", 13), ("test_W_M9", 6)]:
        assert cases.SPECS[name].cases(0)[0].expected == expected
    layer = {"test_W_M2": "conv1", "test_W_M3": "pool1", "test_W_M4": "conv2", "test_W_M5": "pool2",
             "test_W_M6": "conv3", "test_W_M7": "conv4", "test_W_M8": "conv5", "test_W_M9": "pool3"}
    for gid, name in layer.items():
        assert rows[name].out_shape[-1] == cases.SPECS[gid].cases(0)[0].expected


def test_receptive_field_reference_matches_gradients():
    """The trusted receptive field equals the input pixels that reach one output through autograd."""
    stack = [(11, 4), (3, 2), (5, 1)]
    x = torch.zeros(1, 1, 227, 227, requires_grad=True)
    y = x
    for f, s in stack:
        y = torch.nn.functional.conv2d(y, torch.ones(1, 1, f, f), stride=s)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1))
    assert int(rows.max() - rows.min() + 1) == cases._ref_receptive_field(stack) == 51


def test_check_reports_missing_names_and_unknown_tests():
    with pytest.raises(AssertionError, match="W_M2 is not defined"):
        cases.check("test_W_M2", {})
    with pytest.raises(AssertionError, match="unknown test"):
        cases.check("test_nothing", {})
    err = cases.GradingFailure("x: y")
    assert err._render_traceback_() == ["AssertionError: x: y"]


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
    spec = cases.SPECS["test_alexnet_forward_device"]
    assert {c.args[2].name for c in spec.cases(cases.DEFAULT_SEED)} == {"meta", "cpu"}
    devices = {c.args[2].name for s in cases.specs_for("forward_gpu").values() for c in s.cases(cases.DEFAULT_SEED)
               if c.call == "alexnet_forward" and c.kind != "device"}
    assert devices == {"cpu"}, f"values must be checked on the CPU on every grader, got {devices}"
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
