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
  or is blocked in C, costs its own limit.  This process waits at most one phase's limit past
  the zygote's last report (:meth:`Zygote._wait_done`), never the notebook's whole budget.
* What comes back is bounded before it is parsed or decoded (:func:`decode_blob`: JSON bytes,
  values, depth, strings, number of arrays, elements per array, decoded bytes per notebook).
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
banned library operator; a top-level cell that crashes, or hangs past its limit with signals
ignored, loses the rest of its notebook (later cells not run, parts 0), as a dead kernel does
in stock nbgrader; inputs of a case are visible to the student's function by design (only
expected values stay hidden).

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
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
def encode_tree(value, arrays: list):
    """Trusted plain data (cases' args) -> JSON tree + arrays."""
    from . import sandbox_student as cases
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

# What the trusted side accepts from one notebook, checked before anything is parsed or decoded.
# The largest array a correct submission returns is conv1's (2, 96, 55, 55): 580,800 elements.
MAX_JSON_BYTES = 1 << 20          # the JSON tree of one record
MAX_NODES = 100_000               # values, items and keys in one record's tree
MAX_STR = 64 << 10                # characters of one string or key
MAX_ARRAYS = 1024                 # arrays in one record
MAX_ELEMENTS = 4 << 20            # elements of one array (32 MiB once decoded to float64)
MAX_DECODED_BYTES = 128 << 20     # every array of a notebook's records, after decoding (float64/int64/bool)


class DecodeBudget:
    """Decoded bytes left for one notebook's records (shared by its parts)."""

    def __init__(self, limit: int = MAX_DECODED_BYTES):
        self.left = limit

    def spend(self, nbytes: int):
        if nbytes > self.left:
            raise Malformed(f"the arrays returned add up to more than {MAX_DECODED_BYTES >> 20} MiB once decoded")
        self.left -= nbytes


def _array_header(raw: bytes):
    """(shape, dtype) of a .npy blob from its header alone, or Malformed."""
    from numpy.lib import format as npformat
    f = io.BytesIO(raw)
    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, _fortran, dtype = npformat.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, _fortran, dtype = npformat.read_array_header_2_0(f)
        else:
            raise ValueError("version")
    except Exception as err:
        raise Malformed(f"bad array header: {type(err).__name__}") from None
    if (dtype.kind not in _ALLOWED_KINDS or dtype.hasobject or dtype.fields is not None
            or dtype.subdtype is not None):
        raise Malformed("array of a non-numeric dtype")
    if not isinstance(shape, tuple) or len(shape) > 32 or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise Malformed("bad array shape")
    return shape, dtype, f.tell()


def decode_blob(blob: bytes, max_depth: int = 32, budget: DecodeBudget | None = None):
    """Untrusted bytes -> plain data (JSON values, tuples, float64/int64/bool arrays) or Malformed.

    Every size is checked before it is parsed or decoded: the JSON tree's bytes, nodes, depth and
    strings, the number of arrays, each array's elements and the decoded bytes of all arrays
    (``budget``, shared by the records of one notebook; float16 or int8 arrays count at 8 bytes
    per element, as they are decoded)."""
    import math
    budget = budget or DecodeBudget()
    if len(blob) < 8:
        raise Malformed("empty result")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8 or n > MAX_JSON_BYTES:
        raise Malformed(f"bad header length ({n} bytes; at most {MAX_JSON_BYTES} accepted)")
    try:
        head = json.loads(blob[8:8 + n].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise Malformed(f"header is not JSON: {str(err)[:100]}") from None
    except RecursionError:
        raise Malformed("nested too deep") from None
    if not isinstance(head, dict) or not isinstance(head.get("blobs"), list):
        raise Malformed("header without blobs")
    if len(head["blobs"]) > MAX_ARRAYS:
        raise Malformed(f"{len(head['blobs'])} arrays in one result (at most {MAX_ARRAYS} accepted)")
    plan, pos = [], 8 + n
    for size in head["blobs"]:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or pos + size > len(blob):
            raise Malformed("bad array length")
        shape, dtype, offset = _array_header(blob[pos:pos + min(size, 1 << 16)])
        count = math.prod(shape)
        if count > MAX_ELEMENTS:
            raise Malformed(f"an array of {count} elements (shape {shape}; at most {MAX_ELEMENTS} accepted)")
        if offset + count * dtype.itemsize != size:
            raise Malformed("array data does not match its header")
        budget.spend(count * (1 if dtype.kind == "b" else 8))
        plan.append((pos, size, dtype.kind))
        pos += size
    arrays = []
    for pos, size, kind in plan:
        try:
            a = np.load(io.BytesIO(blob[pos:pos + size]), allow_pickle=False)
        except Exception as err:
            raise Malformed(f"bad array: {type(err).__name__}") from None
        if not isinstance(a, np.ndarray) or a.dtype.kind != kind or a.dtype.hasobject:
            raise Malformed("array of a non-numeric dtype")
        if a.dtype.kind == "f":
            a = a.astype(np.float64)
        elif a.dtype.kind in "iu":
            a = a.astype(np.int64)
        arrays.append(a)
    nodes = [0]

    def count(k=1):
        nodes[0] += k
        if nodes[0] > MAX_NODES:
            raise Malformed(f"more than {MAX_NODES} values in one result")

    def text(v):
        if len(v) > MAX_STR:
            raise Malformed(f"a string of {len(v)} characters (at most {MAX_STR} accepted)")
        return v

    def walk(node, depth):
        if depth > max_depth:
            raise Malformed("nested too deep")
        count()
        if node is None or isinstance(node, (bool, int, float)):
            if isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 2**63:
                raise Malformed("integer too large")
            return node
        if isinstance(node, str):
            return text(node)
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
                count(len(node["__dict__"]))
                return {text(str(k)): walk(v, depth + 1) for k, v in node["__dict__"].items()}
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
    """One warm sandboxed process that grades notebooks one at a time."""

    def __init__(self, worker: int = 0, limits: Limits | None = None):
        self.worker = worker
        self.uid = BASE_UID + worker
        self.limits = limits or Limits()
        self.proc = None
        self.lock = threading.Lock()

    def spawn(self):
        """Start the sandbox without waiting for it (bubblewrap's --die-with-parent follows the
        *thread* that spawns it: spawn from a thread that outlives the grading)."""
        # bubblewrap copies the child program from an anonymous memory file: nothing is written to
        # /tmp, so nothing is left behind by a kill or a Ctrl-C
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
        self._send({"op": "init"})

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
            wire = dict(lim.wire(), cells_total_s=lim.cells_total_s(len(cells)))
            try:
                self._send({"op": "job", "job": job, "limits": wire}, [_npy(a) for a in arrays])
                head, records = self._wait_done(len(cells), len(parts))
            except (SandboxError, BrokenPipeError, OSError) as err:
                self.close_proc()
                return NotebookOutcome([], [], [PartOutcome(None, {}, [], "the sandbox failed: " + str(err)[:200])
                                                for _ in parts], problem=str(err)[:300])
        return self._parse(head, records, len(parts), [str(c["label"]) for c in cells], lim)

    def _wait_done(self, ncells: int, nparts: int):
        """The zygote's answer to a job.  It reports every cell and part as it starts or ends, so a
        silent zygote is given up on one phase's limit after its last report, not the notebook's."""
        import time
        lim = self.limits
        end = time.monotonic() + lim.worst_case_s(ncells, nparts)
        wait = SETUP_S + TRUSTED_SLACK_S
        while True:
            head, blobs = self._recv(timeout=max(0.0, min(wait, end - time.monotonic())))
            if head.get("op") == "done":
                return head, blobs
            if head.get("op") != "tick":
                raise SandboxError(f"unexpected message from the zygote: {str(head)[:200]}")
            if head.get("phase") == "cell":
                wait = lim.cells_s + KILL_GRACE_S + TRUSTED_SLACK_S
            else:
                wait = lim.part_s + PART_SLACK_S + TRUSTED_SLACK_S

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
    def _parse(head: dict, records: list[bytes], nparts: int, labels: list[str] | None = None,
               limits: Limits | None = None) -> NotebookOutcome:
        cell_errors, events, problem = [], [], ""
        budget = DecodeBudget()
        stopped = head.get("stopped") if isinstance(head.get("stopped"), dict) else None
        if records:
            try:
                first = decode_blob(records[0], budget=budget)
                if isinstance(first, dict):
                    if isinstance(first.get("cell_errors"), list):
                        cell_errors = [{"cell": str(e.get("cell", ""))[:40], "error": str(e.get("error", ""))[:60],
                                        "message": str(e.get("message", ""))[:300]}
                                       for e in first["cell_errors"][:100] if isinstance(e, dict)]
                    events = _events(first.get("events"))
            except Malformed as err:
                problem = f"the notebook's report is malformed ({err})"
        elif stopped and stopped.get("phase") == "cells":
            cell_errors = _stopped_cells(stopped, labels or [], limits or Limits())
            problem = "the notebook was stopped before the graded parts could run"
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
                why = problem or "the notebook process stopped before this part"
                if stopped and stopped.get("phase") == "parts":
                    why = _stopped_part(stopped, i, limits or Limits())
                parts.append(PartOutcome(None, status, [], why))
                continue
            why = _status_problem(status)
            if not rec:
                parts.append(PartOutcome(None, status, [], why or "the part returned nothing"))
                continue
            try:
                body = decode_blob(rec, budget=budget)
                if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                    raise Malformed("no results")
                parts.append(PartOutcome(body["results"], status, _events(body.get("events")), why))
            except Malformed as err:
                parts.append(PartOutcome(None, status, [], why or f"the part's result was not accepted ({err})"))
        return NotebookOutcome(cell_errors, events, parts, problem)


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


def _stopped_part(stopped: dict, i: int, lim: Limits) -> str:
    k = stopped.get("part") if isinstance(stopped.get("part"), int) else -1
    if i > k:
        return "not run: the grader stopped the notebook during an earlier part"
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
