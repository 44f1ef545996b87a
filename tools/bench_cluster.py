"""The scaling rows of ``make bench-grade``: one sandbox worker, every local core, the same cores as a Dask cluster.

Used by :mod:`tools.bench_grade` on its first assignment's class (already synthesised and graded once):
``python -m course_grader grade <id> --force`` with ``--workers 1``, with the default (one worker per
CPU of ``os.sched_getaffinity``), and with ``--scheduler`` on a ``dask scheduler`` + one ``dask worker``
per core started here on 127.0.0.1 (or the cluster given with ``--scheduler``).  The scheduler's overhead
per notebook is the Dask run's time minus the local run's with as many workers, over the notebooks.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _grade(course: Path, aid: str, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "course_grader", "grade", aid, "--root", str(course), "--force", "--no-feedback",
           "--quiet", *extra]
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"bench_cluster: {' '.join(cmd[2:])} failed:\n{r.stderr[-3000:]}")
    return time.monotonic() - t0


class LoopbackCluster:
    """``dask scheduler`` and ``n`` single-threaded ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, n: int, log_dir: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        run = [sys.executable, "-m"]
        self.procs = [subprocess.Popen(run + ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                                              str(port), "--no-dashboard", "--no-show"],
                                       stdout=open(log_dir / "scheduler.log", "wb"), stderr=subprocess.STDOUT)]
        for i in range(n):
            self.procs.append(subprocess.Popen(
                run + ["distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-nanny", "--host",
                       "127.0.0.1", "--no-dashboard", "--name", f"w{i}"],
                stdout=open(log_dir / f"worker{i}.log", "wb"), stderr=subprocess.STDOUT))
        from distributed import Client
        end = time.monotonic() + 120
        while time.monotonic() < end:
            try:
                with Client(self.address, timeout=10, set_as_default=False) as c:
                    if len(c.scheduler_info(n_workers=-1)["workers"]) >= n:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.close()
        raise SystemExit(f"bench_cluster: {n} Dask workers did not join in 120 s (logs in {log_dir})")

    def close(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def rows(course: Path, aid: str, n: int, scheduler: str | None = None) -> dict:
    """Times of the three runs (seconds, notebooks per minute) and the scheduler's overhead per notebook."""
    cores = len(os.sched_getaffinity(0))
    print(f"{aid}: scaling: 1 worker, {cores} local workers, {cores} Dask workers on loopback ...", file=sys.stderr)
    t1 = _grade(course, aid, ["--workers", "1"])
    tn = _grade(course, aid, [])
    cluster = None if scheduler else LoopbackCluster(cores, course.parent)
    try:
        td = _grade(course, aid, ["--scheduler", scheduler or cluster.address])
    finally:
        if cluster is not None:
            cluster.close()
    out = {"assignment": aid, "notebooks": n, "cores": cores, "one_worker_s": round(t1, 2),
           "local_s": round(tn, 2), "dask_s": round(td, 2), "dask_scheduler": scheduler or "loopback",
           "one_worker_nb_per_min": round(n / t1 * 60, 1), "local_nb_per_min": round(n / tn * 60, 1),
           "dask_nb_per_min": round(n / td * 60, 1), "dask_overhead_s_per_nb": round((td - tn) / n, 3)}
    print(f"\n{'run':<34}{'notebooks':>10}{'s':>9}{'nb/min':>9}")
    for label, t in (("1 sandbox worker", t1), (f"{cores} local workers (default)", tn),
                     (f"{cores} Dask workers ({out['dask_scheduler']})", td)):
        print(f"{label:<34}{n:>10}{t:>9.1f}{n / t * 60:>9.1f}")
    print(f"Dask scheduler overhead: {out['dask_overhead_s_per_nb']:+.3f} s per notebook "
          f"(Dask run minus the local run with as many workers; includes the cluster's sandbox start-up)")
    return out
