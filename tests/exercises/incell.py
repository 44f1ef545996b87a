"""Run a solution notebook's test cells in process, as a kernel would (the harness of the planted tests).

The namespace of a run is the one a student's kernel has: the source
notebook's setup cells (locked code cells that are neither solutions nor
tests: imports, ``answer_hash``) and its solution cells executed in notebook
order, then, for a planted implementation, the planted file's code executed in
the same namespace in place of the solution cells it replaces (as if the
student had written it there). Each test cell's whole code,
visible part and hidden block, then runs in that namespace in notebook order;
a cell fails iff it raises, and the message of the exception is the failure.
``In`` holds the code that ran, as IPython's does, so the banned-operator
rule reads the student's code the way it does in a kernel.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from course_grader.messages import part
from course_grader.testing import CheckFailure

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


def source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def meta(cell) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


@functools.lru_cache(maxsize=None)
def _load(path: str, mtime: float) -> str:
    return Path(path).read_text(encoding="utf-8")


def notebook(aid: str) -> dict:
    """``solutions/<aid>/<aid>.ipynb`` (a fresh dict on every call)."""
    path = ROOT / "solutions" / aid / f"{aid}.ipynb"
    return json.loads(_load(str(path), path.stat().st_mtime))


@dataclass(frozen=True)
class GradedCell:
    grade_id: str
    points: float
    code: str            # visible part and hidden block

    @property
    def visible(self) -> str:
        return self.code.split(HIDDEN_BEGIN)[0]

    @property
    def hidden(self) -> str:
        """The hidden block's code, without its delimiter lines ("" when there is none)."""
        if HIDDEN_BEGIN not in self.code:
            return ""
        return self.code.split(HIDDEN_BEGIN, 1)[1].split(HIDDEN_END, 1)[0].strip("\n") + "\n"


def setup_cells(nb) -> list[str]:
    return [source(c) for c in nb["cells"] if c["cell_type"] == "code" and meta(c).get("locked")
            and not meta(c).get("grade") and not meta(c).get("solution")]


def solution_cells(nb) -> list[tuple[str, str]]:
    """(grade_id, code) of every solution cell, delimiter lines left in (they are comments)."""
    return [(meta(c)["grade_id"], source(c)) for c in nb["cells"] if c["cell_type"] == "code" and meta(c).get("solution")]


def graded_cells(nb) -> list[GradedCell]:
    return [GradedCell(meta(c)["grade_id"], float(meta(c).get("points", 0)), source(c))
            for c in nb["cells"] if c["cell_type"] == "code" and meta(c).get("grade")]


def names_read(code: str) -> set[str]:
    """Every name the code reads (``ast.Name`` loads), and the names given to ``forbid("name", ...)``."""
    tree = ast.parse(code)
    out = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "forbid" and n.args \
                and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str):
            out.add(n.args[0].value)
    return out


def defined_names(code: str) -> set[str]:
    """Top-level names a cell binds (functions, classes, assignments)."""
    out = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                out |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return out


def student_names(nb) -> set[str]:
    """The names the solution cells define: what a test cell may read from the student."""
    return set().union(*(defined_names(code) for _, code in solution_cells(nb)))


def solution_functions(nb) -> set[str]:
    """The functions (``def``) the solution cells define."""
    return {node.name for _, code in solution_cells(nb) for node in ast.parse(code).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def calls_of(nb, cell: GradedCell) -> set[str]:
    """The student's names (functions and variables) a test cell reads."""
    return names_read(cell.code) & student_names(nb)


def _exec(code: str, namespace: dict, filename: str) -> None:
    exec(compile(code, filename, "exec"), namespace)


def kernel(aid: str, planted: Path | str | None = None, overrides: dict | None = None) -> dict:
    """The namespace of a student's kernel after their cells ran (see the module docstring).

    ``planted``: a file of student code run after the solution cells, replacing the
    solution cells of the names it defines; ``overrides``: names bound last (objects).
    """
    nb = notebook(aid)
    namespace: dict = {"__name__": "__main__"}
    ran: list[str] = [""]
    replaced = set()
    planted_code = None
    if planted is not None:
        planted_code = Path(planted).read_text(encoding="utf-8")
        replaced = defined_names(planted_code)
    if overrides:
        replaced |= set(overrides)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for code in setup_cells(nb):
            _exec(code, namespace, f"<{aid} setup>")
            ran.append(code)
        for gid, code in solution_cells(nb):
            if defined_names(code) and defined_names(code) <= replaced:
                if planted_code is not None:    # the student's code, where the first cell it replaces was
                    _exec(planted_code, namespace, str(planted))
                    ran.append(planted_code)
                    planted_code = None
                continue
            _exec(code, namespace, f"<{aid} {gid}>")
            ran.append(code)
        if planted_code is not None:
            _exec(planted_code, namespace, str(planted))
            ran.append(planted_code)
    if overrides:
        namespace.update(overrides)
    namespace["In"] = ran
    return namespace


def run_cell(cell: GradedCell, namespace: dict, hidden_only: bool = False) -> str | None:
    """Run one test cell's whole code (or its hidden block only) in ``namespace``.

    None when it passes, else the failure message.
    """
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _exec(cell.hidden if hidden_only else cell.code, namespace, f"<{cell.grade_id}>")
        except Exception as err:  # a failing test cell: any exception, as in a kernel
            if isinstance(err, CheckFailure):   # the grader's verdict: "<grade_id>: <what>" then the text
                return part(cell.grade_id, err.what, err.text)
            text = str(err)
            return text if isinstance(err, AssertionError) and text else f"{type(err).__name__}: {text}"
    return None


def run(aid: str, planted: Path | str | None = None, overrides: dict | None = None,
        only=None, hidden_only: bool = False) -> dict[str, str | None]:
    """Every test cell of ``aid`` (or those in ``only``), in notebook order, in one kernel namespace."""
    namespace = kernel(aid, planted, overrides)
    return {cell.grade_id: run_cell(cell, namespace, hidden_only) for cell in graded_cells(notebook(aid))
            if only is None or cell.grade_id in only}


def assignment_of(grade_id: str, assignments) -> str:
    """The assignment whose notebook has the test cell ``grade_id``."""
    for aid in assignments:
        if any(c.grade_id == grade_id for c in graded_cells(notebook(aid))):
            return aid
    raise KeyError(f"no solution notebook has a test cell {grade_id!r}")
