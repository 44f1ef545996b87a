"""Grading on the trusted side: verdicts, autograded notebooks and the class's grading run (a thread pool).

The gradebook is written by :mod:`.gradebook`, exported by :mod:`.lms`, the course's folders are
:mod:`.layout`; every run ends with :mod:`.item_analysis`.

The verdict of a test cell is computed here, in a process in which no student
code ever ran: :func:`course_grader.cases.compare` on the plain data the
sandbox returned for inputs built here from a seed that only this side knows.
"""
from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from . import flags as _flags
from . import inert as _inert
from . import late as _late
from . import intake as _in
from . import messages as _msg
from . import notebook as _nb
from .sandbox import Limits, NotebookOutcome, PartOutcome, Zygote
from .layout import CourseLayout, _course_directory_settings  # noqa: F401  (old import path)
from . import gradebook as _gb
from .gradebook import (GRADER_VERSION, export_csv, _record_scores, _submission_fp, already_graded,  # noqa: F401
                        backup_gradebook, course_fingerprint, record, report_of, stale, submission_keys)

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

    :func:`course_grader.testing.rng` mixes each test cell's grade_id
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
    errors: list[dict] = None  # honest errors (syntax errors, exceptions in cells): never flags
    late_penalty: float | None = None  # set when recorded (nbgrader's configured late plugin)

    def __post_init__(self):
        if self.errors is None:
            self.flags, self.errors = split_errors(self.flags, self.cell_errors)

    @property
    def score(self) -> float:
        return sum(p.score for p in self.parts)

    @property
    def max_score(self) -> float:
        return sum(p.points for p in self.parts)


def split_errors(found: list[dict], cell_errors: list[dict]) -> tuple[list[dict], list[dict]]:
    """``(flags, errors)``: a syntax error or an exception in a cell is a mistake, not tampering."""
    flags = [f for f in found if f.get("what") != "syntax error"]
    errors = [f for f in found if f.get("what") == "syntax error"]
    parsed = {e["cell"] for e in errors}  # the cell's SyntaxError at run time is the same error
    errors += [{"cell": e.get("cell", ""), "line": 0, "what": f"{e.get('error', 'error')} raised",
                "detail": str(e.get("message", ""))[:160]} for e in cell_errors
               if not (e.get("error") == "SyntaxError" and e.get("cell", "") in parsed)]
    return flags, errors


def _uses_reference(cells: list[dict]) -> list[str]:
    hits = []
    for cell in cells:
        if not cell.get("student"):
            continue
        tree = _in.parse_cell(cell["source"])
        if tree is None:
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
    """The trusted side's half of a notebook's grading, before the sandbox runs it.

    ``plans``: ``(test cell, message)`` per test cell of the source, in order; a message
    (a leaked solution notebook) scores the cell 0 without running it.
    """
    submission: dict
    source: dict
    student: str
    assignment: str
    cells: list
    plans: list
    parts: list           # grade_ids of the test cells to run, one sandbox part each
    flags: list
    t0: float
    release: dict | None = None
    seed: int = 0
    trees: list = None
    refs: tuple = ()


@dataclass
class TestOutcome:
    """What grading a notebook's test cells against its sandbox session gave."""
    cell_errors: list
    events: list
    verdicts: list        # testrun.CellVerdict per test cell that ran
    problem: str = ""


def prepare_notebook(submission: dict, source: dict, student: str, assignment: str, secret: bytes,
                     release: dict | None = None) -> Prepared:
    """Cells to run, static flags, and what the trusted runner needs (seed, parsed cells).

    ``release`` is the notebook the student was given: tampering flags compare with it (the
    source stands in when there is none) and a deleted test cell comes back from it.
    """
    from ._astlock import AST_LOCK
    t0 = time.monotonic()
    cells = _nb.cells_to_run(submission, source)
    tests = _nb.test_cells(source)
    with AST_LOCK:
        trees = [t for t in (_in.parse_cell(c["source"]) for c in cells) if t is not None]
        refs = _uses_reference(cells)
    plans = [(tc, "") for tc in tests]
    found = _nb.tampering(submission, release or source) + _flags.scan_cells(cells)
    return Prepared(submission, source, student, assignment, cells, plans, [tc.grade_id for tc in tests], found,
                    t0, release, seed_for(secret, student, assignment), trees, tuple(refs))


LEAK_FLAG = "solution notebook submitted"


def prepare_leaked(source: dict, student: str, assignment: str, why: str, release: dict | None = None) -> Prepared:
    """A submission that carries the instructor's solutions or hidden tests: 0 on every part, flagged.

    Nothing of it runs, and its autograded notebook (hence its feedback) is the released stub
    notebook, never the solutions it carried.
    """
    message = f"{LEAK_FLAG}: {why}; not graded, 0 points (ask the instructor)"
    plans = [(tc, f"{tc.grade_id}: {message}") for tc in _nb.test_cells(source)]
    stub = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    found = [{"cell": "-", "line": 0, "what": LEAK_FLAG, "detail": why}]
    return Prepared(stub, source, student, assignment, [], plans, [], found, time.monotonic(), release)


def _stub_solutions(nb: dict) -> dict:
    for cell in nb.get("cells", []):
        if _nb._meta(cell).get("solution"):
            cell["source"] = ("# YOUR CODE HERE\nraise NotImplementedError()" if cell.get("cell_type") == "code"
                              else "YOUR ANSWER HERE")
    return nb


def run_prepared(zygote: Zygote, p: Prepared) -> TestOutcome:
    """The notebook's cells once in one sandbox session, then each test cell on this side, one part each."""
    from . import testrun
    from .sandbox import SandboxError
    if not p.parts:
        return TestOutcome([], [], [])
    try:
        with zygote.session(p.cells) as nb:
            verdicts = testrun.run_tests(nb, p.source, p.seed, p.trees or [], p.refs, only=set(p.parts))
            return TestOutcome(list(nb.cell_errors), list(nb.events), verdicts, nb.problem or "")
    except (SandboxError, OSError) as err:
        return TestOutcome([], [], [], f"the sandbox failed: {str(err)[:200]}")


def finish_notebook(p: Prepared, outcome) -> NotebookVerdict:
    """The verdict of every test cell (pass iff its code ran to the end on the trusted side)."""
    verdicts, found = [], list(p.flags)
    found += _flags.runtime_flags(getattr(outcome, "events", []) or [])
    ran = {v.grade_id: v for v in getattr(outcome, "verdicts", None) or []}
    cell_errors = list(getattr(outcome, "cell_errors", []) or [])
    for tc, static in p.plans:
        if static:
            verdicts.append(PartVerdict(tc.grade_id, tc.points, 0.0, static))
            continue
        cv = ran.get(tc.grade_id)
        if cv is None:
            text = _msg.say("no_results", why=str(getattr(outcome, "problem", "") or "—")[:200])
            if cell_errors:
                text = text + _msg.cell_raised(cell_errors[0])
            verdicts.append(PartVerdict(tc.grade_id, tc.points, 0.0, _msg.part(tc.grade_id, "", text)))
            continue
        found += _flags.runtime_flags(cv.events, tc.grade_id)
        verdicts.append(PartVerdict(tc.grade_id, tc.points, tc.points if cv.passed else 0.0,
                                    "" if cv.passed else cv.message))
    graded = _autograded(p.submission, p.source, verdicts, p.release)
    if any(f.get("what") == LEAK_FLAG for f in p.flags):
        graded = _stub_solutions(graded)
    return NotebookVerdict(p.student, p.assignment, verdicts, found, cell_errors, graded,
                           time.monotonic() - p.t0)


def grade_notebook(zygote: Zygote, submission: dict, source: dict, student: str, assignment: str,
                   secret: bytes, release: dict | None = None) -> NotebookVerdict:
    p = prepare_notebook(submission, source, student, assignment, secret, release)
    return finish_notebook(p, run_prepared(zygote, p))


def _autograded(submission, source, verdicts, release=None) -> dict:
    nb = _nb.apply_verdict(_nb.restored_notebook(submission, source), verdicts, release or source)
    return _inert.inert_notebook(nb, release or source)


def progress_bar(total: int, label: str, enabled: bool = True):
    """tqdm's bar with rate and ETA on stderr; silent with ``--quiet``, when stderr is not a terminal or
    when there is nothing to grade."""
    from tqdm import tqdm
    return tqdm(total=total, desc=label, unit="nb", file=sys.stderr, dynamic_ncols=True,
                disable=not (enabled and total > 0 and sys.stderr.isatty()))


def default_workers() -> int:
    """One sandbox worker per CPU this process may run on (each with one torch thread)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def grade_assignment(aid: str, root: Path | None = None, workers: int | None = None, limits: Limits | None = None,
                     feedback: bool = True, progress: bool = True, force: bool = False,
                     students: list[str] | None = None, scheduler: str | None = None) -> dict:
    """Grade every submission of ``aid``: gradebook, autograded notebooks, feedback, CSV."""
    return grade_assignments([aid], root, workers, limits, feedback, progress, force, students, scheduler)[aid]


def grade_assignments(aids: list[str], root: Path | None = None, workers: int | None = None,
                      limits: Limits | None = None, feedback: bool = True, progress: bool = True, force: bool = False,
                      students: list[str] | None = None, scheduler: str | None = None) -> dict:
    """:func:`grade_assignment` for several assignments in one run (one sandbox start-up for all).

    Raises :class:`RunError` (before any sandbox starts) when the run cannot happen: no
    ``nbgrader_config.py`` in the course root, or no submission of an assignment.
    ``workers`` defaults to :func:`default_workers`; with ``scheduler`` (a Dask scheduler's address) the
    sandboxes are those of the cluster's workers (:mod:`course_grader.cluster`) and ``workers`` is unused.
    """
    import queue as _queue
    check_run(aids, root, students)
    # The sandboxes import torch while this process imports nbgrader and builds the job list.
    if scheduler:
        from .cluster import remote_zygotes
        try:
            zygotes = remote_zygotes(scheduler, limits)
        except Exception as err:
            raise RunError(f"grade: cannot use the Dask scheduler {scheduler}: {type(err).__name__}: {err}") from None
    else:
        zygotes = [Zygote(w, limits) for w in range(max(1, workers or default_workers()))]
    started: dict[int, BaseException | None] = {w: None for w in range(len(zygotes))}
    free: _queue.Queue = _queue.Queue()  # the started sandboxes not grading a notebook now
    for z in zygotes:  # spawned from this thread, which lives as long as the sandboxes must
        z.spawn()

    def boot(w):
        try:
            zygotes[w].wait_ready()
            free.put(w)
        except BaseException as err:
            started[w] = err

    boots = [threading.Thread(target=boot, args=(w,), daemon=True) for w in range(len(zygotes))]
    for t in boots:
        t.start()
    try:
        return {aid: _grade_assignment(aid, root, zygotes, boots, started, free, feedback, progress, force,
                                       students, _queue) for aid in aids}
    finally:
        for z in zygotes:  # first, so that a boot interrupted by Ctrl-C ends at once
            z.close()
        for t in boots:
            t.join()


def check_run(aids: list[str], root: Path | None, students: list[str] | None = None):
    """:class:`RunError` with a one-line message when this folder cannot be graded."""
    layout = CourseLayout.load(root)
    here = Path(root or os.getcwd()).resolve()
    if layout.config is None:
        raise RunError(f"grade: no nbgrader_config.py in {here}: run from the course root (the folder of "
                       f"nbgrader_config.py) or pass --root")
    for aid in aids:
        if not layout.source_nb(aid).is_file():
            raise RunError(f"grade: unknown assignment {aid!r}: no {layout.source_nb(aid)}")
        subs, refused = layout.scan_submissions(aid)
        found = [s for s, _ in subs] + list(refused)
        if students is not None:
            found = [s for s in found if s in students]
        if not found:
            who = f" from {', '.join(students)}" if students else ""
            raise RunError(f"grade: no submissions of {aid!r}{who} in {layout.root / layout.submitted} "
                           f"(expected {layout.submitted}/<student>/{aid}/{aid}.ipynb; run nbgrader collect "
                           f"or zip_collect first)")


def _grade_assignment(aid, root, zygotes, boots, started, free, feedback, progress, force, students, _queue):
    import alexnet_ref  # noqa: F401  (the hidden tests' reference; import before the workers need it)
    layout = CourseLayout.load(root)
    src_path = layout.source_nb(aid)
    if not src_path.is_file():
        raise RunError(f"grade: unknown assignment {aid!r} or missing {src_path}")
    _gb.ensure_assignment(layout, aid)
    source_bytes = src_path.read_bytes()
    source = json.loads(source_bytes.decode("utf-8"))
    source_digest = hashlib.sha256(source_bytes).hexdigest()
    secret = load_secret(layout.root)
    backup = backup_gradebook(layout)
    subs, refused = layout.scan_submissions(aid)
    if students is not None:
        subs = [s for s in subs if s[0] in students]
        refused = {s: why for s, why in refused.items() if s in students}
    release = layout.release_nb(aid)
    todo, skipped, regraded = [], [], {}
    with _gb.open_gradebook(layout, readonly=True) as ro:
        course_fp = course_fingerprint(layout, aid, source, release, ro)
        for sid, path in subs:
            try:
                why = "" if force else stale(layout, aid, sid, path, course_fp, ro)
            except Exception:  # an unreadable earlier record: grade again
                why = "the earlier result is incomplete"
            if not force and not why:
                skipped.append(sid)
            else:
                todo.append((sid, path))
                if why and why != "not graded yet":
                    regraded.setdefault(why, []).append(sid)
    late = _late.load(layout)
    bar = progress_bar(len(todo), f"grade {aid}", progress)
    verdicts: dict[str, NotebookVerdict] = {}
    errors: dict[str, str] = dict(refused)
    stop = threading.Event()
    turn = threading.Condition()  # notebooks are prepared and given a sandbox in name order, one at a time
    next_turn = [0]

    def take():
        """A started sandbox that is free (waits for one), or ``None`` when none can ever be."""
        while not stop.is_set():
            try:
                return free.get(timeout=0.5)
            except _queue.Empty:
                if all(not t.is_alive() for t in boots) and \
                        all(started.get(w) is not None or getattr(zygotes[w], "lost", "") for w in started):
                    return None
        return None

    def grade_one(i, sid, path):
        # any failure here is this student's alone: an error of the run's report, never the run's end
        with turn:
            while next_turn[0] != i and not stop.is_set():
                turn.wait(0.5)
        try:
            try:
                sub, digest = _in.read_submission(path)
                leak = _in.solution_leak(sub, source, digest, source_digest)
                prepared = prepare_leaked(source, sid, aid, leak, release) if leak else \
                    prepare_notebook(sub, source, sid, aid, secret, release)
            except _in.Refused as err:
                return "error", f"refused: {err}"
            except Exception as err:
                return "error", f"not graded: {type(err).__name__}: {_in.clean_text(str(err))[:300]}"
            w = take()
        finally:
            with turn:
                next_turn[0] += 1
                turn.notify_all()
        if w is None:
            return "pending", None
        try:
            outcome = run_prepared(zygotes[w], prepared)
            while getattr(zygotes[w], "lost", ""):  # a cluster worker left mid-notebook: judge it again elsewhere
                w = take()
                if w is None:
                    return "pending", None
                outcome = run_prepared(zygotes[w], prepared)
            return "verdict", finish_notebook(prepared, outcome)
        except Exception as err:
            return "error", f"not graded: {type(err).__name__}: {_in.clean_text(str(err))[:300]}"
        finally:
            if w is not None and not getattr(zygotes[w], "lost", ""):
                free.put(w)

    # One more thread than sandboxes: the next notebook is prepared while every sandbox is busy.
    pool = ThreadPoolExecutor(max_workers=len(zygotes) + 1, thread_name_prefix=f"grade-{aid}")
    try:
        jobs = {pool.submit(grade_one, i, sid, path): (sid, path) for i, (sid, path) in enumerate(todo)}
        # This thread is the only writer of the gradebook: one transaction per student.
        with _gb.open_gradebook(layout) as gb, bar:
            for job in as_completed(jobs):
                sid, path = jobs[job]
                kind, payload = job.result()
                if kind == "verdict":
                    try:
                        with _sigint_deferred():
                            record(layout, payload, path, gb, _submission_fp(layout, aid, course_fp, path, gb), late)
                        verdicts[sid] = payload
                    except Exception as err:
                        try:
                            gb.db.rollback()
                        finally:
                            errors[sid] = f"not recorded: {type(err).__name__}: {_in.clean_text(str(err))[:300]}"
                elif kind == "error":
                    errors[sid] = payload
                bar.set_postfix_str(sid[:24], refresh=False)
                bar.update()
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
    for w, err in sorted(started.items()):
        if err is not None:
            errors[f"worker {w}"] = f"the sandbox did not start: {err}"
    pending = [sid for sid, _ in todo if sid not in verdicts and sid not in errors]
    report = write_run_report(layout, aid, verdicts, skipped, errors, pending)
    if pending:
        raise RunError(f"grade: no sandbox worker could run ({errors}); {len(pending)} submissions left "
                       f"(see {report})", 1)
    fb = None
    if feedback and subs:
        try:
            fb = generate_feedback(layout, aid)
        except Exception as err:  # the scores are recorded; feedback can be made again with nbgrader
            fb = f"failed: {type(err).__name__}: {_in.clean_text(str(err))[:300]}"
    csv_path = _gb.export_grades(layout)
    try:
        from .item_analysis import write_report
        items = str(write_report(layout, aid))
    except Exception as err:  # the grades are recorded and exported; the report can be made with `items`
        items = f"failed: {type(err).__name__}: {_in.clean_text(str(err))[:300]}"
    return {"graded": sorted(verdicts), "skipped": skipped, "errors": errors, "backup": str(backup) if backup else None,
            "feedback": fb, "csv": str(csv_path), "verdicts": verdicts, "regraded": regraded,
            "report": str(report), "items": items}


class RunError(Exception):
    """The run itself could not happen (not one student's problem); ``code`` is the CLI's exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def write_run_report(layout: CourseLayout, aid: str, verdicts: dict, skipped: list, errors: dict,
                     pending: list = ()) -> Path:
    """``grading-report/<aid>.json``: every submission of the run, graded, unchanged or in error (why)."""
    out = layout.root / "grading-report" / f"{aid}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"assignment": aid, "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "graded": {sid: {"score": v.score, "max_score": v.max_score,
                             "flags": sorted({f["what"] for f in v.flags})} for sid, v in sorted(verdicts.items())},
            "unchanged": sorted(skipped), "errors": dict(sorted(errors.items())), "not_run": sorted(pending)}
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(_in.dumps(data, indent=1))
    os.replace(tmp, out)
    return out


class _sigint_deferred:
    """Ctrl-C waits until the block is done (one student's records are written whole), then interrupts."""

    def __enter__(self):
        import signal
        self.hit = False
        self.old = None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.old = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, *_):
        self.hit = True

    def __exit__(self, *exc):
        import signal
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
            if self.hit and exc[0] is None:
                raise KeyboardInterrupt
        return False


def generate_feedback(layout: CourseLayout, aid: str) -> str:
    """nbgrader generate_feedback for every graded student (hidden tests cleared by its config)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    config = layout.full_config()
    cd = CourseDirectory(config=config) if config is not None else CourseDirectory()
    api = NbGraderAPI(cd, config=config)
    res = api.generate_feedback(aid, force=True)
    return "ok" if res.get("success") else f"failed: {res.get('error') or res.get('log')}"[:500]
