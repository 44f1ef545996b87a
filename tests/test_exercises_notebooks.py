"""The solution notebooks (solutions/<id>/<id>.ipynb) against the rules of the exercises and cases.py.

Static checks (no execution): nbgrader metadata, points, hidden blocks, the
grade_ids of cases.SPECS, no outputs, no reference imports outside hidden
blocks.  A fast in-process run of every solution notebook's code against its
hidden cases is here too; the real nbgrader pipeline is in
test_exercises_nbgrader.py.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from course_grader import cases

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\nfrom course_grader\.cases import check\n"
                    r"check\(\"(?P<gid>[A-Za-z0-9_]+)\", globals\(\)\)\n### END HIDDEN TESTS$")


def notebook(aid: str) -> dict:
    return json.loads((ROOT / "solutions" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))


def source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def test_assignment_folders_match_cases():
    folders = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    assert sorted(cases.ASSIGNMENTS) == folders, f"solutions/ has {folders}, cases.ASSIGNMENTS {cases.ASSIGNMENTS}"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    listed = re.search(r"^ASSIGNMENTS := (.*)$", makefile, re.M).group(1).split()
    assert tuple(listed) == cases.ASSIGNMENTS, f"Makefile ASSIGNMENTS {listed} != cases.ASSIGNMENTS"


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_grade_cells_match_specs_and_points(aid):
    nb = notebook(aid)
    cells = {meta(c)["grade_id"]: meta(c) for c in nb["cells"] if meta(c).get("grade")}
    specs = cases.specs_for(aid)
    assert list(cells) == list(specs), f"{aid}: test cells {list(cells)} != SPECS {list(specs)}"
    for gid, m in cells.items():
        assert float(m["points"]) == specs[gid].points, f"{aid} {gid}: {m['points']} points, SPECS {specs[gid].points}"
    total = sum(float(m["points"]) for m in cells.values())
    header = source(nb["cells"][0])
    stated = re.search(r"Tổng điểm / Total: (\d+(?:\.\d+)?) điểm / points", header)
    assert stated, f"{aid}: the first cell does not state the total"
    assert float(stated.group(1)) == total == cases.total_points(aid), (aid, stated.group(1), total)
    parts = [float(x) for x in re.findall(r"^## Phần [A-Z] / Part [A-Z] \((\d+) điểm / points\)",
                                          "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown"),
                                          re.M)]
    assert sum(parts) == total, f"{aid}: part headings add up to {sum(parts)}, the test cells to {total}"


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_cells_follow_the_rules(aid):
    nb = notebook(aid)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, f"{aid}: extra notebook metadata"
    ids = [meta(c).get("grade_id") for c in nb["cells"] if meta(c)]
    assert len(ids) == len(set(ids)), f"{aid}: duplicate grade_ids"
    title = source(nb["cells"][0]).splitlines()[0]
    assert re.match(r"^# [A-Z0-9 ]+ — .+ / .+$", title), f"{aid}: title {title!r} is not '# ID — vi / en'"
    solution_functions = set()
    for cell in nb["cells"]:
        src, m = source(cell), meta(cell)
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{aid}: a cell has outputs"
            outside = HIDDEN.sub("", src)
            assert "alexnet_ref" not in outside and "course_grader" not in outside, \
                f"{aid}: alexnet_ref/course_grader outside a hidden block:\n{src}"
        if m.get("solution"):
            assert not m.get("grade") and not m.get("locked"), f"{aid} {m['grade_id']}: solution cells are not graded"
            assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src, f"{aid} {m['grade_id']}"
            tree = ast.parse(src)
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    assert node.name == m["grade_id"], f"{aid}: function {node.name} in cell {m['grade_id']}"
                    doc = ast.get_docstring(node)
                    assert doc, f"{aid}: {node.name} has no docstring"
                    solution_functions.add(node.name)
        if m.get("grade"):
            assert m.get("locked") and not m.get("solution"), f"{aid} {m['grade_id']}: test cells are locked"
            assert src.startswith("# Check that "), f"{aid} {m['grade_id']}: first line must be '# Check that …'"
            match = HIDDEN.search(src)
            assert match and match.group("gid") == m["grade_id"], f"{aid} {m['grade_id']}: hidden block\n{src}"
            assert src.count("BEGIN HIDDEN TESTS") == 1
    calls = {case.call for gid in cases.specs_for(aid) for case in cases.SPECS[gid].cases(cases.DEFAULT_SEED)} \
        if aid != "forward_gpu" else {"alexnet_forward", "FORWARD_MACS", "TOTAL_PARAMS", "time_forward"}
    functions_tested = {c for c in calls if not c.isupper() and not c.startswith("W_")}
    assert functions_tested <= solution_functions, f"{aid}: tested functions {functions_tested} not all written"
    for fn in functions_tested:
        errors = [gid for gid in cases.specs_for(aid) if gid.startswith(f"test_{fn}_errors")]
        assert len(errors) == 1, f"{aid}: {fn} needs exactly one error-path test cell, has {errors}"


@pytest.mark.parametrize("aid", [a if a != "forward_gpu" else pytest.param(a, marks=pytest.mark.slow)
                                 for a in cases.ASSIGNMENTS])
def test_solution_passes_its_hidden_cases_in_process(aid):
    """Executes the solution's code cells (visible and hidden tests included) in one namespace."""
    nb = notebook(aid)
    namespace = {"__name__": "__main__"}
    failures = []
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            try:
                exec(compile(source(cell), f"<{aid}>", "exec"), namespace)
            except Exception as err:  # collect every failing cell
                failures.append(f"{meta(cell).get('grade_id', 'cell')}: {type(err).__name__}: {err}")
    assert not failures, f"{aid}:\n" + "\n".join(failures)


def _namespace_of_imports(nb) -> dict:
    cell = next(c for c in nb["cells"] if meta(c).get("grade_id") == "imports")
    namespace: dict = {}
    exec(compile(source(cell), "<imports>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_constant_self_checks_match_the_hidden_values_without_showing_them(aid):
    """Each visible check of a variable compares answer_hash(name, value) with the hash of the hidden value."""
    nb = notebook(aid)
    answer_hash = _namespace_of_imports(nb)["answer_hash"]
    for cell in nb["cells"]:
        gid = meta(cell).get("grade_id")
        if not meta(cell).get("grade") or not all(c.args is None for c in cases.SPECS[gid].cases(cases.DEFAULT_SEED)):
            continue
        visible = HIDDEN.sub("", source(cell))
        for case in cases.SPECS[gid].cases(cases.DEFAULT_SEED):
            stored = re.search(rf'answer_hash\("{case.call}", {case.call}\) == "([0-9a-f]{{16}})"', visible)
            assert stored, f"{aid} {gid}: no hashed self-check of {case.call}:\n{visible}"
            assert stored.group(1) == answer_hash(case.call, case.expected), f"{aid} {gid}: stale hash of {case.call}"
            assert not re.search(rf"\b{re.escape(repr(case.expected))}\b", visible), f"{aid} {gid} shows the answer"
            near = case.expected + 1 if isinstance(case.expected, int) else None
            if near is not None:
                assert answer_hash(case.call, near) != stored.group(1)
                assert answer_hash(case.call, float(case.expected)) == stored.group(1), "55.0 must count as 55"


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_instructions_state_the_banned_operators_and_no_stderr_rule(aid):
    nb = notebook(aid)
    imports = next(source(c) for c in nb["cells"] if meta(c).get("grade_id") == "imports")
    assert "stderr" not in imports, f"{aid}: the imports cell still talks about stderr"
    header = source(nb["cells"][0])
    block = header[header.index("**Không được dùng / Not allowed:**"):]
    names = {value: name for name, value in vars(cases).items() if name.endswith("_BANNED")}
    for spec in cases.specs_for(aid).values():
        for function, patterns in spec.banned.items():
            assert f"`{function}`" in block, f"{aid}: the header does not name {function}'s banned operators"
            for pattern in patterns:
                assert f"`{pattern}`" in block, f"{aid}: the header does not list {pattern} (banned in {function})"
            text = getattr(cases, "BANNED_TEXT", {}).get(names[patterns])
            if text:
                assert text["vi"] in block and text["en"] in block, f"{aid}: {function}: BANNED_TEXT is not in the header"
