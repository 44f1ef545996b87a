"""Grading on the trusted side: hidden cases, verdicts, gradebook, autograded notebooks, CSV.

The verdict of a test cell is computed here, in a process in which no student
code ever ran: :func:`course_grader.cases.compare` on the plain data the
sandbox returned for inputs built here from a seed that only this side knows.
"""
from __future__ import annotations

import ast
import csv
import datetime as _dt
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import flags as _flags
from . import messages as _msg
from . import notebook as _nb
from . import policy
from .sandbox import Limits, NotebookOutcome, Zygote

GRADER_VERSION = "1"
ROOT = Path(__file__).resolve().parent.parent
SECRET_NAME = ".grader_secret"


# --------------------------------------------------------------------------- secret and seeds
def load_secret(root: Path) -> bytes:
    """The HMAC key of the hidden inputs: ``<root>/.grader_secret``, created 0600 on first use."""
    path = Path(root) / SECRET_NAME
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def seed_for(secret: bytes, student: str, assignment: str) -> int:
    """Seed of one student's hidden inputs for one assignment.

    :meth:`course_grader.cases.TestSpec.cases` mixes each test cell's grade_id
    into it, so every test cell draws its own inputs; one seed per notebook lets
    the test cells of ``forward_gpu`` share their (large) network parameters.
    """
    digest = hmac.new(secret, f"{student}\0{assignment}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# --------------------------------------------------------------------------- one notebook
@dataclass
class PartVerdict:
    grade_id: str
    points: float
    score: float
    message: str


@dataclass
class NotebookVerdict:
    student: str
    assignment: str
    parts: list[PartVerdict]
    flags: list[dict]
    cell_errors: list[dict]
    autograded: dict
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(p.score for p in self.parts)

    @property
    def max_score(self) -> float:
        return sum(p.points for p in self.parts)


def _function_sources(cells: list[dict]) -> dict[str, str]:
    """The last top-level definition of each function in the cells that run."""
    from .sandbox_child import strip_magics
    out = {}
    for cell in cells:
        text = strip_magics(cell["source"])
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[node.name] = ast.get_source_segment(text, node) or ""
    return out


def _uses_reference(cells: list[dict]) -> list[str]:
    hits = []
    for cell in cells:
        if not cell.get("student"):
            continue
        from .sandbox_child import strip_magics
        try:
            tree = ast.parse(strip_magics(cell["source"]))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(n.split(".")[0] in ("alexnet_ref", "course_grader") for n in names):
                hits.append(cell["label"])
    return hits


@dataclass
class Prepared:
    """The trusted side's half of a notebook's grading, before the sandbox runs it."""
    submission: dict
    source: dict
    student: str
    assignment: str
    cells: list
    plans: list
    parts: list
    flags: list
    t0: float


def prepare_notebook(submission: dict, source: dict, student: str, assignment: str, secret: bytes) -> Prepared:
    """Cells to run, static checks and the hidden cases (with their expected values, kept here)."""
    from . import cases as C
    from ._astlock import AST_LOCK
    t0 = time.monotonic()
    cells = _nb.cells_to_run(submission, source)
    tests = _nb.test_cells(source)
    seed = seed_for(secret, student, assignment)
    with AST_LOCK:
        trees = policy.parse_cells([c["source"] for c in cells])
        refs = _uses_reference(cells)
    plans, parts = [], []
    for tc in tests:
        spec = C.SPECS.get(tc.grade_id)
        if spec is None:
            plans.append((tc, None, [], str(_msg.say("unknown_test", name=tc.grade_id))))
            continue
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case_list = spec.cases(seed)
        with AST_LOCK:
            static = C.static_failure(tc.grade_id, spec, case_list, trees, refs)
        if static:
            plans.append((tc, spec, [], static))
            continue
        plans.append((tc, spec, case_list, ""))
        parts.append({"calls": case_list, "banned": spec.banned})
    found = _nb.tampering(submission, source) + _flags.scan_cells(cells)
    return Prepared(submission, source, student, assignment, cells, plans, parts, found, t0)


def run_prepared(zygote: Zygote, p: Prepared) -> NotebookOutcome:
    return zygote.run_notebook(p.cells, p.parts) if p.parts else NotebookOutcome([], [], [])


def finish_notebook(p: Prepared, outcome: NotebookOutcome) -> NotebookVerdict:
    """Compare what the sandbox returned with the expected values: the verdict of every test cell."""
    from . import cases as C
    verdicts, found = [], list(p.flags)
    found += _flags.runtime_flags(outcome.events)
    k = 0
    for tc, spec, case_list, static in p.plans:
        if static or spec is None:
            verdicts.append(PartVerdict(tc.grade_id, tc.points, 0.0, static))
            continue
        po = outcome.parts[k]
        k += 1
        found += _flags.runtime_flags(po.events, tc.grade_id)
        ok, message = _judge(C, tc.grade_id, case_list, po, outcome)
        verdicts.append(PartVerdict(tc.grade_id, tc.points, tc.points if ok else 0.0, "" if ok else message))
    graded = _autograded(p.submission, p.source, verdicts, outcome.cell_errors)
    return NotebookVerdict(p.student, p.assignment, verdicts, found, outcome.cell_errors, graded,
                           time.monotonic() - p.t0)


def grade_notebook(zygote: Zygote, submission: dict, source: dict, student: str, assignment: str,
                   secret: bytes) -> NotebookVerdict:
    p = prepare_notebook(submission, source, student, assignment, secret)
    return finish_notebook(p, run_prepared(zygote, p))


def _judge(C, grade_id, case_list, po, outcome) -> tuple[bool, str]:
    from . import messages as M
    if po.results is None or len(po.results) != len(case_list):
        message = M.say("no_results", why=po.problem or "—")
        if outcome.cell_errors:
            message = message + M.cell_raised(outcome.cell_errors[0])
        return False, M.part(grade_id, "", message)
    for case, actual in zip(case_list, po.results):
        try:
            ok, message = C.compare(case, actual)
        except Exception as err:  # a result shaped to break the comparison fails, never passes
            ok, message = False, M.say("not_comparable", error=type(err).__name__)
        if ok is not True:
            if isinstance(actual, tuple) and actual and actual[0] == "raised" and actual[1] == "NameError" \
                    and outcome.cell_errors:
                message = message + M.cell_raised(outcome.cell_errors[0])
            return False, M.part(grade_id, case.what, message)
    return True, ""


def _autograded(submission, source, verdicts, cell_errors) -> dict:
    nb = _nb.restored_notebook(submission, source)
    by_id = {v.grade_id: v for v in verdicts}
    for cell in nb["cells"]:
        meta = _nb._meta(cell)
        gid = meta.get("grade_id")
        if cell.get("cell_type") == "code" and gid in by_id and _nb.is_test(meta):
            v = by_id[gid]
            if v.score < v.points:
                cell["outputs"] = [{"output_type": "error", "ename": "AssertionError", "evalue": v.message,
                                    "traceback": [f"AssertionError: {v.message}"]}]
    return nb


# --------------------------------------------------------------------------- a class
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
                   cfg_file if cfg_file.is_file() else None)

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

    def query(self, sql: str, args=()) -> list:
        """A read-only query of the gradebook (sqlite3; writes go through nbgrader's Gradebook)."""
        import sqlite3
        db = sqlite3.connect(f"file:{self.db_path()}?mode=ro", uri=True)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def source_nb(self, aid: str) -> Path:
        return self.root / self.source / aid / f"{aid}.ipynb"

    def submissions(self, aid: str) -> list[tuple[str, Path]]:
        base = self.root / self.submitted
        if not base.is_dir():
            return []
        out = []
        for student in sorted(os.listdir(base)):
            p = base / student / aid / f"{aid}.ipynb"
            if p.is_file():
                out.append((student, p))
        return out


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
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Attribute) \
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


def _timestamp(path: Path):
    ts = path.parent / "timestamp.txt"
    if ts.is_file():
        from nbgrader.utils import parse_utc
        try:
            return parse_utc(ts.read_text().strip())
        except Exception:
            return None
    return None


def record(layout: CourseLayout, verdict: NotebookVerdict, sub_path: Path, gb=None):
    """Write one student's scores: a single gradebook transaction, then the autograded notebook."""
    import contextlib
    import warnings
    from nbgrader.api import Gradebook, MissingEntry
    aid, sid = verdict.assignment, verdict.student
    opened = contextlib.nullcontext(gb) if gb is not None else Gradebook(layout.db_url, layout.course_id)
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
        try:
            gb.find_submission_notebook(nb_id, aid, sid).flagged = bool(verdict.flags)
        except MissingEntry:
            pass
        gb.db.commit()
    out_dir = layout.root / layout.autograded / sid / aid
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{aid}.ipynb.tmp"
    tmp.write_text(json.dumps(verdict.autograded, indent=1, ensure_ascii=False))
    os.replace(tmp, out_dir / f"{aid}.ipynb")
    for extra in (sub_path.parent / "timestamp.txt",):
        if extra.is_file():
            (out_dir / extra.name).write_text(extra.read_text())
    report = {"grader": GRADER_VERSION, "submission_sha256": hashlib.sha256(sub_path.read_bytes()).hexdigest(),
              "score": verdict.score, "max_score": verdict.max_score,
              "parts": [vars(p) for p in verdict.parts], "flags": verdict.flags, "cell_errors": verdict.cell_errors}
    tmp = out_dir / ".grader-report.json.tmp"
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    os.replace(tmp, out_dir / "grader-report.json")


def already_graded(layout: CourseLayout, aid: str, sid: str, sub_path: Path) -> dict | None:
    """The report of an earlier run for the same submission bytes, when the gradebook holds its scores."""
    rep = layout.root / layout.autograded / sid / aid / "grader-report.json"
    try:
        report = json.loads(rep.read_text())
    except (OSError, ValueError):
        return None
    if report.get("grader") != GRADER_VERSION or \
            report.get("submission_sha256") != hashlib.sha256(sub_path.read_bytes()).hexdigest():
        return None
    rows = layout.query(
        "SELECT base_cell.name, grade.auto_score FROM grade "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
        "JOIN base_cell ON grade.cell_id = base_cell.id "
        "WHERE assignment.name = ? AND submitted_assignment.student_id = ?", (aid, sid))
    scores = dict(rows)
    for p in report.get("parts", []):
        got = scores.get(p.get("grade_id"))
        if got is None or abs(got - p["score"]) > 1e-9:
            return None
    return report


class Progress:
    def __init__(self, total: int, label: str, enabled: bool = True):
        self.total, self.done, self.label, self.enabled = total, 0, label, enabled and total > 0
        self.t0 = time.monotonic()

    def step(self, note: str = ""):
        self.done += 1
        if not self.enabled:
            return
        rate = self.done / max(time.monotonic() - self.t0, 1e-9) * 60
        width = 30
        filled = int(width * self.done / self.total)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                         f"{rate:5.1f} nb/min {note[:30]:30s}")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def grade_assignment(aid: str, root: Path | None = None, workers: int = 2, limits: Limits | None = None,
                     feedback: bool = True, progress: bool = True, force: bool = False,
                     students: list[str] | None = None) -> dict:
    """Grade every submission of ``aid``: gradebook, autograded notebooks, feedback, CSV."""
    return grade_assignments([aid], root, workers, limits, feedback, progress, force, students)[aid]


def grade_assignments(aids: list[str], root: Path | None = None, workers: int = 2, limits: Limits | None = None,
                      feedback: bool = True, progress: bool = True, force: bool = False,
                      students: list[str] | None = None) -> dict:
    """:func:`grade_assignment` for several assignments in one run (one sandbox start-up for all)."""
    import queue as _queue
    # The sandboxes import torch while this process imports nbgrader and builds the job list.
    zygotes = [Zygote(w, limits) for w in range(max(1, workers))]
    started: dict[int, BaseException | None] = {}
    for z in zygotes:  # spawned from this thread, which lives as long as the sandboxes must
        z.spawn()

    def boot(w):
        try:
            zygotes[w].wait_ready()
            started[w] = None
        except BaseException as err:
            started[w] = err

    boots = [threading.Thread(target=boot, args=(w,), daemon=True) for w in range(len(zygotes))]
    for t in boots:
        t.start()
    try:
        return {aid: _grade_assignment(aid, root, zygotes, boots, started, feedback, progress, force, students,
                                       _queue) for aid in aids}
    finally:
        for t in boots:
            t.join()
        for z in zygotes:
            z.close()


def _grade_assignment(aid, root, zygotes, boots, started, feedback, progress, force, students, _queue):
    from . import cases as C
    import alexnet_ref  # noqa: F401  (the hidden cases' expected values; import before the workers need it)
    layout = CourseLayout.load(root)
    src_path = layout.source_nb(aid)
    if aid not in C.ASSIGNMENTS or not src_path.is_file():
        raise SystemExit(f"grade: unknown assignment {aid!r} or missing {src_path}")
    _ensure_assignment(layout, aid)
    source = json.loads(src_path.read_text(encoding="utf-8"))
    secret = load_secret(layout.root)
    backup = backup_gradebook(layout)
    subs = layout.submissions(aid)
    if students is not None:
        subs = [s for s in subs if s[0] in students]
    todo, skipped = [], []
    for sid, path in subs:
        if not force and already_graded(layout, aid, sid, path):
            skipped.append(sid)
        else:
            todo.append((sid, path))
    bar = Progress(len(todo), f"grade {aid}", progress)
    ready: _queue.Queue = _queue.Queue(maxsize=4)   # prepared notebooks, ahead of the sandboxes
    done: _queue.Queue = _queue.Queue()
    verdicts: dict[str, NotebookVerdict] = {}
    errors: dict[str, str] = {}
    stop = threading.Event()

    def prepare():
        # One thread builds the hidden cases while the sandboxes run the notebooks before them.
        try:
            for sid, path in todo:
                try:
                    sub = json.loads(path.read_text(encoding="utf-8"))
                    if not isinstance(sub, dict):
                        raise ValueError("not a notebook")
                except (ValueError, UnicodeDecodeError) as err:
                    sub = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
                    errors[sid] = f"unreadable notebook: {err}"
                try:
                    item = ("job", sid, (prepare_notebook(sub, source, sid, aid, secret), path))
                except Exception as err:
                    done.put(("error", sid, f"not graded: {type(err).__name__}: {err}"))
                    continue
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.5)
                        break
                    except _queue.Full:
                        continue
        finally:
            for _ in zygotes:
                while not stop.is_set():
                    try:
                        ready.put(("end", None, None), timeout=0.5)
                        break
                    except _queue.Full:
                        continue

    def work(w: int):
        boots[w].join()
        try:
            if started.get(w) is not None:
                errors[f"worker {w}"] = f"the sandbox did not start: {started[w]}"
                return
            z = zygotes[w]
            while True:
                kind, sid, payload = ready.get()
                if kind == "end":
                    return
                prepared, path = payload
                try:
                    done.put(("verdict", sid, (finish_notebook(prepared, run_prepared(z, prepared)), path)))
                except Exception as err:
                    done.put(("error", sid, f"not graded: {type(err).__name__}: {err}"))
        finally:
            done.put(("worker-exit", w, None))

    preparer = threading.Thread(target=prepare, daemon=True)
    preparer.start()
    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(len(zygotes))]
    for t in threads:
        t.start()
    alive = len(threads)
    # This thread is the only writer of the gradebook: one transaction per student.
    import warnings
    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(layout.db_url, layout.course_id) as gb:
        warnings.simplefilter("ignore")
        while alive:
            kind, sid, payload = done.get()
            if kind == "worker-exit":
                alive -= 1
                continue
            if kind == "verdict":
                v, path = payload
                try:
                    record(layout, v, path, gb)
                    verdicts[sid] = v
                except Exception as err:
                    gb.db.rollback()
                    errors[sid] = f"not recorded: {type(err).__name__}: {err}"
            else:
                errors[sid] = payload
            bar.step(sid)
        while not done.empty():
            kind, sid, payload = done.get()
            if kind == "error":
                errors[sid] = payload
    stop.set()
    preparer.join()
    pending = [sid for sid, _ in todo if sid not in verdicts and sid not in errors]
    if pending:
        raise SystemExit(f"grade: no sandbox worker could run ({errors}); {len(pending)} submissions left")
    fb = generate_feedback(layout, aid) if feedback and subs else None
    csv_path = export_csv(layout, aid)
    return {"graded": sorted(verdicts), "skipped": skipped, "errors": errors, "backup": str(backup) if backup else None,
            "feedback": fb, "csv": str(csv_path), "verdicts": verdicts}


def _ensure_assignment(layout: CourseLayout, aid: str):
    ok = layout.db_path().is_file() and layout.query(
        "SELECT 1 FROM notebook JOIN assignment ON notebook.assignment_id = assignment.id "
        "WHERE assignment.name = ? AND notebook.name = ?", (aid, aid))
    if not ok:
        raise SystemExit(f"grade: the gradebook has no assignment {aid!r}: run `make assignments` "
                         f"(nbgrader generate_assignment) first")


def generate_feedback(layout: CourseLayout, aid: str) -> str:
    """nbgrader generate_feedback for every graded student (hidden tests cleared by its config)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    config = layout.full_config()
    cd = CourseDirectory(config=config) if config is not None else CourseDirectory()
    api = NbGraderAPI(cd, config=config)
    res = api.generate_feedback(aid, force=True)
    return "ok" if res.get("success") else f"failed: {res.get('error') or res.get('log')}"[:500]


def export_csv(layout: CourseLayout, aid: str) -> Path:
    """grades.csv at the course root: this assignment's rows replaced, other assignments kept."""
    from nbgrader.api import Gradebook
    path = layout.root / "grades.csv"
    rows = []
    if path.is_file():
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("assignment") != aid]
    import warnings
    with warnings.catch_warnings(), Gradebook(layout.db_url, layout.course_id) as gb:
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy autoflush warnings
        for sub in gb.find_assignment(aid).submissions:
            sid = sub.student.id
            rep = layout.root / layout.autograded / sid / aid / "grader-report.json"
            try:
                report = json.loads(rep.read_text())
            except (OSError, ValueError):
                report = {}
            fl = report.get("flags", [])
            rows.append({"assignment": aid, "student_id": sid, "score": f"{sub.score:g}",
                         "max_score": f"{sub.max_score:g}", "flags": len(fl),
                         "flagged": "; ".join(sorted({f['what'] for f in fl}))[:300]})
    rows.sort(key=lambda r: (r["assignment"], r["student_id"]))
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["assignment", "student_id", "score", "max_score", "flags", "flagged"])
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)
    return path
