"""Fairness on every exercise: the reference solution gets full marks in the sandbox, a blank notebook none.

Runs the sandboxed grader (no gradebook) on each ``solutions/<id>/<id>.ipynb``: as submitted by an
honest student (the solution cells as written), and as released (every solution cell a stub).
"""
from __future__ import annotations

import copy
import json

import pytest

from course_grader.cases import ASSIGNMENTS
from course_grader.grade import grade_notebook
from course_grader.sandbox import Limits, Zygote
from tests.grader_course import REPO, require_sandbox

pytestmark = pytest.mark.slow

PRESENT = [a for a in ASSIGNMENTS if (REPO / "solutions" / a / f"{a}.ipynb").is_file()]


@pytest.fixture(scope="module")
def zygote():
    require_sandbox()
    with Zygote(1, Limits(part_s=120, cells_s=120)) as z:
        yield z


def variant(source: dict, blank: bool) -> dict:
    nb = copy.deepcopy(source)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = "raise NotImplementedError()" if blank else "\n".join(
                line for line in text.splitlines() if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
    return nb


@pytest.mark.parametrize("aid", PRESENT)
def test_reference_solution_full_marks_blank_zero(zygote, aid):
    source = json.loads((REPO / "solutions" / aid / f"{aid}.ipynb").read_text())
    good = grade_notebook(zygote, variant(source, False), source, "fair-student", aid, b"f" * 32)
    lost = [f"{p.grade_id}: {p.message}" for p in good.parts if p.score != p.points]
    assert not lost and good.max_score > 0, f"{aid}: the reference solution lost points: {lost}"
    static = [f for f in good.flags if not f["what"].startswith("runtime")]
    assert not static, f"{aid}: the reference solution is flagged: {static}"
    blank = grade_notebook(zygote, variant(source, True), source, "blank-student", aid, b"f" * 32)
    passed = [p.grade_id for p in blank.parts if p.score > 0]
    assert not passed, f"{aid}: the released stubs pass {passed}"
