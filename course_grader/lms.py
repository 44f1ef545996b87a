"""Grade exports as nbgrader export plugins: the course's ``grades.csv``, Canvas and Moodle imports.

Each class is an ``nbgrader.plugins.ExportPlugin``, so ``nbgrader export --exporter
course_grader.lms.CanvasExportPlugin --to canvas.csv`` runs it on the course's
gradebook (``--assignment``/``--student`` select, as for nbgrader's own CSV).
Scores are nbgrader's: a submission's score already holds manual grades and
extra credit, and the late penalty recorded by nbgrader's configured late plugin
is taken off (never below 0).  Every text field goes through :func:`csv_cell`, so
that a name such as ``=HYPERLINK(...)`` is text in a spreadsheet.  The formats
followed are described, with their sources, in ``docs/lms-export.md``.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Bool, Dict, Unicode

from . import intake as _in

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A CSV field a spreadsheet shows as text: a leading ``= + - @`` tab or CR gets a ``'`` (OWASP)."""
    text = _in.clean_text(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _num(x) -> str:
    return f"{float(x or 0.0):g}"


def final_score(sub) -> tuple[float, float, float]:
    """``(score, raw score, late penalty)`` of an nbgrader submission: the penalty taken off, floored at 0."""
    raw, pen = float(sub.score or 0.0), float(sub.late_submission_penalty or 0.0)
    return max(0.0, raw - pen), raw, pen


class CourseExportPlugin(ExportPlugin):
    """What the course's exporters share: selection, the file written whole, spreadsheet-safe cells."""

    default_to = "grades.csv"
    missing_score = Unicode("0", help="The score of a student without a submission: '0' (as nbgrader's own "
                                      "export) or '' (left blank: the LMS keeps what it holds)").tag(config=True)

    def selected(self, gradebook):
        only_a = {str(a) for a in self.assignment}
        only_s = {str(s) for s in self.student}
        assignments = sorted((a for a in gradebook.assignments if not only_a or a.name in only_a),
                             key=lambda a: (a.duedate is None, a.duedate or 0, a.name))
        students = sorted((s for s in gradebook.students if not only_s or s.id in only_s), key=lambda s: s.id)
        return assignments, students

    @staticmethod
    def submissions(assignment) -> dict:
        """``{student id: submission}`` of one assignment (one query, not one per student)."""
        return {sub.student.id: sub for sub in assignment.submissions}

    def write(self, rows: list[list]) -> Path:
        dest = Path(self.to or self.default_to)
        tmp = dest.with_name(f".{dest.name}.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([[csv_cell("" if v is None else v) for v in row] for row in rows])
        os.replace(tmp, dest)
        self.log.info("Exported grades to %s (%s)", dest, type(self).__name__)
        return dest


class SafeCsvExportPlugin(CourseExportPlugin):
    """``nbgrader export`` as spreadsheet-safe CSV: nbgrader's columns, every field quoted as needed
    and a field that a spreadsheet would run as a formula (``= + - @``, tab, CR) prefixed by ``'``."""

    COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
               "raw_score", "late_submission_penalty", "score", "max_score"]

    def export(self, gradebook) -> None:
        assignments, students = self.selected(gradebook)
        rows = [self.COLUMNS]
        for a in assignments:
            subs = self.submissions(a)
            for st in students:
                sub = subs.get(st.id)
                ts, raw, pen = (sub.timestamp, sub.score, sub.late_submission_penalty or 0.0) if sub else ("", 0.0, 0.0)
                rows.append([a.name, a.duedate, ts, st.id, st.last_name, st.first_name, st.email,
                             raw, pen, max(0.0, raw - pen), a.max_score])
        self.write(rows)


class GradesCsvExportPlugin(CourseExportPlugin):
    """The course's ``grades.csv`` (written by ``make grade``): one row per submission, with the
    grader's counts of errors and flags from ``autograded/<student>/<id>/grader-report.json``."""

    COLUMNS = ["assignment", "student_id", "score", "max_score", "raw_score", "late_submission_penalty",
               "errors", "flags", "flagged"]
    course_root = Unicode("", help="Course root holding autograded/ (default: CourseDirectory.root)").tag(config=True)
    autograded = Unicode("", help="Folder of the autograded notebooks (default: CourseDirectory's)").tag(config=True)

    def _report_dir(self) -> Path:
        cd = getattr(self.parent, "coursedir", None)
        root = self.course_root or (cd.root if cd is not None else "") or os.getcwd()
        return Path(root) / (self.autograded or (cd.autograded_directory if cd is not None else "") or "autograded")

    def _report(self, base: Path, sid: str, aid: str) -> dict:
        if _in.check_student_id(sid) or _in.check_student_id(aid):
            return {}
        try:
            report = json.loads((base / sid / aid / "grader-report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return report if isinstance(report, dict) else {}

    def export(self, gradebook) -> None:
        assignments, students = self.selected(gradebook)
        wanted = {s.id for s in students}
        base = self._report_dir()
        rows = [self.COLUMNS]
        for a in sorted(assignments, key=lambda a: a.name):
            for sid, sub in sorted(self.submissions(a).items()):
                if sid not in wanted:
                    continue
                report = self._report(base, sid, a.name)
                fl = report.get("flags") if isinstance(report.get("flags"), list) else []
                errors = report.get("errors") if isinstance(report.get("errors"), list) else []
                score, raw, pen = final_score(sub)
                what = sorted({str(f.get("what", "")) for f in fl if isinstance(f, dict)})
                rows.append([a.name, sid, _num(score), _num(sub.max_score), _num(raw), _num(pen), len(errors),
                             len(fl), "; ".join(what)[:300]])
        self.write(rows)


class _LmsPlugin(CourseExportPlugin):
    parts = Bool(False, help="Also one column per graded cell (test cell or manually graded answer) of each "
                             "assignment: its score before the late penalty").tag(config=True)

    def grade_columns(self, assignments):
        """``[(assignment, cell name or None, points possible)]``: one column each, in order."""
        cols = []
        for a in assignments:
            cols.append((a, None, a.max_score))
            if self.parts:
                for nb in sorted(a.notebooks, key=lambda n: n.name):
                    cols += [(a, gc.name, gc.max_score) for gc in nb.grade_cells]
        return cols

    def grade_values(self, students, cols) -> dict:
        """``{student id: [cell value per column]}`` with the late penalty applied to assignment columns."""
        subs = {a.name: self.submissions(a) for a in {c[0] for c in cols}}
        out = {}
        for st in students:
            values, cell_scores = [], {}
            for a, cell, _ in cols:
                sub = subs[a.name].get(st.id)
                if sub is None:
                    values.append(self.missing_score)
                elif cell is None:
                    values.append(_num(final_score(sub)[0]))
                else:
                    if a.name not in cell_scores:
                        cell_scores[a.name] = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
                    values.append(_num(cell_scores[a.name].get(cell)))
            out[st.id] = values
        return out


class CanvasExportPlugin(_LmsPlugin):
    """A Canvas gradebook import CSV: ``Student, ID, SIS User ID, SIS Login ID, Section`` then one
    column per assignment, a ``Points Possible`` row, one row per student of nbgrader's roster."""

    default_to = "canvas.csv"
    section = Unicode("", help="The Section column of every row (Canvas section name)").tag(config=True)
    sis_login = Unicode("", help="What fills SIS Login ID: 'email', 'id' (nbgrader's student id) or '' "
                                 "(empty: Canvas matches on SIS User ID)").tag(config=True)
    canvas_ids = Dict({}, help="nbgrader assignment name -> Canvas assignment id: the column is then named "
                               "'<name> (<id>)' as in Canvas's own export, so the grades go to that "
                               "assignment instead of a new one").tag(config=True)

    HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]

    def _title(self, a, cell) -> str:
        name = a.name if cell is None else f"{a.name}: {cell}"
        cid = self.canvas_ids.get(a.name) if cell is None else None
        return f"{name} ({cid})" if cid else name

    def export(self, gradebook) -> None:
        assignments, students = self.selected(gradebook)
        cols = self.grade_columns(assignments)
        values = self.grade_values(students, cols)
        rows = [self.HEADER + [self._title(a, cell) for a, cell, _ in cols],
                ["Points Possible", "", "", "", ""] + [_num(p) for _, _, p in cols]]
        for st in students:
            name = ", ".join(x for x in (st.last_name, st.first_name) if x) or st.id
            login = {"email": st.email or "", "id": st.id}.get(self.sis_login, "")
            rows.append([name, st.lms_user_id or "", st.id, login, self.section] + values[st.id])
        self.write(rows)


class MoodleExportPlugin(_LmsPlugin):
    """A Moodle grade import CSV: identifier columns (``ID number``, ``Email address``; the import maps
    one of them to the user) then one column per grade item, one row per student."""

    default_to = "moodle.csv"
    HEADER = ["First name", "Last name", "ID number", "Email address"]

    def export(self, gradebook) -> None:
        assignments, students = self.selected(gradebook)
        cols = self.grade_columns(assignments)
        values = self.grade_values(students, cols)
        rows = [self.HEADER + [a.name if cell is None else f"{a.name}: {cell}" for a, cell, _ in cols]]
        for st in students:
            rows.append([st.first_name or "", st.last_name or "", st.id, st.email or ""] + values[st.id])
        self.write(rows)
