"""MathJax for the feedback pages without a network: the course's local copy, embedded in each page.

A feedback page travels alone (``nbgrader release_feedback`` hands out the HTML file, an LMS
stores it as one file), so a script beside it would not be found; the self-contained SVG build
of MathJax 3 (``node_modules/mathjax``, installed by ``make mathjax``) goes inline.  The feedback
template ``course_grader/templates/feedback_offline`` calls :func:`offline_mathjax` as a Jinja
filter (``c.HTMLExporter.filters`` in ``nbgrader_config.py``).
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent.parent / "node_modules" / "mathjax" / "es5" / "tex-svg.js"
TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.lru_cache(maxsize=1)
def _script() -> str:
    text = BUNDLE.read_text(encoding="utf-8")
    if "</script" in text.lower():  # would end the inline element early
        raise ValueError(f"{BUNDLE} contains '</script'; it cannot be embedded")
    return f"<script>{text}</script>"


def offline_mathjax(_url: str = "") -> str:
    """The ``<script>`` element of the local MathJax (the CDN address nbconvert passes is ignored)."""
    try:
        return _script()
    except OSError:
        logging.getLogger("course_grader").warning(
            "MathJax not found at %s (run `make mathjax`): formulas in the feedback stay as TeX", BUNDLE)
        return "<!-- MathJax not installed: run `make mathjax` -->"
