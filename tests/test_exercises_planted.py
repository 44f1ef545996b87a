"""Planted student implementations against the hidden cases (course_grader.cases), in process.

tests/exercises/wrong/*.py: each breaks exactly the test cells listed in its
BREAKS and must pass every other test cell that calls the same functions.
tests/exercises/correct/*.py: unusual but correct implementations (loops,
einsum, FFT, cumsum, float64, non-contiguous or requires-grad results, numpy
results, prints and warnings) that must pass every test cell that calls them.
A few of them also go through real `nbgrader autograde` in
test_exercises_nbgrader.py.
"""
from __future__ import annotations

import functools
import importlib.util
import inspect
from pathlib import Path

import pytest

from course_grader import cases

HERE = Path(__file__).resolve().parent / "exercises"
PLANTED = sorted((HERE / "wrong").glob("*.py")) + sorted((HERE / "correct").glob("*.py"))


def load_planted(path: Path):
    spec = importlib.util.spec_from_file_location(f"planted_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def calls_of(grade_id: str) -> frozenset[str]:
    return frozenset(case.call for case in cases.SPECS[grade_id].cases(cases.DEFAULT_SEED))


def student_functions(module) -> set[str]:
    return {name for name, obj in vars(module).items()
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_")}


def outcome(grade_id: str, namespace: dict) -> str | None:
    """None when the hidden cases pass, else the failure message."""
    try:
        cases.check(grade_id, namespace)
    except AssertionError as err:
        return str(err)
    return None


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
    specs = cases.specs_for(aid)
    unknown = breaks - set(specs)
    assert not unknown, f"{path.name}: BREAKS names test cells that {aid} does not have: {unknown}"
    touched = [gid for gid in specs if calls_of(gid) & functions]
    assert set(breaks) <= set(touched), f"{path.name}: BREAKS {breaks} but only {touched} call {functions}"
    namespace = dict(vars(module))
    wrong_passes, right_fails = [], []
    for gid in touched:
        message = outcome(gid, namespace)
        if gid in breaks and message is None:
            wrong_passes.append(gid)
        elif gid not in breaks and message is not None:
            right_fails.append(f"{gid}: {message}")
    assert not wrong_passes, f"{path.name}: these test cells should fail but pass: {wrong_passes}"
    assert not right_fails, f"{path.name}: these test cells should pass but fail:\n" + "\n".join(right_fails)


def test_banned_operator_message_says_why():
    module = load_planted(HERE / "wrong" / "conv2d_library.py")
    message = " ".join(outcome("test_conv2d_forward_values", dict(vars(module))).split())
    assert "F.conv2d" in message and "scores 0" in message and "0 điểm" in message, message
    alias = load_planted(HERE / "wrong" / "conv2d_alias.py")
    message = " ".join(outcome("test_conv2d_forward_values", dict(vars(alias))).split())
    assert "torch.nn.functional.conv2d" in message and "scores 0" in message, message


def test_failure_message_says_how_the_answer_is_wrong():
    module = load_planted(HERE / "wrong" / "conv2d_off_by_one.py")
    message = " ".join(outcome("test_conv2d_forward_shape", dict(vars(module))).split())
    assert "has shape (2, 4, 4, 6)" in message and "2 (H), 3 (W) differ" in message, message
    module = load_planted(HERE / "wrong" / "lrn_alpha_over_n.py")
    message = " ".join(outcome("test_local_response_norm_values", dict(vars(module))).split())
    assert "values are wrong" in message and "times the allowed tolerance" in message, message


def test_using_alexnet_ref_scores_zero():
    import alexnet_ref
    namespace = {"conv2d_forward": alexnet_ref.conv2d_forward}
    message = outcome("test_conv2d_forward_values", namespace)
    assert message is not None and "scores 0" in message, message
    from alexnet_ref import relu as ref_relu

    def relu(x):
        return ref_relu(x)

    message = outcome("test_relu_values", {"relu": relu, "ref_relu": ref_relu})
    assert message is not None and "alexnet_ref" in message, message


def test_alexnet_ref_inside_any_function_scores_zero(tmp_path):
    """Even where no operator is banned, a function that calls alexnet_ref scores 0 (AST scan)."""
    path = tmp_path / "uses_ref.py"
    path.write_text("import alexnet_ref\n\n\n"
                    "def receptive_field(layers):\n"
                    "    r, jump = 1, 1\n"
                    "    for f, s in layers:\n"
                    "        alexnet_ref.conv_output_size(f, f, 0, 1)\n"
                    "        r, jump = r + (f - 1) * jump, jump * s\n"
                    "    return r\n", encoding="utf-8")
    module = load_planted(path)
    namespace = {"receptive_field": module.receptive_field}   # the module itself is not in the namespace
    message = outcome("test_receptive_field_values", namespace)
    assert message is not None and "alexnet_ref.conv_output_size" in message and "scores 0" in message, message
