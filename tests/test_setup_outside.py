"""A student's machine: a chapter notebook runs outside the repository with only what the set-up page installs.

How the "fresh environment" is made, offline and honestly:

* ``python -m venv --without-pip`` creates an empty virtual environment in a temporary folder
  (outside the repository, so the checkout's ``alexnet_ref/`` is not importable from the
  working directory);
* the third-party libraries the set-up page tells students to install (torch, numpy, matplotlib,
  and a Jupyter kernel) are taken from the project's ``.venv`` without a download: the test
  walks their requirements (``importlib.metadata``, environment markers evaluated) and links the
  files of exactly those distributions into a folder that a ``.pth`` file of the new environment
  names.  Nothing else of ``.venv`` is visible, in particular not the editable install of this
  repository (``alexnet-course``: its ``.pth`` hook lives in ``.venv`` and is not linked; the
  test checks that ``alexnet_ref`` and ``course_grader`` cannot be imported before the wheel is
  installed);
* the students' wheel is built as ``make book`` builds it (``tools.student_wheel``) and installed
  with ``pip install --no-deps --no-index``, the set-up page's step 2;
* the chapter page is converted to the notebook the book offers for download
  (``book/_ext/page_notebooks.py``) and executed with nbclient in a kernel of the new
  environment, from a temporary working folder; the released exercise notebook of the same
  chapter (the book's download link) runs there too, up to its unsolved tasks.

The set-up page's own check line (its ``python -c`` command) is run in the new environment too.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.book_pages import BOOK, ROOT
from tools import student_wheel

pytestmark = pytest.mark.slow

# What book/<lang>/00b_setup.md installs; jupyterlab's kernel is ipykernel, all nbclient needs.
PAGE_INSTALLS = ("torch", "numpy", "matplotlib", "ipykernel")
CHAPTER = "02_conv1"
CHAPTER_LANG = "vi"  # the download sets ALEXNET_LANG: a Vietnamese page must print Vietnamese anywhere


def _load_page_notebooks():
    path = BOOK / "_ext" / "page_notebooks.py"
    spec = importlib.util.spec_from_file_location("book_ext_page_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def requirement_closure(names) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions ``names`` need, transitively (extras not taken)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise AssertionError(f"requirement_closure: {name} is required but not installed in .venv") from None
        found[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return found


def link_distributions(dists, target: Path) -> None:
    """Symlink the top-level files and folders each distribution's RECORD lists into ``target``."""
    target.mkdir(parents=True)
    for name, dist in dists.items():
        if dist.files is None:
            raise AssertionError(f"link_distributions: {name} has no RECORD, its files are unknown")
        for top in sorted({f.parts[0] for f in dist.files if f.parts and f.parts[0] != ".."}):
            source = Path(dist.locate_file(top))
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source)


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """(python of the fresh environment, a working folder outside the repository, its env vars)."""
    base = tmp_path_factory.mktemp("student")
    assert not base.resolve().is_relative_to(ROOT), f"{base} lies inside the repository"
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    deps = base / "deps"
    link_distributions(requirement_closure(PAGE_INSTALLS), deps)
    (Path(purelib) / "page_deps.pth").write_text(f"{deps}\n")
    work = base / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", MPLBACKEND="Agg")
    return python, work, env


def _run(python, work, env, code):
    return subprocess.run([str(python), "-c", code], cwd=work, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def installed(outside, tmp_path_factory):
    python, work, env = outside
    for module in ("alexnet_ref", "course_grader"):
        done = _run(python, work, env, f"import {module}")
        assert done.returncode != 0, f"{module} is importable in the fresh environment before the wheel is installed"
    wheel = student_wheel.build(tmp_path_factory.mktemp("wheel"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, env=env)
    return outside


def test_the_wheel_installs_alexnet_ref_and_not_the_grader(installed):
    python, work, env = installed
    done = _run(python, work, env, "import alexnet_ref; print(alexnet_ref.__file__)")
    assert done.returncode == 0, f"import alexnet_ref failed after installing the wheel:\n{done.stderr}"
    location = Path(done.stdout.strip()).resolve()
    assert not location.is_relative_to(ROOT), f"alexnet_ref was imported from the repository: {location}"
    done = _run(python, work, env, "import course_grader")
    assert done.returncode != 0, "the students' wheel made course_grader (the hidden tests) importable"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_setup_pages_check_line_prints_the_parameter_count(installed, lang):
    python, work, env = installed
    page = (BOOK / lang / "00b_setup.md").read_text(encoding="utf-8")
    lines = re.findall(r'^python -c "(.+)"$', page, re.M)
    assert len(lines) == 1, f"book/{lang}/00b_setup.md: expected one `python -c \"...\"` check line, found {lines}"
    done = _run(python, work, env, lines[0])
    assert done.returncode == 0, f"the check line of book/{lang}/00b_setup.md failed:\n{done.stderr}"
    out = done.stdout.split()
    assert out[-1] == "62378344", f"the check line should end with 62378344, printed {done.stdout!r}"
    assert out[0].startswith("2.13.0"), f"the check line should print torch 2.13.0 first, printed {done.stdout!r}"


@pytest.fixture()
def student_kernel(installed, tmp_path, monkeypatch):
    """The name of a Jupyter kernel that runs the fresh environment's Python."""
    python, _, _ = installed
    kernels = tmp_path / "jupyter" / "kernels" / "student"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "student", "language": "python", "env": {"PYTHONNOUSERSITE": "1"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    return "student"


def test_a_downloaded_chapter_notebook_runs_outside_the_repository(installed, student_kernel):
    python, work, env = installed
    nb = _load_page_notebooks().page_notebook(BOOK / CHAPTER_LANG / f"{CHAPTER}.md")
    target = work / f"{CHAPTER}.ipynb"
    nbformat.write(nb, target)
    nb = nbformat.read(target, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=student_kernel, timeout=600,
                                     resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{CHAPTER}.ipynb failed in the fresh environment:\n{str(exc)[-3000:]}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    not_run = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert code and not not_run, f"{CHAPTER}.ipynb: code cells {not_run} of {len(code)} were not executed"
    printed = "".join(o.get("text", "") for c in code for o in c.get("outputs", []))
    assert "trọng số" in printed, f"the vi page printed in another language outside the book:\n{printed[:500]}"


def test_a_released_exercise_notebook_needs_nothing_more(installed, student_kernel):
    """The released notebook stops at its first unsolved task (NotImplementedError), never at an import."""
    python, work, env = installed
    released = BOOK / "exercises" / "conv1.ipynb"
    if not released.is_file():
        pytest.skip(f"{released.relative_to(ROOT)} is made by `make assignments` (part of make book and make test)")
    nb = nbformat.read(released, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=student_kernel, timeout=600, allow_errors=True,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()
    errors = [o.get("ename") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors, "the released notebook raised nothing: are its solution cells empty?"
    assert errors[0] == "NotImplementedError", f"conv1.ipynb outside the repository first raised {errors[0]}"
    missing = {"ModuleNotFoundError", "ImportError"} & set(errors)
    assert not missing, f"conv1.ipynb outside the repository raised {sorted(missing)}: it needs more than the page installs"
