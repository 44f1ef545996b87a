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
  ``SandboxExecute`` nbgrader preprocessor), in which no student code ever runs.  The test
  cells (from the source notebook, never the submission) run there; the student's namespace is
  remote: a :class:`NotebookSession` ran the submission's cells once in the sandbox, and each
  test cell gets a :class:`PartSession` whose :meth:`~PartSession.call` sends the arguments as
  plain data and gets plain data back (:mod:`course_grader.wire`: a length-prefixed JSON tree and
  ``.npy`` arrays read with ``allow_pickle=False``, numeric dtypes only, bounded size and depth;
  tensors are rebuilt as plain CPU tensors, anything else is an inert :class:`~course_grader.wire.Unplain`).
  A student's exception comes back as the builtin exception of the same name or as
  :class:`~course_grader.wire.StudentError`, with a short cleaned message.  Nothing produced by
  the sandbox is unpickled, imported, executed or used as a path, so patched comparisons,
  objects whose ``__eq__`` is always true, tensor subclasses, IPython AST transformers, edited,
  deleted or re-labelled test cells and extra cells cannot change a verdict; points come from
  the source notebook.
* Only the trusted side writes the gradebook (nbgrader's ``Gradebook`` API, one
  transaction per student, after an sqlite backup); a re-run with the same submissions
  gives byte-identical results, skips what is already recorded, and resumes after a kill.
* The sandbox (bubblewrap: as an ordinary user in an unprivileged user namespace, or as root
  followed by ``setpriv`` to an unprivileged host uid per worker; no capabilities,
  ``no_new_privs``) has its own pid, network, IPC, UTS, cgroup and mount namespaces; its file
  system holds read-only binds of ``/usr``, the Python installation and the virtualenv only:
  no repository (so no ``alexnet_ref``, ``course_grader.cases``, ``solutions/``, submissions,
  gradebook or secret), no network but an unconnected loopback.  Each notebook runs in further
  nested user, pid, mount and IPC namespaces (pid 1 is the notebook process, so every process
  it starts dies with it), with a private size-limited tmpfs on ``/tmp`` and ``/dev/shm``, an
  empty ``/proc``, and rlimits on CPU time, address space, file size, open files and
  processes; each graded part runs in its own forked process, and everything left in the
  namespace is killed after each part.  A crash, ``os._exit``, signal, hang (signals
  ignored), fork, memory, disk or output bomb, or monkeypatch inside one graded part costs
  that part only; the zygote that forks the sandboxes never runs student code.
* Every wall limit (per cell, per notebook, per part) is enforced by the zygote on its own
  clock, with SIGKILL of the notebook's pid namespace: a cell that ignores or blocks signals,
  or is blocked in C, costs its own limit; a call that never returns costs its part's limit
  (``part_s`` from the part's start, then the part is lost and the next part starts fresh).  This
  process waits at most one phase's limit past the zygote's last report (:meth:`Zygote._wait_cells`,
  one part's limit per call), never the notebook's whole budget.
* What comes back is bounded before it is parsed or decoded (:func:`course_grader.wire.decode`:
  JSON bytes, values, depth, strings, number of arrays, elements per array, decoded bytes per
  notebook); a result over a bound fails that call only (``StudentError("ResultTooLarge")``).
* Scores never depend on printed output or stderr.  Flags (never a score change) name the
  cell and line of code that touches the grading machinery: a static scan of the student's
  cells on the trusted side, plus runtime audit-hook events and a diff of numpy, torch and
  builtins attributes reported by the sandbox.

Out of scope / residual risks: kernel or bubblewrap vulnerabilities (no seccomp filter is
installed); CPU contention between the two workers (a fork bomb that calls ``setsid`` can
slow the other worker for at most one part's time limit; RLIMIT_NPROC bounds it); the
sandbox's runtime reports (audit events, the banned-operator tripwire of
:mod:`course_grader.sandbox_student`) can be suppressed by hostile code and are advisory, while the
static scans on the trusted side are not; a student who computes the right answer by any
means inside the sandbox gets the points, except where the AST scan of the function finds a
banned library operator; a top-level cell that crashes, or hangs past its limit with signals
ignored, loses the rest of its notebook (later cells not run, parts 0), as a dead kernel does
in stock nbgrader; inputs of a case are visible to the student's function by design (only
expected values stay hidden).

Implementation notes: the zygote (:mod:`course_grader.sandbox_child`, copied into the sandbox
with :mod:`course_grader.wire` and :mod:`course_grader.sandbox_student` beside it as a package,
from memory files) imports torch once per worker; each notebook costs forks, not an interpreter
start.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = HERE / "sandbox_child.py"
BASE_UID = 61000

# Enforced by the zygote (see sandbox_child.relay); the trusted side waits a little longer.
SETUP_S = 10.0        # the notebook process's confinement, before its first cell
KILL_GRACE_S = 2.0    # past a cell's limit, the notebook's own SIGALRM gets this long to stop the cell politely
PART_SLACK_S = 3.0    # the notebook process stops a part at part_s; the zygote kills it at part_s + this
TRUSTED_SLACK_S = 20.0  # the trusted side restarts a zygote this late past what it must have reported

# What the sandbox holds of the course: the zygote and, beside it as a package, the two modules it imports.
SANDBOX_FILES = {"/grader/child.py": CHILD, "/grader/course_grader/__init__.py": None,
                 "/grader/course_grader/wire.py": HERE / "wire.py",
                 "/grader/course_grader/sandbox_student.py": HERE / "sandbox_student.py"}


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
                "fsize": self.fsize, "nofile": self.nofile, "nproc": self.nproc, "setup_s": SETUP_S,
                "kill_grace_s": KILL_GRACE_S, "part_slack_s": PART_SLACK_S}

    def cells_total_s(self, ncells: int) -> float:
        """What the cells of a notebook may spend in all (the zygote computes the same)."""
        return min(ncells * self.cells_s, self.notebook_s) + 2

    def worst_case_s(self, ncells: int, nparts: int) -> float:
        """The longest a notebook can hold a worker: every limit is enforced by SIGKILL from the zygote."""
        return (SETUP_S + self.cells_total_s(ncells) + KILL_GRACE_S
                + nparts * (self.part_s + PART_SLACK_S) + TRUSTED_SLACK_S)


# PartOutcome / NotebookOutcome: the results of the batch interface that the session replaced; kept
# only while course_grader.grade and nbgrader_plugin still import them.
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
    """The code of the sandbox's student side (:mod:`course_grader.sandbox_student`): no specs, no data."""
    return (HERE / "sandbox_student.py").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- plain data across the boundary
# The format and its bounds live in course_grader.wire (imported by the sandbox too); kept here by name.
from .wire import (MAX_ARRAYS, MAX_DECODED_BYTES, MAX_ELEMENTS, MAX_JSON_BYTES, MAX_NODES, MAX_STR,  # noqa: E402,F401
                   BannedOperator, DecodeBudget, Malformed, PartLost, StudentError, Unplain, decode_blob)
from . import wire  # noqa: E402

MAX_CONTROL_BYTES = 1 << 20   # one control message from the zygote
MAX_DATA_BYTES = (40 << 20) + (1 << 17)  # one record relayed by the zygote


def encode_tree(value, arrays: list):
    """Trusted plain data (cases' args) -> JSON tree + arrays, in :mod:`course_grader.wire`'s format
    (the older :class:`~course_grader.sandbox_student.Gen` / ``Device`` markers included)."""
    enc = wire._Encoder(strict=True)
    enc.arrays = arrays
    return enc.tree(value)


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


def bwrap_command(uid: int, files: dict[str, int]) -> list[str]:
    """As root: bubblewrap, then ``setpriv`` to the worker's own host uid.  As any other user: an
    unprivileged user namespace in which the worker's sandbox runs as ``uid`` (mapped to the
    instructor's uid outside); no capability is ever held by the sandbox."""
    if shutil.which("bwrap") is None:
        raise SandboxError("bubblewrap (bwrap) is not installed: run `make grade-deps`")
    as_root = os.geteuid() == 0
    cmd = ["bwrap"] + ([] if as_root else ["--unshare-user", "--uid", str(uid), "--gid", str(uid)])
    cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
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
            "--perms", "0755", "--dir", "/grader", "--perms", "0755", "--dir", "/grader/course_grader"]
    for path, fd in files.items():
        cmd += ["--perms", "0644", "--ro-bind-data", str(fd), path]
    if as_root:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP", "--",
                "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all"]
    return cmd + ["--", _sandbox_python(), "-I", "-B", "/grader/child.py"]


_USERNS_SYSCTLS = (("kernel.unprivileged_userns_clone", "0", "1"), ("user.max_user_namespaces", "0", "10000"),
                   ("kernel.apparmor_restrict_unprivileged_userns", "1", "0"))


def userns_unavailable() -> str:
    """Why this process cannot start the sandbox here ("" when it can: as root, or with user namespaces)."""
    return "" if os.geteuid() == 0 else userns_disabled()


def userns_disabled() -> str:
    """Why an ordinary user cannot create user namespaces here, and how to enable them ("" when they can)."""
    for name, bad, fix in _USERNS_SYSCTLS:
        try:
            with open("/proc/sys/" + name.replace(".", "/")) as f:
                if f.read().strip() == bad:
                    return (f"unprivileged user namespaces are disabled ({name} = {bad}): enable them with "
                            f"`sudo sysctl -w {name}={fix}`, or grade as root")
        except OSError:
            pass
    return ""


class Zygote:
    """One warm sandboxed process that grades notebooks one at a time (:meth:`session`)."""

    def __init__(self, worker: int = 0, limits: Limits | None = None):
        self.worker = worker
        self.uid = BASE_UID + worker
        self.limits = limits or Limits()
        self.proc = None
        self.rx = self.tx = None
        self.lock = threading.Lock()

    def spawn(self):
        """Start the sandbox without waiting for it (bubblewrap's --die-with-parent follows the
        *thread* that spawns it: spawn from a thread that outlives the grading)."""
        # bubblewrap copies the files from anonymous memory files: nothing is written to /tmp, so
        # nothing is left behind by a kill or a Ctrl-C
        fds = {}
        try:
            for path, src in SANDBOX_FILES.items():
                fds[path] = fd = os.memfd_create("grader-child")
                os.write(fd, src.read_bytes() if src is not None else b"")
                os.lseek(fd, 0, os.SEEK_SET)
            self.proc = subprocess.Popen(bwrap_command(self.uid, fds), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                                         pass_fds=tuple(fds.values()))
        finally:
            for fd in fds.values():
                os.close(fd)
        self._connect()
        self._send({"op": "init"})

    def _connect(self):
        wire.big_pipe((self.proc.stdin.fileno(), self.proc.stdout.fileno()))
        self.tx = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.rx = Connection(os.dup(self.proc.stdout.fileno()), writable=False)

    def wait_ready(self):
        head, _ = self._recv(timeout=120)
        if head.get("op") != "ready":
            raise SandboxError(f"sandbox did not start: {head}")

    def start(self):
        self.spawn()
        self.wait_ready()

    def close(self):
        self.close_proc()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # multiprocessing.connection frames on the zygote's pipes: a JSON control message, then the
    # record it announces (``"data": true``); the zygote is ours, the records it relays are not
    def _send(self, head: dict, data: bytes | None = None):
        self.tx.send_bytes(json.dumps(dict(head, data=data is not None)).encode())
        if data is not None:
            self.tx.send_bytes(data)

    def _recv(self, timeout: float):
        try:
            if not self.rx.poll(max(0.0, timeout)):
                raise SandboxError("the sandbox did not answer in time")
            head = json.loads(self.rx.recv_bytes(MAX_CONTROL_BYTES))
            data = self.rx.recv_bytes(MAX_DATA_BYTES) if head.get("data") else None
        except (EOFError, OSError, ValueError) as err:
            tail = ""
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.proc.stderr.read(4000).decode("utf-8", "replace").strip()[-2000:]
            raise SandboxError(f"the sandbox exited: {tail or type(err).__name__}") from None
        if not isinstance(head, dict):
            raise SandboxError("unexpected message from the zygote")
        return head, data

    def request(self, head: dict, data: bytes | None, timeout: float):
        """One exchange with the zygote; an interrupted exchange (Ctrl-C included) ends the zygote."""
        if self.tx is None:
            raise SandboxError("the sandbox is not running")
        try:
            self._send(head, data)
            return self._recv(timeout)
        except BaseException:
            self.close_proc()
            raise

    def session(self, cells: list[dict]):
        """Run ``cells`` (``[{"label", "source"}]``) once in a fresh notebook process; yields its
        :class:`NotebookSession`, whose :meth:`~NotebookSession.part` runs one test cell's calls."""
        return notebook_session(self, NotebookSession, cells)

    def _wait_cells(self, ncells: int):
        """The zygote's answer to a notebook.  It reports every cell as it starts, so a silent zygote
        is given up on one phase's limit after its last report, not the notebook's."""
        lim = self.limits
        end = time.monotonic() + SETUP_S + lim.cells_total_s(ncells) + KILL_GRACE_S + TRUSTED_SLACK_S
        wait = SETUP_S + TRUSTED_SLACK_S
        while True:
            head, data = self._recv(timeout=max(0.0, min(wait, end - time.monotonic())))
            if head.get("op") == "cells":
                return head, data
            if head.get("op") != "tick":
                raise SandboxError(f"unexpected message from the zygote: {str(head)[:200]}")
            wait = lim.cells_s + KILL_GRACE_S + TRUSTED_SLACK_S

    def close_proc(self):
        """Kill the sandbox process and close its pipes (also before a restart)."""
        for conn in (self.tx, self.rx):
            if conn is not None:
                try:
                    conn.close()
                except OSError:
                    pass
        self.tx = self.rx = None
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


@contextlib.contextmanager
def notebook_session(zygote, session_class, cells: list[dict]):
    """``session_class(zygote, cells)`` opened under the zygote's lock and closed after use (one
    notebook at a time per zygote, local or remote)."""
    with zygote.lock:
        nb = session_class(zygote, cells)
        try:
            nb._open()
            yield nb
        finally:
            nb._close()


class NotebookSession:
    """One student's notebook in the sandbox: its cells ran once; :meth:`part` serves one test cell."""

    def __init__(self, zygote: Zygote, cells: list[dict]):
        self.zygote = zygote
        self.cells = [{"label": str(c["label"]), "source": c["source"]} for c in cells]
        self.cell_errors: list = []
        self.events: list = []
        self.problem = ""            # why the notebook process is gone ("" while it serves parts)
        self.budget = DecodeBudget()  # decoded bytes, shared by the parts
        self.open = False

    def _fail(self, err: BaseException):
        self.zygote.close_proc()
        self.open = False
        self.problem = self.problem or "the sandbox failed: " + str(err)[:200]

    def _open(self):
        z, lim = self.zygote, self.zygote.limits
        try:
            if z.proc is None or z.proc.poll() is not None:
                if z.proc is not None:
                    z.close_proc()
                z.start()
            wire_limits = dict(lim.wire(), cells_total_s=lim.cells_total_s(len(self.cells)))
            z._send({"op": "notebook", "cells": self.cells, "limits": wire_limits})
            self.open = True
            head, data = z._wait_cells(len(self.cells))
        except (SandboxError, OSError) as err:
            self._fail(err)
            return
        except BaseException:
            z.close_proc()
            raise
        stopped = head.get("stopped") if isinstance(head.get("stopped"), dict) else None
        if data:
            try:
                first = wire.decode(data, budget=self.budget)
                if isinstance(first, dict):
                    if isinstance(first.get("cell_errors"), list):
                        self.cell_errors = [{"cell": str(e.get("cell", ""))[:40],
                                             "error": str(e.get("error", ""))[:60],
                                             "message": str(e.get("message", ""))[:300]}
                                            for e in first["cell_errors"][:100] if isinstance(e, dict)]
                    self.events = _events(first.get("events"))
            except Malformed as err:
                self.problem = f"the notebook's report is malformed ({err})"
        elif stopped and stopped.get("phase") == "cells":
            self.cell_errors = _stopped_cells(stopped, [c["label"] for c in self.cells], lim)
            self.problem = "the notebook was stopped before the graded parts could run"
        else:
            self.problem = "the notebook process produced nothing (it crashed or ran out of time while running the cells)"

    def _close(self):
        if not self.open:
            return
        self.open = False
        try:
            head, _ = self.zygote.request({"op": "close"}, None, KILL_GRACE_S + 5 + TRUSTED_SLACK_S)
            if head.get("op") != "closed":
                raise SandboxError(f"unexpected answer to close: {str(head)[:200]}")
        except (SandboxError, OSError):
            self.zygote.close_proc()

    @contextlib.contextmanager
    def part(self, label: str, more: bool = False):
        """One forked process for one test cell, ``part_s`` of wall time from its start (calls and the
        trusted work between them together).  ``more``: another part follows (its process is forked
        while this side finishes this one)."""
        p = PartSession(self, label, more)
        p._start()
        try:
            yield p
        finally:
            p._end()

    def ask(self, part: "PartSession", op: str, data: bytes | None, timeout: float):
        """One exchange for ``part``: the zygote's answer, or PartLost (and then the notebook may be gone)."""
        if not self.open or self.problem:
            raise PartLost(self.problem or "the notebook is closed")
        try:
            head, rec = self.zygote.request({"op": op, "label": part.label}, data, timeout)
        except (SandboxError, OSError) as err:
            self._fail(err)
            raise PartLost(self.problem) from None
        kind = head.get("op")
        if kind == "lost":
            stopped = head.get("stopped") if isinstance(head.get("stopped"), dict) else {}
            self.problem = _stopped_part(stopped, self.zygote.limits)
            raise PartLost(self.problem)
        if kind == "part_lost":
            try:
                status = json.loads(str(head.get("status", ""))[:4096])
            except ValueError:
                status = {}
            part.status = status if isinstance(status, dict) else {}
            raise PartLost(_status_problem(part.status) or "the part process stopped")
        return kind, head, rec


class PartSession:
    """The calls of one test cell, in one part process."""

    def __init__(self, nb: NotebookSession, label: str, more: bool = False):
        self.nb, self.label, self.more = nb, str(label), bool(more)
        self.events: list = []
        self.status: dict = {}
        self.lost = ""
        self.started = False

    def _deadline(self) -> float:
        return self.t0 + self.nb.zygote.limits.part_s + PART_SLACK_S + TRUSTED_SLACK_S

    def _start(self):
        self.t0 = time.monotonic()
        try:
            self.nb.ask(self, "part", None, self._deadline() - time.monotonic())
            self.started = True
        except PartLost as err:
            self.lost = err.why

    def _end(self):
        if not self.started or not self.nb.open or self.nb.problem:
            return
        try:
            kind, head, _ = self.nb.ask(self, "end", b"more" if self.more else None, KILL_GRACE_S + 3 + TRUSTED_SLACK_S)
            if kind == "ended":
                try:
                    status = json.loads(str(head.get("status", ""))[:4096])
                except ValueError:
                    status = {}
                if isinstance(status, dict) and status:
                    self.status = status
        except PartLost:
            pass

    def _exchange(self, op: str, payload: bytes):
        if self.lost:
            raise PartLost(self.lost)
        try:
            kind, _, rec = self.nb.ask(self, op, payload, self._deadline() - time.monotonic())
        except PartLost as err:
            self.lost = err.why
            raise
        if kind != "answer" or rec is None:
            self.lost = f"unexpected answer from the sandbox ({str(kind)[:40]})"
            raise PartLost(self.lost)
        try:
            body = wire.decode(rec, budget=self.nb.budget)
            if not isinstance(body, dict) or not isinstance(body.get("answer"), dict):
                raise Malformed("no answer")
        except Malformed as err:
            if err.too_large:
                raise StudentError("ResultTooLarge", f"the result is larger than the grader accepts: {err}") from None
            self.lost = f"the part's answer was not accepted ({err})"
            raise PartLost(self.lost) from None
        self.events = _events(body.get("events"))
        return body["answer"]

    def call(self, name: str, args: tuple = (), kwargs: dict | None = None, mode: str = "value", banned=()):
        """``name(*args, **kwargs)`` in the sandbox, in one of ``sandbox_student.MODES``: its plain result,
        or the student's exception (see :mod:`course_grader.wire`)."""
        from .sandbox_student import MODES
        if mode not in MODES:
            raise ValueError(f"PartSession.call: mode must be one of {MODES}, got {mode!r}")
        args, kwargs = tuple(args), dict(kwargs or {})
        try:
            payload = wire.encode({"name": str(name), "mode": mode, "banned": [str(b) for b in banned],
                                   "args": args, "kwargs": kwargs})
        except TypeError:  # say which argument
            for i, a in enumerate(args):
                wire.encode(a, where=f" (argument {i + 1} of {name})")
            for k, v in kwargs.items():
                wire.encode(v, where=f" (argument {k}= of {name})")
            raise
        return _result(self._exchange("call", payload))

    def read(self, name: str):
        """What the student's name is: ``("function", qualname)``, ``("value", value)``, ``("missing",)``
        or ``("unplain", type name)``."""
        answer = self._exchange("read", wire.encode({"name": str(name)}))
        if "function" in answer:
            return ("function", wire.clean_message(answer["function"])[:200])
        if "missing" in answer:
            return ("missing",)
        if "value" in answer:
            value = answer["value"]
            return ("unplain", value.type_name) if isinstance(value, Unplain) else ("value", value)
        return _result(answer)


def _result(answer: dict):
    """The value of an answer, or the exception it reports."""
    if "ok" in answer:
        return answer["ok"]
    raised, banned = answer.get("raised"), answer.get("banned")
    if isinstance(raised, tuple) and len(raised) == 3:
        err = wire.student_exception(raised[0], raised[1], raised[2] is True)
        raise err
    if isinstance(banned, tuple) and len(banned) == 2:
        raise BannedOperator(wire.clean_message(banned[0])[:120], wire.clean_message(banned[1]))
    raise StudentError("Malformed", "the sandbox's answer holds no result")


def _stopped_cells(stopped: dict, labels: list[str], lim: Limits) -> list[dict]:
    """cell_errors for a notebook process that the zygote killed (or lost) while it ran the cells."""
    i = stopped.get("cell") if isinstance(stopped.get("cell"), int) else -1
    label = labels[i] if 0 <= i < len(labels) else "?"
    why, limit = stopped.get("why"), stopped.get("limit")
    if why == "timeout" and limit == "cell":
        msg = (f"the cell ran longer than {lim.cells_s:g} s and did not stop when interrupted (signals ignored "
               "or blocked): the grader killed the notebook, as a dead kernel")
    elif why == "timeout" and limit == "notebook":
        msg = (f"the notebook's cells ran longer than {lim.notebook_s:g} s in all: the grader killed the notebook "
               "during this cell")
    elif why == "timeout":
        msg = "the notebook did not start in time"
    elif why == "too_big":
        msg = "the notebook wrote more data to the grader than it accepts: the grader killed it during this cell"
    elif why == "malformed":
        msg = "the notebook process sent the grader malformed data during this cell: the grader killed it"
    else:
        msg = "the notebook process exited during this cell (os._exit, a crash or a kill), as a dead kernel"
    out = [{"cell": label, "error": "NotebookStopped", "message": msg}]
    out += [{"cell": lab, "error": "NotRun", "message": f"not run: the notebook was stopped at cell {label}"}
            for lab in labels[i + 1:][:99]]
    return out


def _stopped_part(stopped: dict, lim: Limits) -> str:
    """Why a notebook that the zygote killed during a part is gone."""
    if stopped.get("phase") == "cells":
        return "the notebook was stopped before the graded parts could run"
    if stopped.get("why") == "timeout":
        return f"the part ran past its time limit of {lim.part_s:g} s and the grader killed the notebook"
    if stopped.get("why") == "too_big":
        return "the part's result was larger than the grader accepts"
    if stopped.get("why") == "malformed":
        return "the notebook process sent malformed data during this part"
    return "the notebook process exited during this part"


def _status_problem(status: dict) -> str:
    if status.get("timed_out"):
        return "the part ran past its time limit and was stopped"
    if status.get("too_big"):
        return "the part's result was larger than the grader accepts"
    if status.get("malformed"):
        return "the part process sent malformed data"
    sig = status.get("signal")
    if isinstance(sig, int):
        import signal as _signal
        try:
            name = _signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        hint = " (CPU time limit)" if name == "SIGXCPU" else " (memory limit?)" if name in ("SIGSEGV", "SIGABRT") else ""
        return f"the part was killed by {name}{hint}"
    if isinstance(status.get("exit"), int):
        return "the part process exited during a call (os._exit, a crash or a kill)"
    return ""
