"""Grading as an ordinary user (issue 13.5): ``python -m course_grader grade`` with no root anywhere.

The course is a throw-away copy owned by an unprivileged uid; the grader runs as that uid (through
``setpriv`` when the tests run as root, as is in CI), so its sandbox is started by bubblewrap in an
unprivileged user namespace.  When the tests run as root and the Python installation lies under a
folder other users cannot enter (``/root``, as with pyenv), the runner exposes just that
installation, read-only, in a private mount namespace: the grader's own code path is unchanged.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.grader_course import REPO, make_course, make_submission, require_sandbox

pytestmark = pytest.mark.slow

UID = 65534  # nobody: owns nothing on the machine


def _closed_ancestor(path: Path) -> Path | None:
    """The topmost folder above ``path`` that other users cannot enter, if any."""
    for a in reversed(Path(path).resolve().parents):
        if a != Path("/") and not os.stat(a).st_mode & 0o001:
            return a
    return None


def _runner(uid: int) -> list[str]:
    """Command prefix that runs the rest as ``uid`` and can reach the interpreter and the repository."""
    drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    needed = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), REPO.resolve()}
    hidden = [(p, _closed_ancestor(p)) for p in sorted(needed)]
    hidden = [(p, h) for p, h in hidden if h is not None]
    if not hidden:
        return drop
    # bind each needed folder aside, hide its closed ancestor under an open tmpfs, bind it back
    script = ["set -e", "mount -t tmpfs -o size=1m tmpfs /mnt"]
    for i, (p, _) in enumerate(hidden):
        script += [f"mkdir /mnt/{i}", f"mount --bind '{p}' /mnt/{i}"]
    for h in sorted({h for _, h in hidden}):
        script.append(f"mount -t tmpfs -o size=1m,mode=0755 tmpfs '{h}'")
    for i, (p, _) in enumerate(hidden):
        script += [f"mkdir -p '{p}'", f"mount --bind /mnt/{i} '{p}'"]
    script.append('exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", "\n".join(script), "runner"] + drop


@pytest.fixture(scope="module")
def course():
    require_sandbox()
    from course_grader.sandbox import userns_disabled
    why = userns_disabled()
    if why:
        print(f"skipping the non-root grading test: {why}")
        pytest.skip(why)
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run the grader as another user")
    root = Path(tempfile.mkdtemp(prefix="grader-nonroot-"))
    try:
        make_course(root / "course")
        make_submission(root / "course", "sol", "solution")
        make_submission(root / "course", "blank", "blank")
        if os.geteuid() == 0:
            os.chmod(root, 0o755)
            for d, dirs, files in os.walk(root):
                for name in [d] + [os.path.join(d, f) for f in dirs + files]:
                    os.lchown(name, UID, UID)
        yield root / "course"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_grade_as_an_ordinary_user(course):
    uid = UID if os.geteuid() == 0 else os.geteuid()
    prefix = _runner(uid) if os.geteuid() == 0 else []
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]), "HOME": str(course),
           "LANG": "C.UTF-8"}
    r = subprocess.run(prefix + [sys.executable, "-m", "course_grader", "grade", "conv1", "--root", str(course),
                                 "--quiet"], cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"grading as uid {uid} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    with open(course / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    got = {s: (rows[s]["score"], rows[s]["max_score"]) for s in rows}
    assert got == {"sol": ("10", "10"), "blank": ("0", "10")}, f"grades.csv as uid {uid}: {got}\n{r.stderr[-2000:]}"
    for sid in ("sol", "blank"):
        fb = course / "feedback" / sid / "conv1" / "conv1.html"
        assert fb.is_file(), f"no feedback for {sid}: {sorted(p.name for p in (course / 'feedback').rglob('*'))}"
        for path in (fb, course / "autograded" / sid / "conv1" / "conv1.ipynb"):
            assert path.stat().st_uid == uid, f"{path} is owned by uid {path.stat().st_uid}, not the grader's {uid}"
    assert (course / "grades.csv").stat().st_uid == uid
    assert (course / "gradebook.db").stat().st_uid == uid
