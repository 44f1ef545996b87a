"""Serve MathJax 3 from the site itself, so that formulas render offline.

At ``builder-inited`` the parts of MathJax the book uses are copied from
``node_modules/mathjax/es5`` (installed from npm by ``make mathjax``) into ``book/_static/mathjax``
(git-ignored), which ``html_static_path`` publishes and ``mathjax_path`` in ``_config.yml``
points at.  Files already copied and not older than their source are left alone.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml", "ui", "a11y", "adaptors")


def copy_mathjax(src: Path, dst: Path) -> None:
    if not (src / "tex-chtml.js").is_file():
        raise ExtensionError(f"mathjax_local: MathJax not found at {src}/tex-chtml.js; run `make mathjax`")
    for part in PARTS:
        s, d = src / part, dst / part
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        elif not d.is_file() or d.stat().st_mtime < s.stat().st_mtime:
            shutil.copy2(s, d)


def _on_builder_inited(app: Sphinx) -> None:
    root = Path(app.srcdir)
    copy_mathjax(root / "node_modules" / "mathjax" / "es5", root / "book" / "_static" / "mathjax")


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _on_builder_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
