"""How the course's points are spread: layer implementations carry each notebook, input validation little.

One table, three sources that must agree: cases.SPECS (what the grader counts), the nbgrader metadata
of the test cells, and the headers students read (``**Tổng điểm / Total: n**`` and
``## Phần X / Part X (n điểm / points)``).  A test cell is *validation* when its grade_id ends in
``_errors`` (the ValueError paths), a *constant* when every case reads a variable, otherwise an
*implementation* of a layer or formula.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from course_grader import cases

ROOT = Path(__file__).resolve().parents[1]
PART = re.compile(r"^## Phần ([A-Z]) / Part \1 \((\d+) điểm / points\)", re.M)


def kind(grade_id: str) -> str:
    if grade_id.endswith("_errors"):
        return "validation"
    if all(c.args is None for c in cases.SPECS[grade_id].cases(cases.DEFAULT_SEED)):
        return "constant"
    return "implementation"


def table() -> dict[str, dict[str, float]]:
    out = {}
    for aid in cases.ASSIGNMENTS:
        row = {"implementation": 0.0, "constant": 0.0, "validation": 0.0}
        for gid, spec in cases.specs_for(aid).items():
            row[kind(gid)] += spec.points
        out[aid] = row
    return out


def notebook(aid: str) -> dict:
    return json.loads((ROOT / "solutions" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))


def text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


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
def test_headers_metadata_and_specs_agree(aid):
    nb = notebook(aid)
    specs = cases.specs_for(aid)
    parts, current = {}, None
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        match = PART.match(text(cell)) if cell["cell_type"] == "markdown" else None
        if match:
            current = match.group(1)
            parts[current] = [float(match.group(2)), 0.0]
        elif meta.get("grade"):
            gid = meta["grade_id"]
            assert float(meta["points"]) == specs[gid].points, f"{aid} {gid}: metadata {meta['points']} != SPECS"
            assert current, f"{aid} {gid}: a test cell before the first part header"
            parts[current][1] += float(meta["points"])
    for letter, (stated, counted) in parts.items():
        assert stated == counted, f"{aid} part {letter}: header says {stated}, its test cells add up to {counted}"
    stated = re.search(r"Tổng điểm / Total: (\d+(?:\.\d+)?) điểm / points", text(nb["cells"][0]))
    assert stated and float(stated.group(1)) == cases.total_points(aid) == sum(c for _, c in parts.values())


def test_every_function_is_worth_more_than_its_validation():
    for gid in cases.SPECS:
        if gid.endswith("_errors"):
            fn = gid[len("test_"):-len("_errors")]
            rest = sum(s.points for g, s in cases.SPECS.items() if g.startswith(f"test_{fn}_") and g != gid)
            assert rest >= 2 * cases.SPECS[gid].points, f"{fn}: validation {cases.SPECS[gid].points}, the rest {rest}"
