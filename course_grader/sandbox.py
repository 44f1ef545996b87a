"""Trusted side of the sandbox: starts the bubblewrap zygote and talks plain data with it.

Threat model
------------
Adversary: a student who submits an arbitrary notebook (any code in any cell, edited or
deleted test cells, rewritten cell metadata, extra cells) and wants a higher grade than the
code earns, a lower grade for someone else, the hidden tests or the reference solution, or
to disrupt the grading run.  The instructor, the course repository, nbgrader, the Python
installation and the kernel are trusted.

What holds (each is exercised by ``tests/test_grader_*.py`` and ``tests/hostile/``):

* The verdict is computed in the trusted process (``course_grader.grade`` / the
  ``SandboxExecute`` nbgrader preprocessor), in which no student code ever runs: the hidden
  cases are built there from ``HMAC(secret, student, assignment)``, only their inputs are
  sent to the sandbox, and :func:`course_grader.cases.compare` judges the plain data that
  comes back (a length-prefixed JSON header and ``.npy`` arrays read with
  ``allow_pickle=False``, numeric dtypes only, bounded size and depth).  Nothing produced by
  the sandbox is unpickled, imported, executed or used as a path.  Test cells are never
  executed, so patched comparisons, objects whose ``__eq__`` is always true, tensor
  subclasses, IPython AST transformers, edited, deleted or re-labelled test cells and
  extra cells cannot change a verdict; points come from the source notebook.
* Only the trusted side writes the gradebook (nbgrader's ``Gradebook`` API, one
  transaction per student, after an sqlite backup); a re-run with the same submissions
  gives byte-identical results, skips what is already recorded, and resumes after a kill.
* The sandbox (bubblewrap, started as root, then ``setpriv`` to an unprivileged uid per
  worker, no capabilities, ``no_new_privs``) has its own pid, network, IPC, UTS, cgroup and
  mount namespaces; its file system holds read-only binds of ``/usr``, the Python
  installation and the virtualenv only: no repository (so no ``alexnet_ref``,
  ``course_grader.cases``, ``solutions/``, submissions, gradebook or secret), no network
  but an unconnected loopback.  Each notebook runs in further nested user, pid, mount and
  IPC namespaces (pid 1 is the notebook process, so every process it starts dies with it),
  with a private size-limited tmpfs on ``/tmp`` and ``/dev/shm``, an empty ``/proc``, and
  rlimits on CPU time, address space, file size, open files and processes; each graded part
  runs in its own forked process with its own time limit, and everything left in the
  namespace is killed after each part.  A crash, ``os._exit``, signal, hang (signals
  ignored), fork, memory, disk or output bomb, or monkeypatch inside one graded part costs
  that part only; the zygote that forks the sandboxes never runs student code.
* Scores never depend on printed output or stderr.  Flags (never a score change) name the
  cell and line of code that touches the grading machinery: a static scan of the student's
  cells on the trusted side, plus runtime audit-hook events and a diff of numpy, torch and
  builtins attributes reported by the sandbox.

Out of scope / residual risks: kernel or bubblewrap vulnerabilities (no seccomp filter is
installed); CPU contention between the two workers (a fork bomb that calls ``setsid`` can
slow the other worker for at most one part's time limit; RLIMIT_NPROC bounds it); the
sandbox's runtime reports (audit events, the banned-operator tripwire of
``course_grader.cases``) can be suppressed by hostile code and are advisory, while the
static scans on the trusted side are not; a student who computes the right answer by any
means inside the sandbox gets the points, except where the AST scan of the function finds a
banned library operator; a top-level cell that crashes or hangs with signals ignored loses
the rest of its notebook, as a dead kernel does in stock nbgrader; inputs of a case are
visible to the student's function by design (only expected values stay hidden).

Implementation notes: the zygote (:mod:`course_grader.sandbox_child`, copied alone into the
sandbox) imports torch once per worker; each notebook costs forks, not an interpreter start.
"""
from __future__ import annotations

import ast
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHILD = HERE / "sandbox_child.py"
BASE_UID = 61000

# The student side of course_grader.cases: what call_student needs and nothing else.
STUDENT_NAMES = ("Gen", "Device", "Raises", "Case", "_torch", "to_plain", "_to_student", "_matches",
                 "_qualified", "_tripwire", "banned_message", "call_student")


class SandboxError(RuntimeError):
    pass


@dataclass
class Limits:
    part_s: float = 60.0          # wall time of one graded part
    cells_s: float = 120.0        # wall time of one of the notebook's cells (nbgrader: Execute.timeout)
    notebook_s: float = 600.0     # wall time of all the cells together
    mem: int = 3 << 30            # address space on top of the zygote's (torch already mapped)
    tmpfs: int = 64 << 20         # private /tmp and /dev/shm
    fsize: int = 32 << 20
    nofile: int = 256
    nproc: int = 16               # tasks of the worker's uid (threads count): bounds a fork bomb

    def wire(self) -> dict:
        return {"part_s": self.part_s, "cells_s": self.cells_s, "notebook_s": self.notebook_s,
                "part_cpu_s": int(self.part_s) + 2, "mem": self.mem, "tmpfs": self.tmpfs,
                "fsize": self.fsize, "nofile": self.nofile, "nproc": self.nproc}


@dataclass
class PartOutcome:
    results: list | None          # one plain value per call, or None when the part produced nothing
    status: dict
    events: list = field(default_factory=list)
    problem: str = ""             # why there are no results (timeout, crash, too big, malformed)


@dataclass
class NotebookOutcome:
    cell_errors: list
    events: list
    parts: list                   # PartOutcome per part, in job order
    problem: str = ""


def student_source() -> str:
    """The student-side helpers of ``course_grader.cases``, extracted by name (no specs, no data)."""
    path = HERE / "cases.py"
    from ._astlock import AST_LOCK
    with AST_LOCK:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    keep = []
    found = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            keep.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in STUDENT_NAMES:
            keep.append(node)
            found.add(node.name)
    missing = set(STUDENT_NAMES) - found
    if missing:
        raise SandboxError(f"course_grader/cases.py no longer defines {sorted(missing)}, which the sandbox needs")
    with AST_LOCK:
        return ast.unparse(ast.Module(body=keep, type_ignores=[]))


# --------------------------------------------------------------------------- plain data across the boundary
def encode_tree(value, arrays: list):
    """Trusted plain data (cases' args) -> JSON tree + arrays."""
    from . import cases
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"__nd__": len(arrays) - 1}
    if isinstance(value, cases.Gen):
        return {"__gen__": int(value.seed)}
    if isinstance(value, cases.Device):
        return {"__dev__": str(value.name)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_tree(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode_tree(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"__dict__": {str(k): encode_tree(v, arrays) for k, v in value.items()}}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if np.isfinite(v) else {"__float__": repr(v)}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise SandboxError(f"cannot send {type(value).__name__} to the sandbox")


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


class Malformed(ValueError):
    pass


_ALLOWED_KINDS = "biuf"


def decode_blob(blob: bytes, max_depth: int = 32):
    """Untrusted bytes -> plain data (JSON values, tuples, float64/int64/bool arrays) or Malformed."""
    if len(blob) < 8:
        raise Malformed("empty result")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8 or n > (8 << 20):
        raise Malformed("bad header length")
    try:
        head = json.loads(blob[8:8 + n].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise Malformed(f"header is not JSON: {err}") from None
    if not isinstance(head, dict) or not isinstance(head.get("blobs"), list):
        raise Malformed("header without blobs")
    arrays, pos = [], 8 + n
    for size in head["blobs"]:
        if not isinstance(size, int) or size < 0 or pos + size > len(blob):
            raise Malformed("bad array length")
        try:
            a = np.load(io.BytesIO(blob[pos:pos + size]), allow_pickle=False)
        except Exception as err:
            raise Malformed(f"bad array: {type(err).__name__}") from None
        if not isinstance(a, np.ndarray) or a.dtype.kind not in _ALLOWED_KINDS or a.dtype.hasobject:
            raise Malformed("array of a non-numeric dtype")
        if a.dtype.kind == "f":
            a = a.astype(np.float64)
        elif a.dtype.kind in "iu":
            a = a.astype(np.int64)
        arrays.append(a)
        pos += size

    def walk(node, depth):
        if depth > max_depth:
            raise Malformed("nested too deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            if isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 2**63:
                raise Malformed("integer too large")
            return node
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        if isinstance(node, dict):
            if set(node) == {"__nd__"}:
                i = node["__nd__"]
                if not isinstance(i, int) or not 0 <= i < len(arrays):
                    raise Malformed("bad array index")
                return arrays[i]
            if set(node) == {"__tuple__"} and isinstance(node["__tuple__"], list):
                return tuple(walk(v, depth + 1) for v in node["__tuple__"])
            if set(node) == {"__dict__"} and isinstance(node["__dict__"], dict):
                return {str(k): walk(v, depth + 1) for k, v in node["__dict__"].items()}
            if set(node) == {"__float__"} and node["__float__"] in ("nan", "inf", "-inf"):
                return float(node["__float__"])
            raise Malformed("unknown object in the result")
        raise Malformed("unknown value in the result")

    return walk(head.get("tree"), 0)


def _events(value) -> list:
    out = []
    if not isinstance(value, list):
        return out
    for e in value[:200]:
        if isinstance(e, dict):
            out.append({"event": str(e.get("event", ""))[:60], "detail": str(e.get("detail", ""))[:200],
                        "cell": str(e.get("cell", ""))[:40], "line": e.get("line") if isinstance(e.get("line"), int)
                        else 0})
    return out


# --------------------------------------------------------------------------- the zygote
# The virtualenv is mounted at a fixed path: the repository (and so .venv) may live under /tmp,
# which the sandbox replaces with a private tmpfs.
VENV_MOUNT = "/grader-venv"


def _python_roots() -> list[tuple[str, str]]:
    """(host path, sandbox path) of the base Python and of the virtualenv, if any."""
    base = os.path.realpath(sys.base_prefix)
    roots = [(base, base)]
    if os.path.realpath(sys.prefix) != base:
        roots.append((os.path.realpath(sys.prefix), VENV_MOUNT))
    return roots


def _sandbox_python() -> str:
    if os.path.realpath(sys.prefix) == os.path.realpath(sys.base_prefix):
        return sys.executable
    return os.path.join(VENV_MOUNT, os.path.relpath(os.path.abspath(sys.executable), sys.prefix))


def bwrap_command(uid: int, child: str) -> list[str]:
    if shutil.which("bwrap") is None:
        raise SandboxError("bubblewrap (bwrap) is not installed: run `make system-deps`")
    cmd = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv",
           "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "OMP_NUM_THREADS", "1",
           "--setenv", "MKL_NUM_THREADS", "1", "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "MPLBACKEND", "Agg",
           "--setenv", "MPLCONFIGDIR", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
           "--ro-bind", "/usr", "/usr"]
    for link, target in (("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/bin", "usr/bin"), ("/sbin", "usr/sbin")):
        if os.path.islink(link):
            cmd += ["--symlink", target, link]
        elif os.path.isdir(link):
            cmd += ["--ro-bind", link, link]
    for path in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf"):
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    made = set()
    for root, mount in _python_roots():
        parts = Path(mount).parts
        for i in range(2, len(parts)):
            d = str(Path(*parts[:i]))
            if d not in made and not d.startswith("/usr"):
                cmd += ["--perms", "0755", "--dir", d]
                made.add(d)
        cmd += ["--ro-bind", root, mount]
    # The virtualenv's editable-install hooks point into the repository, which is not mounted:
    # alexnet_ref and course_grader cannot be imported in the sandbox.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
            "--perms", "0755", "--dir", "/grader", "--ro-bind", child, "/grader/child.py",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP", "--",
            "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--", _sandbox_python(), "-I", "-B", "/grader/child.py"]
    if os.geteuid() != 0:
        raise SandboxError("the grader's sandbox starts bubblewrap as root (to map each worker to its own "
                           "unprivileged uid); run it as root or in the course's container")
    return cmd


class Zygote:
    """One warm sandboxed process that grades notebooks one at a time."""

    def __init__(self, worker: int = 0, limits: Limits | None = None):
        self.worker = worker
        self.uid = BASE_UID + worker
        self.limits = limits or Limits()
        self.proc = None
        self.lock = threading.Lock()
        self._tmp = None
        self._student = student_source()

    def spawn(self):
        """Start the sandbox without waiting for it (bubblewrap's --die-with-parent follows the
        *thread* that spawns it: spawn from a thread that outlives the grading)."""
        # a world-readable copy of the child program for the unprivileged sandbox; removed once
        # the sandbox has mounted it
        self._tmp = tempfile.mkdtemp(prefix="grader-child-")
        os.chmod(self._tmp, 0o755)
        child = os.path.join(self._tmp, "child.py")
        shutil.copyfile(CHILD, child)
        os.chmod(child, 0o644)
        self.proc = subprocess.Popen(bwrap_command(self.uid, child), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self._send({"op": "init", "student_source": self._student})

    def wait_ready(self):
        try:
            head, _ = self._recv(timeout=120)
        finally:
            self._cleanup_tmp()
        if head.get("op") != "ready":
            raise SandboxError(f"sandbox did not start: {head}")

    def _cleanup_tmp(self):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def start(self):
        self.spawn()
        self.wait_ready()

    def close(self):
        self.close_proc()
        self._cleanup_tmp()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # framing on the zygote's pipes (the zygote is ours; its payload records are not)
    def _send(self, header: dict, blobs=()):
        header = dict(header, blobs=[len(b) for b in blobs])
        h = json.dumps(header).encode()
        out = self.proc.stdin
        out.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            out.write(b)
        out.flush()

    def _read(self, n: int, deadline: float) -> bytes:
        import select
        import time
        fd = self.proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SandboxError("the sandbox did not answer in time")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            b = os.read(fd, min(n - got, 1 << 20))
            if not b:
                err = self.proc.stderr.read(4000).decode("utf-8", "replace") if self.proc.poll() is not None else ""
                raise SandboxError(f"the sandbox exited: {err.strip()[-2000:]}")
            chunks.append(b)
            got += len(b)
        return b"".join(chunks)

    def _recv(self, timeout: float):
        import time
        deadline = time.monotonic() + timeout
        (n,) = struct.unpack("<Q", self._read(8, deadline))
        if n > (1 << 20):
            raise SandboxError("oversized header from the zygote")
        head = json.loads(self._read(n, deadline))
        blobs = [self._read(int(k), deadline) for k in head.get("blobs", [])]
        return head, blobs

    def run_notebook(self, cells: list[dict], parts: list[dict]) -> NotebookOutcome:
        """Run ``cells`` once, then each part (``{"calls": [Case...], "banned": {...}}``) in its own process."""
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                if self.proc is not None:
                    self.close_proc()
                self.start()
            arrays: list = []
            wire_parts = []
            for part in parts:
                calls = [{"call": c.call, "kind": c.kind,
                          "args": None if c.args is None else encode_tree(tuple(c.args), arrays),
                          "kwargs": encode_tree(dict(c.kwargs), arrays)} for c in part["calls"]]
                wire_parts.append({"calls": calls, "banned": {k: list(v) for k, v in part.get("banned", {}).items()}})
            job = {"cells": [{"label": str(c["label"]), "source": c["source"]} for c in cells], "parts": wire_parts}
            lim = self.limits
            budget = min((len(cells) + 1) * lim.cells_s, lim.notebook_s) + len(parts) * (lim.part_s + 2) + 60
            try:
                self._send({"op": "job", "job": job, "limits": lim.wire()}, [_npy(a) for a in arrays])
                head, records = self._recv(timeout=budget)
            except (SandboxError, BrokenPipeError, OSError) as err:
                self.close_proc()
                return NotebookOutcome([], [], [PartOutcome(None, {}, [], "the sandbox failed: " + str(err)[:200])
                                                for _ in parts], problem=str(err)[:300])
        return self._parse(head, records, len(parts))

    def close_proc(self):
        """Kill the sandbox process and close its pipes (also before a restart)."""
        if self.proc is not None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if f is not None:
                    f.close()
            self.proc = None

    @staticmethod
    def _parse(head: dict, records: list[bytes], nparts: int) -> NotebookOutcome:
        cell_errors, events, problem = [], [], ""
        if records:
            try:
                first = decode_blob(records[0])
                if isinstance(first, dict):
                    if isinstance(first.get("cell_errors"), list):
                        cell_errors = [{"cell": str(e.get("cell", ""))[:40], "error": str(e.get("error", ""))[:60],
                                        "message": str(e.get("message", ""))[:300]}
                                       for e in first["cell_errors"][:100] if isinstance(e, dict)]
                    events = _events(first.get("events"))
            except Malformed as err:
                problem = f"the notebook's report is malformed ({err})"
        else:
            problem = "the notebook process produced nothing (it crashed or ran out of time while running the cells)"
        parts = []
        statuses = head.get("statuses", []) if isinstance(head.get("statuses"), list) else []
        for i in range(nparts):
            rec = records[i + 1] if i + 1 < len(records) else None
            try:
                status = json.loads(statuses[i]) if i < len(statuses) else {}
            except ValueError:
                status = {}
            status = status if isinstance(status, dict) else {}
            if rec is None:
                parts.append(PartOutcome(None, status, [], problem or "the notebook process stopped before this part"))
                continue
            why = _status_problem(status)
            if not rec:
                parts.append(PartOutcome(None, status, [], why or "the part returned nothing"))
                continue
            try:
                body = decode_blob(rec)
                if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                    raise Malformed("no results")
                parts.append(PartOutcome(body["results"], status, _events(body.get("events")), why))
            except Malformed as err:
                parts.append(PartOutcome(None, status, [], why or f"the part's result is malformed ({err})"))
        return NotebookOutcome(cell_errors, events, parts, problem)


def _status_problem(status: dict) -> str:
    if status.get("timed_out"):
        return "the part ran past its time limit and was stopped"
    if status.get("too_big"):
        return "the part's result was larger than the grader accepts"
    sig = status.get("signal")
    if isinstance(sig, int):
        import signal as _signal
        try:
            name = _signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        hint = " (CPU time limit)" if name == "SIGXCPU" else " (memory limit?)" if name in ("SIGSEGV", "SIGABRT") else ""
        return f"the part was killed by {name}{hint}"
    return ""
