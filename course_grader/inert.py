"""Student content made inert before an instructor's browser (formgrader) or a feedback page renders it.

A student controls the text of their markdown and raw cells, their outputs, attachments
and notebook metadata.  Jupyter and nbconvert render markdown with its raw HTML kept, so
``<img onerror=...>``, ``<script>``, ``<iframe srcdoc=...>``, ``<svg onload=...>`` or a
``javascript:`` link would run in the instructor's Jupyter origin.  :func:`inert_notebook`
keeps the student's words, headings, emphasis and math, and turns everything that could be
markup into text:

* markdown cells that are not the course's own (a locked cell of the reference notebook,
  unchanged): every ``<`` that could open a tag and every character reference is escaped,
  and links with a script scheme lose it;
* raw cells become plain text (nbconvert copies ``text/html`` raw cells verbatim);
* outputs keep their text only (no ``text/html``, ``image/svg+xml``, ``application/javascript``,
  widget or other rich data);
* markdown attachments other than PNG/JPEG/GIF images and widget state are dropped.

:class:`course_grader.nbgrader_plugin.InertStudentContent` does the same as an nbconvert
preprocessor (``nbgrader_config.py`` runs it in ``generate_feedback``).
"""
from __future__ import annotations

import copy
import re

# "<" followed by what HTML parsers read as the start of a tag, comment or declaration.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
# character references (&#106; &#x6A; &colon; ...) that could spell a scheme or a tag.
_ENTITY = re.compile(r"&(?=#|[A-Za-z][A-Za-z0-9]*;)")
_SCHEME = re.compile(r"(?i)\b(java|vb|live)(\s*)script(\s*):")
_DATA_LINK = re.compile(r"(?i)(\]\(\s*<?\s*|\]:\s*<?\s*)data\s*:")
SAFE_OUTPUT = ("text/plain",)
SAFE_ATTACHMENTS = ("image/png", "image/jpeg", "image/gif")


def _text(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _meta(cell) -> dict:
    md = cell.get("metadata") if isinstance(cell, dict) else None
    nb = md.get("nbgrader") if isinstance(md, dict) else None
    return nb if isinstance(nb, dict) else {}


def inert_markdown(text: str) -> str:
    """Markdown whose HTML shows as text: ``<b>`` reads ``<b>``, ``**b**`` still renders bold."""
    text = _ENTITY.sub("&amp;", text)
    text = _TAG_OPEN.sub("&lt;", text)
    text = _SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}script-blocked{m.group(3)}:", text)
    return _DATA_LINK.sub(lambda m: f"{m.group(1)}data-blocked:", text)


def _course_cells(reference: dict | None) -> dict[str, str]:
    """Markdown the course wrote: locked, non-solution markdown cells of the reference, by grade_id."""
    out = {}
    for cell in (reference or {}).get("cells", []):
        meta = _meta(cell)
        if cell.get("cell_type") == "markdown" and meta.get("grade_id") and meta.get("locked") \
                and not meta.get("solution"):
            out[str(meta["grade_id"])] = _text(cell)
    return out


def _inert_outputs(outputs) -> list:
    out = []
    for o in outputs if isinstance(outputs, list) else []:
        if not isinstance(o, dict):
            continue
        kind = o.get("output_type")
        if kind in ("display_data", "execute_result"):
            data = o.get("data") if isinstance(o.get("data"), dict) else {}
            kept = {k: v for k, v in data.items() if k in SAFE_OUTPUT}
            if not kept:
                continue
            o = {**o, "data": kept, "metadata": {}}
        elif kind not in ("stream", "error"):
            continue
        out.append(o)
    return out


def inert_cell(cell: dict, course: dict[str, str]) -> dict:
    """One cell made inert in place (see the module's description); returns it."""
    kind = cell.get("cell_type")
    if kind == "markdown":
        gid = str(_meta(cell).get("grade_id", "") or "")
        if not (gid in course and _text(cell) == course[gid]):
            cell["source"] = inert_markdown(_text(cell))
        att = cell.get("attachments")
        if isinstance(att, dict):
            cell["attachments"] = {name: {k: v for k, v in (b or {}).items() if k in SAFE_ATTACHMENTS}
                                   for name, b in att.items() if isinstance(b, dict)}
    elif kind == "raw":
        cell["source"] = inert_markdown(_text(cell))
        md = cell.get("metadata")
        if isinstance(md, dict):
            for key in ("format", "raw_mimetype"):
                md.pop(key, None)
    elif kind == "code":
        cell["outputs"] = _inert_outputs(cell.get("outputs"))
    return cell


def inert_notebook(nb: dict, reference: dict | None = None) -> dict:
    """A copy of ``nb`` with the student's content inert; ``reference`` names the course's own cells."""
    nb = copy.deepcopy(nb)
    course = _course_cells(reference)
    nb["cells"] = [inert_cell(c, course) for c in nb.get("cells", []) if isinstance(c, dict)]
    md = nb.get("metadata")
    if isinstance(md, dict):
        md.pop("widgets", None)
    return nb
