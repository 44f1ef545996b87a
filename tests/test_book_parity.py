"""The two languages of the book stay twins: same pages, code, equations, figures, exercise links."""
import pytest
import yaml

from tests.book_pages import (BOOK, EXERCISES, LANGS, PAGES, ROOT, code_cells, display_equations,
                              downloads, figures, labels, markdown, page_path, prose, read_page)

# Letters that occur in Vietnamese but not in English or the usual loanwords.
VI_LETTERS = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
                 "áàãéèíìóòõúùýĩũ")
VI_LETTERS |= {c.upper() for c in VI_LETTERS}


@pytest.mark.parametrize("lang", LANGS)
def test_each_language_has_exactly_the_pages_of_the_toc(lang):
    found = sorted(p.stem for p in (BOOK / lang).glob("*.md"))
    assert found == sorted(PAGES), (f"book/{lang}: missing {sorted(set(PAGES) - set(found))}, "
                                    f"unexpected {sorted(set(found) - set(PAGES))}")


def test_toc_lists_every_page_of_both_languages_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    assert toc["root"] == "book/index"
    parts = [[c["file"] for c in part["chapters"]] for part in toc["parts"]]
    assert parts == [[f"book/{lang}/{p}" for p in PAGES] for lang in LANGS]


def _twins(page):
    return read_page("vi", page), read_page("en", page)


@pytest.mark.parametrize("page", PAGES)
def test_twins_have_identical_code_cells(page):
    vi, en = _twins(page)
    code_vi, code_en = code_cells(vi), code_cells(en)
    assert len(code_vi) == len(code_en), f"{page}: {len(code_vi)} code cells in vi, {len(code_en)} in en"
    for i, (a, b) in enumerate(zip(code_vi, code_en)):
        assert a == b, f"{page}: code cell {i} differs between vi and en:\n--- vi\n{a}\n--- en\n{b}"
    tags = [[c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"] for nb in (vi, en)]
    assert tags[0] == tags[1], f"{page}: code cell tags differ: vi {tags[0]}, en {tags[1]}"


@pytest.mark.parametrize("page", PAGES)
def test_twins_have_the_same_display_equations(page):
    vi, en = (display_equations(markdown(nb)) for nb in _twins(page))
    vi = [eq.replace("{,}", ".") for eq in vi]  # Vietnamese writes 0{,}75 where English writes 0.75
    assert vi == en, f"{page}: display equations differ:\nvi: {vi}\nen: {en}"


@pytest.mark.parametrize("page", PAGES)
def test_twins_have_the_same_figures(page):
    vi, en = _twins(page)
    assert figures(markdown(vi)) == figures(markdown(en)), f"{page}: figure/image references differ"
    plots = [sum("plt." in src or "matplotlib" in src for src in code_cells(nb)) for nb in (vi, en)]
    assert plots[0] == plots[1], f"{page}: plotting code cells: vi {plots[0]}, en {plots[1]}"


@pytest.mark.parametrize("page", PAGES)
def test_twins_link_the_same_exercise(page):
    vi, en = (downloads(markdown(nb)) for nb in _twins(page))
    assert vi == en, f"{page}: download links differ: vi {vi}, en {en}"
    if page in EXERCISES:
        expected = f"../exercises/{EXERCISES[page]}.ipynb"
        assert expected in vi, f"{page}: expected a {{download}} link to {expected}, found {vi}"


@pytest.mark.parametrize("page", PAGES)
def test_labels_carry_the_language_suffix(page):
    found = {lang: labels(markdown(nb)) for lang, nb in zip(LANGS, _twins(page))}
    for lang, names in found.items():
        assert names, f"book/{lang}/{page}.md has no MyST label such as (name-{lang})="
        wrong = [n for n in names if not n.endswith(f"-{lang}")]
        assert not wrong, f"book/{lang}/{page}.md: labels without the -{lang} suffix: {wrong}"
    stems = {lang: sorted(n[: -len(lang) - 1] for n in names) for lang, names in found.items()}
    assert stems["vi"] == stems["en"], f"{page}: labels differ: vi {found['vi']}, en {found['en']}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", PAGES)
def test_page_is_a_myst_notebook_with_a_python_kernel(page, lang):
    text = page_path(lang, page).read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"book/{lang}/{page}.md: no front matter"
    kernelspec = read_page(lang, page).metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3", f"book/{lang}/{page}.md: kernelspec is {kernelspec}"


@pytest.mark.parametrize("page", PAGES)
def test_vietnamese_page_is_written_in_vietnamese(page):
    vi, en = (prose(markdown(nb)) for nb in _twins(page))
    letters = [c for c in vi if c.isalpha()]
    marked = sum(c in VI_LETTERS for c in letters)
    assert marked >= 0.05 * len(letters), (f"book/vi/{page}.md: only {marked} of {len(letters)} letters "
                                           "carry Vietnamese diacritics; is the prose translated?")
    assert vi.split() != en.split(), f"book/vi/{page}.md: same prose as book/en/{page}.md"
