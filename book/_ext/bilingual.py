"""Vietnamese and English pages side by side in one Sphinx build.

Why one build: the book is built by a plain ``jupyter-book build .`` from one root
``_config.yml`` + ``_toc.yml``; a single build keeps one table of contents, one search index that
finds pages in both languages, and plain relative links between twin pages.  Two builds merged
afterwards would need two tocs, two configs and cross-build link fixing.

Sphinx has one global ``language``, so this extension makes it per page.  A page under
``book/vi/`` is Vietnamese, one under ``book/en/`` English, anything else (landing page, search,
index) uses ``config.language``.  For each page it

* swaps Sphinx's message catalogues (``sphinx.locale.translators``) before the page is written,
  so strings produced in Python (theme, Sphinx) come out in the page's language;
* gives the templates the page's ``gettext`` (Jinja's ``_()`` looks it up in the page context),
  ``language`` (``<html lang>``), search placeholder and title;
* adds the language switch (``lang-switch.html``) pointing at the twin page, and
  ``<link rel="alternate" hreflang>`` tags;
* shows only the reader's language in the sidebar (the toc has one part per language) and
  keeps prev/next links inside the language;
* writes a search page per language (``book/<lang>/search.html``, same index as ``search.html``)
  that the page's search box submits to, with the search script's words translated
  (``_static/translations-<lang>.js``).

Vietnamese words come from the catalogues shipped with Sphinx and the themes; the few theme words
they lack are in ``VI_EXTRA``.  (MathJax is served locally by ``book/_ext/mathjax_local.py``.)
"""
from __future__ import annotations

import gettext
import json
import sys
from pathlib import Path

import sphinx
from bs4 import BeautifulSoup
from sphinx.application import Sphinx
from sphinx.locale import translators

LANGS = ("vi", "en")
LANG_LABELS = {"vi": "Tiếng Việt", "en": "English"}
SITE_TITLES = {"vi": "AlexNet, từng tầng một", "en": "AlexNet, layer by layer"}
SEARCH_TEXT = {"vi": "Tìm trong sách...", "en": "Search this book..."}
SWITCH_TITLES = {"vi": "Đọc trang này bằng tiếng Việt", "en": "Read this page in English"}

# Theme words missing from (or odd in) the Vietnamese catalogues of Sphinx 7.4,
# pydata-sphinx-theme 0.17 and sphinx-book-theme 1.3.
VI_EXTRA = {
    "previous": "trước",
    "next": "tiếp",
    "previous page": "trang trước",
    "next page": "trang tiếp theo",
    "On this page": "Trên trang này",
    "Skip to main content": "Chuyển đến nội dung chính",
    "Back to top": "Lên đầu trang",
    "Search": "Tìm kiếm",
    "Search Results": "Kết quả tìm kiếm",
    "Home": "Trang chủ",
    "Site navigation": "Điều hướng trang web",
    "Section Navigation": "Điều hướng mục",
    "Breadcrumb": "Đường dẫn",
    "Color mode": "Chế độ màu",
    "Light": "Sáng",
    "Dark": "Tối",
    "System Settings": "Theo hệ thống",
    "Expand Sidebar": "Mở rộng thanh bên",
    "Collapse Sidebar": "Thu gọn thanh bên",
    "Link to this heading": "Liên kết tới tiêu đề này",
    "Link to this equation": "Liên kết tới phương trình này",
    "Link to this image": "Liên kết tới hình này",
    "Link to this code": "Liên kết tới đoạn mã này",
    "Link to this table": "Liên kết tới bảng này",
    "Index": "Chỉ mục",
    "By": "Tác giả",
    "Last updated on": "Cập nhật lần cuối",
    "Fullscreen mode": "Toàn màn hình",
    "Download this page": "Tải trang này",
    "Download source file": "Tải tệp nguồn",
    "Download notebook file": "Tải tệp notebook",
    "Print to PDF": "In ra PDF",
    "Toggle navigation": "Bật/tắt điều hướng",
    "Searching": "Đang tìm",
    "Preparing search...": "Đang chuẩn bị tìm kiếm...",
    "Search finished, found ${resultCount} page(s) matching the search query.":
        "Tìm xong: ${resultCount} trang khớp với truy vấn.",
    "Hide Search Matches": "Ẩn kết quả tìm kiếm",
    "Your search did not match any documents. Please make sure that all words are spelled "
    "correctly and that you've selected enough categories.":
        "Không có trang nào khớp với truy vấn. Hãy kiểm tra chính tả của các từ.",
    "Please activate JavaScript to enable the search functionality.":
        "Hãy bật JavaScript để dùng chức năng tìm kiếm.",
}
# Messages of Sphinx 7.4's searchtools.js, doctools.js and sphinx_highlight.js.
JS_MESSAGES = ("Search Results", "Searching", "Preparing search...", ", in ", "Hide Search Matches",
               "Search finished, found ${resultCount} page(s) matching the search query.",
               "Your search did not match any documents. Please make sure that all words are spelled "
               "correctly and that you've selected enough categories.")

class _Catalog(gettext.NullTranslations):
    """A fixed dict of messages in front of the catalogues it falls back to."""

    def __init__(self, messages: dict[str, str]):
        super().__init__()
        self._messages = messages

    def gettext(self, message):
        if message in self._messages:
            return self._messages[message]
        return self._fallback.gettext(message) if self._fallback else message

    def ngettext(self, singular, plural, n):
        if self._fallback:
            return self._fallback.ngettext(singular, plural, n)
        return singular if n == 1 else plural


def page_language(pagename: str, default: str) -> str:
    parts = pagename.split("/")
    if len(parts) >= 3 and parts[0] == "book" and parts[1] in LANGS:
        return parts[1]
    return default


def twin(pagename: str, lang: str) -> str:
    return "/".join(["book", lang, *pagename.split("/")[2:]])


def _catalog_files(app: Sphinx, lang: str) -> list[tuple[str, Path]]:
    """(catalog, locale dir) of every ``<lang>/LC_MESSAGES/<catalog>.mo`` in Sphinx and the loaded
    extensions (Sphinx keeps no list of the catalogues extensions register)."""
    roots = {Path(sphinx.package_dir)}
    for name in app.extensions:
        module = sys.modules.get(name.split(".")[0])
        if module is not None and getattr(module, "__file__", None):
            roots.add(Path(module.__file__).parent)
    found = set()
    for root in roots:
        for mo in root.rglob(f"{lang}/LC_MESSAGES/*.mo"):
            if ("general", mo.stem) in translators:
                found.add((mo.stem, mo.parents[2]))
    return sorted(found)


def _build_translators(app: Sphinx) -> None:
    """One merged translator per language, over every catalogue of the build."""
    per_lang: dict[str, gettext.NullTranslations] = {}
    for lang in LANGS:
        chain = _Catalog(VI_EXTRA if lang == "vi" else {})
        for name, path in _catalog_files(app, lang):
            chain.add_fallback(gettext.translation(name, str(path), languages=[lang]))
        per_lang[lang] = chain
    app._bilingual_translators = per_lang  # type: ignore[attr-defined]
    app._bilingual_saved = {key: val for key, val in translators.items()  # type: ignore[attr-defined]
                            if key[0] == "general"}


def _activate(app: Sphinx, lang: str) -> None:
    """Route Sphinx's message catalogues of the 'general' namespace to ``lang``."""
    saved = app._bilingual_saved  # type: ignore[attr-defined]
    if lang == app.config.language:
        translators.update(saved)
        return
    chain = app._bilingual_translators[lang]  # type: ignore[attr-defined]
    for key in saved:
        translators[key] = chain


def _on_builder_inited(app: Sphinx) -> None:
    _build_translators(app)


def _on_doctree_resolved(app: Sphinx, doctree, docname: str) -> None:
    _activate(app, page_language(docname, app.config.language))


def _search_page(lang: str) -> str:
    return f"book/{lang}/search"


def _on_collect_pages(app: Sphinx):
    for lang in LANGS:
        yield _search_page(lang), {}, "search.html"


def _on_build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for lang in LANGS:
        if lang == app.config.language:
            continue
        chain = app._bilingual_translators[lang]  # type: ignore[attr-defined]
        messages = {m: chain.gettext(m) for m in JS_MESSAGES if chain.gettext(m) != m}
        catalog = {"messages": messages, "plural_expr": "(n != 1)", "locale": lang}
        out = Path(app.outdir) / "_static" / f"translations-{lang}.js"
        out.write_text(f"Documentation.addTranslations({json.dumps(catalog, ensure_ascii=False)});\n",
                       encoding="utf-8")


def _part_language(app: Sphinx) -> dict[str, str]:
    """Caption of each toc part -> the language of the pages it lists."""
    site_map = getattr(app.env, "external_site_map", None)
    out = {}
    if site_map is None:
        return out
    for tree in site_map[site_map.root.docname].subtrees:
        langs = {page_language(f, "") for f in tree.files()}
        if tree.caption and len(langs) == 1 and "" not in langs:
            out[tree.caption] = langs.pop()
    return out


def _filter_toctree(toctree, lang: str, part_lang: dict[str, str]):
    """Wrap the template's ``toctree()``: keep only the parts written in ``lang``."""

    def filtered(*args, **kwargs):
        html = toctree(*args, **kwargs)
        if not html:
            return html
        soup = BeautifulSoup(html, "html.parser")
        for caption in soup.select("p.caption"):
            if part_lang.get(caption.get_text(strip=True), lang) != lang:
                body = caption.find_next_sibling("ul")
                if body is not None:
                    body.decompose()
                caption.decompose()
        return str(soup)

    return filtered


def _on_html_page_context(app: Sphinx, pagename: str, templatename: str, ctx: dict,
                          doctree) -> None:
    lang = page_language(pagename, app.config.language)
    _activate(app, lang)
    if lang != app.config.language:
        chain = app._bilingual_translators[lang]  # type: ignore[attr-defined]
        ctx["gettext"] = chain.gettext
        ctx["ngettext"] = chain.ngettext
        app.add_js_file(f"translations-{lang}.js", priority=250)  # after doctools.js, this page only
    if templatename == "search.html":
        # Sphinx loads MathJax only on pages with equations; page titles in the sidebar and the
        # search results contain math too.
        app.add_js_file(app.config.mathjax_path, loading_method="defer")
    ctx["language"] = lang
    ctx["theme_search_bar_text"] = SEARCH_TEXT[lang]
    if pagename.split("/")[:2] != ["book", lang]:
        return  # the landing page, search, genindex: both languages, no switch
    ctx["docstitle"] = SITE_TITLES[lang]
    pathto = ctx["pathto"]

    def pathto_language_search(otheruri, *args, **kwargs):
        return pathto(_search_page(lang) if otheruri == "search" else otheruri, *args, **kwargs)

    ctx["pathto"] = pathto_language_search
    is_search = pagename == _search_page(lang)
    switch = []
    for other in LANGS:
        target = twin(pagename, other)
        if other != lang and (target in app.env.all_docs or is_search):
            href = pathto(target)
            switch.append({"lang": other, "href": href, "label": LANG_LABELS[other],
                           "title": SWITCH_TITLES[other], "keep_query": is_search})
            ctx["metatags"] = ctx.get("metatags", "") + (
                f'\n<link rel="alternate" hreflang="{other}" href="{href}" />')
    ctx["bilingual_switch"] = switch
    if "toctree" in ctx:
        ctx["toctree"] = _filter_toctree(ctx["toctree"], lang, _part_language(app))
    for key in ("prev", "next"):
        link = ctx.get(key)
        if link and page_language(_link_docname(app, pagename, link), lang) != lang:
            # The first page of a language goes back to the landing page, the last has no next.
            root = app.config.root_doc
            ctx[key] = ({"link": pathto(root), "title": app.env.titles[root].astext()}
                        if key == "prev" else None)


def _link_docname(app: Sphinx, pagename: str, link: dict) -> str:
    """The docname a prev/next link points at (its link is relative to ``pagename``)."""
    base = pagename.split("/")[:-1]
    for part in link["link"].split("#")[0].removesuffix(app.builder.link_suffix).split("/"):
        if part == "..":
            base = base[:-1]
        elif part not in ("", "."):
            base.append(part)
    return "/".join(base)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _on_builder_inited)
    app.connect("doctree-resolved", _on_doctree_resolved)
    app.connect("html-collect-pages", _on_collect_pages)
    app.connect("build-finished", _on_build_finished)
    app.add_js_file("bilingual.js")
    # Before pydata-sphinx-theme (priority 500) renders the header and sidebar templates once to
    # drop empty ones and caches the sidebar's toctree.
    app.connect("html-page-context", _on_html_page_context, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": False}
