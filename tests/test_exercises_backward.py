"""The backward exercises (bw_conv, bw_pool_norm, bw_fc, bw_train): what the generic exercise tests do not cover.

* autograd is a library shortcut here: a function that reaches ``.backward()``, ``torch.autograd``,
  ``torch.nn.grad`` or ``torch.func`` scores 0 on every test cell of that function, in a kernel and
  through the sandboxed grader;
* the hidden blocks pass the reference solution for other students' seeds too (their inputs come
  from the per-student stream of ``testing.rng``), among them the training cell's "the loss falls by
  30 %" and the overlapping-window maxima built on purpose;
* through the real grader, each assignment's solution scores full marks and a planted classic mistake
  loses exactly the test cells its file lists in BREAKS (tests/exercises/wrong/bw_*.py).
"""
from __future__ import annotations

import copy
import importlib.util

import pytest

from course_grader import cases, policy, testing
from tests.exercises import incell

BACKWARD = ("bw_conv", "bw_pool_norm", "bw_fc", "bw_train")

AUTOGRAD_USES = {
    "relu_backward": ("bw_conv", '''import torch


def relu_backward(dout, x):
    x = x.detach().clone().requires_grad_(True)
    torch.relu(x).backward(dout)
    return x.grad
'''),
    "conv2d_backward": ("bw_conv", '''import torch
import torch.nn.functional as F


def conv2d_backward(dout, x, weight, stride, padding):
    x, weight = x.detach().requires_grad_(True), weight.detach().requires_grad_(True)
    out = F.conv2d(x, weight, stride=stride, padding=padding)
    dx, dweight = torch.autograd.grad(out, (x, weight), dout)
    return dx, dweight, dout.sum(dim=(0, 2, 3))
'''),
    "local_response_norm_backward": ("bw_pool_norm", '''import torch
from torch.func import vjp


def local_response_norm_backward(dout, a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    def forward(t):
        sq = t * t
        s = sq.clone()
        for shift in range(1, min(n // 2, t.shape[1] - 1) + 1):
            s[:, shift:] += sq[:, :-shift]
            s[:, :-shift] += sq[:, shift:]
        return t * (k + alpha * s) ** (-beta)
    _, pullback = vjp(forward, a)
    return pullback(dout)[0]
'''),
    "linear_backward": ("bw_fc", '''import torch.autograd as ag


def linear_backward(dout, x, weight):
    x, weight = x.detach().requires_grad_(True), weight.detach().requires_grad_(True)
    dx, dweight = ag.grad(x @ weight.T, (x, weight), dout)
    return dx, dweight, dout.sum(dim=0)
'''),
}


def _cells_of(aid: str, function: str) -> set[str]:
    nb = incell.notebook(aid)
    return {c.grade_id for c in incell.graded_cells(nb) if function in incell.calls_of(nb, c)}


@pytest.mark.parametrize("function", sorted(AUTOGRAD_USES))
def test_autograd_scores_zero_in_a_kernel(function, tmp_path):
    aid, code = AUTOGRAD_USES[function]
    path = tmp_path / f"{function}.py"
    path.write_text(code, encoding="utf-8")
    cells = _cells_of(aid, function)
    assert len(cells) >= 2, f"{aid}: {function} has test cells {cells}"
    results = incell.run(aid, planted=path, only=cells, hidden_only=True)   # the visible asserts may fail first
    passed = [gid for gid, message in results.items() if message is None]
    assert not passed, f"{function} through autograd passes {passed}"
    for gid, message in results.items():
        assert "scores 0" in message and "0 điểm" in message, f"{gid}: {message}"


def test_every_backward_list_bans_autograd():
    lists = ["AUTOGRAD_BANNED", "CONV_BACKWARD_BANNED", "POOL_BACKWARD_BANNED", "LRN_BACKWARD_BANNED",
             "XENT_BANNED", "SGD_BANNED"]
    for name in lists:
        patterns = getattr(cases, name)
        assert set(cases.AUTOGRAD_BANNED) <= set(patterns), f"{name} lets autograd through"
        assert name in cases.BANNED_TEXT and "autograd" in cases.BANNED_TEXT[name]["en"], name
    for library in ("torch.autograd.grad", "torch.nn.grad.conv2d_input", "x.backward", "x.grad"):
        assert any(policy._matches(part, cases.AUTOGRAD_BANNED) for part in library.split(".")), library


def _kernel_with_solution(aid: str) -> tuple[dict, list]:
    namespace = incell.kernel(aid)
    nb = incell.notebook(aid)
    sources = incell.setup_cells(nb) + [code for _, code in incell.solution_cells(nb)]
    return namespace, policy.parse_cells(sources)


@pytest.mark.slow
@pytest.mark.parametrize("aid", BACKWARD)
def test_hidden_blocks_pass_the_solution_for_other_students(aid):
    """The grader's per-student streams (testing.rng in a test cell's context), three students."""
    nb = incell.notebook(aid)
    namespace, trees = _kernel_with_solution(aid)
    for seed in (7, 2012 ^ 0xBEEF, 987654321):
        for cell in incell.graded_cells(nb):
            with testing.active(testing.Context(cell.grade_id, seed, trees)):
                message = incell.run_cell(cell, namespace, hidden_only=True)
            assert message is None, f"{aid} {cell.grade_id}, student seed {seed}: {message}"


def _planted(path):
    spec = importlib.util.spec_from_file_location(f"planted_bw_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _submission(source: dict, replace: dict[str, str] | None = None) -> dict:
    """The solution as an honest student hands it in; ``replace``: solution cell grade_id -> its new code."""
    nb = copy.deepcopy(source)
    for cell in nb["cells"]:
        meta = incell.meta(cell)
        if meta.get("solution"):
            gid = meta["grade_id"]
            text = incell.source(cell)
            cell["source"] = (replace or {}).get(gid, "\n".join(
                line for line in text.splitlines() if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line))
    return nb


GRADED_MISTAKES = ("bw_conv_dweight_transposed", "bw_pool_overwritten", "bw_xent_unstable", "bw_sgd_no_momentum")


@pytest.fixture(scope="module")
def zygote():
    from course_grader.sandbox import Limits, Zygote
    from tests.grader_course import require_sandbox
    require_sandbox()
    with Zygote(1, Limits(part_s=120, cells_s=120)) as z:
        yield z


@pytest.mark.slow
@pytest.mark.parametrize("name", GRADED_MISTAKES)
def test_a_planted_mistake_loses_its_cells_through_the_grader(zygote, name):
    from course_grader.grade import grade_notebook
    path = incell.HERE / "wrong" / f"{name}.py"
    module = _planted(path)
    aid = module.ASSIGNMENT
    source = incell.notebook(aid)
    functions = {n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", "") == module.__name__}
    assert len(functions) == 1, f"{name}: one function per graded mistake, got {functions}"
    verdict = grade_notebook(zygote, _submission(source, {functions.pop(): path.read_text(encoding="utf-8")}),
                             source, f"planted-{name}", aid, b"e" * 32)
    lost = {p.grade_id for p in verdict.parts if p.score < p.points}
    assert lost == set(module.BREAKS), f"{name}: lost {sorted(lost)}, expected {sorted(module.BREAKS)}:\n" + \
        "\n".join(f"{p.grade_id}: {p.message}" for p in verdict.parts if p.score < p.points)
    assert verdict.max_score == 10, verdict.max_score


@pytest.mark.slow
def test_autograd_scores_zero_through_the_grader(zygote):
    from course_grader.grade import grade_notebook
    source = incell.notebook("bw_fc")
    code = '''import torch
import torch.nn.functional as F


def softmax_cross_entropy(logits, labels):
    z = logits.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(z, labels)
    loss.backward()
    return loss.detach(), z.grad
'''
    verdict = grade_notebook(zygote, _submission(source, {"softmax_cross_entropy": code}), source, "autograd-student",
                             "bw_fc", b"e" * 32)
    lost = {p.grade_id: p.message for p in verdict.parts if p.score < p.points}
    assert set(lost) == _cells_of("bw_fc", "softmax_cross_entropy"), lost
    # the error cell's visible part may stop first (F.cross_entropy raises IndexError, not ValueError)
    assert all("scores 0" in message for gid, message in lost.items() if not gid.endswith("_errors")), lost
    kept = sum(p.score for p in verdict.parts)
    assert kept == 10 - sum(p.points for p in verdict.parts if p.grade_id in lost), kept

