"""The language of a book page, for what its code cells print and draw.

Twin pages (``book/vi/*.md`` and ``book/en/*.md``) share byte-identical code cells, so a cell
cannot spell its output in one language; it gives both and this module picks one.  A page is
executed in its own folder, ``book/vi`` or ``book/en``; the environment variable
``ALEXNET_LANG`` (``vi`` or ``en``) takes precedence, e.g. for a notebook downloaded elsewhere.

Vietnamese writes 62.378.344 and 0,6 where English writes 62,378,344 and 0.6.
"""
from __future__ import annotations

import os
from pathlib import Path

LANGS = ("vi", "en")
_SWAP = str.maketrans(",.", ".,")


def page_lang() -> str:
    """``"vi"`` or ``"en"``: ALEXNET_LANG if set, else the name of the current folder, else English."""
    lang = os.environ.get("ALEXNET_LANG", "").strip().lower()
    if lang in LANGS:
        return lang
    return "vi" if Path.cwd().name == "vi" else "en"


def tr(vi: str, en: str) -> str:
    """The text of the page's language."""
    return vi if page_lang() == "vi" else en


def num(x, spec: str = "") -> str:
    """``format(x, spec)`` with the page's separators: ``num(62378344, ",")`` is 62.378.344 on a
    Vietnamese page; ``num(0.614, ".1%")`` is 61,4%."""
    text = format(x, spec)
    return text.translate(_SWAP) if page_lang() == "vi" else text


def localize(fig=None):
    """Give the tick labels of every axes of ``fig`` (default: the current figure) the page's decimal
    separator, and return the figure.  Call it before ``plt.show()``."""
    import matplotlib.pyplot as plt

    fig = fig if fig is not None else plt.gcf()
    if page_lang() == "vi":
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                if not getattr(axis.get_major_formatter(), "decimal_comma", False):
                    axis.set_major_formatter(_decimal_comma(axis.get_major_formatter()))
    return fig


def _comma(label: str) -> str:
    # Inside mathtext a bare comma is followed by a space; {,} is not.
    return label.replace(".", "{,}") if "$" in label else label.replace(".", ",")


def _decimal_comma(inner):
    """A formatter that asks ``inner`` for its labels and writes their decimal points as commas."""
    from matplotlib.ticker import Formatter

    class DecimalComma(Formatter):
        decimal_comma = True

        def set_axis(self, axis):
            super().set_axis(axis)
            inner.set_axis(axis)

        def set_locs(self, locs):
            inner.set_locs(locs)

        def __call__(self, x, pos=None):
            return _comma(inner(x, pos))

        def format_ticks(self, values):
            return [_comma(label) for label in inner.format_ticks(values)]

        def get_offset(self):
            return _comma(inner.get_offset())

    return DecimalComma()
