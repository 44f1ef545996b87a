"""What the trusted side accepts from a student, before it parses anything: bounded, checked, clean.

A submission is untrusted bytes.  :func:`read_submission` turns it into a plain notebook dict
(nbformat 4, outputs dropped, every text free of lone surrogates) or refuses it with one line
naming the limit and the actual size.  Cells are parsed once: :func:`parse_cell` keeps a small
cache shared by every scan of the trusted side.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ._astlock import AST_LOCK


@dataclass(frozen=True)
class IntakeLimits:
    # the course's notebooks hold at most 21 cells and 16 KB of source (4.4 KB in one cell): the
    # limits leave a student 15x that, and keep the trusted side's parse of one notebook near 60 MB
    file_bytes: int = 16 << 20        # the .ipynb as submitted, outputs included
    cells: int = 1000
    cell_source_bytes: int = 64 << 10
    total_source_bytes: int = 256 << 10


LIMITS = IntakeLimits()


class Refused(ValueError):
    """A submission the grader will not grade; the message is for the instructor and the student."""


# --------------------------------------------------------------------------- student ids and paths
_PLAIN_ID = re.compile(r"[^\W][\w.-]{0,127}")


def check_student_id(sid: str) -> str:
    """``""`` for a plain student id (letters, digits, ``_ - .``, starting with a letter, digit or ``_``),
    else why not (glob characters, separators, a leading ``.`` or ``-`` never reach a path or a command)."""
    if isinstance(sid, str) and _PLAIN_ID.fullmatch(sid):
        return ""
    return (f"student id {sid!r} refused: expected a plain name (letters, digits, '_', '-', '.', starting "
            f"with a letter, digit or '_', at most 128 characters); rename the folder submitted/{sid!s}")


def check_submission_path(base: Path, sid: str, aid: str) -> str:
    """``""`` when ``base/sid/aid/aid.ipynb`` is a regular file reached through no symlink, else why not.

    ``timestamp.txt`` next to it, when present, must not be a symlink either.
    """
    why = check_student_id(sid)
    if why:
        return why
    path = Path(base)
    for part in (sid, aid, f"{aid}.ipynb"):
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return f"{path.relative_to(base.parent)} is missing"
        if stat.S_ISLNK(st.st_mode):
            return f"{path.relative_to(base.parent)} is a symbolic link: submissions are never followed out of " \
                   f"the student's folder"
    if not stat.S_ISREG(st.st_mode):
        return f"{path.relative_to(base.parent)} is not a regular file"
    ts = path.parent / "timestamp.txt"
    if os.path.islink(ts):
        return f"{ts.relative_to(base.parent)} is a symbolic link"
    return ""


def read_bounded(path: Path, limit: int) -> bytes:
    """The file's bytes, read without following a final symlink, refused past ``limit`` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Refused(f"{path.name} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        size = os.path.getsize(path)
        raise Refused(f"the notebook file is {_mb(size)}, over the limit of {_mb(limit)}")
    return data


def read_timestamp(path: Path) -> str | None:
    """``timestamp.txt`` next to ``path`` (at most 1 KiB, never through a symlink), or None."""
    ts = Path(path).parent / "timestamp.txt"
    try:
        return clean_text(read_bounded(ts, 1024).decode("utf-8", "replace")).strip()
    except (OSError, Refused):
        return None


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB" if n >= (1 << 20) else f"{n / 1024:.0f} KB"


# --------------------------------------------------------------------------- text
def clean_text(s: str) -> str:
    """``s`` with every lone surrogate replaced by U+FFFD, so that it always encodes as UTF-8."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean_tree(value):
    """A JSON-like value with :func:`clean_text` applied to every string (keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_tree(v) for v in value]
    return value


def dumps(value, **kw) -> bytes:
    """UTF-8 JSON of ``value`` that cannot fail on a lone surrogate."""
    return json.dumps(clean_tree(value), ensure_ascii=False, **kw).encode("utf-8")


# --------------------------------------------------------------------------- notebooks
def _text(value, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    raise Refused(f"{what} is {_kind(value)}, expected text or a list of strings")


def _kind(value) -> str:
    if isinstance(value, list):
        inner = {type(v).__name__ for v in value}
        return f"a list of {'/'.join(sorted(inner))}" if inner else "an empty list"
    return f"of type {type(value).__name__}"


_NBGRADER_TYPES = {"grade": bool, "solution": bool, "locked": bool, "task": bool, "grade_id": str,
                   "points": (int, float), "schema_version": int, "cell_type": str,
                   "checksum": str}  # the release's checksum: tells a re-release from hand-edited points


def _nbgrader_meta(meta):
    """The well-typed keys of a cell's ``nbgrader`` metadata (None: drop it)."""
    if not isinstance(meta, dict):
        return None
    out = {}
    for key, types in _NBGRADER_TYPES.items():
        if key in meta:
            v = meta[key]
            if isinstance(v, types) and not (types is int and isinstance(v, bool)) \
                    and not (key == "points" and (isinstance(v, bool) or not (0 <= v < 1e6))):
                out[key] = v
    return out


def upgrade(nb: dict) -> dict:
    """A notebook of nbformat < 4 upgraded as nbgrader reads it (``nbformat.convert`` to 4)."""
    import nbformat
    try:
        major = int(nb.get("nbformat", 4))
    except (TypeError, ValueError):
        raise Refused(f"the notebook's nbformat is {_kind(nb.get('nbformat'))}, expected a version number")
    if major >= 4:
        return nb
    if major < 3 or not isinstance(nb.get("worksheets"), list):
        raise Refused(f"the notebook is in nbformat {major}, which the grader cannot read (expected 3 or 4)")
    try:
        return json.loads(json.dumps(nbformat.convert(nbformat.from_dict(nb), 4)))
    except Exception as err:
        raise Refused(f"the nbformat {major} notebook could not be upgraded to nbformat 4: "
                      f"{type(err).__name__}") from None


def normalize(nb, limits: IntakeLimits = LIMITS) -> dict:
    """A plain nbformat-4 notebook with string sources, dict metadata and no outputs, or :class:`Refused`."""
    if not isinstance(nb, dict):
        raise Refused(f"the notebook is {_kind(nb)}, expected a JSON object")
    nb = upgrade(nb)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise Refused(f"the notebook's cells are {_kind(cells)}, expected a list")
    if len(cells) > limits.cells:
        raise Refused(f"the notebook has {len(cells)} cells, over the limit of {limits.cells}")
    out, total = [], 0
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise Refused(f"cell {i} is {_kind(cell)}, expected a JSON object")
        ctype = cell.get("cell_type")
        if ctype not in ("code", "markdown", "raw"):
            raise Refused(f"cell {i} has cell_type {ctype!r}, expected code, markdown or raw")
        source = clean_text(_text(cell.get("source", ""), f"the source of cell {i}"))
        size = len(source.encode("utf-8"))
        if size > limits.cell_source_bytes:
            raise Refused(f"cell {i} holds {_mb(size)} of source, over the limit of "
                          f"{_mb(limits.cell_source_bytes)} per cell")
        total += size
        if total > limits.total_source_bytes:
            raise Refused(f"the notebook holds more than {_mb(limits.total_source_bytes)} of source "
                          f"(the limit), reached at cell {i}")
        meta = cell.get("metadata")
        meta = dict(meta) if isinstance(meta, dict) else {}
        if "nbgrader" in meta:
            nbg = _nbgrader_meta(meta["nbgrader"])
            if nbg is None:
                del meta["nbgrader"]
            else:
                meta["nbgrader"] = nbg
        meta = {k: v for k, v in meta.items() if k in ("nbgrader", "tags", "deletable", "editable")}
        new = {"cell_type": ctype, "metadata": clean_tree(meta), "source": source}
        if ctype == "code":
            new.update(outputs=[], execution_count=None)
        if isinstance(cell.get("id"), str) and len(cell["id"]) <= 64:
            new["id"] = clean_text(cell["id"])
        out.append(new)
    meta = nb.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    keep = {k: meta[k] for k in ("kernelspec", "language_info") if isinstance(meta.get(k), dict)}
    return {"cells": out, "metadata": clean_tree(keep), "nbformat": 4, "nbformat_minor": 5}


def read_submission(path: Path, limits: IntakeLimits = LIMITS) -> tuple[dict, str]:
    """``(notebook, sha256 of the file)`` of a submission, or :class:`Refused` with the reason."""
    data = read_bounded(Path(path), limits.file_bytes)
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise Refused("the notebook file is empty (0 bytes of JSON)")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise Refused(f"the notebook is not UTF-8 text (byte {err.start})") from None
    except RecursionError:
        raise Refused("the notebook's JSON is nested too deeply") from None
    except ValueError as err:
        raise Refused(f"the notebook is not valid JSON: {clean_text(str(err))[:120]}") from None
    return normalize(nb, limits), digest


# --------------------------------------------------------------------------- the instructor's own notebook
# a line that is nbgrader's delimiter (``### BEGIN SOLUTION``), not code that merely names it
_MARKER = re.compile(r"^[ \t]*#*[ \t]*BEGIN (SOLUTION|HIDDEN TESTS)[ \t]*$", re.MULTILINE)


def solution_leak(nb: dict, source_nb: dict, digest: str = "", source_digest: str = "",
                  student_cells_only: bool = False) -> str:
    """Why ``nb`` looks like the instructor's source notebook ("" when it does not).

    ``student_cells_only``: look only at the cells the student writes (solution cells and cells
    the source does not lock), for a notebook whose locked cells nbgrader already restored.
    """
    if digest and digest == source_digest:
        return "the submission is byte-identical to the source (instructor) notebook"
    for i, cell in enumerate(nb.get("cells", [])):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if student_cells_only and isinstance(meta, dict) and not meta.get("solution") \
                and (meta.get("grade") or meta.get("locked")):
            continue
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        m = _MARKER.search(text)
        if m:
            kind = "solution" if m.group(1) == "SOLUTION" else "hidden-test"
            return f"cell {i} carries the instructor's {kind} markers (the source notebook's, never released)"
    return ""


# --------------------------------------------------------------------------- one parse per cell
class _ParseCache:
    """Parsed cells by source text, bounded by the bytes of source they hold."""

    def __init__(self, max_bytes: int = 512 << 10):
        self.max_bytes, self.bytes = max_bytes, 0
        self.items: OrderedDict[str, tuple[int, object]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, text: str):
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return True, self.items[key][1]
        return False, key

    def put(self, key: str, text: str, tree):
        size = len(text)
        if size > self.max_bytes:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = (size, tree)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (old, _) = self.items.popitem(last=False)
                self.bytes -= old


_CACHE = _ParseCache()


def parse_cell(source: str):
    """The ``ast.Module`` of a cell's source (IPython magics neutralised), or None when it does not parse.

    Cached by source text and shared by every scan of the trusted side; callers must not mutate the tree.
    """
    from .sandbox_child import strip_magics
    hit, value = _CACHE.get(source)
    if hit:
        return value
    text = strip_magics(source)
    try:
        with AST_LOCK:
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        tree = None
    _CACHE.put(value, source, tree)
    return tree
