"""The book's page list and readers for its MyST-Markdown notebooks (shared by tests/test_book_*)."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
HTML = ROOT / "_build" / "html"
LANGS = ("vi", "en")

# Pages of each language, in reading order (as in _toc.yml).
PAGES = ("00_overview", "00b_setup", "01_input", "02_conv1", "03_norm1", "04_pool1", "05_conv2", "06_norm2",
         "07_pool2", "08_conv3", "09_conv4", "10_conv5", "11_pool3", "12_fc6", "13_fc7", "14_fc8", "15_forward_gpu",
         "16_training", "a1_errata", "a2_alexnet2012", "a3_glossary", "a4_references")
# Chapter page -> the id of its nbgrader assignment.
CHAPTERS = PAGES[PAGES.index("01_input"):PAGES.index("15_forward_gpu") + 1]
EXERCISES = dict(zip(CHAPTERS, ("input conv1 norm1 pool1 conv2 norm2 pool2 conv3 conv4 conv5 pool3 "
                                "fc6 fc7 fc8 forward_gpu").split()))


def page_path(lang: str, page: str) -> Path:
    return BOOK / lang / f"{page}.md"


@lru_cache(maxsize=None)
def read_page(lang: str, page: str):
    """The page as a notebook (jupytext's MyST reader)."""
    return jupytext.read(page_path(lang, page), fmt="md:myst")


def code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


_DOLLAR_BLOCK = re.compile(r"\$\$(.+?)\$\$", re.S)
_MATH_DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{math\}[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)
_AMS_ENV = re.compile(r"\\begin\{(equation|align|gather|multline|eqnarray)\*?\}.*?\\end\{\1\*?\}", re.S)


def display_equations(md: str) -> list[str]:
    """Display equations in order: $$...$$, {math} directives and bare amsmath environments,
    whitespace-normalised, without directive options (labels differ between languages)."""
    found = []
    for m in _MATH_DIRECTIVE.finditer(md):
        body = "\n".join(line for line in m["body"].splitlines() if not line.lstrip().startswith(":"))
        found.append((m.start(), body))
    rest = _MATH_DIRECTIVE.sub(lambda m: " " * len(m[0]), md)
    for m in _DOLLAR_BLOCK.finditer(rest):
        found.append((m.start(), m[1]))
    rest = _DOLLAR_BLOCK.sub(lambda m: " " * len(m[0]), rest)
    for m in _AMS_ENV.finditer(rest):
        found.append((m.start(), m[0]))
    return [" ".join(body.split()) for _, body in sorted(found)]


_FIGURE = re.compile(r"\{(?:figure|image)\}`?\s*([^\s`]+)|!\[[^\]]*\]\(([^)\s]+)")
_DOWNLOAD = re.compile(r"\{download\}`[^`]*?<([^>]+)>`")
_LABEL = re.compile(r"^\((?P<label>[^)\s]+)\)=\s*$|^\s*:(?:label|name):\s*(?P<opt>\S+)\s*$|"
                    r"\$\$[ \t]*\((?P<eq>[\w.:-]+)\)[ \t]*$", re.M)


def figures(md: str) -> list[str]:
    return [a or b for a, b in _FIGURE.findall(md)]


def downloads(md: str) -> list[str]:
    return _DOWNLOAD.findall(md)


def labels(md: str) -> list[str]:
    return [m["label"] or m["opt"] or m["eq"] for m in _LABEL.finditer(md)]


_CODE_SPAN = re.compile(r"`[^`\n]*`")
_FENCED = re.compile(r"^(`{3,}|~{3,}).*?^\1", re.S | re.M)
_INLINE_MATH = re.compile(r"\$[^$\n]+\$")
_URL = re.compile(r"\]\([^)]*\)|https?://\S+")


def prose(md: str) -> str:
    """Markdown text without math, code and link targets."""
    for pattern in (_FENCED, _DOLLAR_BLOCK, _INLINE_MATH, _CODE_SPAN, _URL):
        md = pattern.sub(" ", md)
    return md
