"""The set-up page, the generated exercise summaries, the students' wheel and the repository's hygiene."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement

from tests.book_pages import BOOK, EXERCISES, LANGS, ROOT, code_cells, downloads, markdown, read_page
from tools import student_wheel

EXERCISE_HEADING = {"vi": "## Bài tập", "en": "## Exercise"}


def _load_ext(name: str):
    spec = importlib.util.spec_from_file_location(f"book_ext_{name}", BOOK / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


summary = _load_ext("exercise_summary")


def _exercise_section(lang: str, page: str) -> str:
    md = markdown(read_page(lang, page))
    start = md.find(EXERCISE_HEADING[lang])
    assert start >= 0, f"book/{lang}/{page}.md has no '{EXERCISE_HEADING[lang]}' section"
    return md[start:]


def test_no_machine_paths_in_tracked_files():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    machine_path = "/" + "work/"  # split so that this file does not match itself
    done = subprocess.run(["git", "grep", "-n", "-I", "-F", machine_path], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode in (0, 1), f"git grep failed: {done.stderr}"
    assert done.stdout == "", ("absolute paths of a development machine in tracked files (use the course root "
                               f"a test is given, or a path relative to the repository):\n{done.stdout}")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", sorted(EXERCISES))
def test_every_exercise_links_the_setup_page_through_its_generated_summary(page, lang):
    section = _exercise_section(lang, page)
    aid = EXERCISES[page]
    directives = re.findall(r"^```\{exercise-summary\}\s+(\S+)\s*$", section, re.M)
    assert directives == [aid], (f"book/{lang}/{page}.md: the exercise section should hold one "
                                 f"```{{exercise-summary}} {aid}``` directive, found {directives}")
    parts = summary.read_parts(summary.notebook_path(ROOT, aid))
    assert f"{{ref}}`setup-{lang}`" in summary.summary_markdown(parts, lang)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", sorted(EXERCISES))
def test_exercise_sections_describe_nothing_by_hand(page, lang):
    """Only the download link and the generated summary: a hand-written blurb would drift from the notebook."""
    section = _exercise_section(lang, page)
    body = re.sub(r"^```\{exercise-summary\}[^\n]*\n```\s*$", "", section, flags=re.M)
    body = body.replace(EXERCISE_HEADING[lang], "")
    for link in re.findall(r"\{download\}`[^`]*`", body):
        body = body.replace(link, "")
    assert not body.strip(), f"book/{lang}/{page}.md: text in the exercise section besides the summary:\n{body}"


@pytest.mark.parametrize("lang", LANGS)
def test_the_overview_links_the_setup_page(lang):
    assert f"{{ref}}`setup-{lang}`" in markdown(read_page(lang, "00_overview"))


@pytest.mark.parametrize("aid", sorted(EXERCISES.values()))
def test_summary_follows_the_notebook(aid):
    parts = summary.read_parts(summary.notebook_path(ROOT, aid))
    assert parts, f"{aid}: no '## Phần X / Part X (n điểm / points)' header found"
    for part in parts:
        assert part.points == part.header_points, (
            f"{aid} Part {part.letter['en']}: the header says {part.header_points:g} points, its test cells "
            f"carry {part.points:g}")
        assert part.text["vi"] and part.text["en"], f"{aid} Part {part.letter['en']}: text missing in one language"
    rendered = {lang: summary.summary_markdown(parts, lang) for lang in LANGS}
    for part in parts:
        for name in part.functions + part.graded_variables():
            for lang in LANGS:
                assert f"`{name}`" in rendered[lang], f"{aid} ({lang}): {name} missing from the summary"
    total = sum(p.points for p in parts)
    assert f"{total:g} điểm" in rendered["vi"] and f"{total:g} points" in rendered["en"]


def test_summary_counts_what_the_grader_counts(tmp_path):
    """A planted notebook: points come from the test cells, helper variables are left out."""
    def code(source, **nbgrader):
        return {"cell_type": "code", "metadata": {"nbgrader": nbgrader}, "source": source}
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "## Phần A / Part A (3 điểm / points)\n\nViết `f`.\n\nWrite `f`."},
        code("def f(x, k=2):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", solution=True, grade_id="f"),
        code("tmp = 3\nX = tmp + 1", solution=True, grade_id="x"),
        code("# Check that f works\nassert f(1) == 1", grade=True, points=2, grade_id="t1"),
        code("# Check that X is set\nassert X > 0", grade=True, points=0.5, grade_id="t2"),
    ]}
    path = tmp_path / "planted.ipynb"
    path.write_text(json.dumps(nb))
    (part,) = summary.read_parts(path)
    assert (part.points, part.header_points) == (2.5, 3.0)
    assert part.functions == ["f(x, k=2)"] and part.graded_variables() == ["X"]
    vi, en = summary.summary_markdown([part], "vi"), summary.summary_markdown([part], "en")
    assert "**Phần A (2,5 điểm)**: viết `f(x, k=2)`; gán `X`." in vi
    assert "**Part A (2.5 points)**: write `f(x, k=2)`; set `X`." in en
    assert "tmp" not in vi and "return x" not in vi, "solution bodies and helpers must not reach the page"


@pytest.mark.parametrize("lang", LANGS)
def test_setup_page_links_the_wheel_the_build_makes(lang):
    links = downloads(markdown(read_page(lang, "00b_setup")))
    expected = f"../downloads/{student_wheel.wheel_name()}"
    assert expected in links, f"book/{lang}/00b_setup.md: expected a {{download}} link to {expected}, found {links}"
    text = markdown(read_page(lang, "00b_setup"))
    assert f"pip install {student_wheel.wheel_name()}" in text
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in text


def test_setup_pages_write_the_parameter_count_in_their_language():
    vi, en = (markdown(read_page(lang, "00b_setup")) for lang in LANGS)
    assert "62.378.344" in vi and "62,378,344" not in vi, "the vi page writes 62.378.344 (Vietnamese format)"
    assert "62,378,344" in en
    assert code_cells(read_page("vi", "00b_setup")) == code_cells(read_page("en", "00b_setup"))


def test_students_wheel_holds_only_alexnet_ref(tmp_path):
    wheel = student_wheel.build(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    info = f"alexnet_ref-{version}.dist-info/"
    outside = [n for n in names if not (n.startswith("alexnet_ref/") or n.startswith(info))]
    assert not outside, f"{wheel.name} holds files other than alexnet_ref: {outside}"
    expected = sorted(f"alexnet_ref/{p.name}" for p in (ROOT / "alexnet_ref").glob("*.py"))
    assert sorted(n for n in names if n.startswith("alexnet_ref/")) == expected
    metadata = zipfile.ZipFile(wheel).read(info + "METADATA").decode()
    requires = [Requirement(r) for r in re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)]
    deps = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    assert requires == deps, f"{wheel.name} requires {requires}, pyproject.toml's runtime dependencies are {deps}"


@pytest.mark.parametrize("lang", LANGS)
def test_page_notebooks_are_the_pages_in_their_language(lang):
    page_notebooks = _load_ext("page_notebooks")
    nb = page_notebooks.page_notebook(BOOK / lang / "02_conv1.md")
    assert "jupytext" not in nb.metadata
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code[1:] == code_cells(read_page(lang, "02_conv1")), "the download should hold the page's code cells"
    namespace = {}
    exec(code[0], namespace)
    assert namespace["os"].environ.pop("ALEXNET_LANG") == lang, f"the first cell should set ALEXNET_LANG={lang}"
