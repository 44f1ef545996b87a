"""Item analysis (course_grader.item_analysis): per test cell pass rates, grouped failure messages,
a score histogram and the flagged submissions, in one self-contained HTML file that escapes student text."""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

from course_grader import item_analysis
from course_grader.layout import CourseLayout
from course_grader import notebook
from tests.grader_course import REPO

AID = "conv1"
XSS = "<script>document.title='pwned'</script>"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def _course(tmp_path):
    """A course folder with conv1's source notebook, a run report and three students' grader reports."""
    (tmp_path / "solutions" / AID).mkdir(parents=True)
    shutil.copyfile(REPO / "solutions" / AID / f"{AID}.ipynb", tmp_path / "solutions" / AID / f"{AID}.ipynb")
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.source_directory = "solutions"\n')
    cells = notebook.test_cells(json.loads((tmp_path / "solutions" / AID / f"{AID}.ipynb").read_text()))
    first = cells[0]
    total = sum(c.points for c in cells)

    def report(sid, failing: dict, flags=()):
        parts = [{"grade_id": c.grade_id, "points": c.points, "score": 0.0 if c.grade_id in failing else c.points,
                  "message": failing.get(c.grade_id, "")} for c in cells]
        data = {"score": sum(p["score"] for p in parts), "max_score": total, "parts": parts,
                "flags": list(flags), "errors": []}
        path = tmp_path / "autograded" / sid / AID / "grader-report.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(data))

    report("ana", {})
    report("bob", {first.grade_id: f"{first.grade_id}: value of element 3 is 1.5 {XSS}"})
    report("cid", {first.grade_id: f"{first.grade_id}: value of element 7 is -2.25 {XSS}"},
           [{"cell": "relu", "line": 4, "what": "import of ctypes", "detail": XSS}])
    run = {"assignment": AID, "finished": "2026-12-01T10:00:00+00:00", "graded": {"ana": {}, "bob": {}},
           "unchanged": ["cid"], "errors": {"dan": f"refused: {XSS}"}, "not_run": []}
    (tmp_path / "grading-report").mkdir()
    (tmp_path / "grading-report" / f"{AID}.json").write_text(json.dumps(run))
    return tmp_path, cells, total


def test_message_groups_ignore_the_students_numbers():
    assert item_analysis.message_key("element 3 is 1.5") == item_analysis.message_key("element 17 is -2.25e-3")
    assert item_analysis.message_key("shape (2, 3)") != item_analysis.message_key("dtype float64 expected")


def test_item_report_counts_groups_and_escapes(tmp_path):
    root, cells, total = _course(tmp_path)
    data = item_analysis.collect(CourseLayout.load(root), AID)
    by_id = {i["grade_id"]: i for i in data["items"]}
    assert [i["grade_id"] for i in data["items"]] == [c.grade_id for c in cells], "test cells in notebook order"
    first = by_id[cells[0].grade_id]
    assert (first["n"], first["passed"]) == (3, 1), first
    assert list(first["messages"].values()) == [2], f"bob's and cid's messages are one group: {first['messages']}"
    assert all(by_id[c.grade_id]["passed"] == 3 for c in cells[1:])
    assert data["scores"]["bob"] == (total - cells[0].points, total)

    path = item_analysis.write_report(CourseLayout.load(root), AID)
    assert path == root / "reports" / f"{AID}-items.html"
    page = path.read_text(encoding="utf-8")
    tags = _Tags()
    tags.feed(page)
    assert "script" not in tags.tags, "student text must never become markup"
    assert page.count("&lt;script&gt;") >= 3, "the failure message, the flag and the refusal are shown as text"
    assert "default-src 'none'" in page, "a Content-Security-Policy forbids scripts and remote loads"
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "nothing is loaded from the network"
    assert "1/3 (33%)" in page, "the share of students passing the first test cell"
    text = " ".join(tags.text)
    assert "cid" in text and "relu" in text and "import of ctypes" in text, "the flagged submission, cell and line"
    (img,) = tags.imgs
    assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n", "an embedded PNG histogram"


def test_items_command_writes_the_report(tmp_path):
    root, _, _ = _course(tmp_path)
    r = subprocess.run([sys.executable, "-m", "course_grader", "items", AID, "--root", str(root)], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert str(root / "reports" / f"{AID}-items.html") in r.stdout
    bad = subprocess.run([sys.executable, "-m", "course_grader", "items", "../x", "--root", str(root)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown assignment" in bad.stderr, bad.stderr
