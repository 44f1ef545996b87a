"""The course's gradebook through nbgrader's own ``Gradebook`` API: records, backups, what still stands.

The grading run is the only writer: :func:`record` writes one student's files and
scores all or nothing, one transaction per student.  Reads (is an earlier result
still good, the due date, a student's extension) go through a read-only
``Gradebook`` session, so that they can run inside ``nbgrader autograde`` while
nbgrader itself holds the database.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import sqlite3
import urllib.parse
import warnings
from pathlib import Path

from . import fingerprint as _fp
from . import intake as _in
from . import late as _late
from .layout import CourseLayout

GRADER_VERSION = "1"


@contextlib.contextmanager
def open_gradebook(layout: CourseLayout, readonly: bool = False):
    """nbgrader's ``Gradebook`` of the course; ``readonly`` opens the sqlite file with ``mode=ro``.

    nbgrader's own SQLAlchemy warnings (autoflush, relationship overlaps) are silenced.
    """
    from nbgrader.api import Gradebook
    url, course = layout.db_url, layout.course_id
    if readonly:
        # course_id "" makes Gradebook look the course up without adding it (no write)
        url, course = f"sqlite:///file:{urllib.parse.quote(str(layout.db_path()))}?mode=ro&uri=true", ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gb = Gradebook(url, course)
        try:
            yield gb
        finally:
            gb.close()


@contextlib.contextmanager
def _reading(layout: CourseLayout, gb=None):
    """``gb`` when given, else a read-only gradebook (``None`` when the course has no database yet)."""
    if gb is not None:
        yield gb
    elif not layout.db_path().is_file():
        yield None
    else:
        with open_gradebook(layout, readonly=True) as ro:
            yield ro


def has_notebook(layout: CourseLayout, aid: str) -> bool:
    """Whether ``nbgrader generate_assignment`` registered the notebook ``<aid>`` of assignment ``aid``."""
    from nbgrader.api import MissingEntry
    with _reading(layout) as gb:
        if gb is None:
            return False
        try:
            gb.find_notebook(aid, aid)
            return True
        except MissingEntry:
            return False


def ensure_assignment(layout: CourseLayout, aid: str):
    if not has_notebook(layout, aid):
        raise SystemExit(f"grade: the gradebook has no assignment {aid!r}: run `make assignments` "
                         f"(nbgrader generate_assignment) first")


def backup_gradebook(layout: CourseLayout, keep: int = 5) -> Path | None:
    """A consistent copy (sqlite backup API) of gradebook.db before a run; keeps the last ``keep``."""
    db = layout.db_path()
    if not db.is_file():
        return None
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    dest = db.with_name(f"{db.name}.backup-{stamp}")
    src = sqlite3.connect(str(db))
    try:
        dst = sqlite3.connect(str(dest))
        with dst:
            src.backup(dst)
        dst.close()
    finally:
        src.close()
    os.chmod(dest, 0o600)
    olds = sorted(db.parent.glob(f"{db.name}.backup-*"))
    for old in olds[:-keep]:
        old.unlink()
    return dest


def report_of(verdict, **extra) -> dict:
    """grader-report.json of one notebook, the same on both front-ends."""
    return {**extra, "score": verdict.score, "max_score": verdict.max_score,
            "parts": [vars(p) for p in verdict.parts], "flags": verdict.flags, "errors": verdict.errors,
            "cell_errors": verdict.cell_errors}


def _timestamp(path: Path):
    text = _in.read_timestamp(path)
    if text:
        from nbgrader.utils import parse_utc
        try:
            return parse_utc(text)
        except Exception:
            return None
    return None


def record(layout: CourseLayout, verdict, sub_path: Path, gb=None, fingerprint: dict | None = None, late=None):
    """Write one student's records, all or nothing.

    The autograded notebook, ``timestamp.txt`` and the report are written to temporary names
    first (encoded so that no text can fail), then the gradebook transaction commits, then the
    files are renamed into place, the report last: a failure before the commit rolls back and
    removes the temporary files; an interruption after it leaves no report, so the next run
    grades the student again.
    """
    aid, sid = verdict.assignment, verdict.student
    out_dir = layout.root / layout.autograded / sid / aid
    report = report_of(verdict, grader=GRADER_VERSION,
                       submission_sha256=hashlib.sha256(sub_path.read_bytes()).hexdigest(),
                       fingerprint=fingerprint or {})
    files = [(f"{aid}.ipynb", _in.dumps(verdict.autograded, indent=1))]
    if _in.read_timestamp(sub_path) is not None:
        files.append(("timestamp.txt", _in.read_bounded(sub_path.parent / "timestamp.txt", 1024)))
    files.append(("grader-report.json", _in.dumps(report, indent=1)))
    temps = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in files:
            tmp = out_dir / f".{name}.tmp"
            temps.append((tmp, out_dir / name))
            tmp.write_bytes(data)
        report["late_submission_penalty"] = verdict.late_penalty = _record_scores(layout, verdict, sub_path, gb, late)
        files[-1] = ("grader-report.json", _in.dumps(report, indent=1))
        temps[-1][0].write_bytes(files[-1][1])
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in temps:
        os.replace(tmp, final)


def _record_scores(layout: CourseLayout, verdict, sub_path: Path, gb=None, late=None):
    """One gradebook transaction with the student's scores and late penalty (rolled back on any failure).

    Returns the late penalty written (``None``: none), by nbgrader's configured plugin (:mod:`.late`).
    """
    from nbgrader.api import MissingEntry
    aid, sid = verdict.assignment, verdict.student
    opened = contextlib.nullcontext(gb) if gb is not None else open_gradebook(layout)
    with warnings.catch_warnings(), opened as gb:
        warnings.simplefilter("ignore")
        try:
            gb.find_student(sid)
        except MissingEntry:
            gb.add_student(sid)
        ts = _timestamp(sub_path)
        try:
            sub = gb.find_submission(aid, sid)
        except MissingEntry:
            sub = gb.add_submission(aid, sid, timestamp=ts)
        sub.timestamp = ts
        nb_id = aid
        for v in verdict.parts:
            try:
                grade = gb.find_grade(v.grade_id, nb_id, aid, sid)
            except MissingEntry:
                continue
            grade.auto_score = float(v.score)
            grade.needs_manual_grade = False
        penalty = None
        try:
            gb.find_submission_notebook(nb_id, aid, sid).flagged = bool(verdict.flags)
            penalty = (late or _late.load(layout)).apply(gb, aid, sid, nb_id)
        except MissingEntry:
            pass
        try:
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise
    return penalty


def course_fingerprint(layout: CourseLayout, aid: str, source: dict, release: dict | None, gb=None) -> dict:
    """The :mod:`.fingerprint` entries shared by every submission of ``aid``."""
    from nbgrader.api import MissingEntry
    duedate = None
    with _reading(layout, gb) as gb:
        if gb is not None:
            try:
                duedate = gb.find_assignment(aid).duedate
            except MissingEntry:
                pass
    return _fp.course_parts(GRADER_VERSION, source, release, layout.config, duedate)


def _extension(gb, aid: str, sid: str):
    from nbgrader.api import MissingEntry
    if gb is None:
        return None
    try:
        return gb.find_submission(aid, sid).extension
    except MissingEntry:
        return None


def _submission_fp(layout: CourseLayout, aid: str, course_fp: dict, sub_path: Path, gb=None) -> dict:
    """:func:`.fingerprint.of_submission` with the student's extension from the gradebook."""
    with _reading(layout, gb) as gb:
        return _fp.of_submission(course_fp, sub_path, _extension(gb, aid, sub_path.parent.parent.name))


def submission_keys(layout: CourseLayout, aid: str, source: dict, release: dict | None, sub_path: Path,
                    course_fp: dict | None = None, gb=None) -> dict:
    """The report entries :func:`already_graded` checks: grader version, submission digest, fingerprint."""
    with _reading(layout, gb) as gb:
        course_fp = course_fp or course_fingerprint(layout, aid, source, release, gb)
        return {"grader": GRADER_VERSION, "submission_sha256": hashlib.sha256(sub_path.read_bytes()).hexdigest(),
                "fingerprint": _submission_fp(layout, aid, course_fp, sub_path, gb)}


def stale(layout: CourseLayout, aid: str, sid: str, sub_path: Path, fingerprint: dict, gb=None) -> str:
    """Why the earlier result of a submission cannot stand ("" when it can): see :func:`already_graded`."""
    try:
        report = json.loads(layout.report_path(aid, sid).read_text())
    except (OSError, ValueError):
        return "not graded yet"
    with _reading(layout, gb) as gb:
        if already_graded(layout, aid, sid, sub_path, fingerprint, report, gb) is None:
            if not isinstance(report, dict) or not isinstance(report.get("fingerprint"), dict):
                return "the earlier result does not say what it was graded against"
            return _fp.reason(_fp.changed(report.get("fingerprint"),
                                          _submission_fp(layout, aid, fingerprint, sub_path, gb)))
    return ""


def already_graded(layout: CourseLayout, aid: str, sid: str, sub_path: Path, fingerprint: dict | None = None,
                   report: dict | None = None, gb=None) -> dict | None:
    """The report of an earlier run that still stands, when the gradebook holds its scores.

    It stands when nothing its scores depend on changed (:mod:`.fingerprint`: the submission,
    the source notebook, the hidden cases, the grader, the release, nbgrader_config.py and the
    due date); ``fingerprint`` is :func:`course_fingerprint` (computed when not given).
    """
    from nbgrader.api import MissingEntry
    if report is None:
        try:
            report = json.loads(layout.report_path(aid, sid).read_text())
        except (OSError, ValueError):
            return None
    with _reading(layout, gb) as gb:
        if gb is None:
            return None
        if fingerprint is None:
            src = json.loads(layout.source_nb(aid).read_text(encoding="utf-8"))
            fingerprint = course_fingerprint(layout, aid, src, layout.release_nb(aid), gb)
        if not isinstance(report, dict) or report.get("grader") != GRADER_VERSION or \
                _fp.changed(report.get("fingerprint"), _submission_fp(layout, aid, fingerprint, sub_path, gb)):
            return None
        try:
            scores = {g.name: g.auto_score for g in gb.find_submission_notebook(aid, aid, sid).grades}
        except MissingEntry:
            return None
    for p in report.get("parts", []):
        got = scores.get(p.get("grade_id"))
        if got is None or abs(got - p["score"]) > 1e-9:
            return None
    return report


def export_grades(layout: CourseLayout, gb=None) -> Path:
    """``grades.csv`` at the course root through :class:`course_grader.lms.GradesCsvExportPlugin`."""
    from .lms import GradesCsvExportPlugin
    path = layout.root / "grades.csv"
    plugin = GradesCsvExportPlugin(to=str(path), course_root=str(layout.root), autograded=layout.autograded)
    with _reading(layout, gb) as gb:
        if gb is None:
            raise SystemExit(f"grade: no gradebook at {layout.db_path()}")
        plugin.export(gb)
    return path


def export_csv(layout: CourseLayout, aid: str | None = None) -> Path:
    """Old name of :func:`export_grades` (every assignment of the gradebook; ``aid`` is not needed)."""
    return export_grades(layout)
