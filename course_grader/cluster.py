"""Grading on a Dask cluster: each Dask worker process runs one sandbox zygote; everything trusted stays here.

``python -m course_grader grade <ids> --scheduler tcp://HOST:PORT`` builds :func:`remote_zygotes`: one
:class:`RemoteZygote` per Dask worker, with the ``spawn / wait_ready / session / close`` interface of
:class:`course_grader.sandbox.Zygote`, so grade.py's pipeline is the same.  The client (this process)
keeps the secret, the hidden tests (test cells run here, through :mod:`course_grader.testrun`), the
comparisons and the gradebook.  A worker receives what its sandbox receives (the notebook's cells, the
call records of :mod:`course_grader.wire`) and returns what the sandbox returned, as bytes: the
client decodes them with the same bounds as a local sandbox's answers, never unpickles them.

On the worker, :class:`ZygotePlugin` (a ``distributed.WorkerPlugin`` the client registers) spawns the
zygote from the worker's event-loop thread, which lives as long as the worker, and closes it at
teardown; :class:`ZygoteActor` (a Dask actor pinned to that worker) holds the notebook session
between the client's requests.

A worker that leaves the cluster mid-notebook marks its RemoteZygote ``lost``: grade.py then discards
that notebook's verdict and runs the notebook again on another worker (nothing was written for it).
This module is imported only when a scheduler is given: nothing of Dask is imported otherwise.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import tempfile
import threading
import time

from distributed import Client, WorkerPlugin, get_worker

from . import sandbox as _sb
from .wire import DecodeBudget, PartLost

PLUGIN = "course-grader-zygote"
UID_SLOT_BASE = 100   # sandbox uids of Dask workers: BASE_UID + 100 + slot, apart from a local run's 0..N-1
MAX_SLOTS = 512
POLL_S = 1.0          # how often a waiting client checks that the worker is still in the cluster
NET_SLACK_S = 30.0    # added to the sandbox's own deadlines for the round trip through Dask
READY_S = 180.0


def _take_slot():
    """A uid slot no other worker of this host holds (an flock'd file, released when the process ends)."""
    d = os.path.join(tempfile.gettempdir(), "course-grader-slots")
    os.makedirs(d, mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        fd = os.open(os.path.join(d, f"{slot}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return slot, fd
        except OSError:
            os.close(fd)
    raise _sb.SandboxError(f"more than {MAX_SLOTS} grading workers on this host")


# --------------------------------------------------------------------------- worker side
class ZygotePlugin(WorkerPlugin):
    """Starts one sandbox zygote per Dask worker process and closes it when the worker shuts down."""

    name = PLUGIN

    def __init__(self, limits: dict | None = None):
        self.limits = dict(limits or {})  # sent to the workers: plain values only
        self.zygote = None

    def setup(self, worker):
        import torch
        torch.set_num_threads(1)
        self._ready, self._is_ready = threading.Lock(), False
        slot, self._slot_fd = _take_slot()
        self.zygote = _sb.Zygote(UID_SLOT_BASE + slot, _sb.Limits(**self.limits))
        self.zygote.spawn()   # from the event-loop thread: bubblewrap's --die-with-parent follows it

    def ready(self):
        with self._ready:
            if not self._is_ready:
                self.zygote.wait_ready()
                self._is_ready = True
        return self.zygote

    def teardown(self, worker):
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None
        if getattr(self, "_slot_fd", None) is not None:
            os.close(self._slot_fd)
            self._slot_fd = None


class _Part:
    def __init__(self, label: str):
        self.label, self.status = label, {}


def _pack(head: dict, rec: bytes | None = None) -> bytes:
    h = json.dumps(head).encode()
    return struct.pack("<Q", len(h)) + h + (rec or b"")


def _unpack(blob: bytes) -> tuple[dict, bytes | None]:
    if not isinstance(blob, (bytes, bytearray)) or len(blob) < 8:
        raise _sb.SandboxError("malformed answer from the grading worker")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _sb.MAX_CONTROL_BYTES or 8 + n > len(blob):
        raise _sb.SandboxError("malformed answer from the grading worker")
    head = json.loads(bytes(blob[8:8 + n]))
    rec = bytes(blob[8 + n:]) if head.get("data") else None
    if not isinstance(head, dict) or (rec is not None and len(rec) > _sb.MAX_DATA_BYTES):
        raise _sb.SandboxError("malformed answer from the grading worker")
    return head, rec


class ZygoteActor:
    """The notebook session of this worker's zygote, driven by the client one request at a time.

    Every method takes and returns bytes or str: the sandbox's records are relayed as they came."""

    def __init__(self):
        self.plugin = get_worker().plugins[PLUGIN]
        self.stack = None
        self.nb = None

    def ready(self) -> bytes:
        z = self.plugin.ready()
        return _pack({"worker": z.worker})

    def open(self, cells: bytes) -> bytes:
        self.close()
        z = self.plugin.ready()
        self.stack = contextlib.ExitStack()
        self.nb = self.stack.enter_context(z.session(json.loads(cells)))
        nb = self.nb
        return _pack({"cell_errors": nb.cell_errors, "events": nb.events, "problem": nb.problem})

    def ask(self, label: str, op: str, data: bytes | None, timeout: float) -> bytes:
        if self.nb is None:
            return _pack({"lost": "the notebook is closed", "problem": "the notebook is closed"})
        part = _Part(str(label))
        try:
            kind, head, rec = self.nb.ask(part, str(op), data, float(timeout))
        except PartLost as err:
            return _pack({"lost": err.why, "problem": self.nb.problem, "status": part.status})
        return _pack({"kind": kind, "status": head.get("status", ""), "data": rec is not None}, rec)

    def close(self) -> bytes:
        stack, self.stack, self.nb = self.stack, None, None
        if stack is not None:
            stack.close()
        return b""


# --------------------------------------------------------------------------- client side
class WorkerLost(_sb.SandboxError):
    """The Dask worker of a RemoteZygote left the cluster (or its answers stopped)."""


class _Cluster:
    def __init__(self, address: str, limits: _sb.Limits):
        # direct: the records go client <-> worker, not through the scheduler (forward_gpu's are 239 MiB)
        self.client = Client(address, set_as_default=False, timeout=30, direct_to_workers=True)
        self.limits = limits
        self.users = 0
        self.lock = threading.Lock()
        self._workers: set = set()
        self._seen = 0.0

    def workers(self, fresh: bool = False) -> set:
        with self.lock:
            if fresh or time.monotonic() - self._seen > POLL_S:
                try:
                    self._workers = set(self.client.scheduler_info(n_workers=-1).get("workers", {}))
                except Exception:
                    self._workers = set()
                self._seen = time.monotonic()
            return set(self._workers)

    def release(self):
        with self.lock:
            self.users -= 1
            last = self.users <= 0
        if last:
            self.client.close()


class RemoteZygote:
    """A :class:`~course_grader.sandbox.Zygote` on one Dask worker (same interface for grade.py)."""

    def __init__(self, cluster: _Cluster, address: str, worker: int):
        self.cluster, self.address, self.worker = cluster, address, worker
        self.limits = cluster.limits
        self.lost = ""
        self.actor = None
        self._future = None
        self.lock = threading.Lock()
        self.closed = False
        cluster.users += 1

    def _lose(self, why: str):
        self.lost = self.lost or f"the Dask worker {self.address} was lost: {why}"[:300]
        raise WorkerLost(self.lost)

    def _wait(self, fut, timeout: float):
        end = time.monotonic() + timeout
        while True:
            try:
                return fut.result(timeout=POLL_S)
            except TimeoutError:
                pass
            except Exception as err:
                self._lose(f"{type(err).__name__}: {str(err)[:200]}")
            if self.address not in self.cluster.workers():
                self._lose("it left the cluster")
            if time.monotonic() > end:
                self._lose("it did not answer in time")

    def _do(self, method: str, *args, timeout: float):
        if self.lost:
            raise WorkerLost(self.lost)
        if self.actor is None:
            raise _sb.SandboxError("the remote sandbox is not running")
        try:
            with self.cluster.client.as_current():  # the actor proxy binds to the current client
                fut = getattr(self.actor, method)(*args)
        except Exception as err:
            self._lose(f"{type(err).__name__}: {str(err)[:200]}")
        return _unpack(self._wait(fut, timeout))

    def spawn(self):
        try:
            self._future = self.cluster.client.submit(ZygoteActor, actor=True, workers=[self.address],
                                                      allow_other_workers=False, pure=False)
        except Exception as err:
            self._lose(f"{type(err).__name__}: {str(err)[:200]}")

    def wait_ready(self):
        if self.lost:
            raise WorkerLost(self.lost)
        try:
            self.actor = self._wait(self._future, READY_S)
        except WorkerLost:
            raise
        self._do("ready", timeout=READY_S)

    def start(self):
        self.spawn()
        self.wait_ready()

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            if self.actor is not None and not self.lost:
                with contextlib.suppress(Exception):
                    self._do("close", timeout=10 + _sb.KILL_GRACE_S + _sb.TRUSTED_SLACK_S)
            if self._future is not None:
                with contextlib.suppress(Exception):
                    self._future.release()
        finally:
            self.actor = self._future = None
            self.cluster.release()

    def session(self, cells: list[dict]):
        return _sb.notebook_session(self, RemoteNotebook, cells)


class RemoteNotebook(_sb.NotebookSession):
    """:class:`~course_grader.sandbox.NotebookSession` whose zygote exchanges go through the Dask worker;
    its parts are the sandbox module's own :class:`~course_grader.sandbox.PartSession`."""

    def __init__(self, zygote: RemoteZygote, cells: list[dict]):
        super().__init__(zygote, cells)
        self.budget = DecodeBudget()

    def _fail(self, err: BaseException):
        self.open = False
        self.problem = self.problem or "the sandbox failed: " + str(err)[:200]

    def _open(self):
        z, lim = self.zygote, self.zygote.limits
        timeout = READY_S + _sb.SETUP_S + lim.cells_total_s(len(self.cells)) + _sb.KILL_GRACE_S \
            + _sb.TRUSTED_SLACK_S + NET_SLACK_S
        try:
            head, _ = z._do("open", json.dumps(self.cells).encode(), timeout=timeout)
        except _sb.SandboxError as err:
            self._fail(err)
            return
        self.open = True
        self.cell_errors = [{"cell": str(e.get("cell", ""))[:40], "error": str(e.get("error", ""))[:60],
                             "message": str(e.get("message", ""))[:300]}
                            for e in (head.get("cell_errors") or [])[:100] if isinstance(e, dict)]
        self.events = _sb._events(head.get("events"))
        self.problem = str(head.get("problem") or "")[:300]

    def _close(self):
        if not self.open:
            return
        self.open = False
        with contextlib.suppress(_sb.SandboxError):
            self.zygote._do("close", timeout=10 + _sb.KILL_GRACE_S + _sb.TRUSTED_SLACK_S)

    def ask(self, part, op: str, data: bytes | None, timeout: float):
        if not self.open or self.problem:
            raise PartLost(self.problem or "the notebook is closed")
        try:
            head, rec = self.zygote._do("ask", part.label, op, data, max(0.0, timeout),
                                        timeout=max(0.0, timeout) + NET_SLACK_S)
        except _sb.SandboxError as err:
            self._fail(err)
            raise PartLost(self.problem) from None
        if "lost" in head:
            self.problem = str(head.get("problem") or "")[:300]
            if isinstance(head.get("status"), dict):
                part.status = head["status"]
            raise PartLost(str(head["lost"])[:300])
        return head.get("kind"), {"status": head.get("status", "")}, rec


def remote_zygotes(address: str, limits: _sb.Limits | None = None, wait_s: float = 60.0) -> list[RemoteZygote]:
    """One :class:`RemoteZygote` per worker of the Dask cluster at ``address`` (registers the plugin)."""
    limits = limits or _sb.Limits()
    cluster = _Cluster(address, limits)
    try:
        cluster.client.register_plugin(ZygotePlugin(vars(limits)), name=PLUGIN)
        end = time.monotonic() + wait_s
        while not cluster.workers(fresh=True):
            if time.monotonic() > end:
                raise _sb.SandboxError(f"no Dask worker joined the scheduler {address} in {wait_s:g} s")
            time.sleep(0.5)
        return [RemoteZygote(cluster, addr, w) for w, addr in enumerate(sorted(cluster.workers(fresh=True)))]
    except BaseException:
        cluster.client.close()
        raise
