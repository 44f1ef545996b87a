"""A notebook's test cells, run on the trusted side against the student's functions in the sandbox.

A test cell is instructor code: its source (visible part and hidden block, from the SOURCE
notebook, never the submission) runs here, in one namespace per graded notebook that
persists across its test cells in notebook order, as in a kernel:

* first the source notebook's locked code cells that are neither solutions nor tests
  (imports, ``answer_hash``, provided helpers) run in it: names they bind are never taken
  from the student;
* before a test cell runs, the names its code reads and nothing has bound yet (found with
  :mod:`symtable`) are resolved in the sandbox, in that cell's own part process
  (``session.part(grade_id)``): a student function becomes a :class:`StudentFunction`
  proxy (a call sends plain data and gets plain data back), a variable its plain value,
  anything else a :class:`course_grader.wire.Unplain`; a name the student never defined
  stays unbound (a ``NameError``, as in a kernel).  Builtins are never taken from the
  student.  What a cell took from the student is unbound again after it;
* the global random generators (torch, numpy, random) are seeded for each test cell from
  the notebook's seed and the cell's grade_id, and swapped in and out under one lock while
  trusted code runs (a proxy call gives the lock up while it waits for the sandbox), so
  grading threads do not disturb each other.

A test cell passes iff its code finishes without an exception; the exception's message is
the feedback (:func:`verdict_message`), never the hidden source.
"""
from __future__ import annotations

import builtins
import contextlib
import functools
import io
import random
import sys
import symtable
import threading
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import messages as M
from . import testing
from .notebook import _meta, _source, is_test, test_cells

_LOCK = threading.Lock()
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


@dataclass
class CellVerdict:
    grade_id: str
    points: float
    passed: bool
    message: str
    events: list = field(default_factory=list)


# --------------------------------------------------------------------------- trusted execution
class _Trusted:
    """Trusted code of one notebook runs inside ``with guard:``; ``guard.released()`` while a proxy waits.

    The generators' states move lazily: a guard's states stay in the process's generators when it
    gives the lock up, and are saved only when another guard's code is about to run (``_LIVE``),
    so the calls of one notebook between which no other notebook ran cost no copy.  :meth:`done`
    puts the process's own states back.
    """

    def __init__(self):
        self.states = None
        self.depth = 0

    def seed(self, seed: int):
        """The states the next trusted code starts from (the process's generators are not touched here)."""
        import torch
        states = (torch.Generator().manual_seed(seed).get_state(),
                  np.random.RandomState(seed & 0xFFFFFFFF).get_state(), random.Random(seed).getstate())
        with _LOCK:
            self.states = states
            if _LIVE[0] is self:
                _LIVE[0] = _STALE

    def _swap_in(self):
        live = _LIVE[0]
        if live is not self:
            if live is None:
                _OUTER[0] = _rng_states()
            elif live is not _STALE:
                live.states = _rng_states()
            if self.states is not None:
                _set_rng_states(self.states)
            _LIVE[0] = self
        self.outer = (sys.stdout, sys.stderr)
        self.sink = io.StringIO()
        sys.stdout = sys.stderr = self.sink
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore")

    def _swap_out(self):
        self.warnings.__exit__(None, None, None)
        sys.stdout, sys.stderr = self.outer

    def done(self):
        """The process's own generator states back, if this guard's (or nobody's) are in them."""
        with _LOCK:
            if _LIVE[0] is self or _LIVE[0] is _STALE:
                _set_rng_states(_OUTER[0])
                _LIVE[0], _OUTER[0] = None, None

    def __enter__(self):
        _LOCK.acquire()
        self._swap_in()
        return self

    def __exit__(self, *exc):
        try:
            self._swap_out()
        finally:
            _LOCK.release()
        return False

    @contextlib.contextmanager
    def released(self):
        self.__exit__(None, None, None)
        try:
            yield
        finally:
            self.__enter__()


_STALE = object()    # the generators hold states nobody will continue (a guard was seeded again)
_LIVE = [None]       # under _LOCK: whose states the generators hold (None: the process's own)
_OUTER = [None]      # the process's own states while a guard's are in the generators


def _rng_states():
    import torch
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def _set_rng_states(states):
    import torch
    torch.set_rng_state(states[0])
    np.random.set_state(states[1])
    random.setstate(states[2])


def _cell_seed(seed: int, grade_id: str) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(grade_id.encode())]).generate_state(1)[0])


# --------------------------------------------------------------------------- the student's names
class StudentFunction:
    """A student's function in the sandbox: calling it sends plain data and returns plain data."""

    is_student_proxy = True
    __slots__ = ("_name", "_qualname", "_part", "_guard", "_context")

    def __init__(self, name: str, qualname: str, part, guard: _Trusted, context: testing.Context):
        self._name, self._qualname, self._part, self._guard, self._context = name, qualname, part, guard, context

    @property
    def __name__(self):
        return self._name

    def __repr__(self):
        return f"<student function {self._name}>"

    def __call__(self, *args, **kwargs):
        return self.call_in_mode("value", args, kwargs)

    def call_in_mode(self, mode: str, args, kwargs):
        banned = tuple(self._context.banned.get(self._name, ()))
        with self._guard.released():
            try:
                return self._part.call(self._name, tuple(args), dict(kwargs), mode=mode, banned=banned)
            except Exception as err:
                if getattr(err, "from_student", False):
                    try:
                        err.student_function = self._name
                    except Exception:
                        pass
                if _fatal(err) and self._context.fatal is None:
                    self._context.fatal = err
                raise


def _fatal(err: BaseException) -> bool:
    """A failure the test code may not catch away: banned operator, lost part, refused result."""
    from .wire import BannedOperator, PartLost, StudentError
    return isinstance(err, (BannedOperator, PartLost)) or \
        (isinstance(err, StudentError) and getattr(err, "type_name", "") == "ResultTooLarge")


_UNBOUND = object()


class _Resolver:
    """Reads the student's names from one part, once each."""

    def __init__(self, part, guard, context):
        self.part, self.guard, self.context = part, guard, context
        self.got: dict = {}
        self.missing: set = set()

    def __call__(self, name: str):
        if name in self.got:
            return self.got[name]
        if name in self.missing:
            return _UNBOUND
        from .wire import Unplain
        with self.guard.released():
            answer = self.part.read(name)
        kind = answer[0] if isinstance(answer, tuple) and answer else "missing"
        if kind == "function":
            value = StudentFunction(name, str(answer[1]), self.part, self.guard, self.context)
        elif kind == "value":
            value = answer[1]
        elif kind == "unplain":
            value = Unplain(str(answer[1])[:80])
        else:
            self.missing.add(name)
            return _UNBOUND
        self.got[name] = value
        return value


def free_names(source: str) -> list[str]:
    """The global names ``source`` reads before (or without) binding them itself, sorted."""
    return list(_free_names(source))


@functools.lru_cache(maxsize=512)  # a class's notebooks share their test cells
def _free_names(source: str) -> tuple[str, ...]:
    from ._astlock import AST_LOCK
    with AST_LOCK:
        top = symtable.symtable(source, "<test>", "exec")
    assigned = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    names = set()

    def visit(table, is_top):
        for s in table.get_symbols():
            if not s.is_referenced():
                continue
            if is_top and not (s.is_assigned() or s.is_imported()):
                names.add(s.get_name())
            elif not is_top and s.is_global() and s.get_name() not in assigned:
                names.add(s.get_name())
        for child in table.get_children():
            visit(child, False)

    visit(top, True)
    return tuple(sorted(n for n in names if not hasattr(builtins, n)))


# --------------------------------------------------------------------------- the verdict of a cell
def _hidden_span(source: str) -> tuple[int, int]:
    """1-based line numbers of the hidden block's markers (0, 0 when there is none)."""
    begin = end = 0
    for i, line in enumerate(source.splitlines(), 1):
        if HIDDEN_BEGIN in line and not begin:
            begin = i
        elif HIDDEN_END in line and begin and not end:
            end = i
    return begin, end or (10 ** 9 if begin else 0)


def _failing_line(err: BaseException, filename: str) -> tuple[int, bool]:
    """The last line of the test cell in the traceback, and whether the error was raised right there."""
    line, here, tb = 0, False, err.__traceback__
    while tb is not None:
        here = tb.tb_frame.f_code.co_filename == filename
        if here:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line, here


def verdict_message(grade_id: str, err: BaseException, source: str, filename: str, resolver: _Resolver | None,
                    cell_errors=()) -> str:
    """What a student reads for a failed test cell (both languages where the text is the grader's)."""
    from .wire import BannedOperator, PartLost, StudentError, clean_message
    first_error = M.cell_raised(cell_errors[0]) if cell_errors else None
    if isinstance(err, testing.CheckFailure):
        return M.part(grade_id, err.what, err.text)
    if isinstance(err, BannedOperator):
        return M.part(grade_id, "", M.say("banned_runtime", function=getattr(err, "student_function", "?"),
                                           used=clean_message(err.used)[:80]))
    if isinstance(err, PartLost):
        text = M.say("no_results", why=clean_message(err.why)[:200] or "—")
        return M.part(grade_id, "", text + first_error if first_error else text)
    if getattr(err, "from_student", False) or isinstance(err, StudentError):
        name = getattr(err, "type_name", None) or type(err).__name__
        text = M.say("raised", error=clean_message(name)[:80], message=clean_message(str(err)))
        return M.part(grade_id, str(getattr(err, "student_function", "")), text)
    if isinstance(err, NameError) and resolver is not None and getattr(err, "name", None) in resolver.missing:
        text = M.say("not_defined", name=err.name)
        return M.part(grade_id, "", text + first_error if first_error else text)
    line, here = _failing_line(err, filename)
    begin, end = _hidden_span(source)
    hidden = begin < line < end
    k = line - begin if hidden else line
    # the message of an assert written in the cell is the instructor's; one raised deeper from a hidden
    # line (torch.testing.assert_close, say) may quote expected values
    if isinstance(err, AssertionError) and err.args and str(err).strip() and (here or not hidden):
        return M.part(grade_id, "", clean_message(str(err)) if not isinstance(err, testing.GradingFailure)
                      else str(err))
    if isinstance(err, AssertionError):
        if hidden:
            return M.part(grade_id, "", M.say("hidden_check", line=k))
        text = source.splitlines()[line - 1].strip() if 0 < line <= len(source.splitlines()) else ""
        return M.part(grade_id, "", M.say("visible_check", line=k, code=text[:200]))
    if hidden:
        return M.part(grade_id, "", M.say("test_error_hidden", error=type(err).__name__, line=k))
    return M.part(grade_id, "", M.say("test_error", error=type(err).__name__, line=k,
                                       message=clean_message(str(err))[:200]))


# --------------------------------------------------------------------------- a notebook
def setup_sources(source_nb: dict) -> list[tuple[str, str]]:
    """``(label, source)`` of the source notebook's locked code cells that are neither solutions nor tests."""
    out = []
    for i, cell in enumerate(source_nb.get("cells", [])):
        meta = _meta(cell)
        if cell.get("cell_type") == "code" and meta.get("locked") and not meta.get("solution") \
                and not is_test(meta) and not meta.get("grade"):
            out.append((str(meta.get("grade_id") or i), _source(cell)))
    return out


@functools.lru_cache(maxsize=512)
def _compile(source: str, filename: str):
    from ._astlock import AST_LOCK
    from .sandbox_child import strip_magics
    with AST_LOCK:
        return compile(strip_magics(source), filename, "exec", dont_inherit=True)


class NotebookTests:
    """The trusted namespace of one graded notebook; :meth:`run_cell` grades one test cell in one part."""

    def __init__(self, source_nb: dict, seed: int, trees=(), refs=(), cell_errors=()):
        self.source_nb, self.seed = source_nb, int(seed)
        self.trees, self.refs, self.cell_errors = list(trees), tuple(refs), list(cell_errors)
        self.scans: dict = {}
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.guard = _Trusted()
        self.setup_errors: list[str] = []
        self.guard.seed(_cell_seed(self.seed, "setup"))
        for label, source in setup_sources(source_nb):
            try:
                code = _compile(source, f"<setup {label}>")
                with self.guard:
                    exec(code, self.namespace)
            except Exception as err:  # the instructor's own cell: recorded, the tests go on
                self.setup_errors.append(f"{label}: {type(err).__name__}: {err}"[:300])

    def context(self, grade_id: str) -> testing.Context:
        return testing.Context(grade_id, self.seed, self.trees, self.refs, cell_errors=self.cell_errors,
                               scans=self.scans)

    def run_cell(self, grade_id: str, source: str, part) -> tuple[bool, str]:
        """Run one test cell whose student names resolve in ``part``: ``(passed, message)``."""
        filename = f"<test {grade_id}>"
        ctx = self.context(grade_id)
        resolver = _Resolver(part, self.guard, ctx)
        ctx.resolve = resolver
        taken: dict = {}
        self.guard.seed(_cell_seed(self.seed, grade_id))
        try:
            code = _compile(source, filename)
            wanted = free_names(_strip(source))
        except SyntaxError as err:
            return False, M.part(grade_id, "", M.say("test_error", error="SyntaxError", line=err.lineno or 0,
                                                     message=str(err.msg)[:200]))
        try:
            with self.guard, testing.active(ctx):
                for name in wanted:
                    if name in self.namespace:
                        continue
                    value = resolver(name)
                    if value is not _UNBOUND:
                        self.namespace[name] = taken[name] = value
                exec(code, self.namespace)
            if ctx.fatal is not None:  # caught by the test's own `except Exception`: the cell still fails
                raise ctx.fatal
            return True, ""
        except Exception as err:
            if ctx.fatal is not None:
                err = ctx.fatal
            return False, verdict_message(grade_id, err, source, filename, resolver, self.cell_errors)
        finally:
            for name, value in taken.items():
                if self.namespace.get(name, _UNBOUND) is value:
                    del self.namespace[name]


def _strip(source: str) -> str:
    from .sandbox_child import strip_magics
    return strip_magics(source)


def run_tests(session, source_nb: dict, seed: int, trees=(), refs=(), only=None) -> list[CellVerdict]:
    """Every test cell of ``source_nb`` (``only``: those grade_ids), each in one part of ``session``."""
    tests = NotebookTests(source_nb, seed, trees, refs, getattr(session, "cell_errors", []) or [])
    try:
        return _run_cells(session, tests, source_nb, only)
    finally:
        tests.guard.done()


def _run_cells(session, tests: NotebookTests, source_nb: dict, only) -> list[CellVerdict]:
    out = []
    todo = [tc for tc in test_cells(source_nb) if only is None or tc.grade_id in only]
    for i, tc in enumerate(todo):
        problem = getattr(session, "problem", "")
        if problem:
            text = M.say("no_results", why=str(problem)[:200])
            if tests.cell_errors:
                text = text + M.cell_raised(tests.cell_errors[0])
            out.append(CellVerdict(tc.grade_id, tc.points, False, M.part(tc.grade_id, "", text)))
            continue
        with session.part(tc.grade_id, more=i + 1 < len(todo)) as part:
            passed, message = tests.run_cell(tc.grade_id, tc.source, part)
        out.append(CellVerdict(tc.grade_id, tc.points, passed, message, list(getattr(part, "events", []) or [])))
    return out
