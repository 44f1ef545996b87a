"""Every book page with code runs without errors under nbval (lax mode: outputs are not compared).

nbval reads .ipynb only, so the MyST pages are converted with jupytext into a temporary folder.
Twin pages have identical code (tests/test_book_parity.py), so each distinct code sequence runs
once; the result is reported for every page that has it.  Two nbval processes (one thread each)
share the two cores.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import jupytext
import pytest

from tests.book_pages import BOOK, LANGS, PAGES, code_cells, read_page

pytestmark = pytest.mark.slow

PAGE_IDS = [f"{lang}/{page}" for lang in LANGS for page in PAGES if code_cells(read_page(lang, page))]
SHARDS = 2
ANSI = re.compile(r"\x1b\[[0-9;]*m|#x1B\[[0-9;]*m")


def _groups():
    """Distinct code sequences -> the pages that have them (pages without code are left out)."""
    groups = {}
    for lang in LANGS:
        for page in PAGES:
            nb = read_page(lang, page)
            code = tuple(code_cells(nb))
            if code:
                groups.setdefault(code, []).append((f"{lang}/{page}", nb))
    return list(groups.values())


def _notebook_of(case, notebooks):
    """junit names a cell's notebook by its path with '/' turned into '.'."""
    for key in (case.get("classname") or "", case.get("name") or ""):
        for name in notebooks:
            if key in (name, name.replace("/", ".")):
                return name
    return None


@pytest.fixture(scope="module")
def nbval_results(tmp_path_factory):
    """Page id -> list of failure messages ([] when it ran cleanly)."""
    # The kernel starts in the notebook's folder: mirror book/ so that a page reading a file
    # beside its folder (e.g. ../glossary.yml) finds it as it does in the book build.
    work = tmp_path_factory.mktemp("nbval")
    mirror = work / "book"
    for lang in LANGS:
        (mirror / lang).mkdir(parents=True)
    for entry in BOOK.iterdir():
        if entry.name not in LANGS:
            (mirror / entry.name).symlink_to(entry)
    notebooks = {}
    for i, group in enumerate(_groups()):
        page_id, nb = group[0]
        path = mirror / f"{page_id}.ipynb"
        jupytext.write(nb, path, fmt="ipynb")
        notebooks[path.relative_to(work).as_posix()] = [pid for pid, _ in group]
    names = sorted(notebooks)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    procs = []
    for shard in range(SHARDS):
        chunk = names[shard::SHARDS]
        if not chunk:
            continue
        report = work / f"junit-{shard}.xml"
        cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
               "--nbval-cell-timeout=600", "-p", "no:cacheprovider", "-q", "--rootdir", str(work),
               f"--junitxml={report}", *chunk]
        procs.append((report, subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True)))
    failures = {pid: [] for pids in notebooks.values() for pid in pids}
    ran = set()
    for report, proc in procs:
        out, _ = proc.communicate()
        assert report.is_file(), f"nbval wrote no report (exit {proc.returncode}):\n{out[-4000:]}"
        for case in ET.parse(report).getroot().iter("testcase"):
            name = _notebook_of(case, notebooks)
            ran.add(name)
            for bad in list(case.iter("failure")) + list(case.iter("error")):
                msg = ANSI.sub("", f"{case.get('name')}: {bad.get('message', '')}\n{(bad.text or '')[-3000:]}")
                for pid in notebooks.get(name, []):
                    failures[pid].append(msg)
    missing = sorted(set(notebooks) - ran)
    assert not missing, f"nbval did not run {missing}"
    return failures


@pytest.mark.parametrize("page_id", PAGE_IDS)
def test_page_runs_under_nbval(page_id, nbval_results):
    problems = nbval_results[page_id]
    assert not problems, f"book/{page_id}.md fails under nbval:\n" + "\n\n".join(problems)
