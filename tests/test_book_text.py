"""The text of the book is right and the Vietnamese pages read as Vietnamese.

Checks what a test can check: terms (the glossary's "tầng" for a layer, "tài liệu gốc" for the
source), the Vietnamese number format in prose, equations and printed outputs, outputs and figure
labels spelled in the page's language, the corrections of the errata in both languages, and a
reference for every work the text cites.
"""
import ast
import re
from html.parser import HTMLParser

import pytest
import yaml

from alexnet_ref import lang as page_lang_module
from tests.book_pages import (BOOK, HTML, LANGS, PAGES, ROOT, code_cells, display_equations, markdown, prose,
                              read_page)

VI_PAGES = [p for p in PAGES if (BOOK / "vi" / f"{p}.md").exists()]
BUILT = HTML / "book"


def _vi_prose(page):
    return prose(markdown(read_page("vi", page)))


def _text_and_math(lang, page):
    """Markdown without code and link targets, math kept (numbers in math count too)."""
    md = markdown(read_page(lang, page))
    md = re.sub(r"^(`{3,}|~{3,}).*?^\1", " ", md, flags=re.S | re.M)
    md = re.sub(r"`[^`\n]*`|\]\([^)]*\)|<https?://[^>]+>|https?://\S+|\{(?:ref|doc|download)\}`[^`]*`"
                r"|arXiv:\S+|DOI \[[^\]]*\]", " ", md)
    return md


# --- terms ---------------------------------------------------------------------------------------

# "lớp" is the glossary's word for a class; in these contexts it would mean a layer.
LAYER_AS_LOP = re.compile(r"(?i)\blớp\s+(?:tích chập|kết nối|ẩn|đầu vào|đầu ra|gộp|chuẩn hóa|conv|fc|norm|max pool"
                          r"|dropout|softmax|relu|`dense`|trước|sau|tiếp theo|cuối cùng)|từng lớp một|các lớp của mạng")


@pytest.mark.parametrize("page", VI_PAGES)
def test_vietnamese_pages_never_call_a_layer_lop(page):
    found = [m.group() for m in LAYER_AS_LOP.finditer(_vi_prose(page))]
    assert not found, f"book/vi/{page}.md: 'lớp' (class) used for a layer (tầng): {found}"


def test_the_title_says_tang_not_lop():
    places = {"_config.yml": ROOT / "_config.yml", "book/index.md": BOOK / "index.md",
              "book/_ext/bilingual.py": BOOK / "_ext" / "bilingual.py"}
    for name, path in places.items():
        text = path.read_text(encoding="utf-8")
        assert "từng lớp" not in text, f"{name}: the title says 'từng lớp' (classes); a layer is a 'tầng'"
        assert "từng tầng một" in text, f"{name}: expected the title 'AlexNet, từng tầng một'"


def _glossary():
    return {e["en"]: e for e in yaml.safe_load((BOOK / "glossary.yml").read_text(encoding="utf-8"))}


def test_glossary_keeps_lop_for_classes_and_tang_for_layers():
    terms = _glossary()
    assert terms["layer"]["vi"] == "tầng", f"glossary: layer -> {terms['layer']['vi']!r}, expected 'tầng'"
    assert terms["class"]["vi"] == "lớp", f"glossary: class -> {terms['class']['vi']!r}, expected 'lớp'"


def test_glossary_lists_sai_buoc_as_the_d2l_synonym_of_buoc_nhay():
    stride = _glossary()["stride"]
    assert stride["vi"] == "bước nhảy", f"glossary: stride -> {stride['vi']!r}, expected the source's 'bước nhảy'"
    assert "sải bước" in stride["note_vi"], f"glossary: stride's note does not mention 'sải bước': {stride['note_vi']!r}"


WRONG_TERMS = {"tài liệu nguồn": "tài liệu gốc", "văn bản gốc": "tài liệu gốc", "cộng sổ": "(a calque)",
               "đơn giản học ra": "(a calque)", "gradient descent": "hạ gradient"}


@pytest.mark.parametrize("page", VI_PAGES)
def test_vietnamese_pages_use_one_term_for_the_source_and_no_calques(page):
    text = _vi_prose(page).casefold()
    found = {bad: good for bad, good in WRONG_TERMS.items() if bad in text}
    assert not found, f"book/vi/{page}.md: replace {found}"


@pytest.mark.parametrize("page", VI_PAGES)
def test_vietnamese_pages_say_gia_tri_kich_hoat_for_an_activation(page):
    found = re.findall(r".{0,30}\bactivations?\b(?! map).{0,20}", _vi_prose(page))
    assert not found, f"book/vi/{page}.md: 'activation' (glossary: giá trị kích hoạt): {found}"


def test_the_glossary_uses_one_term_for_the_source():
    text = (BOOK / "glossary.yml").read_text(encoding="utf-8")
    assert "tài liệu nguồn" not in text, "book/glossary.yml: 'tài liệu nguồn' should be 'tài liệu gốc'"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", PAGES)
def test_tensors_are_written_as_plain_M_i_and_H_i(page, lang):
    md = markdown(read_page(lang, page))
    bold = sorted(set(re.findall(r"\\(?:mathbf|boldsymbol|bm)\{[MH]\}", md)))
    assert not bold, f"book/{lang}/{page}.md: write M_i and H_i as in chapters 1–7, found {bold}"


# --- numbers -------------------------------------------------------------------------------------

# English separators on a Vietnamese page: 62,378,344 (two comma groups) or 0.75 (a point and 1–2 or
# 4+ digits; three digits after a point are a Vietnamese thousands group).  Versions and section
# numbers are not quantities.
EN_THOUSANDS = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3}){2,}(?![\w,])")
EN_DECIMAL = re.compile(r"(?<![\w.,{§])\d+\.(?:\d{1,2}|\d{4,})(?![\w.]|\{)")
NOT_A_QUANTITY = re.compile(r"(?:Python|PyTorch|torch|CUDA|cu|Armv|mục|phiên bản|version)\s*$", re.I)


def _english_numbers(text):
    bad = []
    for pattern in (EN_THOUSANDS, EN_DECIMAL):
        for m in pattern.finditer(text):
            if not NOT_A_QUANTITY.search(text[max(0, m.start() - 12):m.start()]):
                bad.append(text[max(0, m.start() - 20):m.end() + 5].replace("\n", " "))
    return bad


def test_the_number_check_tells_the_two_formats_apart():
    assert _english_numbers("có 62,378,344 tham số") and _english_numbers("$\\beta = 0.75$")
    assert not _english_numbers("có 62.378.344 tham số, $\\beta = 0{,}75$, khoảng 0,6 MB, 154.587 con số")
    assert not _english_numbers("Python 3.11 và PyTorch 2.13.0, §1.1.12")


@pytest.mark.parametrize("page", VI_PAGES)
def test_vietnamese_prose_and_equations_use_vietnamese_numbers(page):
    bad = _english_numbers(_text_and_math("vi", page))
    assert not bad, f"book/vi/{page}.md: English number format (write 62.378.344 and 0,6; 0{{,}}6 in math): {bad}"


def test_vietnamese_glossary_notes_use_vietnamese_numbers():
    bad = {e["en"]: _english_numbers(e["note_vi"]) for e in _glossary().values()}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"book/glossary.yml: note_vi with English number format: {bad}"


def test_twin_equations_differ_only_in_the_decimal_separator():
    for page in PAGES:
        vi = display_equations(markdown(read_page("vi", page)))
        assert not any(re.search(r"\d\.\d", eq) and not re.search(r"\d\.\d{3}", eq) for eq in vi), \
            f"book/vi/{page}.md: a display equation has a decimal point: {vi}"


# --- outputs and figures in the page's language --------------------------------------------------

# Calls whose string arguments reach the reader: printed text, titles, axis labels, legends, notes.
SHOWN = {"print", "set_title", "set_xlabel", "set_ylabel", "suptitle", "text", "annotate", "set_yticks",
         "set_xticks", "Markdown", "barh", "bar", "plot", "hist", "legend"}
# Words that are the same in both languages: names of layers, libraries, units, code.
SAME_IN_BOTH = set("""
conv norm pool max min fc relu lrn nchw hwc chw alexnet_ref torch cpu cuda gpu mib gib kib gflop flop
float32 bfloat16 dtype logits entropy softmax log_softmax module batch groups layer_shapes tensor
linear_forward conv2d_forward max_pool2d_forward local_response_norm localresponsenorm alpha beta
true false none ms img error valueerror rgb macs params
""".split())


def _shown_strings(source):
    """String constants passed to a SHOWN call (f-string text included), except those inside tr()."""
    found = []

    def visit(node, inside_tr=False):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "tr":
                return
            if name in SHOWN:
                for arg in [*node.args, *(k.value for k in node.keywords if k.arg in ("label", "labels"))]:
                    collect(arg)
        for child in ast.iter_child_nodes(node):
            visit(child)

    def collect(node):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "tr":
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
        elif isinstance(node, ast.JoinedStr):                # its text, with {} for each field
            found.append("".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values))
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    collect(part.value)
        elif isinstance(node, (ast.BinOp, ast.List, ast.Tuple, ast.IfExp)):
            for child in ast.iter_child_nodes(node):
                collect(child)

    visit(ast.parse(source))
    return found


def _english_words(text):
    text = re.sub(r"\$[^$]*\$", " ", text)                   # mathtext
    words = re.findall(r"[A-Za-z][A-Za-z_0-9]*", text)
    return [w for w in words if len(w) >= 3 and w.lower() not in SAME_IN_BOTH and not re.search(r"[_0-9]", w)]


def test_the_language_check_finds_english_left_outside_tr():
    assert _english_words("share of zeros after ReLU:") == ["share", "zeros", "after"]
    src = 'print("zeros:", x)\nprint(tr("số 0:", "zeros:"), x)\nax.set_title(f"$H_3$ ({name})")'
    assert _shown_strings(src) == ["zeros:", "$H_3$ ({})"]


@pytest.mark.parametrize("page", [p for p in VI_PAGES if p != "00b_setup"])
def test_code_cells_spell_what_they_show_in_the_pages_language(page):
    english = {}
    for i, source in enumerate(code_cells(read_page("vi", page))):
        words = [w for s in _shown_strings(source) for w in _english_words(s)]
        if words:
            english[i] = words
    assert not english, (f"book/vi/{page}.md: English words shown outside tr(vi, en), by code cell: {english}; "
                         "wrap the text in alexnet_ref.lang.tr and numbers in num()")


@pytest.mark.parametrize("page", [p for p in VI_PAGES if p != "00b_setup"])
def test_figure_labels_use_mathtext_for_tensor_names(page):
    figure_text = []
    for source in code_cells(read_page("vi", page)):
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in SHOWN - {"print", "Markdown"}):
                figure_text += [s for s in _shown_strings(ast.unparse(node))
                                if re.search(r"\b[MHW]_\w", re.sub(r"\$[^$]*\$", " ", s))]
    assert not figure_text, f"book/vi/{page}.md: tensor names in figure text outside mathtext: {figure_text}"


class _CellOutputs(HTMLParser):
    """The text of every <div class="cell_output"> of a built page (printed text and tables)."""

    def __init__(self):
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "div" and (self.depth or "cell_output" in (dict(attrs).get("class") or "")):
            self.depth += 1
        elif tag in ("tr", "br") and self.depth:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "div" and self.depth:
            self.depth -= 1
            if not self.depth:
                self.parts.append("\n")

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def _executed_outputs(page, lang="vi"):
    path = BUILT / lang / f"{page}.html"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not built (make book executes the pages)")
    parser = _CellOutputs()
    parser.feed(path.read_text(encoding="utf-8"))
    return "".join(parser.parts)


# Messages of the reference implementation and of Python/torch themselves are not the page's text.
FOREIGN_LINE = re.compile(r"Error|Exception|^torch \d|tensor\(|torch\.Size|\*\* -0\.75|expects \d+ input", re.M)


@pytest.mark.parametrize("page", [p for p in VI_PAGES if p not in ("00b_setup", "a3_glossary", "a4_references")])
def test_executed_vietnamese_pages_print_vietnamese_numbers(page):
    lines = [line for line in _executed_outputs(page).splitlines() if not FOREIGN_LINE.search(line)]
    bad = _english_numbers("\n".join(lines))
    assert not bad, f"_build/html/book/vi/{page}.html prints English number format: {bad}"


VI_ONLY_LETTERS = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


@pytest.mark.parametrize("page", [p for p in VI_PAGES if p not in ("00b_setup", "a3_glossary", "a4_references")])
def test_executed_english_pages_print_english(page):
    out = _executed_outputs(page, "en")
    vietnamese = sorted({w for w in re.findall(r"\w+", out) if VI_ONLY_LETTERS & set(w.lower())})
    assert not vietnamese, f"_build/html/book/en/{page}.html prints Vietnamese words: {vietnamese[:12]}"


@pytest.mark.parametrize("page", PAGES)
def test_twin_pages_are_executed_separately(page):
    """The build caches an execution by the code and the kernelspec; twins have the same code, so
    without different kernelspecs one language's outputs would be shown on both pages."""
    specs = {lang: read_page(lang, page).metadata.get("kernelspec", {}) for lang in LANGS}
    assert specs["vi"].get("name") == specs["en"].get("name") == "python3", specs
    assert specs["vi"] != specs["en"], (f"{page}: identical kernelspecs {specs['vi']}: the vi page would reuse "
                                        "the en page's cached outputs (e.g. display_name 'Python 3 (vi)' and 'Python 3 (en)')")


# --- alexnet_ref.lang ----------------------------------------------------------------------------

def test_page_language_follows_the_folder_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ALEXNET_LANG", raising=False)
    for lang in LANGS:
        (tmp_path / lang).mkdir()
        monkeypatch.chdir(tmp_path / lang)
        assert page_lang_module.page_lang() == lang
    monkeypatch.chdir(tmp_path)
    assert page_lang_module.page_lang() == "en"
    monkeypatch.setenv("ALEXNET_LANG", "vi")
    assert page_lang_module.tr("tầng", "layer") == "tầng"
    assert page_lang_module.num(62_378_344, ",") == "62.378.344"
    assert page_lang_module.num(0.614, ".1%") == "61,4%"
    monkeypatch.setenv("ALEXNET_LANG", "en")
    assert page_lang_module.num(62_378_344, ",") == "62,378,344"
    assert page_lang_module.tr("tầng", "layer") == "layer"


def test_localize_gives_tick_labels_a_decimal_comma(monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("ALEXNET_LANG", "vi")
    fig, ax = plt.subplots()
    ax.plot([0, 0.5, 1], [0, 1.5, 2])
    page_lang_module.localize(fig)
    page_lang_module.localize(fig)                          # twice wraps once
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    plt.close(fig)
    assert labels and all("." not in t for t in labels) and any("," in t for t in labels), labels


# --- content that must be right in both languages ------------------------------------------------

ERRATA_FACTS = {
    "CS231n's order (MAX POOL before NORM, CaffeNet)": {"vi": ["CaffeNet", "MAX POOL1 *trước* NORM1"],
                                                      "en": ["CaffeNet", "MAX POOL1 *before* NORM1"]},
    "n = 5 counts channel i itself (4 neighbours)": {"vi": ["$n - 1 = 4$"], "en": ["$n - 1 = 4$"]},
}


@pytest.mark.parametrize("fact", ERRATA_FACTS)
def test_errata_state_each_correction_in_both_languages(fact):
    for lang, needles in ERRATA_FACTS[fact].items():
        md = markdown(read_page(lang, "a1_errata"))
        missing = [n for n in needles if n not in md]
        assert not missing, f"book/{lang}/a1_errata.md: the correction '{fact}' lacks {missing}"


def test_errata_have_the_same_items_in_both_languages():
    items = {lang: re.findall(r"^## (\d+)\.", markdown(read_page(lang, "a1_errata")), re.M) for lang in LANGS}
    assert items["vi"] == items["en"] and items["vi"], f"errata items differ: {items}"


CHAPTER_FACTS = {
    ("01_input", "(224 - 11) \\bmod 4 = 1"): "a 224 input drops one row and one column at CONV1",
    ("10_conv5", "124"): "VGG kept its three FC layers (about 124 M of 138 M parameters)",
    ("00_overview", "18"): "one CNN scored 18.2 % top-5; 15.3 % was an ensemble",
    ("13_fc7", "Jensen"): "dropout then ReLU raises the mean (Jensen's inequality)",
    ("a2_alexnet2012", "48"): "the two-GPU network normalised within each GPU",
}


@pytest.mark.parametrize("page, needle", CHAPTER_FACTS)
def test_chapters_state_the_corrected_facts_in_both_languages(page, needle):
    for lang in LANGS:
        md = markdown(read_page(lang, page))
        assert needle in md, f"book/{lang}/{page}.md: missing {needle!r} ({CHAPTER_FACTS[page, needle]})"
    for lang, wrong in (("en", "last three columns"), ("vi", "ba hàng và ba cột")):
        assert wrong not in markdown(read_page(lang, "01_input")), f"book/{lang}/01_input.md still says {wrong!r}"


def test_the_gpu_chapter_does_not_deny_cpu_bfloat16_or_miscount_its_bits():
    for lang, needles, wrong in (("en", ["AVX512-BF16", "7 fraction bits"], ["8 bits of mantissa", "gain is modest"]),
                                 ("vi", ["AVX512-BF16", "7 bit phần lẻ"], ["8 bit phần định trị", "khiêm tốn"])):
        md = markdown(read_page(lang, "15_forward_gpu"))
        assert all(n in md for n in needles), f"book/{lang}/15_forward_gpu.md lacks {needles}"
        assert not any(w in md for w in wrong), f"book/{lang}/15_forward_gpu.md still says one of {wrong}"


# --- references ----------------------------------------------------------------------------------

# A work named in the text -> a string its entry in the references carries.
CITED = {
    r"Krizhevsky|bài báo năm 2012|2012 paper": "ImageNet Classification with Deep Convolutional Neural Networks",
    r"One weird trick|torchvision": "One weird trick",
    r"\bdropout\b": "Dropout: A Simple Way",
    r"ILSVRC": "ImageNet Large Scale Visual Recognition Challenge",
    r"Network in Network": "Network In Network",
    r"\bVGG\b": "Very Deep Convolutional Networks",
    r"GoogLeNet": "Going Deeper with Convolutions",
    r"ResNet": "Deep Residual Learning",
    r"batch normali[sz]ation|chuẩn hóa theo batch": "Batch Normalization",
    r"CaffeNet": "Caffe: Convolutional Architecture",
    r"CS231n": "CS231n",
    r"Đắm mình vào Học Sâu|Dive into Deep Learning": "Dive into Deep Learning",
}


@pytest.mark.parametrize("lang", LANGS)
def test_every_work_cited_in_the_text_is_in_the_references(lang):
    refs = markdown(read_page(lang, "a4_references"))
    missing = {}
    for page in PAGES:
        if page == "a4_references":
            continue
        text = prose(markdown(read_page(lang, page)))
        for pattern, entry in CITED.items():
            if re.search(pattern, text, re.I) and entry not in refs:
                missing.setdefault(entry, []).append(page)
    assert not missing, f"book/{lang}/a4_references.md lacks works cited in the text: {missing}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_reference_has_a_link_or_a_doi(lang):
    md = markdown(read_page(lang, "a4_references"))
    entries = [line for line in md.splitlines() if line.startswith("- ")]
    source_doc = entries[0]                                   # the course's source: not published online
    unlinked = [e[:80] for e in entries[1:] if "https://" not in e]
    assert len(entries) >= 10 and not unlinked, f"book/{lang}/a4_references.md: entries without a link/DOI: {unlinked}"
    assert "§1.1" in source_doc
