"""Planted student implementations against the solution notebooks' test cells, in process (tests/exercises/incell.py).

tests/exercises/wrong/*.py: each breaks exactly the test cells listed in its
BREAKS and must pass every other test cell that reads the same functions.
tests/exercises/correct/*.py: unusual but correct implementations (loops,
einsum, FFT, cumsum, float64, non-contiguous or requires-grad results, numpy
results, prints and warnings) that must pass every test cell that reads them.
A test cell runs whole (visible part and hidden block) in the namespace a
student's kernel would have; a few planted files also go through real
`nbgrader autograde` in test_exercises_nbgrader.py.
"""
from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from course_grader import cases
from tests.exercises import incell

HERE = incell.HERE
PLANTED = sorted((HERE / "wrong").glob("*.py")) + sorted((HERE / "correct").glob("*.py"))


def load_planted(path: Path):
    spec = importlib.util.spec_from_file_location(f"planted_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def student_functions(module) -> set[str]:
    return {name for name, obj in vars(module).items()
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_")}


def _cell(grade_id: str) -> tuple[str, incell.GradedCell]:
    aid = incell.assignment_of(grade_id, cases.ASSIGNMENTS)
    return aid, next(c for c in incell.graded_cells(incell.notebook(aid)) if c.grade_id == grade_id)


def calls_of(grade_id: str) -> frozenset[str]:
    """The student's names that test cell ``grade_id`` reads."""
    aid, cell = _cell(grade_id)
    return frozenset(incell.calls_of(incell.notebook(aid), cell))


def outcome(grade_id: str, namespace: dict) -> str | None:
    """None when the hidden block of test cell ``grade_id`` passes with the student code of ``namespace``, else its
    failure message.

    ``namespace``: a planted module's ``vars()`` (its file then runs as the student's code) or plain
    name -> object overrides of the reference student.
    """
    aid = namespace.get("ASSIGNMENT")
    if isinstance(aid, str):
        cell = next(c for c in incell.graded_cells(incell.notebook(aid)) if c.grade_id == grade_id)
    else:
        aid, cell = _cell(grade_id)
    file = namespace.get("__file__")
    if isinstance(file, str) and file.endswith(".py"):
        kernel = incell.kernel(aid, planted=file)
    else:
        kernel = incell.kernel(aid, overrides={k: v for k, v in namespace.items() if not k.startswith("__")})
    return incell.run_cell(cell, kernel, hidden_only=True)


def _param(path: Path):
    marks = [pytest.mark.slow] if "forward" in path.stem else []
    return pytest.param(path, id=f"{path.parent.name}/{path.stem}", marks=marks)


def test_enough_planted_implementations():
    wrong = list((HERE / "wrong").glob("*.py"))
    correct = list((HERE / "correct").glob("*.py"))
    assert len(wrong) >= 20, f"expected at least 20 planted wrong implementations, found {len(wrong)}"
    assert len(correct) >= 8, f"expected at least 8 planted correct implementations, found {len(correct)}"
    operators = {"conv2d_forward", "relu", "local_response_norm", "max_pool2d_forward", "linear_forward",
                 "dropout_forward", "softmax"}
    per_op = {op: 0 for op in operators}
    for path in wrong:
        for name in student_functions(load_planted(path)):
            if name in per_op:
                per_op[name] += 1
    thin = {op: n for op, n in per_op.items() if n < 2}
    assert not thin, f"operators with fewer than 2 planted wrong implementations: {thin}"


@pytest.mark.parametrize("path", [_param(p) for p in PLANTED])
def test_planted_scores_exactly_the_parts_it_breaks(path):
    module = load_planted(path)
    aid = module.ASSIGNMENT
    breaks = set(module.BREAKS)
    functions = student_functions(module)
    assert functions, f"{path.name} defines no student function"
    nb = incell.notebook(aid)
    cells = incell.graded_cells(nb)
    unknown = breaks - {c.grade_id for c in cells}
    assert not unknown, f"{path.name}: BREAKS names test cells that {aid} does not have: {unknown}"
    touched = [c.grade_id for c in cells if incell.calls_of(nb, c) & functions]
    assert breaks <= set(touched), f"{path.name}: BREAKS {breaks} but only {touched} read {functions}"
    results = incell.run(aid, planted=path, only=set(touched))
    wrong_passes = [gid for gid in touched if gid in breaks and results[gid] is None]
    right_fails = [f"{gid}: {results[gid]}" for gid in touched if gid not in breaks and results[gid] is not None]
    assert not wrong_passes, f"{path.name}: these test cells should fail but pass: {wrong_passes}"
    assert not right_fails, f"{path.name}: these test cells should pass but fail:\n" + "\n".join(right_fails)


def _flat(text) -> str:
    return " ".join(str(text).split())


def test_banned_operator_message_says_why():
    message = _flat(incell.run("conv1", HERE / "wrong" / "conv2d_library.py", only={"test_conv2d_forward_values"})
                    ["test_conv2d_forward_values"])
    assert "F.conv2d" in message and "scores 0" in message and "0 điểm" in message, message
    message = _flat(incell.run("conv1", HERE / "wrong" / "conv2d_alias.py", only={"test_conv2d_forward_values"})
                    ["test_conv2d_forward_values"])
    assert "torch.nn.functional.conv2d" in message and "scores 0" in message, message


def _hidden_message(aid, planted, grade_id) -> str:
    return _flat(incell.run(aid, HERE / "wrong" / planted, only={grade_id}, hidden_only=True)[grade_id])


def test_failure_message_says_how_the_answer_is_wrong():
    """The hidden checks' messages (the visible asserts have their own)."""
    message = _hidden_message("conv1", "conv2d_off_by_one.py", "test_conv2d_forward_shape")
    assert "has shape (2, 4, 4, 6)" in message and "2 (H), 3 (W) differ" in message, message
    message = _hidden_message("norm1", "lrn_alpha_over_n.py", "test_local_response_norm_values")
    assert "values are wrong" in message and "times the allowed tolerance" in message, message


def _student_file(tmp_path, code: str) -> Path:
    path = tmp_path / "student.py"
    path.write_text(code, encoding="utf-8")
    return path


def test_using_alexnet_ref_scores_zero(tmp_path):
    taken = _student_file(tmp_path, "from alexnet_ref import conv2d_forward\n")
    message = incell.run("conv1", taken, only={"test_conv2d_forward_values"})["test_conv2d_forward_values"]
    assert message is not None and "scores 0" in message, message
    wrapped = _student_file(tmp_path, "from alexnet_ref import relu as ref_relu\n\n\n"
                                      "def relu(x):\n    return ref_relu(x)\n")
    message = incell.run("conv1", wrapped, only={"test_relu_values"})["test_relu_values"]
    assert message is not None and "alexnet_ref" in message, message


def test_alexnet_ref_inside_any_function_scores_zero(tmp_path):
    """Even where no operator is banned, a function that calls alexnet_ref scores 0 (AST scan)."""
    path = _student_file(tmp_path, "def receptive_field(layers):\n"
                                   "    import alexnet_ref\n"
                                   "    r, jump = 1, 1\n"
                                   "    for f, s in layers:\n"
                                   "        alexnet_ref.conv_output_size(f, f, 0, 1)\n"
                                   "        r, jump = r + (f - 1) * jump, jump * s\n"
                                   "    return r\n")
    message = incell.run("conv2", path, only={"test_receptive_field_values"})["test_receptive_field_values"]
    assert message is not None and "alexnet_ref.conv_output_size" in message and "scores 0" in message, message
