"""The solution notebooks (solutions/<id>/<id>.ipynb) against the rules of the exercises.

Static checks (no execution): nbgrader metadata, one error-path test cell per
function, no outputs, no reference or grader imports outside hidden blocks,
the hashed self-checks of constants against the values the hidden blocks
check, and the banned operators named in each header against the ``forbid``
calls of the hidden blocks.  A run of every solution notebook's code cells in
notebook order, as a student's "Run All" would, is here too; the hidden
blocks' own rules are in test_exercises_cases.py, points in test_points.py,
the real nbgrader pipeline in test_exercises_nbgrader.py.
"""
from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

from course_grader import cases, testing
from tests.exercises import incell

ROOT = Path(__file__).resolve().parents[1]


def notebook(aid: str) -> dict:
    return incell.notebook(aid)


def _hidden_calls(cell: incell.GradedCell, function: str) -> list[ast.Call]:
    """The calls ``function(...)`` in a test cell's hidden block."""
    return [node for node in ast.walk(ast.parse(cell.hidden))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == function]


def test_assignment_folders_match_cases():
    folders = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    assert sorted(cases.ASSIGNMENTS) == folders, f"solutions/ has {folders}, cases.ASSIGNMENTS {cases.ASSIGNMENTS}"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    listed = re.search(r"^ASSIGNMENTS := (.*)$", makefile, re.M).group(1).split()
    assert tuple(listed) == cases.ASSIGNMENTS, f"Makefile ASSIGNMENTS {listed} != cases.ASSIGNMENTS"


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_cells_follow_the_rules(aid):
    nb = notebook(aid)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, f"{aid}: extra notebook metadata"
    ids = [incell.meta(c).get("grade_id") for c in nb["cells"] if incell.meta(c)]
    assert len(ids) == len(set(ids)), f"{aid}: duplicate grade_ids"
    title = incell.source(nb["cells"][0]).splitlines()[0]
    assert re.match(r"^# [A-Z0-9 ]+ — .+ / .+$", title), f"{aid}: title {title!r} is not '# ID — vi / en'"
    for cell in nb["cells"]:
        src, m = incell.source(cell), incell.meta(cell)
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{aid}: a cell has outputs"
            outside = incell.GradedCell("", 0, src).visible
            assert "alexnet_ref" not in outside and "course_grader" not in outside, \
                f"{aid}: alexnet_ref/course_grader outside a hidden block:\n{src}"
        if m.get("solution"):
            assert not m.get("grade") and not m.get("locked"), f"{aid} {m['grade_id']}: solution cells are not graded"
            assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src, f"{aid} {m['grade_id']}"
            for node in ast.parse(src).body:
                if isinstance(node, ast.FunctionDef):
                    assert node.name == m["grade_id"], f"{aid}: function {node.name} in cell {m['grade_id']}"
                    assert ast.get_docstring(node), f"{aid}: {node.name} has no docstring"
        if m.get("grade"):
            assert m.get("locked") and not m.get("solution"), f"{aid} {m['grade_id']}: test cells are locked"
            assert src.startswith("# Check that "), f"{aid} {m['grade_id']}: first line must be '# Check that …'"
            assert src.count(incell.HIDDEN_BEGIN) == 1 and src.count(incell.HIDDEN_END) == 1, \
                f"{aid} {m['grade_id']}: one hidden block\n{src}"
    functions = incell.solution_functions(nb)
    tested = set().union(*(incell.names_read(c.hidden) & functions for c in incell.graded_cells(nb)))
    assert tested == functions, f"{aid}: functions no hidden block calls: {sorted(functions - tested)}"
    for fn in sorted(functions):
        errors = [c.grade_id for c in incell.graded_cells(nb) if c.grade_id == f"test_{fn}_errors"]
        assert len(errors) == 1, f"{aid}: {fn} needs exactly one error-path test cell, has {errors}"
        assert _hidden_calls(next(c for c in incell.graded_cells(nb) if c.grade_id == errors[0]), "assert_raises"), \
            f"{aid}: the hidden block of {errors[0]} checks no error (assert_raises)"


@pytest.mark.parametrize("aid", [a if a != "forward_gpu" else pytest.param(a, marks=pytest.mark.slow)
                                 for a in cases.ASSIGNMENTS])
def test_solution_runs_top_to_bottom_in_process(aid):
    """Every code cell of the solution (sanity cells, visible and hidden tests included) in one namespace."""
    nb = notebook(aid)
    namespace = {"__name__": "__main__"}
    failures = []
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            try:
                exec(compile(incell.source(cell), f"<{aid}>", "exec"), namespace)
            except Exception as err:  # collect every failing cell
                failures.append(f"{incell.meta(cell).get('grade_id', 'cell')}: {type(err).__name__}: {err}")
    assert not failures, f"{aid}:\n" + "\n".join(failures)


def _checked_constants(cell: incell.GradedCell) -> dict:
    """``NAME -> value`` of every ``assert_equal(NAME, <constant expression>, ...)`` in the hidden block."""
    out = {}
    for call in _hidden_calls(cell, "assert_equal"):
        name = call.args[0]
        if isinstance(name, ast.Name) and name.id.isupper():
            out[name.id] = eval(compile(ast.Expression(call.args[1]), "<expected>", "eval"), {"__builtins__": {}})
    return out


def _namespace_of_imports(nb) -> dict:
    cell = next(c for c in nb["cells"] if incell.meta(c).get("grade_id") == "imports")
    namespace: dict = {}
    exec(compile(incell.source(cell), "<imports>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_constant_self_checks_match_the_hidden_values_without_showing_them(aid):
    """Each visible check of a variable compares answer_hash(name, value) with the hash of the value the hidden
    block checks, and the visible part does not show that value."""
    nb = notebook(aid)
    answer_hash = _namespace_of_imports(nb)["answer_hash"]
    checked = 0
    for cell in incell.graded_cells(nb):
        if incell.names_read(cell.code) & incell.solution_functions(nb):
            continue
        constants = _checked_constants(cell)
        assert constants, f"{aid} {cell.grade_id}: a constant's test cell whose hidden block checks no constant"
        for name, expected in constants.items():
            stored = re.search(rf'answer_hash\("{name}", {name}\) == "([0-9a-f]{{16}})"', cell.visible)
            assert stored, f"{aid} {cell.grade_id}: no hashed self-check of {name}:\n{cell.visible}"
            assert stored.group(1) == answer_hash(name, expected), f"{aid} {cell.grade_id}: stale hash of {name}"
            assert not re.search(rf"\b{re.escape(repr(expected))}\b", cell.visible), f"{aid} {cell.grade_id} shows it"
            if isinstance(expected, int):
                assert answer_hash(name, expected + 1) != stored.group(1)
                assert answer_hash(name, float(expected)) == stored.group(1), "55.0 must count as 55"
            checked += 1
    assert checked, f"{aid}: no constant is checked"


def _banned_lists(nb) -> dict[str, str]:
    """function -> the name of the ``*_BANNED`` tuple its hidden blocks give to ``forbid``."""
    out = {}
    for cell in incell.graded_cells(nb):
        for call in _hidden_calls(cell, "forbid"):
            if len(call.args) > 1:
                assert isinstance(call.args[1], ast.Name) and call.args[1].id.endswith("_BANNED"), \
                    f"{cell.grade_id}: forbid's patterns should be one of the *_BANNED tuples"
                out[call.args[0].value] = call.args[1].id
    return out


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_instructions_state_the_banned_operators_and_no_stderr_rule(aid):
    nb = notebook(aid)
    imports = next(incell.source(c) for c in nb["cells"] if incell.meta(c).get("grade_id") == "imports")
    assert "stderr" not in imports, f"{aid}: the imports cell still talks about stderr"
    header = incell.source(nb["cells"][0])
    block = header[header.index("**Không được dùng / Not allowed:**"):]
    for function, name in _banned_lists(nb).items():
        assert f"`{function}`" in block, f"{aid}: the header does not name {function}'s banned operators"
        for pattern in getattr(testing, name):
            assert f"`{pattern}`" in block, f"{aid}: the header does not list {pattern} (banned in {function})"
        text = testing.BANNED_TEXT.get(name)
        if text:
            assert text["vi"] in block and text["en"] in block, f"{aid}: {function}: BANNED_TEXT is not in the header"


def test_every_banned_list_is_named_in_some_header():
    """The drift test works: every operator exercise (functions with a banned list) is found by _banned_lists."""
    found = {fn for aid in cases.ASSIGNMENTS for fn in _banned_lists(notebook(aid))}
    assert {"conv2d_forward", "relu", "local_response_norm", "max_pool2d_forward", "pad2d", "linear_forward",
            "dropout_forward", "fc7_forward", "softmax"} <= found, found


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_test_cells_send_the_student_only_data(aid):
    """A test cell runs on the grader's trusted side and the student's functions in the sandbox: their arguments
    travel as plain data, so no test cell may pass them a function (checks with stand-ins go in a sanity cell)."""
    nb = notebook(aid)
    functions = incell.solution_functions(nb)
    for cell in incell.graded_cells(nb):
        for node in ast.walk(ast.parse(cell.code)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in functions:
                args = list(node.args) + [k.value for k in node.keywords]
                sent = [ast.unparse(a) for a in args if isinstance(a, ast.Lambda)
                        or isinstance(a, ast.Name) and a.id in functions]
                assert not sent, f"{aid} {cell.grade_id}: {node.func.id} receives a function: {sent}"
