"""``SandboxExecute``: nbgrader's Execute preprocessor replaced by the sandboxed grader.

``nbgrader_config.py`` puts it first in ``c.Autograde.autograde_preprocessors``
(where stock nbgrader has ``Execute``), so ``nbgrader autograde <id>`` keeps its
commands, folders and gradebook, but no student code runs in the kernel that
decides the grade: the student's cells and functions run in the sandbox
(:mod:`course_grader.sandbox`), the hidden cases are compared in this process,
and each test cell gets an error output (score 0) or none (full points),
which nbgrader's ``SaveAutoGrades`` turns into the gradebook entries.
"""
from __future__ import annotations

import atexit
import json
import os
import threading
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Unicode

_ZYGOTE = None
_LOCK = threading.Lock()


def _zygote(limits):
    global _ZYGOTE
    from .sandbox import Zygote
    with _LOCK:
        if _ZYGOTE is None:
            _ZYGOTE = Zygote(0, limits)
            _ZYGOTE.start()
            atexit.register(_ZYGOTE.close)
        return _ZYGOTE


class SandboxExecute(NbGraderPreprocessor):
    """Grade the notebook in the sandbox and write the verdicts as the test cells' outputs."""

    part_timeout = Float(60.0, help="Seconds of wall time for one graded part (test cell)").tag(config=True)
    cells_timeout = Float(120.0, help="Seconds of wall time for one of the notebook's cells").tag(config=True)
    course_root = Unicode("", help="Course root (default: CourseDirectory.root, else the current folder)"
                          ).tag(config=True)

    def _root(self) -> Path:
        if self.course_root:
            return Path(self.course_root)
        cd = self.config.get("CourseDirectory", {})
        return Path(cd.get("root") or os.getcwd())

    def preprocess(self, nb, resources):
        from .grade import CourseLayout, grade_notebook, load_secret, report_of, submission_keys
        from .sandbox import Limits
        from . import intake
        info = resources["nbgrader"]
        student, assignment, notebook = info["student"], info["assignment"], info["notebook"]
        refused = intake.check_student_id(student)
        if refused:  # nbgrader reports it for this student and goes on with the others
            raise intake.Refused(refused)
        root = self._root()
        source_dir = self.config.get("CourseDirectory", {}).get("source_directory") or "source"
        src_path = root / source_dir / assignment / f"{notebook}.ipynb"
        source = json.loads(src_path.read_text(encoding="utf-8"))
        limits = Limits(part_s=self.part_timeout, cells_s=self.cells_timeout)
        submission = intake.normalize(json.loads(json.dumps(nb)))  # plain, bounded, typed (or Refused)
        release_dir = self.config.get("CourseDirectory", {}).get("release_directory") or "release"
        try:
            release = json.loads((root / release_dir / assignment / f"{notebook}.ipynb").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            release = None
        leak = intake.solution_leak(submission, source, student_cells_only=True)
        if leak:  # graded 0 and flagged without running; the notebook kept (feedback included) is the stub
            from .grade import finish_notebook, prepare_leaked, _stub_solutions
            from .sandbox import NotebookOutcome
            verdict = finish_notebook(prepare_leaked(source, student, assignment, leak, release),
                                      NotebookOutcome([], [], []))
            submission = _stub_solutions(submission)
        else:
            verdict = grade_notebook(_zygote(limits), submission, source, student, assignment, load_secret(root),
                                     release)
        # the verdict written as SaveAutoGrades reads it; deleted test cells come back from the release
        for cell in submission.get("cells", []):
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                cell["outputs"] = []
        import nbformat
        from .inert import inert_notebook
        from .notebook import apply_verdict
        graded = nbformat.from_dict(inert_notebook(apply_verdict(submission, verdict.parts, release or source),
                                                   release or source))
        nb.cells = graded.cells
        nb.metadata = graded.metadata
        for e in verdict.errors:
            self.log.warning("ERROR %s/%s cell %s line %s: %s (%s)", student, assignment, e["cell"], e["line"],
                             e["what"], e["detail"])
        for f in verdict.flags:
            self.log.warning("FLAGGED %s/%s cell %s line %s: %s (%s)", student, assignment, f["cell"], f["line"],
                             f["what"], f["detail"])
        report = root / "autograded" / student / assignment / "grader-report.json"
        try:
            report.parent.mkdir(parents=True, exist_ok=True)
            extra = {}
            sub_path = root / (self.config.get("CourseDirectory", {}).get("submitted_directory") or "submitted") / \
                student / assignment / f"{notebook}.ipynb"
            if sub_path.is_file():  # lets `make grade` skip what this run graded, until something changes
                extra = submission_keys(CourseLayout.load(root), assignment, source, release, sub_path)
            report.write_bytes(intake.dumps(report_of(verdict, **extra), indent=1))
        except OSError as err:
            self.log.warning("could not write %s: %s", report, err)
        return nb, resources


# --------------------------------------------------------------------------- per-student isolation
def refused_student_ids(root, submitted: str = "submitted", log=None) -> str:
    """``CourseDirectory.student_id_exclude`` for the folders of ``submitted/`` that are not plain ids.

    nbgrader builds glob patterns from student folder names: a folder named ``*`` or ``a[b]``
    would make it grade other students' notebooks under that name.  Such folders are excluded,
    each with a one-line message (``python -m course_grader grade`` refuses them the same way).
    """
    import sys
    from .intake import check_student_id
    base = Path(root) / submitted
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return ""
    bad = []
    for name in names:
        why = check_student_id(name)
        if why:
            bad.append(name)
            print(f"nbgrader_config: {why}; nbgrader will skip it", file=log or sys.stderr)
    return ",".join(bad)


class RepairCellMetadata(NbGraderPreprocessor):
    """First of ``Autograde.sanitize_preprocessors``: repair, per cell, what nbgrader would abort on.

    nbgrader's ``CheckCellMetadata`` raises ``SchemaTooNewError``/``SchemaTooOldError`` for one
    cell whose ``nbgrader`` metadata has another schema version, and ``nbgrader autograde`` then
    stops the whole class.  Here a cell whose metadata nbgrader's validator rejects gets the
    source notebook's metadata for its ``grade_id`` (the locked and test cells are then restored
    by ``OverwriteCells`` as usual), or, for an id the source does not know, no nbgrader metadata
    (it becomes an ordinary cell of the student).  The tampering is flagged by the grader.
    """

    def _source_meta(self, resources) -> dict:
        info = resources.get("nbgrader", {})
        cd = self.config.get("CourseDirectory", {})
        root = Path(cd.get("root") or os.getcwd())
        path = root / (cd.get("source_directory") or "source") / info.get("assignment", "") / \
            f"{info.get('notebook', '')}.ipynb"
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            return {}
        out = {}
        for cell in cells:
            meta = (cell.get("metadata") or {}).get("nbgrader")
            if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
                out.setdefault(meta["grade_id"], meta)
        return out

    def preprocess(self, nb, resources):
        import copy
        from nbformat import from_dict
        from nbgrader.nbgraderformat import MetadataValidator
        validator = MetadataValidator()
        known = None
        if not isinstance(nb.get("metadata"), dict):
            nb["metadata"] = from_dict({})
        who = "{student}/{assignment}".format(**{k: resources.get("nbgrader", {}).get(k, "?")
                                                 for k in ("student", "assignment")})
        for i, cell in enumerate(nb.cells):
            if not isinstance(cell.get("metadata"), dict):
                cell["metadata"] = from_dict({})
            if "nbgrader" not in cell.metadata:
                continue
            try:
                validator.validate_cell(cell)
                continue
            except Exception as err:
                why = f"{type(err).__name__}: {str(err)[:120]}"
            if known is None:
                known = self._source_meta(resources)
            meta = cell.metadata["nbgrader"]
            gid = meta.get("grade_id") if isinstance(meta, dict) else None
            if isinstance(gid, str) and gid in known:
                cell.metadata["nbgrader"] = from_dict(copy.deepcopy(known[gid]))
                what = f"replaced by the source's metadata of {gid!r}"
            else:
                del cell.metadata["nbgrader"]
                what = "removed (the source has no such cell)"
            self.log.warning("REPAIRED %s cell %d: invalid nbgrader metadata (%s) %s", who, i, why, what)
        return nb, resources


# moved to course_grader.lms (with the Canvas and Moodle exporters); this name keeps nbgrader_config.py working
from .lms import SafeCsvExportPlugin  # noqa: E402,F401


class InertStudentContent(Preprocessor):
    """nbconvert preprocessor: :func:`course_grader.inert.inert_notebook` against the assignment's released notebook.

    The reference is ``<CourseDirectory.root>/<release_directory>/<assignment>/<notebook>.ipynb``
    when nbgrader's resources name them; without it every markdown cell is treated as the student's.
    """

    def preprocess(self, nb, resources):
        import nbformat
        from .inert import inert_notebook
        reference = None
        info = (resources or {}).get("nbgrader") or {}
        cd = self.config.get("CourseDirectory", {})
        if info.get("assignment") and info.get("notebook"):
            path = Path(cd.get("root") or ".") / (cd.get("release_directory") or "release") / \
                info["assignment"] / f"{info['notebook']}.ipynb"
            try:
                reference = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                reference = None
        plain = json.loads(json.dumps(nb))
        out = nbformat.from_dict(inert_notebook(plain, reference))
        nb.cells = out.cells
        nb.metadata = out.metadata
        return nb, resources
