"""The built book (_build/html, from `make book`) in a real browser: headless Debian chromium.

The site is served on 127.0.0.1 (random free port) and chromium resolves no other host, so a
page that needed the network would show it.  BOOK_HTML may point at another built site.
"""
import functools
import html.parser
import os
import re
import tempfile
import threading
import urllib.parse
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest

from tests.book_pages import EXERCISES, HTML, LANGS, ROOT, display_equations, markdown, read_page

pytestmark = pytest.mark.slow

SITE = Path(os.environ.get("BOOK_HTML", HTML))
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHAPTER = "03_norm1"
QUERIES = {"vi": "chuẩn hóa phản hồi cục bộ", "en": "local response normalization"}
SCREENSHOTS = Path(tempfile.gettempdir()) / "book-screenshots"


@pytest.fixture(scope="module")
def site():
    assert (SITE / "index.html").is_file(), f"no built book at {SITE}: run `make book` first"
    return SITE


class _AssetLinks(html.parser.HTMLParser):
    """URLs a page loads: <script src>, <link href>, <img src>, <iframe src>, <source src>."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        key = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src"}.get(tag)
        if key and attrs.get(key):
            self.urls.append((tag, attrs[key]))


def _offsite(url: str) -> bool:
    return bool(urllib.parse.urlsplit(url).netloc) or url.startswith(("http:", "https:", "//"))


def test_no_page_loads_anything_from_another_site(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 2 * 20, f"only {len(pages)} pages under {site}"
    bad = []
    for page in pages:
        parser = _AssetLinks()
        parser.feed(page.read_text(encoding="utf-8"))
        bad += [f"{page.relative_to(site)}: <{tag}> {url}" for tag, url in parser.urls if _offsite(url)]
    for css in sorted(site.rglob("*.css")):
        for url in re.findall(r"(?:url\(|@import\s+)['\"]?(https?:)?//[^'\")\s]*", css.read_text(errors="replace")):
            bad.append(f"{css.relative_to(site)}: {url}")
    assert not bad, "off-site assets:\n" + "\n".join(bad[:50])


def test_mathjax_is_served_locally(site):
    page = (site / "book" / "en" / f"{CHAPTER}.html").read_text(encoding="utf-8")
    match = re.search(r'<script[^>]+src="([^"]*tex-chtml\.js[^"]*)"', page)
    assert match, f"book/en/{CHAPTER}.html loads no tex-chtml.js"
    local = (site / "book" / "en" / match[1].split("?")[0]).resolve()
    assert local.is_file(), f"MathJax script {match[1]} is not in the built site"
    assert any((site / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff")), \
        "MathJax fonts are missing from _static/mathjax"


@pytest.mark.parametrize("lang", LANGS)
def test_pages_carry_their_language(site, lang):
    for page in ("00_overview", CHAPTER, "a4_references"):
        text = (site / "book" / lang / f"{page}.html").read_text(encoding="utf-8")
        assert re.search(rf'<html[^>]*\slang="{lang}"', text), f"book/{lang}/{page}.html: wrong <html lang>"
    text = (site / "book" / lang / f"{CHAPTER}.html").read_text(encoding="utf-8")
    words = {"vi": ["Tìm trong sách", "Nội dung", "trước", "tiếp"],
             "en": ["Search this book", "Contents", "previous", "next"]}[lang]
    missing = [w for w in words if w not in text]
    assert not missing, f"book/{lang}/{CHAPTER}.html lacks the theme words {missing}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_chapter_links_a_released_notebook(site, lang):
    for page, exercise in EXERCISES.items():
        text = (site / "book" / lang / f"{page}.html").read_text(encoding="utf-8")
        hrefs = re.findall(rf'<a class="reference download internal"[^>]*href="([^"]*/{exercise}\.ipynb)"', text)
        assert hrefs, f"book/{lang}/{page}.html has no download link to {exercise}.ipynb"
        target = (site / "book" / lang / hrefs[0]).resolve()
        assert target.is_file(), f"book/{lang}/{page}.html links {hrefs[0]}, not in the built site"
        nbformat.validate(nbformat.read(target, as_version=4))


@pytest.mark.parametrize("lang", LANGS)
def test_every_exercise_section_links_the_built_setup_page(site, lang):
    for page in EXERCISES:
        text = (site / "book" / lang / f"{page}.html").read_text(encoding="utf-8")
        summary = re.search(r'<div class="exercise-summary[^"]*">(.*?)</div>', text, re.S)
        assert summary, f"book/{lang}/{page}.html has no generated exercise summary"
        assert 'href="00b_setup.html' in summary[1], f"book/{lang}/{page}.html: the summary does not link 00b_setup.html"
    assert (site / "book" / lang / "00b_setup.html").is_file()


@pytest.mark.parametrize("lang", LANGS)
def test_setup_page_offers_the_students_wheel(site, lang):
    import zipfile

    text = (site / "book" / lang / "00b_setup.html").read_text(encoding="utf-8")
    hrefs = re.findall(r'<a class="reference download internal"[^>]*href="([^"]*\.whl)"', text)
    assert hrefs, f"book/{lang}/00b_setup.html has no download link to a wheel"
    names = zipfile.ZipFile((site / "book" / lang / hrefs[0]).resolve()).namelist()
    assert all(n.startswith("alexnet_ref") for n in names), f"the wheel holds more than alexnet_ref: {names}"


@pytest.mark.parametrize("lang", LANGS)
def test_chapter_pages_can_be_downloaded_as_notebooks(site, lang):
    for page in EXERCISES:
        text = (site / "book" / lang / f"{page}.html").read_text(encoding="utf-8")
        hrefs = re.findall(rf'href="([^"]*_sources/book/{lang}/{page}\.ipynb)"', text)
        assert hrefs, f"book/{lang}/{page}.html offers no .ipynb download of the page"
        nb = nbformat.read((site / "book" / lang / hrefs[0]).resolve(), as_version=4)
        nbformat.validate(nb)
        assert any(c.cell_type == "code" for c in nb.cells)


# ---- in the browser -------------------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"browser tests need Debian chromium and chromium-driver (`make system-deps`); "
                    f"missing {', '.join(missing)}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, condition, what, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: condition(d), message=f"timed out after {timeout} s waiting for {what}")


def _lang(driver):
    return driver.execute_script("return document.documentElement.lang")


@pytest.mark.parametrize("lang", LANGS)
def test_math_is_typeset_by_local_mathjax(browser, server, lang):
    browser.get(f"{server}/book/{lang}/{CHAPTER}.html")
    _wait(browser, lambda d: d.execute_script(
        "return !!(window.MathJax && MathJax.startup && MathJax.startup.document"
        " && MathJax.startup.document.processed && document.querySelector('mjx-container'))"),
        f"MathJax on book/{lang}/{CHAPTER}.html")
    # the typesetting promise resolves once every equation is done
    browser.execute_async_script("const done = arguments[0]; MathJax.startup.promise.then(() => done(true));")
    shown = browser.execute_script("return document.querySelectorAll('mjx-container[display=\"true\"]').length")
    expected = len(display_equations(markdown(read_page(lang, CHAPTER))))
    assert shown >= expected > 0, f"book/{lang}/{CHAPTER}.html: {shown} display equations typeset, " \
                                  f"expected {expected}"
    assert not browser.execute_script("return document.querySelectorAll('mjx-merror').length"), \
        "MathJax reported an error in an equation"
    text = browser.execute_script("return document.querySelector('main').innerText")
    assert "$$" not in text, f"raw $$ left on book/{lang}/{CHAPTER}.html"
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus || 0])")
    offsite = [url for url, _ in resources if not url.startswith(server)]
    assert not offsite, f"book/{lang}/{CHAPTER}.html loaded {offsite}"
    broken = [(url, status) for url, status in resources  # the browser asks for /favicon.ico by itself
              if status >= 400 and not url.endswith("/favicon.ico")]
    assert not broken, f"book/{lang}/{CHAPTER}.html requested missing files: {broken}"
    assert any("/_static/mathjax/" in url for url, _ in resources), "MathJax was not loaded from _static"
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{lang}_{CHAPTER}.png"))
    print(f"screenshot: {SCREENSHOTS / f'{lang}_{CHAPTER}.png'}")


def test_language_switch_lands_on_the_twin_page_and_back(browser, server):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/book/vi/{CHAPTER}.html")
    assert _lang(browser) == "vi"
    for here, there in (("vi", "en"), ("en", "vi")):
        link = browser.find_element(By.CSS_SELECTOR, f"a.bilingual-switch__link[hreflang='{there}']")
        assert link.is_displayed(), f"the language switch on book/{here}/{CHAPTER}.html is hidden"
        link.click()
        _wait(browser, lambda d: d.current_url.split("#")[0].endswith(f"/book/{there}/{CHAPTER}.html"),
              f"the switch from book/{here}/{CHAPTER}.html to book/{there}/{CHAPTER}.html")
        assert _lang(browser) == there, f"book/{there}/{CHAPTER}.html has <html lang={_lang(browser)!r}>"
        nav = browser.find_element(By.CSS_SELECTOR, "nav.bd-docs-nav").get_attribute("innerHTML")
        assert f"/{here}/" not in nav and ("Tiếng Việt" in nav) == (there == "vi"), \
            f"the sidebar of book/{there}/{CHAPTER}.html shows pages of the other language"


@pytest.mark.parametrize("search_page", ["search.html", "book/{lang}/search.html"])
@pytest.mark.parametrize("lang", LANGS)
def test_search_finds_the_lrn_chapter(browser, server, lang, search_page):
    from selenium.webdriver.common.by import By

    query = QUERIES[lang]
    page_lang = lang if search_page.startswith("book/") else "en"
    finished = {"vi": "Kết quả tìm kiếm", "en": "Search Results"}[page_lang]
    browser.get(f"{server}/{search_page.format(lang=lang)}?q={urllib.parse.quote(query)}")
    assert _lang(browser) == page_lang
    # searchtools.js sets this heading when the whole result list is shown
    _wait(browser, lambda d: d.execute_script(
        "const h = document.querySelector('#search-results h2'); return h && h.textContent.trim()") == finished,
        f"the search for {query!r} on {search_page} to finish with the heading {finished!r}")
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")]
    assert any(f"/book/{lang}/{CHAPTER}.html" in h for h in hrefs), \
        f"searching {query!r} on {search_page} did not find book/{lang}/{CHAPTER}: {hrefs}"


def test_search_box_of_a_page_submits_to_its_language_search_page(browser, server):
    from selenium.webdriver.common.by import By

    for lang in LANGS:
        browser.get(f"{server}/book/{lang}/{CHAPTER}.html")
        form = browser.find_element(By.CSS_SELECTOR, "form.bd-search")
        action = form.get_attribute("action").split("?")[0]
        assert action == f"{server}/book/{lang}/search.html", f"book/{lang}/{CHAPTER}.html searches {action}"


def test_exercise_download_is_a_student_notebook(browser, server):
    from selenium.webdriver.common.by import By

    exercise = EXERCISES[CHAPTER]
    browser.get(f"{server}/book/en/{CHAPTER}.html")
    links = browser.find_elements(By.CSS_SELECTOR, f"a.download[href$='/{exercise}.ipynb']")
    assert links, f"book/en/{CHAPTER}.html has no download link to {exercise}.ipynb"
    with urllib.request.urlopen(links[0].get_attribute("href"), timeout=30) as response:
        assert response.status == 200
        nb = nbformat.reads(response.read().decode("utf-8"), as_version=4)
    nbformat.validate(nb)
    sources = "\n".join(cell.source for cell in nb.cells)
    for marker in ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS"):
        assert marker not in sources, f"the released {exercise}.ipynb still contains {marker!r}"
    solution = ROOT / "solutions" / exercise / f"{exercise}.ipynb"
    if solution.is_file():
        text = "\n".join(c.source for c in nbformat.read(solution, as_version=4).cells)
        hidden = [line.strip() for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", text, re.S)
                  for line in block.splitlines() if len(line.strip()) > 12]
        leaked = [line for line in hidden if line in sources]
        assert not leaked, f"the released {exercise}.ipynb leaks solution lines: {leaked[:5]}"
        if hidden:
            assert "YOUR CODE HERE" in sources, f"the released {exercise}.ipynb has no YOUR CODE HERE stubs"
