"""No submission can stop or poison a grading run (malformed, oversized, linked or leaked notebooks).

The class tests grade one course twice through ``python -m course_grader grade``: the honest
students alone, then with a submission of every malformed kind.  Each malformed submission ends
in exactly one of a gradebook row or an error of the run's report; the honest students' rows and
files are byte-identical between the two runs; the trusted process's memory stays bounded.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_grader import intake
from tests.grader_course import (REPO, gradebook_rows, make_course, make_submission, require_sandbox,
                                 student_files)

HONEST = {"ana": 10.0, "cid": 0.0}


def _env():
    return dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


# A wrapper of `python -m course_grader` that prints the trusted process's own peak RSS on exit.
_RSS_MAIN = ("import atexit, resource, runpy, sys\n"
             "atexit.register(lambda: sys.stderr.write('\\nMAXRSS_KB %d\\n' % "
             "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
             "sys.argv = ['course_grader'] + sys.argv[1:]\n"
             "runpy.run_module('course_grader', run_name='__main__')\n")


def grade_cli(root, *args, cwd=None, timeout=900):
    r = subprocess.run([sys.executable, "-c", _RSS_MAIN, "grade", "conv1", "--quiet", *args]
                       + ([] if cwd else ["--root", str(root)]),
                       cwd=cwd or REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    rss = [int(line.split()[1]) for line in r.stderr.splitlines() if line.startswith("MAXRSS_KB ")]
    return r, (rss[-1] if rss else None)


def _released(root) -> dict:
    return json.loads((root / "release" / "conv1" / "conv1.ipynb").read_text())


def _write(root, sid, data: bytes | str, aid="conv1") -> Path:
    path = root / "submitted" / sid / aid / f"{aid}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    (path.parent / "timestamp.txt").write_text("2026-11-28 10:00:00.000000 UTC")
    return path


def _solution_nb(root, sid) -> dict:
    return json.loads(make_submission(root, sid, "solution").read_text())


def _first(nb, kind="code", solution=None) -> dict:
    for c in nb["cells"]:
        meta = c.get("metadata", {}).get("nbgrader", {})
        if c["cell_type"] == kind and (solution is None or bool(meta.get("solution")) == solution):
            return c
    raise AssertionError(f"no {kind} cell (solution={solution}) in the notebook")


def _malformed(root) -> dict[str, tuple[str, str | float]]:
    """Write one submission of each malformed kind; return ``{student: ("row", score) | ("error", words)}``."""
    expect = {}
    rel = _released(root)
    _write(root, "m_badjson", '{"cells": [ {"cell_type": "code", "source": "x = 1"')
    expect["m_badjson"] = ("error", "not valid JSON")
    _write(root, "m_list", json.dumps([rel]))
    expect["m_list"] = ("error", "expected a JSON object")
    nb = copy.deepcopy(rel)
    nb["cells"] = {"0": nb["cells"][0]}
    _write(root, "m_cells_dict", json.dumps(nb))
    expect["m_cells_dict"] = ("error", "cells are of type dict")
    nb = copy.deepcopy(rel)
    nb["cells"].insert(1, 7)
    _write(root, "m_cell_int", json.dumps(nb))
    expect["m_cell_int"] = ("error", "cell 1 is of type int")
    nb = copy.deepcopy(rel)
    nb["cells"][0]["source"] = 42
    _write(root, "m_source_int", json.dumps(nb))
    expect["m_source_int"] = ("error", "source of cell 0 is of type int")
    nb = copy.deepcopy(rel)
    nb["cells"][0]["source"] = [1, 2, 3]
    _write(root, "m_source_ints", json.dumps(nb))
    expect["m_source_ints"] = ("error", "a list of int")
    _write(root, "m_empty", b"")
    expect["m_empty"] = ("error", "empty")
    (root / "submitted" / "m_dir" / "conv1" / "conv1.ipynb").mkdir(parents=True)
    expect["m_dir"] = ("error", "not a regular file")
    # graded as a notebook: odd metadata is the student's own, the course's cells come from the source
    nb = _solution_nb(root, "m_meta_string")
    nb["metadata"] = "kernel"
    _first(nb, "markdown")["metadata"] = "x"
    _write(root, "m_meta_string", json.dumps(nb))
    expect["m_meta_string"] = ("row", 10.0)
    nb = _solution_nb(root, "m_schema")
    for c in nb["cells"]:
        if "nbgrader" in c["metadata"]:
            c["metadata"]["nbgrader"]["schema_version"] = 99
    _write(root, "m_schema", json.dumps(nb))
    expect["m_schema"] = ("row", 10.0)
    nb = _solution_nb(root, "m_types")
    for c in nb["cells"]:
        meta = c["metadata"].get("nbgrader")
        if meta:
            meta.update(points="ten", grade="yes", locked=[1], grade_id=meta["grade_id"])
    _write(root, "m_types", json.dumps(nb))
    expect["m_types"] = ("row", 10.0)
    # oversized: refused before anything parses them
    nb = copy.deepcopy(rel)
    nb["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                        "source": "x = 1\n" * (5 * (1 << 20) // 6)})
    _write(root, "m_big_cell", json.dumps(nb))
    expect["m_big_cell"] = ("error", "over the limit of 64 KB per cell")
    nb = copy.deepcopy(rel)
    nb["cells"] += [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": f"x{i} = {i}"} for i in range(20000)]
    _write(root, "m_many_cells", json.dumps(nb))
    expect["m_many_cells"] = ("error", f"has {len(nb['cells'])} cells, over the limit of 1000")
    return expect


def _odd_but_valid(root) -> dict[str, tuple[str, float]]:
    """nbformat 3, lone surrogates in markdown and in an exception message: graded and recorded."""
    import nbformat
    expect = {}
    nb = _solution_nb(root, "v_nbformat3")
    _write(root, "v_nbformat3", json.dumps(nbformat.convert(nbformat.from_dict(nb), 3)))
    expect["v_nbformat3"] = ("row", 10.0)
    nb = _solution_nb(root, "v_surrogate_md")
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "Ghi chú \ud800 của em"})
    _write(root, "v_surrogate_md", json.dumps(nb))   # json escapes the lone surrogate as \ud800
    expect["v_surrogate_md"] = ("row", 10.0)
    nb = _solution_nb(root, "v_surrogate_err")
    nb["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                        "source": "raise ValueError('\\ud800 hỏng')"})
    _write(root, "v_surrogate_err", json.dumps(nb))
    expect["v_surrogate_err"] = ("row", 10.0)
    return expect


def _linked_and_leaked(root) -> dict[str, tuple[str, str | float]]:
    expect = {}
    sub = root / "submitted"
    os.symlink(sub / "ana", sub / "l_dir_link")
    expect["l_dir_link"] = ("error", "symbolic link")
    (sub / "l_nb_link" / "conv1").mkdir(parents=True)
    os.symlink(root / "solutions" / "conv1" / "conv1.ipynb", sub / "l_nb_link" / "conv1" / "conv1.ipynb")
    expect["l_nb_link"] = ("error", "symbolic link")
    path = make_submission(root, "l_ts_link", "solution")
    (path.parent / "timestamp.txt").unlink()
    os.symlink("/etc/hostname", path.parent / "timestamp.txt")
    expect["l_ts_link"] = ("error", "symbolic link")
    for name in ("g*", "g[a]"):
        make_submission(root, name, "blank")
        expect[name] = ("error", "student id")
    # what `nbgrader collect` copies when the exchange held a link to the instructor's notebook
    _write(root, "s_source_copy", (root / "solutions" / "conv1" / "conv1.ipynb").read_bytes())
    expect["s_source_copy"] = ("row", 0.0)
    nb = _solution_nb(root, "s_markers")
    _first(nb, solution=True)["source"] = "### BEGIN SOLUTION\n" + _first(nb, solution=True)["source"] + \
        "\n### END SOLUTION\n"
    _write(root, "s_markers", json.dumps(nb))
    expect["s_markers"] = ("row", 0.0)
    return expect


# --------------------------------------------------------------------------- the class runs
@pytest.fixture(scope="module")
def robust(tmp_path_factory):
    require_sandbox()
    root = make_course(tmp_path_factory.mktemp("robust-course"))
    make_submission(root, "ana", "solution")
    make_submission(root, "cid", "blank")
    clean, clean_rss = grade_cli(root, "--no-feedback")
    assert clean.returncode == 0, clean.stderr[-3000:]
    rows = gradebook_rows(root, HONEST)
    files = {s: student_files(root, s) for s in HONEST}
    expect = {**_malformed(root), **_odd_but_valid(root), **_linked_and_leaked(root)}
    run, run_rss = grade_cli(root, "--force")
    report = json.loads((root / "grading-report" / "conv1.json").read_text())
    return {"root": root, "rows": rows, "files": files, "expect": expect, "run": run, "report": report,
            "clean_rss": clean_rss, "run_rss": run_rss}


@pytest.mark.slow
def test_run_completes_and_reports_every_submission(robust):
    run, report = robust["run"], robust["report"]
    assert run.returncode == 0, f"one submission stopped the run (exit {run.returncode}):\n{run.stderr[-3000:]}"
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    everyone = set(HONEST) | set(robust["expect"])
    listed = set(report["graded"]) | set(report["unchanged"]) | set(report["errors"])
    assert listed == everyone, f"the run's report lists {sorted(listed ^ everyone)} wrongly"
    assert not set(report["graded"]) & set(report["errors"]), "a student is both graded and in error"
    with open(robust["root"] / "grades.csv", newline="") as f:
        table = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert {s: table.get(s) for s in HONEST} == HONEST, table
    for s in HONEST:
        assert (robust["root"] / "feedback" / s / "conv1" / "conv1.html").is_file(), f"no feedback for {s}"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["m_badjson", "m_list", "m_cells_dict", "m_cell_int", "m_source_int",
                                  "m_source_ints", "m_empty", "m_dir", "m_meta_string", "m_schema", "m_types",
                                  "m_big_cell", "m_many_cells", "v_nbformat3", "v_surrogate_md",
                                  "v_surrogate_err", "l_dir_link", "l_nb_link", "l_ts_link", "g*", "g[a]",
                                  "s_source_copy", "s_markers"])
def test_each_submission_ends_in_a_row_or_an_error(robust, kind):
    what, value = robust["expect"][kind]
    report, root = robust["report"], robust["root"]
    rows = gradebook_rows(root, {kind}).get(kind, [])
    if what == "error":
        assert kind in report["errors"], f"{kind}: expected an error in the run's report, got " \
                                         f"{report['graded'].get(kind)}"
        assert value in report["errors"][kind], f"{kind}: the error {report['errors'][kind]!r} does not say " \
                                                f"{value!r}"
        assert kind in robust["run"].stderr, f"{kind}: the CLI did not print its error"
        assert all(r[1] is None for r in rows), f"{kind} was refused but has scores {rows}"
        assert not (root / "autograded" / kind).exists(), f"{kind} was refused but has autograded files"
    else:
        assert kind in report["graded"], f"{kind}: expected a gradebook row, got error {report['errors'].get(kind)}"
        assert sum(r[1] or 0 for r in rows) == value, f"{kind}: the gradebook holds {rows}, expected {value}"
        files = student_files(root, kind)
        assert {"conv1.ipynb", "grader-report.json"} <= set(files), f"{kind}: records incomplete: {sorted(files)}"
        assert report["graded"][kind]["score"] == value


@pytest.mark.slow
def test_honest_students_byte_identical(robust):
    root = robust["root"]
    assert gradebook_rows(root, HONEST) == robust["rows"], "an honest student's rows changed next to malformed ones"
    for s in HONEST:
        assert student_files(root, s) == robust["files"][s], f"{s}'s autograded files changed"


@pytest.mark.slow
def test_trusted_memory_bounded(robust):
    """A 5 MB cell and 20,000 cells cost the trusted process what an honest student does."""
    clean, run = robust["clean_rss"], robust["run_rss"]
    assert clean and run, "the grader did not report its peak RSS"
    growth_mb = (run - clean) / 1024
    print(f"\ntrusted peak RSS: honest class {clean // 1024} MB, with the oversized submissions {run // 1024} MB")
    assert growth_mb < 300, f"the trusted process peaked at {run // 1024} MB with the oversized submissions, " \
                            f"{clean // 1024} MB for the honest class: +{growth_mb:.0f} MB (bound 300 MB)"


@pytest.mark.slow
def test_leaked_solution_flagged_and_feedback_stubbed(robust):
    root = robust["root"]
    solution_line = "return torch.clamp(x, min=0)"
    assert solution_line in (root / "solutions" / "conv1" / "conv1.ipynb").read_text(), \
        "the reference relu changed: update this test"
    for sid in ("s_source_copy", "s_markers"):
        assert "solution notebook submitted" in robust["report"]["graded"][sid]["flags"], robust["report"]["graded"][sid]
        graded = (root / "autograded" / sid / "conv1" / "conv1.ipynb").read_text()
        assert solution_line not in graded and "BEGIN SOLUTION" not in graded, f"{sid}: autograded keeps the solution"
        html = root / "feedback" / sid / "conv1" / "conv1.html"
        if html.is_file():
            text = html.read_text()
            assert solution_line not in text and "BEGIN HIDDEN" not in text, f"{sid}: feedback hands out the solution"


@pytest.mark.slow
def test_surrogates_recorded_whole(robust):
    root = robust["root"]
    for sid in ("v_surrogate_md", "v_surrogate_err"):
        text = (root / "autograded" / sid / "conv1" / "conv1.ipynb").read_text(encoding="utf-8")
        assert sid == "v_surrogate_err" or ("\ufffd" in text and "của em" in text), \
            f"{sid}: the student's markdown cell with a lone surrogate is not in the autograded notebook"
        json.loads((root / "autograded" / sid / "conv1" / "grader-report.json").read_text(encoding="utf-8"))
    # the next run finds every recorded student unchanged: nothing is left half-written
    again, _ = grade_cli(root, "--no-feedback")
    assert again.returncode == 0, again.stderr[-2000:]
    report = json.loads((root / "grading-report" / "conv1.json").read_text())
    assert not report["graded"], f"re-graded although recorded: {sorted(report['graded'])}"


# --------------------------------------------------------------------------- nbgrader autograde
@pytest.mark.slow
def test_nbgrader_autograde_isolates_students(tmp_path_factory):
    require_sandbox()
    root = make_course(tmp_path_factory.mktemp("nbgrader-robust"))
    make_submission(root, "ana", "solution")
    nb = _solution_nb(root, "bad_schema")
    for c in nb["cells"]:
        if "nbgrader" in c["metadata"]:
            c["metadata"]["nbgrader"]["schema_version"] = 99
    _write(root, "bad_schema", json.dumps(nb))
    make_submission(root, "*", "blank")
    make_submission(root, "z[a]", "blank")
    make_submission(root, "za", "solution")
    r = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", "conv1", "--force"], cwd=root,
                       env=_env(), capture_output=True, text=True, timeout=900)
    rows = gradebook_rows(root, {"ana", "bad_schema", "za", "*", "z[a]"})
    got = {s: sum((x[1] or 0) for x in v) for s, v in rows.items()}
    assert got == {"ana": 10.0, "bad_schema": 10.0, "za": 10.0}, \
        f"nbgrader autograde scores {got}:\n{r.stderr[-4000:]}"
    assert r.returncode == 0, f"nbgrader autograde failed for the class:\n{r.stderr[-4000:]}"
    assert "student id '*' refused" in r.stderr and "student id 'z[a]' refused" in r.stderr, r.stderr[-3000:]
    assert not (root / "autograded" / "*").exists() and not (root / "autograded" / "z[a]").exists()


# --------------------------------------------------------------------------- Ctrl-C and wrong folders
@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resumes(tmp_path_factory):
    require_sandbox()
    root = make_course(tmp_path_factory.mktemp("sigint-course"))
    make_submission(root, "a1", "solution")
    make_submission(root, "z9", "solution", extra=[("extra-first", "import time\ntime.sleep(600)\n")])
    before = {p.name for p in Path("/tmp").glob("grader-child-*")}
    cmd = [sys.executable, "-m", "course_grader", "grade", "conv1", "--root", str(root), "--quiet", "--workers", "1",
           "--no-feedback"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    report = root / "autograded" / "a1" / "conv1" / "grader-report.json"
    deadline = time.monotonic() + 300
    while not report.is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
    assert report.is_file(), f"a1 was not recorded: {proc.poll()}"
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does: the whole foreground group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, f"exit {proc.returncode}, expected 130:\n{err[-2000:]}"
    assert "interrupted; re-run to resume" in err and "Traceback" not in err, err[-2000:]
    left = {p.name for p in Path("/tmp").glob("grader-child-*")} - before
    assert not left, f"left behind: {left}"
    rows = gradebook_rows(root, {"a1", "z9"})
    assert sum(x[1] for x in rows["a1"]) == 10, rows
    assert all(x[1] is None for x in rows.get("z9", [])), f"z9 was never graded but has scores {rows['z9']}"
    assert not (root / "autograded" / "z9" / "conv1" / "grader-report.json").exists()
    make_submission(root, "z9", "solution")
    r = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "graded 1, unchanged since the last run 1" in r.stdout, r.stdout + r.stderr[-2000:]


def test_wrong_folder_is_one_line_and_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "course_grader", "grade", "conv1"], cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no nbgrader_config.py" in lines[0] and "--root" in lines[0], r.stderr


def test_no_submissions_is_one_line_and_exit_2(tmp_path):
    import shutil
    shutil.copyfile(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / "conv1", tmp_path / "solutions" / "conv1")
    for args in ([], ["--student", "nobody"]):
        r = subprocess.run([sys.executable, "-m", "course_grader", "grade", "conv1", *args], cwd=tmp_path,
                           env=_env(), capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "no submissions of 'conv1'" in lines[0], r.stderr
    r = subprocess.run([sys.executable, "-m", "course_grader", "grade", "nosuch"], cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "unknown assignment 'nosuch'" in r.stderr, r.stderr


# --------------------------------------------------------------------------- units: intake, ids, CSV, records
@pytest.mark.parametrize("sid,ok", [("ana", True), ("nguyễn_văn-a.1", True), ("B2012345", True), ("_x", True),
                                    ("*", False), ("a?", False), ("z[a]", False), (".hidden", False),
                                    ("-rf", False), ("a/b", False), ("a b", False), ("", False), ("=2+3", False),
                                    ("x" * 129, False)])
def test_student_ids(sid, ok):
    why = intake.check_student_id(sid)
    assert (why == "") == ok, f"check_student_id({sid!r}) = {why!r}, expected {'accepted' if ok else 'refused'}"
    if not ok:
        assert repr(sid) in why and "plain name" in why


def test_intake_limits_name_the_limit_and_the_size(tmp_path):
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "source": "x = 1\n" * 60000}
    with pytest.raises(intake.Refused, match=r"cell 0 holds 352 KB of source, over the limit of 64 KB per cell"):
        intake.normalize({"cells": [cell], "nbformat": 4})
    path = tmp_path / "big.ipynb"
    path.write_bytes(b" " * (intake.LIMITS.file_bytes + 10))
    with pytest.raises(intake.Refused, match=r"16\.0 MB, over the limit of 16\.0 MB"):
        intake.read_submission(path)
    small = intake.IntakeLimits(cells=3)
    with pytest.raises(intake.Refused, match="has 4 cells, over the limit of 3"):
        intake.normalize({"cells": [dict(cell, source="x")] * 4}, small)


def test_intake_drops_outputs_and_keeps_typed_metadata():
    nb = {"nbformat": 4, "metadata": "odd", "cells": [
        {"cell_type": "code", "source": ["a = 1\n", "b = 2"], "metadata": "str",
         "outputs": [{"output_type": "stream", "text": "x" * 1000}]},
        {"cell_type": "code", "source": "c", "metadata": {"nbgrader": {"grade_id": "relu", "points": "ten",
                                                                       "grade": True, "schema_version": "3"}}},
        {"cell_type": "markdown", "source": "\ud800", "metadata": {"nbgrader": ["not", "a", "dict"]}}]}
    out = intake.normalize(nb)
    assert out["cells"][0] == {"cell_type": "code", "metadata": {}, "source": "a = 1\nb = 2", "outputs": [],
                               "execution_count": None}
    assert out["cells"][1]["metadata"]["nbgrader"] == {"grade_id": "relu", "grade": True}
    assert out["cells"][2] == {"cell_type": "markdown", "metadata": {}, "source": "\ufffd"}
    assert out["metadata"] == {}
    intake.dumps(nb)  # never fails on a lone surrogate


def test_intake_upgrades_nbformat3_like_nbgrader():
    import nbformat
    rel = json.loads((REPO / "solutions" / "conv1" / "conv1.ipynb").read_text())
    v3 = json.loads(json.dumps(nbformat.convert(nbformat.from_dict(rel), 3)))
    assert v3["nbformat"] == 3 and "worksheets" in v3
    got, want = intake.normalize(v3), intake.normalize(rel)
    assert [(c["cell_type"], c["source"], c["metadata"].get("nbgrader")) for c in got["cells"]] == \
        [(c["cell_type"], c["source"], c["metadata"].get("nbgrader")) for c in want["cells"]]


def test_parse_cell_is_shared_and_tolerant():
    a = intake.parse_cell("def f(x):\n    return x\n%time f(1)\n")
    assert a is intake.parse_cell("def f(x):\n    return x\n%time f(1)\n"), "the second parse was not shared"
    assert [type(n).__name__ for n in a.body] == ["FunctionDef", "Pass"]
    assert intake.parse_cell("def (:") is None
    assert intake.parse_cell("(" * 5000 + ")" * 5000) is None


def test_solution_markers_and_source_copy():
    src = json.loads((REPO / "solutions" / "conv1" / "conv1.ipynb").read_text())
    assert "solution markers" in intake.solution_leak(src, src)
    assert "byte-identical" in intake.solution_leak({"cells": []}, src, "ab", "ab")
    rel_like = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}]}
    assert intake.solution_leak(rel_like, src) == ""
    names_it = {"cells": [{"cell_type": "code", "metadata": {},
                           "source": "if 'BEGIN SOLUTION' in text:  # BEGIN SOLUTION of someone else\n    pass"}]}
    assert intake.solution_leak(names_it, src) == "", "code that only mentions the marker is not the source"
    pasted = {"cells": [{"cell_type": "code", "metadata": {}, "source": "def f():\n    ## BEGIN SOLUTION\n    pass"}]}
    assert "solution markers" in intake.solution_leak(pasted, src)
    # restored test cells (nbgrader restores hidden tests into locked cells) are not the student's
    locked = {"cells": [{"cell_type": "code", "source": "### BEGIN HIDDEN TESTS",
                         "metadata": {"nbgrader": {"grade": True, "solution": False, "locked": True}}}]}
    assert intake.solution_leak(locked, src, student_cells_only=True) == ""
    assert intake.solution_leak(locked, src) != ""


def _gradebook(tmp_path, ids, monkeypatch):
    import warnings
    from nbgrader.api import Gradebook
    monkeypatch.setenv("PATH", _env()["PATH"])  # nbgrader creates the database with its `alembic` command
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with warnings.catch_warnings(), Gradebook(url) as gb:
        warnings.simplefilter("ignore")
        gb.add_assignment("conv1")
        for sid in ids:
            gb.add_student(sid)
            gb.add_submission("conv1", sid)
    return url


FORMULAS = ["=2+3", "+1", "@SUM(A1)", "-2+3", "\t=1", "\r=1", "=HYPERLINK(\"http://x\",\"y\")"]


def test_grades_csv_is_spreadsheet_safe(tmp_path, monkeypatch):
    from course_grader.grade import CourseLayout, export_csv
    url = _gradebook(tmp_path, FORMULAS + ["ana"], monkeypatch)
    layout = CourseLayout(tmp_path, db_url=url)
    with open(export_csv(layout, "conv1"), newline="", encoding="utf-8") as f:
        ids = [r["student_id"] for r in csv.DictReader(f)]
    assert sorted(ids) == sorted(["'" + s for s in FORMULAS] + ["ana"]), ids
    # a second export keeps the escaped rows of other assignments as they are
    with open(export_csv(layout, "conv1"), newline="", encoding="utf-8") as f:
        assert sorted(r["student_id"] for r in csv.DictReader(f)) == sorted(ids)


def test_nbgrader_export_is_spreadsheet_safe(tmp_path, monkeypatch):
    import warnings
    from nbgrader.api import Gradebook
    from course_grader.nbgrader_plugin import SafeCsvExportPlugin
    url = _gradebook(tmp_path, FORMULAS, monkeypatch)
    dest = tmp_path / "export.csv"
    with warnings.catch_warnings(), Gradebook(url) as gb:
        warnings.simplefilter("ignore")
        SafeCsvExportPlugin(to=str(dest)).export(gb)
    with open(dest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["student_id"] for r in rows) == sorted("'" + s for s in FORMULAS), rows
    assert all(not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values()) for r in rows)


def test_finish_notebook_survives_forged_part_records():
    """A notebook whose parts returned nothing (lost or refused records) scores 0, never raises."""
    from course_grader.grade import TestOutcome, finish_notebook, prepare_notebook
    src = json.loads((REPO / "solutions" / "conv1" / "conv1.ipynb").read_text())
    p = prepare_notebook(src, src, "ana", "conv1", b"k" * 32)
    # cell errors and events come through the sandbox's decoder as strings and dicts
    v = finish_notebook(p, TestOutcome([{"cell": "1", "error": "E", "message": "\ud800"}], [], [], "lost"))
    assert v.score == 0 and len(v.parts) == len(p.plans), [(x.grade_id, x.score, x.message) for x in v.parts]
    intake.dumps(v.autograded)


def test_repair_cell_metadata_per_student(tmp_path):
    import nbformat
    from traitlets.config import Config
    from course_grader.nbgrader_plugin import RepairCellMetadata
    (tmp_path / "solutions" / "conv1").mkdir(parents=True)
    src = json.loads((REPO / "solutions" / "conv1" / "conv1.ipynb").read_text())
    (tmp_path / "solutions" / "conv1" / "conv1.ipynb").write_text(json.dumps(src))
    nb = nbformat.from_dict(copy.deepcopy(src))
    known = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    known.metadata.nbgrader.schema_version = 99
    unknown = nbformat.from_dict({"cell_type": "code", "source": "x", "outputs": [], "execution_count": None,
                                  "metadata": {"nbgrader": {"grade_id": "mine", "schema_version": "3"}}})
    nb.cells.append(unknown)
    cfg = Config()
    cfg.CourseDirectory.root = str(tmp_path)
    cfg.CourseDirectory.source_directory = "solutions"
    pp = RepairCellMetadata(config=cfg)
    nb, _ = pp.preprocess(nb, {"nbgrader": {"student": "s", "assignment": "conv1", "notebook": "conv1"}})
    from nbgrader.nbgraderformat import MetadataValidator
    MetadataValidator().validate_nb(nb)  # what nbgrader's CheckCellMetadata runs: no longer raises
    assert known.metadata.nbgrader.schema_version == 3 and "nbgrader" not in nb.cells[-1].metadata


def test_refused_ids_are_excluded_from_nbgrader(tmp_path, capsys):
    from course_grader.nbgrader_plugin import refused_student_ids
    for name in ("ana", "*", "b[1]", ".x", "c"):
        (tmp_path / "submitted" / name).mkdir(parents=True)
    assert refused_student_ids(tmp_path, "submitted") == "*,.x,b[1]"
    assert "student id '*' refused" in capsys.readouterr().err


@pytest.mark.slow
def test_record_is_all_or_nothing(robust, monkeypatch):
    """A failure while writing a student's records leaves neither scores nor files; a lone surrogate no longer fails."""
    from course_grader import grade as G
    from course_grader import gradebook
    from course_grader.notebook import test_cells
    root = robust["root"]
    layout = G.CourseLayout.load(root)
    path = make_submission(root, "rec1", "solution")
    source = json.loads((root / "solutions" / "conv1" / "conv1.ipynb").read_text())
    parts = [G.PartVerdict(c.grade_id, c.points, c.points, "") for c in test_cells(source)]
    parts[0].score, parts[0].message = 0.0, "sai \ud800 rồi"
    nb = json.loads(path.read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "\udcff"})
    verdict = G.NotebookVerdict("rec1", "conv1", parts, [], [{"cell": "1", "error": "E", "message": "\ud800"}], nb)

    def broken(*a, **k):
        raise RuntimeError("the database is locked")
    monkeypatch.setattr(gradebook, "_record_scores", broken)
    with pytest.raises(RuntimeError):
        G.record(layout, verdict, path)
    out = root / "autograded" / "rec1" / "conv1"
    assert not out.exists() or not list(out.iterdir()), f"files left after a failed record: {list(out.iterdir())}"
    assert all(r[1] is None for r in gradebook_rows(root, {"rec1"}).get("rec1", []))
    monkeypatch.undo()
    G.record(layout, verdict, path)
    rows = gradebook_rows(root, {"rec1"})["rec1"]
    assert sum(r[1] for r in rows) == verdict.score
    assert sorted(p.name for p in out.iterdir()) == ["conv1.ipynb", "grader-report.json", "timestamp.txt"]
    assert "\ufffd" in (out / "grader-report.json").read_text(encoding="utf-8")
