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
        from .grade import grade_notebook, load_secret
        from .sandbox import Limits
        info = resources["nbgrader"]
        student, assignment, notebook = info["student"], info["assignment"], info["notebook"]
        root = self._root()
        source_dir = self.config.get("CourseDirectory", {}).get("source_directory") or "source"
        src_path = root / source_dir / assignment / f"{notebook}.ipynb"
        source = json.loads(src_path.read_text(encoding="utf-8"))
        limits = Limits(part_s=self.part_timeout, cells_s=self.cells_timeout)
        submission = json.loads(json.dumps(nb))  # plain dicts
        verdict = grade_notebook(_zygote(limits), submission, source, student, assignment, load_secret(root))
        by_id = {v.grade_id: v for v in verdict.parts}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            if gid in by_id and meta.get("grade") and not meta.get("solution"):
                v = by_id[gid]
                if v.score < v.points:
                    from nbformat.v4 import new_output
                    cell.outputs = [new_output("error", ename="AssertionError", evalue=v.message,
                                               traceback=[f"AssertionError: {v.message}"])]
        for f in verdict.flags:
            self.log.warning("FLAGGED %s/%s cell %s line %s: %s (%s)", student, assignment, f["cell"], f["line"],
                             f["what"], f["detail"])
        report = root / "autograded" / student / assignment / "grader-report.json"
        try:
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(json.dumps({"score": verdict.score, "max_score": verdict.max_score,
                                          "parts": [vars(p) for p in verdict.parts], "flags": verdict.flags,
                                          "cell_errors": verdict.cell_errors}, indent=1, ensure_ascii=False))
        except OSError as err:
            self.log.warning("could not write %s: %s", report, err)
        return nb, resources
