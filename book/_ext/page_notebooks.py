"""Every book page with code can be downloaded as a Jupyter notebook (``.ipynb``).

The pages are MyST-Markdown notebooks; the theme offers an ``.ipynb`` download only when the
page context names one (``ipynb_source``).  For each page under ``book/vi`` or ``book/en`` that
has code cells, this writes the page converted by jupytext, without outputs, to
``_sources/<page>.ipynb`` in the HTML output and names it in the context, before the theme adds
its download buttons (priority 501).  In the book a page's code learns its language from the
folder it runs in (``alexnet_ref.lang``); a downloaded notebook runs anywhere, so it starts with
a cell that sets ``ALEXNET_LANG`` to the page's language.  The set-up page tells students to download it;
``tests/test_setup_outside.py`` runs the same conversion outside the repository.
"""
from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
from sphinx.application import Sphinx

LANGS = ("vi", "en")


def language_cell(lang: str) -> str:
    return f'import os\n\nos.environ["ALEXNET_LANG"] = "{lang}"  # the language of what the cells print'


def page_notebook(md_path: Path):
    """The page as a notebook without jupytext's pairing metadata (what a student downloads)."""
    nb = jupytext.read(md_path, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    lang = md_path.parent.name
    if lang in LANGS and any(cell.cell_type == "code" for cell in nb.cells):
        first = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
        nb.cells.insert(first, nbformat.v4.new_code_cell(language_cell(lang)))
    return nb


def _on_html_page_context(app: Sphinx, pagename: str, templatename: str, ctx: dict, doctree) -> None:
    parts = pagename.split("/")
    if len(parts) != 3 or parts[0] != "book" or parts[1] not in LANGS or doctree is None:
        return
    source = Path(app.srcdir) / f"{pagename}.md"
    if not source.is_file():
        return
    nb = page_notebook(source)
    if not any(cell.cell_type == "code" for cell in nb.cells):
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, target, fmt="ipynb")
    ctx["ipynb_source"] = f"{pagename}.ipynb"


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _on_html_page_context, priority=450)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
