"""A throw-away nbgrader course for the grader's tests: conv1 released, students submitted.

Builds ``<tmp>/nbgrader_config.py`` (a copy of the repository's), ``solutions/conv1`` and
``release/conv1`` (nbgrader generate_assignment, which also creates the gradebook), and writes
submissions made from the released notebook: ``solution`` (the reference solution cells),
``blank`` (the released stubs) or a hostile file of ``tests/hostile/``.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HOSTILE = Path(__file__).resolve().parent / "hostile"
AID = "conv1"


def sandbox_unavailable() -> str:
    """Why the sandbox cannot run here ("" when it can)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: run `make grade-deps`"
    from course_grader.sandbox import userns_unavailable
    return userns_unavailable()


def require_sandbox():
    why = sandbox_unavailable()
    if why:
        pytest.skip(why)


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def make_course(root: Path, aid: str = AID) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / aid, root / "solutions" / aid, dirs_exist_ok=True)
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    r = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", aid, "--force"],
                       cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and (root / "release" / aid / f"{aid}.ipynb").is_file(), \
        f"nbgrader generate_assignment {aid} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return root


def solution_cells(root: Path, aid: str = AID) -> dict[str, str]:
    src = json.loads((root / "solutions" / aid / f"{aid}.ipynb").read_text())
    out = {}
    for c in src["cells"]:
        meta = c.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = "\n".join(line for line in _src(c).splitlines()
                                              if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
    return out


def parse_hostile(path: Path, subs: dict[str, str]) -> dict:
    text = path.read_text()
    for key, value in {"REPO": str(REPO), **subs}.items():
        text = text.replace("{" + key + "}", value)
    info = {"name": path.stem, "what": "", "expected": None, "edit": [], "flag": None, "sections": []}
    current = None
    for line in text.splitlines():
        m = re.match(r"# %% (replace|extra-first|extra)\s*(\S*)", line)
        if m:
            current = {"kind": m.group(1), "target": m.group(2), "lines": []}
            info["sections"].append(current)
            continue
        if current is None:
            m = re.match(r"# (what|expected|edit|flag):\s*(.*)", line)
            if m:
                key, value = m.groups()
                if key == "expected":
                    info["expected"] = float(value)
                elif key == "edit":
                    info["edit"] = value.split()
                elif key == "flag":
                    info["flag"] = "" if value.strip() == "none" else value.strip()
                else:
                    info["what"] = value
            continue
        current["lines"].append(line)
    return info


def make_submission(root: Path, student: str, mode="solution", overrides: dict | None = None,
                    extra: list[tuple[str, str]] | None = None, edit=(), aid: str = AID) -> Path:
    """Write submitted/<student>/<aid>/<aid>.ipynb from the released notebook."""
    nb = json.loads((root / "release" / aid / f"{aid}.ipynb").read_text())
    sol = solution_cells(root, aid)
    cells = []
    for c in nb["cells"]:
        c = copy.deepcopy(c)
        meta = c.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if meta.get("solution") and mode == "solution":
            c["source"] = sol[gid]
        if overrides and gid in overrides:
            c["source"] = overrides[gid]
        is_test = meta.get("grade") and not meta.get("solution")
        if is_test and "delete-tests" in edit:
            continue
        if is_test and "blank-tests" in edit:
            c["source"] = "pass"
        if meta and "tamper-metadata" in edit:
            meta["points"] = 100
            if is_test:
                meta["solution"] = True
                meta["locked"] = False
                c["source"] = "pass"
        cells.append(c)
    for where, source in extra or []:
        cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
        if where == "extra-first":
            cells.insert(0, cell)
        else:
            cells.append(cell)
    nb["cells"] = cells
    path = root / "submitted" / student / aid / f"{aid}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    (path.parent / "timestamp.txt").write_text("2026-11-28 10:00:00.000000 UTC")
    return path


def make_hostile(root: Path, student: str, info: dict) -> Path:
    overrides, extra = {}, []
    for sec in info["sections"]:
        body = "\n".join(sec["lines"]).strip("\n") + "\n"
        if sec["kind"] == "replace":
            overrides[sec["target"]] = body
        else:
            extra.append((sec["kind"], body))
    return make_submission(root, student, "solution", overrides, extra, info["edit"])


def gradebook_rows(root: Path, students, aid: str = AID) -> dict:
    """Every grade and comment row of ``students`` (plain values), straight from sqlite."""
    import sqlite3
    db = sqlite3.connect(str(root / "gradebook.db"))
    try:
        rows = db.execute(
            "SELECT submitted_assignment.student_id, base_cell.name, grade.auto_score, grade.manual_score, "
            "grade.extra_credit, grade.needs_manual_grade, submitted_notebook.flagged, submitted_assignment.timestamp "
            "FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN base_cell ON grade.cell_id = base_cell.id "
            "ORDER BY submitted_assignment.student_id, base_cell.name").fetchall()
    finally:
        db.close()
    out = {}
    for sid, cell, *values in rows:
        if sid in students:
            out.setdefault(sid, []).append((cell, *values))
    return out


def student_files(root: Path, student: str, aid: str = AID) -> dict[str, bytes]:
    d = root / "autograded" / student / aid
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()} if d.is_dir() else {}
