"""Give the pages' kernels a folder for results shared between twin pages (``alexnet_ref.once``).

The kernels that execute the pages inherit the environment of the Sphinx process, so setting
``ALEXNET_BOOK_RESULTS`` here makes :func:`alexnet_ref.once.run_once` keep the training chapter's
results in ``_build/.shared_results``: the vi and en pages run the same code, the first one computes
and the second reads.  Like the execution cache beside it, the folder survives incremental builds
(a result is keyed by the code that produced it) and ``make clean`` removes it.
"""
from __future__ import annotations

import os
from pathlib import Path

from sphinx.application import Sphinx

ENV = "ALEXNET_BOOK_RESULTS"          # the name alexnet_ref.once reads


def setup(app: Sphinx) -> dict:
    os.environ.setdefault(ENV, str(Path(app.outdir).parent / ".shared_results"))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
