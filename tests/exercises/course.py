"""A throw-away nbgrader course in a temporary folder, built from the repository's solutions.

The tests never touch the repository's gradebook.db, release/ or submitted/:
they copy ``nbgrader_config.py`` (which makes its own folder the course root)
and ``solutions/`` into a temporary folder and run stock nbgrader there.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def load(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


# Stock nbgrader's autograde preprocessors (nbgrader 0.9.6, Autograde.autograde_preprocessors).
# The repository's config may route autograde through course_grader's sandbox; these tests
# check the notebooks and cases.py against the stock workflow, so the copy restores it.
STOCK_AUTOGRADE = """
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
"""


def make_course(tmp: Path, assignments) -> Path:
    tmp = Path(tmp)
    config = (ROOT / "nbgrader_config.py").read_text(encoding="utf-8")
    (tmp / "nbgrader_config.py").write_text(config + "\n# tests: stock nbgrader\n" + STOCK_AUTOGRADE,
                                            encoding="utf-8")
    for aid in assignments:
        shutil.copytree(ROOT / "solutions" / aid, tmp / "solutions" / aid)
    return tmp


def nbgrader(course: Path, *args, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    env.pop("JUPYTER_CONFIG_DIR", None)
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


_APIS: dict = {}


def api(course: Path):
    """nbgrader's Python API for the course (in this process: no app start-up per call)."""
    course = Path(course)
    if course not in _APIS:
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        # nbgrader runs the `alembic` command next to this Python to create gradebook.db.
        os.environ["PATH"] = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        coursedir = CourseDirectory(config=config)
        assert Path(coursedir.root).resolve() == course.resolve(), coursedir.root
        _APIS[course] = NbGraderAPI(coursedir, config=config)
    return _APIS[course]


def _ok(result: dict, what: str) -> None:
    if not result["success"]:
        raise AssertionError(f"{what} failed:\n{result.get('error')}\n{(result.get('log') or '')[-3000:]}")


def release(course: Path, aid: str) -> Path:
    _ok(api(course).generate_assignment(aid, force=True, create=True), f"generate_assignment {aid}")
    path = course / "release" / aid / f"{aid}.ipynb"
    assert path.is_file(), f"generate_assignment {aid} wrote no {path}"
    return path


def solved_submission(course: Path, aid: str, replace: dict[str, str] | None = None) -> dict:
    """The released notebook with every solution cell filled from the source (as a student would).

    ``replace`` maps a solution cell's grade_id to other source code (a planted implementation).
    """
    source = {nbgrader_meta(c).get("grade_id"): c for c in load(course / "solutions" / aid / f"{aid}.ipynb")["cells"]}
    nb = load(course / "release" / aid / f"{aid}.ipynb")
    for cell in nb["cells"]:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            gid = meta["grade_id"]
            if replace and gid in replace:
                cell["source"] = replace[gid]
            else:
                src = source[gid]["source"]
                text = "".join(src) if isinstance(src, list) else src
                cell["source"] = "\n".join(l for l in text.split("\n") if "### BEGIN SOLUTION" not in l
                                           and "### END SOLUTION" not in l)
    return nb


def submit(course: Path, student: str, aid: str, nb: dict) -> None:
    folder = course / "submitted" / student / aid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{aid}.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")


def autograde(course: Path, aid: str, student: str | None = None) -> float:
    """Run stock ``nbgrader autograde`` as a command (every submitted student by default).

    Returns its wall time.  (nbgrader's in-process API left the notebooks
    unexecuted here, which scores every test cell full: the command is what
    instructors run, and each autograded notebook is checked to be executed.)
    """
    start = time.perf_counter()
    nbgrader(course, "autograde", aid, "--force", *(["--student", student] if student else []))
    elapsed = time.perf_counter() - start
    students = [student] if student else sorted(p.name for p in (course / "submitted").iterdir()
                                                if (p / aid).is_dir())
    for who in students:
        nb = load(course / "autograded" / who / aid / f"{aid}.ipynb")
        unrun = [nbgrader_meta(c).get("grade_id") for c in nb["cells"]
                 if c["cell_type"] == "code" and nbgrader_meta(c).get("grade") and c.get("execution_count") is None]
        assert not unrun, f"autograde {aid} {who}: test cells were not executed: {unrun}"
    return elapsed


def cell_scores(course: Path, aid: str, student: str) -> dict[str, float]:
    """Per test cell (grade_id) the auto score nbgrader stored in the gradebook."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(aid, aid, student)
        return {g.name: g.auto_score for g in nb.grades}


def cell_outputs(course: Path, aid: str, student: str) -> dict[str, list]:
    nb = load(course / "autograded" / student / aid / f"{aid}.ipynb")
    return {nbgrader_meta(c)["grade_id"]: c.get("outputs", []) for c in nb["cells"] if nbgrader_meta(c).get("grade")}
