"""How the course's points are spread: layer implementations carry each notebook, input validation little.

Points live in one place, the nbgrader metadata of the test cells; the headers students read
(``**Tổng điểm / Total: n**`` and ``## Phần X / Part X (n điểm / points)``) must agree with it.
A test cell is *validation* when its grade_id ends in ``_errors`` (the ValueError paths), a
*constant* when it calls none of the student's functions (it only reads variables such as
``W_M2``), otherwise an *implementation* of a layer or formula.
"""
from __future__ import annotations

import re

import pytest

from course_grader import cases
from tests.exercises import incell

PART = re.compile(r"^## Phần ([A-Z]) / Part \1 \((\d+(?:\.\d+)?) điểm / points\)", re.M)
TOTAL = re.compile(r"Tổng điểm / Total: (\d+(?:\.\d+)?) điểm / points")


def kind(nb, cell: incell.GradedCell) -> str:
    if cell.grade_id.endswith("_errors"):
        return "validation"
    if not incell.calls_of(nb, cell) & incell.solution_functions(nb):
        return "constant"
    return "implementation"


def table() -> dict[str, dict[str, float]]:
    out = {}
    for aid in cases.ASSIGNMENTS:
        nb = incell.notebook(aid)
        row = {"implementation": 0.0, "constant": 0.0, "validation": 0.0}
        for cell in incell.graded_cells(nb):
            row[kind(nb, cell)] += cell.points
        out[aid] = row
    return out


def test_validation_is_at_most_a_tenth_of_the_course():
    rows = table()
    total = sum(sum(r.values()) for r in rows.values())
    validation = sum(r["validation"] for r in rows.values())
    assert validation <= 0.10 * total, f"ValueError paths are worth {validation} of {total} points (> 10 %): {rows}"


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_layer_implementations_carry_each_notebook(aid):
    row = table()[aid]
    total = sum(row.values())
    assert row["implementation"] >= 0.5 * total, f"{aid}: implementations worth {row['implementation']} of {total}"
    assert row["constant"] < row["implementation"], f"{aid}: constants outweigh the implementations: {row}"


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_headers_agree_with_the_metadata(aid):
    nb = incell.notebook(aid)
    parts, current = {}, None
    for cell in nb["cells"]:
        meta = incell.meta(cell)
        match = PART.match(incell.source(cell)) if cell["cell_type"] == "markdown" else None
        if match:
            current = match.group(1)
            parts[current] = [float(match.group(2)), 0.0]
        elif meta.get("grade"):
            assert float(meta.get("points", 0)) > 0, f"{aid} {meta['grade_id']}: a test cell without points"
            assert current, f"{aid} {meta['grade_id']}: a test cell before the first part header"
            parts[current][1] += float(meta["points"])
    assert parts, f"{aid}: no '## Phần X / Part X (n điểm / points)' header"
    for letter, (stated, counted) in parts.items():
        assert stated == counted, f"{aid} part {letter}: header says {stated}, its test cells add up to {counted}"
    stated = TOTAL.search(incell.source(nb["cells"][0]))
    metadata = sum(c.points for c in incell.graded_cells(nb))
    assert stated, f"{aid}: the first cell does not state '**Tổng điểm / Total: n điểm / points**'"
    assert float(stated.group(1)) == metadata == sum(c for _, c in parts.values()), \
        f"{aid}: the header says {stated.group(1)}, the test cells' metadata adds up to {metadata}"


def test_every_function_is_worth_more_than_its_validation():
    for aid in cases.ASSIGNMENTS:
        points = {c.grade_id: c.points for c in incell.graded_cells(incell.notebook(aid))}
        for gid, value in points.items():
            if gid.endswith("_errors"):
                fn = gid[len("test_"):-len("_errors")]
                rest = sum(p for g, p in points.items() if g.startswith(f"test_{fn}_") and g != gid)
                assert rest >= 2 * value, f"{aid} {fn}: validation {value}, the rest {rest}"
