"""Grades an instructor can stand behind: regrades after a change, late penalties, one verdict on both
paths, flags that mean tampering, inert student HTML, formulas that render offline.

The unit tests need no sandbox; the class below is one course graded as an instructor would, by
``python -m course_grader grade`` and by ``nbgrader autograde``, then looked at in headless chromium.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from course_grader import fingerprint, inert, notebook
from course_grader.grade import split_errors
from course_grader.late import LatePolicy
from tests.grader_course import REPO, make_course, make_submission, require_sandbox

AID = "conv1"
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Each payload sets window.pwned or document.title if it runs.
PAYLOADS = [
    '<img src="x" onerror="window.pwned=1;document.title=\'pwned\'">',
    "<script>window.pwned=2;document.title='pwned'</script>",
    '<iframe srcdoc="<script>parent.pwned=3;parent.document.title=\'pwned\'</script>"></iframe>',
    '<svg onload="window.pwned=4;document.title=\'pwned\'"><circle r="4"/></svg>',
    '<a id="jslink" href="javascript:window.pwned=5;document.title=\'pwned\'">click me</a>',
    "[md link](javascript:window.pwned=6;document.title='pwned')",
    '<details open ontoggle="window.pwned=7;document.title=\'pwned\'"><summary>s</summary></details>',
]
ORDINARY = "## Lời giải của em\n\n**Ghi chú đậm** về tích chập, với $y = \\sum_i w_i x_i + b$ và $a < b$."


def _cell(source, cell_type="code", **nbg):
    cell = {"cell_type": cell_type, "metadata": {}, "source": source}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    if nbg:
        cell["metadata"]["nbgrader"] = {"grade_id": nbg.pop("gid"), "schema_version": 3, **nbg}
    return cell


# --------------------------------------------------------------------------- units (no sandbox)
def test_inert_markdown_escapes_markup_and_keeps_words():
    for payload in PAYLOADS:
        out = inert.inert_markdown(payload)
        assert "<img" not in out and "<script" not in out and "<iframe" not in out and "<svg" not in out \
            and "<details" not in out and "javascript:" not in out, f"still live: {payload!r} -> {out!r}"
    assert inert.inert_markdown(ORDINARY) == ORDINARY, "ordinary markdown (heading, bold, math) must not change"
    assert inert.inert_markdown("<a href=\"jav&#x61;script:x\">") == "&lt;a href=\"jav&amp;#x61;script:x\">"


def test_inert_notebook_keeps_course_cells_and_drops_rich_outputs():
    reference = {"cells": [_cell("<b>course</b> text", "markdown", gid="md", locked=True, solution=False,
                                 grade=False)]}
    nb = {"metadata": {"widgets": {"state": {}}}, "cells": [
        copy.deepcopy(reference["cells"][0]),
        _cell("<b>student</b>", "markdown"),
        {"cell_type": "raw", "metadata": {"format": "text/html"}, "source": "<script>x()</script>"},
        {**_cell("print(1)"), "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<script>x()</script>",
                                                                     "text/plain": "<x>"}},
            {"output_type": "display_data", "metadata": {}, "data": {"application/javascript": "x()"}},
            {"output_type": "stream", "name": "stdout", "text": "hi"}]},
    ]}
    out = inert.inert_notebook(nb, reference)
    assert out["cells"][0]["source"] == "<b>course</b> text", "the course's own locked markdown must stay as is"
    assert out["cells"][1]["source"] == "&lt;b>student&lt;/b>"
    assert out["cells"][2]["source"].startswith("&lt;script") and "format" not in out["cells"][2]["metadata"]
    assert out["cells"][3]["outputs"] == [
        {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "<x>"}},
        {"output_type": "stream", "name": "stdout", "text": "hi"}], out["cells"][3]["outputs"]
    assert "widgets" not in out["metadata"]


def _released_test_cell(points):
    import nbformat
    from nbgrader.utils import compute_checksum
    cell = _cell("assert f(1) == 1", gid="t", grade=True, solution=False, locked=True, points=points)
    cell["metadata"]["nbgrader"]["checksum"] = compute_checksum(nbformat.from_dict(cell))
    return cell


def test_points_changed_by_a_rerelease_is_not_tampering():
    new_release = {"cells": [_released_test_cell(3)]}
    old_copy = {"cells": [_released_test_cell(2)]}     # downloaded before the instructor raised the points
    assert notebook.tampering(old_copy, new_release) == [], notebook.tampering(old_copy, new_release)
    forged = copy.deepcopy(old_copy)
    forged["cells"][0]["metadata"]["nbgrader"]["points"] = 100  # edited by hand: the checksum no longer matches
    whats = {f["what"]: f["detail"] for f in notebook.tampering(forged, new_release)}
    assert whats == {"test cell metadata changed": "points"}, whats
    unlocked = copy.deepcopy(old_copy)
    unlocked["cells"][0]["metadata"]["nbgrader"].update(locked=False, solution=True)
    assert {f["what"] for f in notebook.tampering(unlocked, new_release)} == {"test cell metadata changed"}


def test_apply_verdict_restores_a_deleted_test_cell_in_place():
    from course_grader.grade import PartVerdict
    release = {"cells": [_cell("def f(x): ...", gid="f", solution=True, grade=False, locked=False),
                         _cell("assert f(1) == 1", gid="t1", grade=True, solution=False, locked=True, points=2),
                         _cell("assert f(2) == 2", gid="t2", grade=True, solution=False, locked=True, points=1)]}
    submission = {"cells": [copy.deepcopy(release["cells"][0]), _cell("print('mine')"),
                            copy.deepcopy(release["cells"][2])]}
    parts = [PartVerdict("t1", 2, 2, ""), PartVerdict("t2", 1, 0, "t2: f(2) returned 3")]
    out = notebook.apply_verdict(submission, parts, release)
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in out["cells"]]
    assert ids == ["f", "t1", None, "t2"], ids
    assert out["cells"][1]["outputs"] == [] and out["cells"][1]["source"] == "assert f(1) == 1"
    failed = out["cells"][3]["outputs"]
    assert failed[0]["output_type"] == "error" and "returned 3" in failed[0]["evalue"], failed
    assert len(submission["cells"]) == 3, "the submission itself is left as it was"


def test_syntax_errors_and_cell_exceptions_are_errors_not_flags():
    found = [{"cell": "3", "line": 2, "what": "syntax error", "detail": "invalid syntax"},
             {"cell": "4", "line": 1, "what": "import of ctypes: ctypes (raw memory access)", "detail": ""}]
    flags, errors = split_errors(found, [{"cell": "5", "error": "ZeroDivisionError", "message": "division by zero"}])
    assert [f["what"] for f in flags] == ["import of ctypes: ctypes (raw memory access)"], flags
    assert [e["what"] for e in errors] == ["syntax error", "ZeroDivisionError raised"], errors


def test_notebook_digest_follows_points_and_locked_code_not_prose():
    src = json.loads((REPO / "solutions" / AID / f"{AID}.ipynb").read_text())
    base = fingerprint.notebook_digest(src)
    prose = copy.deepcopy(src)
    prose["cells"].append(_cell("a new remark", "markdown"))
    assert fingerprint.notebook_digest(prose) == base, "an untracked markdown cell cannot change a score"
    raised = copy.deepcopy(src)
    test = next(c for c in raised["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "test_relu_values")
    test["metadata"]["nbgrader"]["points"] += 1
    assert fingerprint.notebook_digest(raised) != base, "a change of points must change the fingerprint"
    assert fingerprint.reason(["release", "source", "submission"]) == "the submission changed"
    assert fingerprint.reason(["release", "source"]) == "the source notebook changed"


def test_a_new_extension_or_timestamp_asks_for_a_regrade(tmp_path):
    sub = tmp_path / "conv1.ipynb"
    sub.write_text("{}")
    course = {"grader": "g", "source": "s", "hidden": "h", "release": "r", "config": "c"}
    before = fingerprint.of_submission(course, sub, None)
    assert fingerprint.changed(before, fingerprint.of_submission(course, sub, None)) == []
    assert fingerprint.changed(before, fingerprint.of_submission(course, sub, "1 day, 0:00:00")) == ["extension"]
    (tmp_path / "timestamp.txt").write_text("2026-11-29 09:30:00 UTC")
    assert fingerprint.changed(before, fingerprint.of_submission(course, sub, None)) == ["submission"]


def test_late_policy_is_nbgraders_configured_plugin():
    from traitlets.config import Config
    nb = SimpleNamespace(score=7.0)
    cfg = Config()
    cfg.LateSubmissionPlugin.penalty_method = "zero"
    zero = LatePolicy(cfg)
    assert zero.penalty("s", nb, 3600.0) == 7.0 and zero.penalty("s", nb, 0.0) is None
    assert LatePolicy(Config()).penalty("s", nb, 3600.0) is None, "nbgrader's default method is 'none'"
    custom = Config()
    custom.AssignLatePenalties.plugin_class = "tests.test_grader_instructor.TenPercentPerHour"
    assert LatePolicy(custom).penalty("s", nb, 2 * 3600.0) == pytest.approx(1.4)
    assert LatePolicy(custom).penalty("s", nb, 100 * 3600.0) == 7.0, "clamped to the score, as nbgrader does"


from nbgrader.plugins import LateSubmissionPlugin  # noqa: E402


class TenPercentPerHour(LateSubmissionPlugin):
    """A course's own plugin, as an instructor would write one (``c.AssignLatePenalties.plugin_class``)."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return score * 0.1 * (total_seconds_late // 3600)


# --------------------------------------------------------------------------- one class, both paths
DUE = "2026-11-28 12:00:00 UTC"
LATE_TS = "2026-11-29 09:30:00.000000 UTC"   # make_submission stamps 2026-11-28 10:00 (on time)
EXTRA_MD = "\n\n".join(PAYLOADS)


def _env():
    return dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))


def _run(args, root, timeout=900):
    r = subprocess.run(args, cwd=root, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, args))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _grade(root, *extra):
    return _run([sys.executable, "-m", "course_grader", "grade", AID, "--root", str(root), "--quiet", *extra], REPO)


def _db(root, sql, args=()):
    import sqlite3
    db = sqlite3.connect(str(root / "gradebook.db"))
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _notebook_rows(root):
    """{student: (score, late penalty, flagged, needs manual grade)} of conv1, straight from sqlite."""
    rows = _db(root, "SELECT sa.student_id, SUM(COALESCE(g.manual_score, g.auto_score)), sn.late_submission_penalty, "
                     "sn.flagged, MAX(g.needs_manual_grade) FROM grade g "
                     "JOIN submitted_notebook sn ON g.notebook_id = sn.id "
                     "JOIN submitted_assignment sa ON sn.assignment_id = sa.id GROUP BY sa.student_id")
    return {sid: (score, pen or 0.0, bool(fl), bool(manual)) for sid, score, pen, fl, manual in rows}


def _total(root) -> float:
    """The assignment's points, from the course's source notebook."""
    src = json.loads((root / "solutions" / AID / f"{AID}.ipynb").read_text())
    return sum(float(c["metadata"]["nbgrader"].get("points", 0)) for c in src["cells"]
               if c["metadata"].get("nbgrader", {}).get("grade") and not c["metadata"]["nbgrader"].get("solution"))


def _csv(path):
    with open(path, newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def _nbgrader_export(root):
    out = root / "export.csv"
    _run([str(BIN / "nbgrader"), "export", "--to", str(out)], root)
    return {r["student_id"]: r for r in _csv(out).values() if r["assignment"] == AID}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    require_sandbox()
    root = make_course(tmp_path_factory.mktemp("instructor-course"))
    with open(root / "nbgrader_config.py", "a") as f:
        f.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    _run([str(BIN / "nbgrader"), "db", "assignment", "add", AID, f"--duedate={DUE}"], root)
    make_submission(root, "ana", "solution")
    make_submission(root, "del", "solution")
    nb_path = root / "submitted" / "del" / AID / f"{AID}.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"] = [c for c in nb["cells"]
                   if c["metadata"].get("nbgrader", {}).get("grade_id") != "test_relu_values"]
    nb_path.write_text(json.dumps(nb))
    late = make_submission(root, "late", "solution")
    (late.parent / "timestamp.txt").write_text(LATE_TS)
    xss = make_submission(root, "xss", "solution")
    nb = json.loads(xss.read_text())
    nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": ORDINARY + "\n\n" + EXTRA_MD})
    nb["cells"].insert(2, {"cell_type": "raw", "metadata": {"format": "text/html"},
                           "source": "<script>window.pwned=8;document.title='pwned'</script>"})
    xss.write_text(json.dumps(nb))
    make_submission(root, "syn", "solution", extra=[("extra", "def oops(:\n    pass\n")])
    return root


@pytest.fixture(scope="module")
def graded(course):
    return _grade(course)


def test_course_grader_one_verdict_late_penalty_errors(course, graded):
    out, full = graded.stdout, _total(course)
    for sid in ("ana", "del", "late", "xss", "syn"):
        assert f"{sid}: {full:g}/{full:g}" in out, f"{sid} should score {full:g}/{full:g} before the penalty:\n{out}"
    rows = _notebook_rows(course)
    assert rows["del"] == (full, 0.0, True, False), f"deleted test cell: restored, graded, flagged, no manual grade: " \
                                                     f"{rows['del']}"
    assert rows["late"][:2] == (full, full), f"late with penalty_method 'zero': penalty = score, got {rows['late']}"
    assert rows["ana"] == (full, 0.0, False, False), rows["ana"]
    assert rows["syn"][2] is False, "a syntax error is an honest mistake, not a flag"
    report = json.loads((course / "autograded" / "del" / AID / "grader-report.json").read_text())
    assert report["score"] == full and {f["what"] for f in report["flags"]} == {"test cell deleted"}, report
    graded_nb = json.loads((course / "autograded" / "del" / AID / f"{AID}.ipynb").read_text())
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in graded_nb["cells"]]
    assert ids.index("test_relu_values") == ids.index("relu") + 1, "the deleted test cell must come back in place"
    syn = json.loads((course / "autograded" / "syn" / AID / "grader-report.json").read_text())
    assert [e["what"] for e in syn["errors"]] == ["syntax error"] and syn["flags"] == [], syn
    line = next(x for x in out.splitlines() if x.strip().startswith("syn:"))
    assert "errors (1)" in line and "FLAGGED" not in line, out
    table = _csv(course / "grades.csv")
    assert (table["late"]["score"], table["late"]["raw_score"], table["late"]["late_submission_penalty"]) == \
        ("0", f"{full:g}", f"{full:g}"), table["late"]
    assert (table["syn"]["errors"], table["syn"]["flags"]) == ("1", "0"), table["syn"]
    assert (table["del"]["score"], table["del"]["flags"]) == (f"{full:g}", "1"), table["del"]
    export = _nbgrader_export(course)
    for sid in ("ana", "del", "late", "syn"):
        assert float(export[sid]["score"]) == float(table[sid]["score"]), (sid, export[sid], table[sid])
        assert float(export[sid]["late_submission_penalty"]) == float(table[sid]["late_submission_penalty"])


def _browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"needs Debian chromium and chromium-driver (`make system-deps`); missing {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--allow-file-access-from-files"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


def _open(driver, path: Path):
    """Load a page from disk, give scripts time, click its javascript: links; return (pwned, title, text)."""
    import time
    from selenium.webdriver.common.by import By
    driver.get(path.as_uri())
    time.sleep(1.0)
    seen = [driver.execute_script("return window.pwned || null"), driver.title,
            driver.find_element(By.TAG_NAME, "body").text]
    for link in driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript' i]"):
        try:
            link.click()
        except Exception:
            pass
    time.sleep(0.5)
    if driver.current_url == path.as_uri():
        seen[0] = seen[0] or driver.execute_script("return window.pwned || null")
        seen[1] = driver.title if driver.title == "pwned" else seen[1]
    return tuple(seen)


def _rendered_autograded(course, sid) -> Path:
    """The autograded notebook as nbconvert renders it (what formgrader shows the instructor)."""
    from nbconvert import HTMLExporter
    import nbformat
    nb = nbformat.read(str(course / "autograded" / sid / AID / f"{AID}.ipynb"), as_version=4)
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    out = course / f"{sid}-autograded.html"
    out.write_text(body, encoding="utf-8")
    return out


def test_student_html_is_inert_and_formulas_render_offline(course, graded):
    from selenium.webdriver.common.by import By
    feedback = course / "feedback" / "xss" / AID / f"{AID}.html"
    assert feedback.is_file(), "no feedback page for xss"
    html = feedback.read_text(encoding="utf-8")
    remote = re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//[^\"' >]*", html)
    assert not remote and "cdnjs" not in html, f"the feedback page loads from the network: {remote[:3]}"
    driver = _browser()
    try:
        for page in (feedback, _rendered_autograded(course, "xss")):
            pwned, title, text = _open(driver, page)
            assert pwned is None and title != "pwned", f"{page.name}: a student payload ran ({pwned}, {title!r})"
            assert "Lời giải của em" in text and "Ghi chú đậm" in text, f"{page.name}: the student's words are gone"
            assert "<script>" in text or "onerror" in text, f"{page.name}: the payload should show as text"
            heads = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h2")]
            assert any("Lời giải của em" in h for h in heads), f"{page.name}: the heading no longer renders: {heads}"
            assert driver.find_elements(By.CSS_SELECTOR, "strong, b"), f"{page.name}: bold no longer renders"
        driver.get(feedback.as_uri())
        import time
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not driver.find_elements(By.CSS_SELECTOR, "mjx-container"):
            time.sleep(0.5)
        assert driver.find_elements(By.CSS_SELECTOR, "mjx-container svg"), \
            "MathJax did not typeset the feedback's formulas offline"
        assert "$y = " not in driver.find_element(By.TAG_NAME, "body").text, "a formula is still raw TeX"
    finally:
        driver.quit()


def test_nbgrader_autograde_gives_the_same_verdicts(course, graded):
    before = _notebook_rows(course)
    before_csv = _csv(course / "grades.csv")
    _run([str(BIN / "nbgrader"), "autograde", AID, "--force"], course)
    after = _notebook_rows(course)
    assert after == before, f"nbgrader autograde {after} != course grader {before}"
    assert after["del"][:2] == before["del"][:2] and after["del"][3] is False, \
        f"nbgrader autograde on a deleted test cell: {after['del']}, course grader: {before['del']}"
    assert after["late"][:2] == before["late"][:2], f"late penalty: nbgrader {after['late']}, course {before['late']}"
    report = json.loads((course / "autograded" / "del" / AID / "grader-report.json").read_text())
    assert report["score"] == after["del"][0], report
    export = _nbgrader_export(course)
    for sid in before:
        assert float(export[sid]["score"]) == float(before_csv[sid]["score"]), (sid, export[sid], before_csv[sid])


def test_changed_points_regrade_and_no_false_flags(course, graded):
    src_path = course / "solutions" / AID / f"{AID}.ipynb"
    src = json.loads(src_path.read_text())
    full = _total(course) + 1
    for cell in src["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade_id") == "test_relu_values":
            meta["points"] += 1
    src_path.write_text(json.dumps(src, indent=1))
    _run([str(BIN / "nbgrader"), "generate_assignment", AID, "--force"], course)
    max_score = _db(course, "SELECT SUM(max_score) FROM grade_cells JOIN base_cell ON grade_cells.id = base_cell.id "
                            "JOIN notebook ON base_cell.notebook_id = notebook.id WHERE notebook.name = ?", (AID,))
    assert max_score[0][0] == full, f"the gradebook's max score after the re-release: {max_score}, not {full}"
    r = _grade(course, "--no-feedback", "--student=ana", "--student=syn")
    assert "regraded 2: the source notebook changed" in r.stdout, r.stdout
    assert f"ana: {full:g}/{full:g}" in r.stdout, r.stdout
    report = json.loads((course / "autograded" / "ana" / AID / "grader-report.json").read_text())
    assert report["flags"] == [], f"an old copy of the released notebook is not tampering: {report['flags']}"
    assert _csv(course / "grades.csv")["ana"]["score"] == f"{full:g}"
    again = _grade(course, "--no-feedback", "--student=ana")
    assert "graded 0, unchanged since the last run 1" in again.stdout, again.stdout


# --------------------------------------------------------------------------- progress
def test_progress_bar_has_rate_and_eta_on_a_terminal_only(monkeypatch):
    import io
    import pty
    from course_grader.grade import progress_bar
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
    tty = os.fdopen(slave, "w")
    try:
        monkeypatch.setattr(sys, "stderr", tty)
        with progress_bar(4, "grade conv1", True) as bar:
            for sid in ("a", "b", "c", "d"):
                bar.set_postfix_str(sid, refresh=False)
                bar.update()
        with progress_bar(4, "quiet", False) as bar:
            bar.update(4)
        tty.flush()
        out = os.read(master, 1 << 16).decode("utf-8", "replace")
    finally:
        tty.close()
        os.close(master)
    assert re.search(r"grade conv1: .*4/4 \[\d\d:\d\d<\d\d:\d\d", out), f"no count, elapsed<ETA on the terminal: {out!r}"
    assert "nb/s" in out and "quiet" not in out, out
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with progress_bar(4, "grade conv1", True) as bar:
        bar.update(4)
    assert piped.getvalue() == "", "no progress bar when stderr is not a terminal (logs, CI)"
