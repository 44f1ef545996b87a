"""LMS exports as nbgrader export plugins: Canvas and Moodle CSVs read back as the LMS would read them."""
from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
FORMULA = '=HYPERLINK("http://evil.example","x")'
# id, first name, last name, email, Canvas user id
ROSTER = [("ana", "Ánh", "Nguyễn Thị", "ana@uni.example", "1001"),
          ("bob", "Bob", "Late", "bob@uni.example", ""),
          ("eve", "+cmd", FORMULA, "@eve@uni.example", ""),
          ("zed", "Zed", "Absent", "zed@uni.example", "")]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A gradebook with two assignments: manual grade, late penalty, a student without a submission."""
    from nbgrader.api import Gradebook
    root = tmp_path_factory.mktemp("lms")
    os.environ["PATH"] = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])  # nbgrader's alembic
    url = f"sqlite:///{root / 'gradebook.db'}"
    due = dt.datetime(2026, 11, 28, 12, 0)
    with warnings.catch_warnings(), Gradebook(url, "course") as gb:
        warnings.simplefilter("ignore")
        for aid, cells in (("conv1", {"test_a": 4.0, "test_b": 6.0}), ("pool1", {"test_p": 5.0})):
            gb.add_assignment(aid, duedate=due)
            gb.add_notebook(aid, aid)
            for name, points in cells.items():
                gb.add_grade_cell(name, aid, aid, max_score=points, cell_type="code")
        for sid, first, last, email, lms in ROSTER:
            gb.add_student(sid, first_name=first, last_name=last, email=email, lms_user_id=lms or None)
        scores = {("ana", "conv1"): {"test_a": 4.0, "test_b": 6.0}, ("ana", "pool1"): {"test_p": 5.0},
                  ("bob", "conv1"): {"test_a": 4.0, "test_b": 3.0}, ("eve", "conv1"): {"test_a": 0.0, "test_b": 6.0}}
        for (sid, aid), cells in scores.items():
            gb.add_submission(aid, sid, timestamp=due)
            for name, value in cells.items():
                g = gb.find_grade(name, aid, aid, sid)
                g.auto_score, g.needs_manual_grade = value, False
        gb.find_grade("test_a", "conv1", "conv1", "eve").manual_score = 2.0  # the instructor's manual grade
        gb.find_submission_notebook("conv1", "conv1", "bob").late_submission_penalty = 1.5
        gb.db.commit()
    return root, url


def _export(root, url, exporter, *args) -> list[list[str]]:
    out = root / f"{exporter.rsplit('.', 1)[-1]}.csv"
    r = subprocess.run([str(BIN / "nbgrader"), "export", f"--db={url}", f"--exporter={exporter}", f"--to={out}",
                        *args], cwd=root, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")])))
    assert r.returncode == 0, f"nbgrader export --exporter={exporter} failed:\n{r.stderr[-3000:]}"
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _safe(rows):
    for row in rows:
        for v in row:
            assert not v.startswith(("=", "+", "-", "@", "\t", "\r")), f"a spreadsheet would run {v!r}"


def test_canvas_gradebook_import_csv(db):
    root, url = db
    rows = _export(root, url, "course_grader.lms.CanvasExportPlugin",
                   "--CanvasExportPlugin.canvas_ids={'conv1': '87568490'}", "--CanvasExportPlugin.section=S1")
    head, points, *students = rows
    assert head == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "conv1 (87568490)", "pool1"], head
    assert points == ["Points Possible", "", "", "", "", "10", "5"], points
    by_id = {r[2]: r for r in students}
    assert sorted(by_id) == ["ana", "bob", "eve", "zed"], "one row per student nbgrader knows"
    assert by_id["ana"] == ["Nguyễn Thị, Ánh", "1001", "ana", "", "S1", "10", "5"], by_id["ana"]
    assert by_id["bob"][5:] == ["5.5", "0"], "7 points minus the late penalty of 1.5; no pool1 submission: 0"
    assert by_id["eve"][5] == "8", "the manual grade 2 replaces the autograde 0 of test_a"
    assert by_id["eve"][0] == "'" + FORMULA + ", +cmd", by_id["eve"]
    _safe(rows)


def test_canvas_per_part_columns_and_blank_missing(db):
    root, url = db
    rows = _export(root, url, "course_grader.lms.CanvasExportPlugin", "--CanvasExportPlugin.parts=True",
                   "--CanvasExportPlugin.missing_score=", "--assignment=['conv1']")
    head, points, *students = rows
    assert head[5:] == ["conv1", "conv1: test_a", "conv1: test_b"], head
    assert points[5:] == ["10", "4", "6"], points
    by_id = {r[2]: r for r in students}
    assert by_id["bob"][5:] == ["5.5", "4", "3"], "parts before the penalty, the assignment after it"
    assert by_id["zed"][5:] == ["", "", ""], "no submission: blank, so the LMS keeps what it holds"


def test_moodle_grade_import_csv(db):
    root, url = db
    rows = _export(root, url, "course_grader.lms.MoodleExportPlugin")
    head, *students = rows
    assert head == ["First name", "Last name", "ID number", "Email address", "conv1", "pool1"], head
    by_id = {r[2]: r for r in students}
    assert by_id["ana"] == ["Ánh", "Nguyễn Thị", "ana", "ana@uni.example", "10", "5"], by_id["ana"]
    assert by_id["bob"][4:] == ["5.5", "0"] and by_id["eve"][4] == "8", (by_id["bob"], by_id["eve"])
    assert by_id["eve"][:4] == ["'+cmd", "'" + FORMULA, "eve", "'@eve@uni.example"], by_id["eve"]
    _safe(rows)


def test_grades_csv_plugin_reads_the_grader_reports(db):
    import json
    root, url = db
    rep = root / "autograded" / "bob" / "conv1" / "grader-report.json"
    rep.parent.mkdir(parents=True, exist_ok=True)
    rep.write_text(json.dumps({"flags": [{"what": "=1+1 flag"}], "errors": [{}, {}]}))
    rows = _export(root, url, "course_grader.lms.GradesCsvExportPlugin",
                   f"--GradesCsvExportPlugin.course_root={root}")
    table = {(r[0], r[1]): r for r in rows[1:]}
    assert rows[0][:6] == ["assignment", "student_id", "score", "max_score", "raw_score", "late_submission_penalty"]
    assert sorted(table) == [("conv1", "ana"), ("conv1", "bob"), ("conv1", "eve"), ("pool1", "ana")], \
        "one row per submission"
    assert table[("conv1", "bob")][2:] == ["5.5", "10", "7", "1.5", "2", "1", "'=1+1 flag"], table[("conv1", "bob")]
