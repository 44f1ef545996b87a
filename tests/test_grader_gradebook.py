"""Gradebook safety: backup, idempotent re-runs, resume after a kill, feedback, CSV, nbgrader autograde."""
from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_grader import notebook as nbm
from tests.grader_course import (HOSTILE, REPO, gradebook_rows, make_course, make_hostile, make_submission,
                                 parse_hostile, require_sandbox, student_files)

pytestmark = pytest.mark.slow

EXPECTED = {"ana": 10.0, "cid": 0.0}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    require_sandbox()
    root = make_course(tmp_path_factory.mktemp("gradebook-course"))
    make_submission(root, "ana", "solution")
    make_submission(root, "cid", "blank")
    return root


def _env():
    return dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def grade_cli(root, *args, check=True):
    r = subprocess.run([sys.executable, "-m", "course_grader", "grade", "conv1", "--root", str(root), "--quiet",
                        *args], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, f"python -m course_grader grade failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


def test_grade_feedback_csv_and_rerun(course):
    r = grade_cli(course)
    assert "ana: 10/10" in r.stdout and "cid: 0/10" in r.stdout, r.stdout
    rows = gradebook_rows(course, EXPECTED)
    assert {s: sum(x[1] for x in v) for s, v in rows.items()} == EXPECTED, rows
    with open(course / "grades.csv", newline="") as f:
        table = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert table == EXPECTED, table
    html = (course / "feedback" / "ana" / "conv1" / "conv1.html").read_text()
    assert "conv2d_forward" in html and "check(" not in html and "BEGIN HIDDEN" not in html, \
        "feedback must show the test cells without their hidden block"
    fail_html = (course / "feedback" / "cid" / "conv1" / "conv1.html").read_text()
    assert "NotImplementedError" in fail_html, "feedback must say why a test failed"
    items = (course / "reports" / "conv1-items.html").read_text(encoding="utf-8")
    first = nbm.test_cells(json.loads((course / "solutions" / "conv1" / "conv1.ipynb").read_text()))[0].grade_id
    assert "reports/conv1-items.html" in r.stdout and first in items and "1/2 (50%)" in items, \
        "make grade ends with the item analysis: ana passes every test cell, cid none"
    files = {s: student_files(course, s) for s in EXPECTED}
    backups = sorted(course.glob("gradebook.db.backup-*"))
    assert backups, "no gradebook backup was made before the run"

    # a second run changes nothing and skips both students
    r = grade_cli(course, "--no-feedback")
    assert "graded 0, unchanged since the last run 2" in r.stdout, r.stdout
    assert gradebook_rows(course, EXPECTED) == rows
    # a forced run regrades with the same hidden inputs: byte-identical results
    grade_cli(course, "--no-feedback", "--force")
    assert gradebook_rows(course, EXPECTED) == rows
    assert {s: student_files(course, s) for s in EXPECTED} == files, "a forced re-run changed autograded files"
    # the backup taken before the last run holds the scores of the run before it
    last = sorted(course.glob("gradebook.db.backup-*"))[-1]
    db = sqlite3.connect(str(last))
    try:
        total = db.execute("SELECT SUM(auto_score) FROM grade").fetchone()[0]
    finally:
        db.close()
    assert total == 10.0, f"the backup {last.name} holds a total of {total}, expected 10"


def test_kill_mid_run_then_resume(tmp_path_factory):
    require_sandbox()
    root = make_course(tmp_path_factory.mktemp("resume-course"))
    make_submission(root, "a1", "solution")
    make_submission(root, "a2", "blank")
    # z9 is graded last (students go in name order, one worker) and hangs in its first cell
    make_submission(root, "z9", "solution", extra=[("extra-first", "import time\ntime.sleep(600)\n")])
    cmd = [sys.executable, "-m", "course_grader", "grade", "conv1", "--root", str(root), "--quiet", "--workers", "1",
           "--no-feedback"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    reports = [root / "autograded" / s / "conv1" / "grader-report.json" for s in ("a1", "a2")]
    deadline = time.monotonic() + 300
    while not all(p.is_file() for p in reports) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert all(p.is_file() for p in reports), f"a1 and a2 were not recorded: {proc.poll()} {proc.stderr.read()[-2000:]}"
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rows = gradebook_rows(root, {"a1", "a2", "z9"})
    assert sum(x[1] for x in rows["a1"]) == 10 and sum(x[1] for x in rows["a2"]) == 0, rows
    assert all(x[1] is None for x in rows.get("z9", [])), f"z9 has scores although it was never graded: {rows['z9']}"
    # the re-run keeps a1 and a2 and finishes z9 (without the hang: the student resubmits)
    make_submission(root, "z9", "solution")
    r = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "graded 1, unchanged since the last run 2" in r.stdout, r.stdout
    rows = gradebook_rows(root, {"a1", "a2", "z9"})
    assert {s: sum(x[1] for x in v) for s, v in rows.items()} == {"a1": 10.0, "a2": 0.0, "z9": 10.0}, rows


def test_nbgrader_autograde_is_hardened(tmp_path_factory):
    """`nbgrader autograde conv1` (the course's nbgrader_config.py) gives the sandboxed verdicts."""
    require_sandbox()
    root = make_course(tmp_path_factory.mktemp("nbgrader-course"))
    expected = {"ana": 10.0}
    make_submission(root, "ana", "solution")
    for name in ("h01_patch_allclose", "h05_ast_transformer", "h12_write_gradebook", "h09_extra_cells_redefine_check"):
        info = parse_hostile(HOSTILE / f"{name}.py", {"COURSE": str(root), "PORT": "9"})
        make_hostile(root, name, info)
        expected[name] = info["expected"]
    r = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", "conv1", "--force"], cwd=root,
                       env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"nbgrader autograde failed:\n{r.stderr[-4000:]}"
    rows = gradebook_rows(root, expected)
    got = {s: sum((x[1] or 0) for x in v) for s, v in rows.items()}
    assert got == expected, f"nbgrader autograde scores {got}, expected {expected}"
    assert "FLAGGED h01_patch_allclose" in r.stderr, "nbgrader's log must name the flagged submissions"
    report = json.loads((root / "autograded" / "h05_ast_transformer" / "conv1" / "grader-report.json").read_text())
    assert any("IPython hooks" in f["what"] for f in report["flags"]), report["flags"]
