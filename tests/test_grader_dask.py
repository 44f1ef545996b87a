"""Grading on a real Dask cluster on loopback: a scheduler and two workers started here (no network).

One class of conv1 submissions (honest, wrong, blank and hostile) is graded locally and, in a copy
of the same course, through the cluster; the gradebook rows and the verdicts must be equal.  Then
one worker is killed in the middle of a notebook: every student is still recorded exactly once.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.grader_course import (HOSTILE, gradebook_rows, make_course, make_hostile, make_submission,
                                 parse_hostile, require_sandbox, solution_cells, student_files)

pytestmark = pytest.mark.slow

try:
    import distributed  # noqa: F401
except ImportError as err:  # pragma: no cover - `make venv` installs it
    pytest.skip(f"dask distributed cannot be imported ({err}): run `make venv`", allow_module_level=True)

HOSTILE_NAMES = ("h11_read_solutions", "h12_write_gradebook", "h13_read_secret", "h15_os_exit", "h23_network")
LIMITS = dict(part_s=6.0, cells_s=15.0, notebook_s=20.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    """``dask scheduler`` and two ``dask worker`` processes (one thread each) on 127.0.0.1."""

    def __init__(self, tmp):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.logs = tmp
        self.procs = {}
        env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
        self.procs["scheduler"] = self._start("scheduler", [
            "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(self.port),
            "--no-dashboard", "--no-show"], env)
        for name in ("wa", "wb"):
            self.procs[name] = self._start(name, [
                "distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                "--no-dashboard", "--name", name, "--death-timeout", "60"], env)
        self.wait_for(2)

    def _start(self, name, args, env):
        log = open(self.logs / f"{name}.log", "wb")
        return subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)

    def workers(self) -> dict:
        from distributed import Client
        with Client(self.address, timeout=20, set_as_default=False) as c:
            return {info["name"]: addr for addr, info in c.scheduler_info(n_workers=-1)["workers"].items()}

    def wait_for(self, n: int, wait_s: float = 90.0):
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            for name, p in self.procs.items():
                if p.poll() is not None and name != "killed":
                    raise RuntimeError(f"dask {name} exited: {(self.logs / f'{name}.log').read_text()[-2000:]}")
            try:
                if len(self.workers()) >= n:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"fewer than {n} Dask workers joined in {wait_s:g} s")

    def kill(self, name: str):
        p = self.procs.pop(name)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        self.procs["killed"] = p

    def close(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=8)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _class(root, port: int) -> dict:
    """22 students: expected scores are checked against the local run, not written here."""
    sol = solution_cells(root)
    wrong = sol["relu"].replace("return torch.clamp(x, min=0)", "return x.abs()")
    assert wrong != sol["relu"], "the reference relu changed: update the wrong students"
    students = {}
    for i in range(12):
        make_submission(root, f"ok{i:02d}", "solution")
        students[f"ok{i:02d}"] = "honest"
    for i in range(3):
        make_submission(root, f"wrong{i}", "solution", overrides={"relu": wrong})
        students[f"wrong{i}"] = "wrong"
    for i in range(2):
        make_submission(root, f"blank{i}", "blank")
        students[f"blank{i}"] = "blank"
    for name in HOSTILE_NAMES:
        info = parse_hostile(HOSTILE / f"{name}.py", {"COURSE": str(root), "PORT": str(port)})
        make_hostile(root, name, info)
        students[name] = info
    return students


def _verdicts(result) -> dict:
    return {sid: [(p.grade_id, p.points, p.score, p.message) for p in v.parts]
            for sid, v in result["verdicts"].items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    require_sandbox()
    from course_grader.grade import grade_assignment
    from course_grader.sandbox import Limits
    from tests.test_grader_hostile import Listener

    listener = Listener()
    local = make_course(tmp_path_factory.mktemp("dask-local"))
    students = _class(local, listener.port)
    remote = tmp_path_factory.mktemp("dask-remote") / "course"
    shutil.copytree(local, remote)  # the same secret, so the same hidden inputs
    secret = (local / ".grader_secret").read_bytes() if (local / ".grader_secret").exists() else None
    cluster = LocalCluster(tmp_path_factory.mktemp("dask-logs"))
    try:
        before = grade_assignment("conv1", root=local, workers=2, limits=Limits(**LIMITS), feedback=False,
                                  progress=False)
        if secret is None:  # created by the first run: give the copy the same one
            shutil.copy2(local / ".grader_secret", remote / ".grader_secret")
        after = grade_assignment("conv1", root=remote, limits=Limits(**LIMITS), feedback=False, progress=False,
                                 scheduler=cluster.address)
        yield {"local": local, "remote": remote, "before": before, "after": after, "students": students,
               "listener": listener, "cluster": cluster}
    finally:
        cluster.close()
        listener.close()


def test_cluster_grades_like_a_local_run(runs):
    students = runs["students"]
    assert len(students) >= 20
    for run in ("before", "after"):
        assert sorted(runs[run]["graded"]) == sorted(students), f"{run}: errors {runs[run]['errors']}"
        assert not runs[run]["errors"], f"{run}: {runs[run]['errors']}"
    assert _verdicts(runs["after"]) == _verdicts(runs["before"])
    assert gradebook_rows(runs["remote"], students) == gradebook_rows(runs["local"], students)
    for sid in students:
        assert student_files(runs["remote"], sid) == student_files(runs["local"], sid), f"autograded/{sid} differs"
    scores = {sid: runs["after"]["verdicts"][sid].score for sid in students}
    assert all(scores[f"ok{i:02d}"] == 10.0 for i in range(12)), scores
    assert all(scores[f"wrong{i}"] < 10.0 for i in range(3)), scores
    for name in HOSTILE_NAMES:
        assert scores[name] == students[name]["expected"], f"{name}: {scores[name]} != {students[name]['expected']}"


def test_hostile_on_a_worker_reaches_neither_network_nor_client_files(runs):
    assert runs["listener"].received == [], f"a sandbox on a Dask worker reached 127.0.0.1: {runs['listener'].received}"
    text = json.dumps(_verdicts(runs["after"]))
    secret = (runs["remote"] / ".grader_secret").read_bytes()
    assert secret.hex() not in text and "BEGIN SOLUTION" not in text
    flags = {f["what"] for f in runs["after"]["verdicts"]["h23_network"].flags}
    assert any("network" in f for f in flags), flags


def test_default_workers_follow_the_cpus_the_process_may_use():
    from course_grader.grade import default_workers
    assert default_workers() == len(os.sched_getaffinity(0))
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]});"
            "from course_grader.grade import default_workers; print(default_workers())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "1", f"default_workers() on one CPU: expected 1, got {out.stdout!r} {out.stderr[-500:]}"


def test_no_dask_without_a_scheduler():
    code = ("import sys, course_grader.grade, course_grader.__main__, course_grader.sandbox;"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'));"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"importing the grader without a scheduler imported Dask: {out.stdout}{out.stderr}"


def test_a_worker_killed_mid_notebook_costs_nothing(runs, monkeypatch):
    from course_grader import cluster as cl
    from course_grader import grade as gr
    from course_grader.sandbox import Limits

    lc = runs["cluster"]
    students = sorted(runs["students"])[::3]  # a third of the class (8 students) keeps the test short
    victim = lc.workers()["wb"]
    killed = []
    ask = cl.RemoteNotebook.ask

    def ask_then_kill(self, part, op, data, timeout):
        if op == "call" and self.zygote.address == victim and not killed:
            killed.append(part.label)
            lc.kill("wb")
        return ask(self, part, op, data, timeout)

    recorded = []
    record = gr.record

    def counting_record(layout, verdict, *args, **kwargs):
        recorded.append(verdict.student)
        return record(layout, verdict, *args, **kwargs)

    monkeypatch.setattr(cl.RemoteNotebook, "ask", ask_then_kill)
    monkeypatch.setattr(gr, "record", counting_record)
    res = gr.grade_assignment("conv1", root=runs["remote"], limits=Limits(**LIMITS), feedback=False,
                              progress=False, force=True, students=students, scheduler=lc.address)
    assert killed, "the worker was never given a notebook: the test did not kill it mid-notebook"
    assert not res["errors"], res["errors"]
    assert sorted(recorded) == sorted(students), f"recorded: {sorted(recorded)}"
    before = _verdicts(runs["before"])
    assert _verdicts(res) == {sid: before[sid] for sid in students}
    assert gradebook_rows(runs["remote"], students) == gradebook_rows(runs["local"], students)
