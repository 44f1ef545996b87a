"""Run a book page's expensive computation once per build, for both language versions.

Twin pages (``book/vi/*.md``, ``book/en/*.md``) run byte-identical code cells, so the training
chapter would train every network twice.  :func:`run_once` keeps the result of a call in the folder
named by the environment variable ``ALEXNET_BOOK_RESULTS`` (the book build sets it to
``_build/.shared_results``; ``make clean`` removes it), keyed by a hash of

* the code of every cell the kernel has run so far (IPython's input history), which is the same on
  both twins and changes whenever the page's code changes,
* the function's name and arguments,
* the source of ``alexnet_ref`` and the versions of torch and numpy.

The first twin computes, the second reads the file.  Without the variable (a downloaded notebook,
nbval, a plain Python script) it simply calls the function.  Results are stored with ``torch.save``
and read with ``weights_only=True``, so they must be tensors, numbers, strings, lists, tuples and
dicts of those.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import torch

ENV = "ALEXNET_BOOK_RESULTS"
_PACKAGE = Path(__file__).resolve().parent


def _cells_so_far() -> list[str] | None:
    """The sources of the cells this IPython kernel has run, or None outside IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return None
    return list(shell.user_ns.get("In", []))


def _key(fn, args, kwargs, cells: list[str]) -> str:
    h = hashlib.sha256()
    for part in (*cells, getattr(fn, "__qualname__", repr(fn)), repr(args), repr(sorted(kwargs.items())),
                 torch.__version__, np.__version__):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    for source in sorted(_PACKAGE.glob("*.py")):
        h.update(source.read_bytes())
    return h.hexdigest()[:32]


def run_once(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, computed once per book build and shared by the twin pages."""
    root = os.environ.get(ENV, "")
    cells = _cells_so_far()
    if not root or cells is None:
        return fn(*args, **kwargs)
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_key(fn, args, kwargs, cells)}.pt"
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # a twin running at the same time waits, then reads
        if path.is_file():
            return torch.load(path, weights_only=True)
        result = fn(*args, **kwargs)
        partial = path.with_suffix(".partial")
        torch.save(result, partial)
        os.replace(partial, path)
        return result
