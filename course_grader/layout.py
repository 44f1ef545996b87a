"""Where a course keeps its files: nbgrader's folders as ``nbgrader_config.py`` sets them.

:class:`CourseLayout` reads the ``c.CourseDirectory.*`` settings without importing
nbgrader and finds the source and released notebooks and the submissions in
``submitted/`` (each checked by :mod:`.intake` before anything reads it).
"""
from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import intake as _in


@dataclass
class CourseLayout:
    root: Path
    source: str = "source"
    submitted: str = "submitted"
    autograded: str = "autograded"
    feedback: str = "feedback"
    db_url: str = ""
    course_id: str = ""
    config: object = None
    release: str = "release"

    @classmethod
    def load(cls, root: Path | None = None) -> "CourseLayout":
        """The course's folders from ``nbgrader_config.py`` (nbgrader's defaults otherwise).

        Reads the configuration with traitlets only: importing nbgrader costs seconds, which
        the grader spends grading while the gradebook writer imports it.
        """
        root = Path(root or os.getcwd()).resolve()
        cfg_file = root / "nbgrader_config.py"
        cd = _course_directory_settings(cfg_file) if cfg_file.is_file() else {}
        course_root = Path(cd.get("root") or root)
        return cls(course_root, cd.get("source_directory", "source"), cd.get("submitted_directory", "submitted"),
                   cd.get("autograded_directory", "autograded"), cd.get("feedback_directory", "feedback"),
                   cd.get("db_url") or f"sqlite:///{course_root / 'gradebook.db'}", cd.get("course_id", ""),
                   cfg_file if cfg_file.is_file() else None, cd.get("release_directory", "release"))

    def full_config(self):
        """nbgrader's whole configuration (executes nbgrader_config.py; imports what it imports)."""
        from traitlets.config.loader import PyFileConfigLoader
        if self.config is None:
            return None
        return PyFileConfigLoader(self.config.name, path=str(self.config.parent)).load_config()

    def db_path(self) -> Path:
        if not self.db_url.startswith("sqlite:///"):
            raise SystemExit(f"grade: only sqlite gradebooks are supported, got {self.db_url}")
        return Path(self.db_url[len("sqlite:///"):])

    def source_nb(self, aid: str) -> Path:
        return self.root / self.source / aid / f"{aid}.ipynb"

    def release_nb(self, aid: str) -> dict | None:
        """The notebook released to the students (``release/<aid>/<aid>.ipynb``), when there is one."""
        try:
            nb = json.loads((self.root / self.release / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return nb if isinstance(nb, dict) else None

    def report_path(self, aid: str, sid: str) -> Path:
        """``autograded/<student>/<aid>/grader-report.json``: the grader's verdict of one submission."""
        return self.root / self.autograded / sid / aid / "grader-report.json"

    def submissions(self, aid: str) -> list[tuple[str, Path]]:
        return self.scan_submissions(aid)[0]

    def scan_submissions(self, aid: str) -> tuple[list[tuple[str, Path]], dict[str, str]]:
        """``([(student, notebook path)], {student: why refused})`` of the folders in ``submitted/``.

        A folder counts as a submission of ``aid`` when it holds ``<aid>/`` (or is a link); it is
        refused when its name is not a plain id, when any step of its path is a symlink, when the
        notebook is missing, not a regular file or over the intake's file size limit.
        """
        base = self.root / self.submitted
        if not base.is_dir():
            return [], {}
        ok, refused = [], {}
        for student in sorted(os.listdir(base)):
            top = base / student
            if not (os.path.islink(top) or os.path.lexists(top / aid)):
                continue
            why = _in.check_submission_path(base, student, aid)
            p = top / aid / f"{aid}.ipynb"
            if not why and p.stat().st_size > _in.LIMITS.file_bytes:
                why = (f"the notebook file is {p.stat().st_size / (1 << 20):.1f} MB, over the limit of "
                       f"{_in.LIMITS.file_bytes >> 20} MB")
            if why:
                refused[student] = f"refused: {why}"
            else:
                ok.append((student, p))
        return ok, refused


_LAYOUT_KEYS = {"root", "source_directory", "release_directory", "submitted_directory", "autograded_directory",
                "feedback_directory", "db_url", "course_id"}


def _course_directory_settings(cfg_file: Path) -> dict:
    """``c.CourseDirectory.*`` of an nbgrader_config.py, without running the rest of the file.

    Only the file's imports of ``os``/``os.path`` and its ``c.CourseDirectory.<name> = ...``
    statements run (the rest may import nbconvert, seconds of start-up); anything else those
    statements need makes this fall back to loading the whole file.
    """
    from traitlets.config import Config
    tree = ast.parse(cfg_file.read_text(encoding="utf-8"))
    keep = []
    for node in tree.body:
        if isinstance(node, ast.Import) and all(a.name in ("os", "os.path") for a in node.names):
            keep.append(node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            t = node.targets[0]
            if isinstance(t, ast.Attribute) and t.attr in _LAYOUT_KEYS and isinstance(t.value, ast.Attribute) \
                    and t.value.attr == "CourseDirectory" and isinstance(t.value.value, ast.Name) \
                    and t.value.value.id == "c":
                keep.append(node)
    c = Config()
    try:
        exec(compile(ast.Module(body=keep, type_ignores=[]), str(cfg_file), "exec"),
             {"c": c, "__file__": str(cfg_file), "get_config": lambda: c})
        return dict(c.CourseDirectory)
    except Exception:
        from traitlets.config.loader import PyFileConfigLoader
        return dict(PyFileConfigLoader(cfg_file.name, path=str(cfg_file.parent)).load_config().get("CourseDirectory", {}))
