"""The sandbox side of the course's grader: a zygote that runs inside bubblewrap.

Of the course it holds only itself and, mounted beside it as a package, :mod:`course_grader.wire`
and :mod:`course_grader.sandbox_student` (no ``alexnet_ref``, no hidden tests).  It is started
once per grading worker by :mod:`course_grader.sandbox`, imports torch and numpy once, then
serves one notebook session at a time.  The trusted side talks to it over stdin/stdout with
``multiprocessing.connection`` frames (JSON control messages and :mod:`course_grader.wire`
records; nothing is pickled):

* ``notebook``: the zygote forks an intermediate process that enters fresh user, pid, mount and
  IPC namespaces and forks the *notebook process* N (pid 1 there, so when N dies every process
  the student started dies with it).  N mounts a private size-limited tmpfs on /tmp and /dev/shm
  and an empty one on /proc, sets rlimits, drops every capability, installs an audit hook, then
  executes the student's code cells (never the test cells) in a fresh namespace, announcing each
  cell (a ``c`` frame) and ending with the cells' report (``h``);
* ``part``: N forks a *part process* P for one test cell; each ``call`` or ``read`` travels
  zygote -> N -> P, runs there, and its answer (a wire record) comes back the same way, one by
  one; P stays alive between the calls of its part; ``end``: N kills P and everything else left
  in the namespace (``kill(-1)`` from pid 1: the kernel orders it against fork, so no process of
  the part runs again) and reports at once, reaping the dead later; when the trusted side says
  more test cells follow, N then forks the next part's P ahead of its ``part`` (N's state does not
  change between parts, so it is the same process a later fork would give, and the fork overlaps
  the trusted side's work); ``close``: the zygote kills the namespace.

Every wall-time limit is enforced by the zygote, from outside the student's processes: a cell
past the per-cell limit, the cells past the notebook's limit, or a part past ``part_s`` plus a
slack from its start (counting the trusted side's time between calls) gets the whole namespace
killed (SIGKILL to N, its pid 1), whatever the student's code does with signals.  N's SIGALRM
timer and N's own part deadline (it kills P at ``part_s``) are only the polite first steps that
let the following cells and parts run, as nbgrader's interrupt on timeout does.  N may lie in its
frames once student code has run; the zygote's own clock and caps bound what a lie can buy to
the notebook's own budget, and everything N relays is untrusted data for the trusted side.
Student code runs only in N and below, so the zygote stays clean for the next student.
"""
import ctypes
import io
import json
import os
import signal
import struct
import sys
import time
from multiprocessing.connection import Connection

if __name__ == "__main__":
    # the package mounted beside this file (python -I leaves the script's directory off sys.path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from course_grader import sandbox_student as STUDENT  # noqa: E402
from course_grader import wire  # noqa: E402
from course_grader.wire import FrameReader, big_pipe, frame, write_all  # noqa: E402

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SYS_CAPSET = 126  # x86_64
MAX_HEAD_BYTES = 4 << 20     # the cells' report
MAX_ANSWER_BYTES = wire.MAX_RECORD_BYTES + (1 << 16)  # one answer of a part (P bounds its records below this)
MAX_STATUS_BYTES = 4096
MAX_STREAM_BYTES = 160 << 20  # everything one notebook sends: the trusted process decodes at most 128 MiB of it
UNBOUNDED = 1 << 62          # what the trusted side sends in (instructor data)

libc = ctypes.CDLL(None, use_errno=True)


# --------------------------------------------------------------------------- the trusted side's messages
def send(conn, head, data=None):
    conn.send_bytes(json.dumps(dict(head, data=data is not None)).encode())
    if data is not None:
        conn.send_bytes(data)


def recv(conn):
    head = json.loads(conn.recv_bytes())
    return head, (conn.recv_bytes() if head.get("data") else None)


def close_except(keep, upto):
    """Close every fd from 3 to ``upto`` but those in ``keep``."""
    low = 3
    for fd in sorted(set(keep)):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, upto + 1)


# --------------------------------------------------------------------------- confinement
def _check(rc, what):
    if rc != 0:
        raise OSError(ctypes.get_errno(), f"{what} failed")


def drop_capabilities():
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    for cap in range(64):  # bounding set (needs CAP_SETPCAP, which we still hold here)
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
    hdr = Header(0x20080522, 0)
    data = (Data * 2)()
    _check(libc.syscall(SYS_CAPSET, ctypes.byref(hdr), ctypes.byref(data)), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def set_limits(limits):
    import resource
    cpu = int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["nofile"], limits["nofile"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))
    vm = limits["mem"] + limits["base_vm"]
    resource.setrlimit(resource.RLIMIT_AS, (vm, vm))


def enter_namespace(uid, gid, limits):
    """In the notebook process N (pid 1 of a fresh pid namespace)."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # Process groups cross pid namespaces: without a session of its own, killpg(0) in student
    # code would reach the zygote.
    os.setsid()
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    size = f"size={limits['tmpfs']},nr_inodes=4096,mode=1777".encode()
    _check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, size), "mount /tmp")
    if os.path.isdir("/dev/shm"):
        libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, size)
    # An empty, read-only /proc: nothing about the grader or other processes to read.
    _check(libc.mount(b"tmpfs", b"/proc", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | 1, b"size=4k"),
           "hide /proc")
    os.chdir("/tmp")
    set_limits(limits)
    drop_capabilities()
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


# --------------------------------------------------------------------------- audit
WATCHED_PREFIXES = ("socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn",
                    "os.fork", "os.kill", "os.killpg", "ctypes.", "sys._getframe", "sys.setprofile",
                    "sys.settrace", "sys.addaudithook", "os.remove", "os.rename", "os.rmdir",
                    "shutil.", "os.chmod", "os.chdir", "os.symlink", "os.link", "signal.", "os.putenv",
                    "os.unsetenv", "code.__new__", "function.__new__", "object.__setattr__",
                    "object.__delattr__", "sys.monitoring", "resource.setrlimit", "mmap.__new__",
                    "os.listdir", "os.scandir", "os.walk", "glob.glob", "webbrowser", "urllib.")
WATCHED_IMPORTS = {"ctypes", "socket", "subprocess", "inspect", "gc", "signal", "resource", "pty",
                   "multiprocessing", "threading", "_thread", "ssl", "urllib", "http", "requests",
                   "importlib", "builtins", "pickle", "marshal", "nbgrader", "course_grader", "alexnet_ref",
                   "IPython", "mmap", "shutil", "glob", "pathlib", "sqlite3", "asyncio"}
EVENTS = []
MAX_EVENTS = 200


def _student_frame(skip_import):
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if name.startswith("<cell "):
            return name[6:-1], f.f_lineno
        if not skip_import:
            return None
        if not name.startswith("<frozen"):
            return None
        f = f.f_back
    return None


_IN_HOOK = [False]


def audit_hook(event, args):
    if _IN_HOOK[0] or len(EVENTS) >= MAX_EVENTS or event in ("compile", "exec", "object.__getattr__"):
        return
    _IN_HOOK[0] = True
    try:
        if event == "import":
            top = str(args[0]).split(".")[0]
            if top in WATCHED_IMPORTS:
                where = _student_frame(True)
                if where:
                    EVENTS.append({"event": "import", "detail": str(args[0])[:120], "cell": where[0],
                                   "line": where[1]})
        elif event == "open":
            where = _student_frame(False)
            if where:
                EVENTS.append({"event": "open", "detail": str(args[0])[:200], "cell": where[0],
                               "line": where[1]})
        elif event.startswith(WATCHED_PREFIXES):
            where = _student_frame(False)
            if where:
                detail = ""
                if event in ("object.__setattr__", "object.__delattr__") and args:
                    owner = getattr(args[0], "__module__", "") or ""
                    if not str(owner).split(".")[0] in ("builtins", "numpy", "torch"):
                        return
                    detail = f"{owner}.{getattr(args[0], '__name__', '?')}.{args[1]}"
                elif args:
                    detail = repr(args[0])[:120]
                EVENTS.append({"event": event, "detail": detail, "cell": where[0], "line": where[1]})
    except Exception:
        pass
    finally:
        _IN_HOOK[0] = False


def snapshot_modules():
    import builtins
    import numpy
    import torch
    mods = {"builtins": builtins, "numpy": numpy, "torch": torch, "numpy.testing": numpy.testing,
            "torch.testing": torch.testing, "torch.nn.functional": torch.nn.functional,
            "torch.Tensor": torch.Tensor, "json": json, "os": os, "sys": sys, "io": io}
    return {name: (mod, {k: id(v) for k, v in list(vars(mod).items())}) for name, mod in mods.items()}


def diff_modules(snap):
    found = []
    for name, (mod, before) in snap.items():
        now = {k: id(v) for k, v in list(vars(mod).items())}
        for key in sorted(set(before) | set(now)):
            if key in ("__warningregistry__", "_") or key.startswith("__pycache"):
                continue
            if name == "sys" and key in ("last_type", "last_value", "last_traceback", "last_exc",
                                         "ps1", "ps2"):
                continue
            if before.get(key) != now.get(key):
                found.append({"event": "patched", "detail": f"{name}.{key}", "cell": "", "line": 0})
    return found[:50]


# --------------------------------------------------------------------------- running student code
class _Shell:
    """Enough of ``get_ipython()`` for cells that use magics: they do nothing here."""

    def run_line_magic(self, *a, **k):
        return None

    def run_cell_magic(self, *a, **k):
        return None

    def system(self, *a, **k):
        return None

    getoutput = system

    def __getattr__(self, name):
        raise AttributeError(f"get_ipython().{name} is not available while grading")


class CellTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise CellTimeout()


def strip_magics(source):
    """IPython-only syntax does nothing here: a %%cell magic skips the cell, %line and !shell lines pass."""
    if source.lstrip().startswith("%%"):
        return ""
    out = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[:len(line) - len(stripped)] + "pass"
        out.append(line)
    return "\n".join(out) + "\n"


def run_cells(cells, per_cell, total, out_fd):
    ns = {"__name__": "__main__", "__builtins__": __builtins__, "get_ipython": lambda: _Shell(),
          "display": lambda *a, **k: None}
    errors = []
    signal.signal(signal.SIGALRM, _alarm)
    deadline = time.monotonic() + total
    for i, cell in enumerate(cells):
        left = min(per_cell, deadline - time.monotonic())
        if left <= 0:
            errors.append({"cell": cell["label"], "error": "CellTimeout", "message": "the notebook ran out of time"})
            continue
        write_all(out_fd, frame(b"c", struct.pack("<I", i)))  # the zygote starts this cell's clock
        try:
            source = strip_magics(cell["source"])
            code = compile(source, f"<cell {cell['label']}>", "exec")
            signal.setitimer(signal.ITIMER_REAL, left)
            try:
                exec(code, ns)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except CellTimeout:
            errors.append({"cell": cell["label"], "error": "CellTimeout",
                           "message": f"the cell ran longer than {per_cell:g} s"})
        except BaseException as err:  # SystemExit and KeyboardInterrupt included: keep going like nbgrader
            errors.append({"cell": cell["label"], "error": type(err).__name__, "message": str(err)[:300]})
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    return ns, errors


# --------------------------------------------------------------------------- the part process P
def raised(err):
    """("raised", type name, message, whether the type is the builtin of that name) of an exception."""
    import builtins
    try:
        name = str(type(err).__name__)[:80]
    except BaseException:
        name = "Exception"
    try:
        message = str(err)[:4 * wire.MAX_MESSAGE]
    except BaseException:
        message = ""
    return {"raised": (name, message, getattr(builtins, name, None) is type(err))}


def call_name(ns, req):
    name = req["name"]
    if name not in ns:
        return {"raised": ("NameError", f"name '{name}' is not defined", True)}
    try:
        return {"ok": STUDENT.call_mode(ns[name], req["mode"], tuple(req["args"]), req["kwargs"],
                                        tuple(req["banned"]))}
    except wire.BannedOperator as hit:
        return {"banned": (str(hit.used), str(hit))}
    except BaseException as err:
        return raised(err)


def read_name(ns, req):
    name = req["name"]
    if name not in ns:
        return {"missing": 1}
    value = ns[name]
    if callable(value):
        qual = getattr(value, "__qualname__", None)
        return {"function": (qual if type(qual) is str else type(value).__name__)[:200]}
    return {"value": value}


def pack_answer(answer):
    try:
        return wire.encode_bounded({"answer": answer, "events": EVENTS[:MAX_EVENTS]})
    except wire.Malformed as err:
        answer = {"raised": ("ResultTooLarge", f"the result is larger than the grader accepts: {err}", False)}
    except BaseException as err:
        answer = {"raised": ("UnreadableResult", f"the result could not be read ({type(err).__name__})", False)}
    return wire.encode_bounded({"answer": answer, "events": []})


def part_process(ns, rfd, wfd, limits):
    """Body of P: answer the calls and reads of one test cell, one by one, until N closes the pipe."""
    import resource
    cpu = int(limits["part_cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    del EVENTS[:]
    reader = FrameReader(rfd, UNBOUNDED, UNBOUNDED)
    while True:
        got = reader.read(None, b"CR")
        if got is None:
            return
        tag, payload = got
        try:
            req = wire.decode(payload, bounded=False)
            answer = read_name(ns, req) if tag == b"R" else call_name(ns, req)
        except BaseException as err:
            answer = raised(err)
        write_all(wfd, frame(b"A", pack_answer(answer)))


# --------------------------------------------------------------------------- the notebook process N
class Part:
    def __init__(self, pid, w, reader):
        self.pid, self.w, self.reader, self.deadline = pid, w, reader, None
        self.lost = None  # the status of a part that is gone


REAPED = {}  # pid -> wait status of a child reaped before anyone asked for it


def start_part(ns, limits):
    """Fork P; its ``part_s`` starts when it is given a test cell (:func:`serve_parts`)."""
    r1, w1 = big_pipe(os.pipe())
    r2, w2 = big_pipe(os.pipe())
    pid = fork_retrying()
    if pid == 0:
        try:
            close_except((r1, w2), limits["nofile"])  # RLIMIT_NOFILE bounds every fd number
            part_process(ns, r1, w2, limits)
        finally:
            os._exit(0)
    os.close(r1)
    os.close(w2)
    os.set_blocking(w1, False)
    reader = FrameReader(r2, MAX_STREAM_BYTES, MAX_ANSWER_BYTES)
    return Part(pid, w1, reader)


def stop_part(part, why=""):
    """Kill P and reap it: its status."""
    status = {"timed_out": why == "timeout", "too_big": why == "too_big", "malformed": why == "malformed"}
    try:
        os.kill(part.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    st = REAPED.pop(part.pid, None)
    if st is None:
        try:
            _, st = os.waitpid(part.pid, 0)
        except ChildProcessError:  # reaped by a sweep that kept no status
            st = signal.SIGKILL
    if os.WIFSIGNALED(st):
        status["signal"] = os.WTERMSIG(st)
    else:
        status["exit"] = os.WEXITSTATUS(st)
    return status


def ask(part, tag, payload):
    """Forward one call to P and wait for its answer until the part's deadline (None: P is lost)."""
    if part.lost is None:
        if write_all(part.w, frame(tag, payload), part.deadline):
            got = part.reader.read(part.deadline, b"A")
            if got is not None:
                return got[1]
            why = part.reader.why()
        else:
            why = "timeout" if time.monotonic() >= part.deadline else "exited"
        part.lost = stop_part(part, why)
    return None


def end_part(part):
    """Kill P and everything else in the namespace; they are reaped later (:func:`reap`)."""
    status = part.lost if part.lost is not None else {"killed": True}
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for fd in (part.w, part.reader.fd):
        os.close(fd)
    return status


def reap():
    """Collect the children that have died so far (frees RLIMIT_NPROC), without waiting."""
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _reaped(pid, st)


def _reaped(pid, st):
    REAPED[pid] = st
    while len(REAPED) > 64:  # statuses of parts that ended normally: nobody asks for them
        REAPED.pop(next(iter(REAPED)))


def serve_parts(ns, rfd, out_fd, limits):
    reader = FrameReader(rfd, UNBOUNDED, UNBOUNDED)
    part = spare = None
    while True:
        got = reader.read(None, b"PCRE")
        if got is None:
            return
        reap()
        tag, payload = got
        if tag == b"P":
            if part is not None:
                end_part(part)
            part, spare = spare or start_part(ns, limits), None
            part.deadline = time.monotonic() + limits["part_s"]
            write_all(out_fd, frame(b"p"))
        elif tag == b"E":
            status = end_part(part) if part is not None else {}
            part = None
            write_all(out_fd, frame(b"e", json.dumps(status).encode()))
            if payload == b"more" and spare is None:
                spare = start_part(ns, limits)  # after end_part's kill(-1), which must not reach it
        else:
            answer = ask(part, tag, payload) if part is not None else None
            if answer is None:
                lost = part.lost if part is not None else {"no_part": True}
                write_all(out_fd, frame(b"L", json.dumps(lost).encode()))
            else:
                write_all(out_fd, frame(b"A", answer))


def notebook_process(cells, rfd, out_fd, limits):
    """Body of N: confine, run the cells, then serve the parts."""
    enter_namespace(os.getuid(), os.getgid(), limits)
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.addaudithook(audit_hook)
    snap = snapshot_modules()
    ns, errors = run_cells(cells, limits["cells_s"], limits["cells_total_s"], out_fd)
    events = list(EVENTS)
    patched = diff_modules(snap)
    head = wire.encode({"cell_errors": errors, "events": events + patched}, strict=False)
    write_all(out_fd, frame(b"h", head))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    serve_parts(ns, rfd, out_fd, limits)


def sweep():
    """From pid 1: kill every other process of the namespace and reap them all (frees RLIMIT_NPROC)."""
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        _reaped(pid, st)


def fork_retrying(tries=50):
    for i in range(tries):
        try:
            return os.fork()
        except BlockingIOError:
            sweep()
            time.sleep(0.01 * (i + 1))
    return os.fork()




# --------------------------------------------------------------------------- zygote
def fork_notebook(cells, limits):
    """Fork the notebook process N in fresh namespaces: (intermediate pid, N's pid, fd to N, fd from N)."""
    to_r, to_w = big_pipe(os.pipe())
    r, w = big_pipe(os.pipe())
    pr, pw = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # intermediate I: new namespaces, then fork N (pid 1 of the new pid namespace)
        try:
            close_except((to_r, w, pw), 1 << 16)
            uid, gid = os.getuid(), os.getgid()
            _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC), "unshare")
            libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the id maps in /proc/self need it, briefly
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
            n = os.fork()
            if n == 0:
                os.close(pw)
                try:
                    notebook_process(cells, to_r, w, limits)
                except BaseException:
                    import traceback
                    traceback.print_exc()
                finally:
                    os._exit(0)
            os.write(pw, struct.pack("<q", n))
            for fd in (pw, w, to_r):
                os.close(fd)
            os.waitpid(n, 0)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(0)
    for fd in (to_r, w, pw):
        os.close(fd)
    try:
        got = b""
        while len(got) < 8:
            b = os.read(pr, 8 - len(got))
            if not b:
                break
            got += b
        npid = struct.unpack("<q", got)[0] if len(got) == 8 else None
    finally:
        os.close(pr)
    os.set_blocking(to_w, False)
    return pid, npid, to_w, r


def relay_cells(s, ncells, cout, limits):
    """Follow N through the cells with the zygote's own clock: (None, cells' report) or (where and why
    N was cut off, None)."""
    start = time.monotonic()
    grace = limits["kill_grace_s"]
    cells_end = start + limits["setup_s"] + limits["cells_total_s"] + grace  # from the first cell on, below
    deadline = min(start + limits["setup_s"], cells_end)
    cell = -1
    while True:
        got = s.read(deadline, b"ch", MAX_HEAD_BYTES)
        if got is None:
            limit = "notebook" if deadline >= cells_end else "cell" if cell >= 0 else "setup"
            return {"phase": "cells", "why": s.why(), "cell": cell, "limit": limit}, None
        tag, payload = got
        if tag == b"h":
            return None, payload
        i = struct.unpack("<I", payload)[0] if len(payload) == 4 else -1
        if not cell < i < ncells:  # cells start once each, in order
            return {"phase": "cells", "why": "malformed", "cell": cell}, None
        if cell < 0:
            cells_end = time.monotonic() + limits["cells_total_s"] + grace
        cell = i
        deadline = min(time.monotonic() + limits["cells_s"] + grace, cells_end)
        send(cout, {"op": "tick", "phase": "cell", "i": i})


def serve_notebook(cells, limits, cin, cout):
    pid, npid, to_w, r = fork_notebook(cells, limits)
    s = FrameReader(r, MAX_STREAM_BYTES, MAX_ANSWER_BYTES)

    def kill_namespace():
        # SIGKILL to pid 1 of the notebook's pid namespace: the kernel kills every process in it
        for p in (npid, pid):
            if p:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def exchange(tag, payload, expect, deadline, cap):
        if not write_all(to_w, frame(tag, payload), deadline):
            return None, "timeout" if time.monotonic() >= deadline else "exited"
        got = s.read(deadline, expect, cap)
        return got, ("" if got is not None else s.why())

    try:
        stopped, head = relay_cells(s, len(cells), cout, limits)
        if stopped is not None:
            kill_namespace()
        send(cout, {"op": "cells", "stopped": stopped}, head)
        part_end, part = None, -1
        while True:
            msg, data = recv(cin)
            op = msg.get("op")
            if op == "close":
                break
            if stopped is not None:
                send(cout, {"op": "lost", "stopped": stopped})
                continue
            if op == "part":
                part += 1
                part_end = time.monotonic() + limits["part_s"] + limits["part_slack_s"]
                got, why = exchange(b"P", b"", b"p", part_end, 0)
            elif op == "end":
                more = b"more" if data == b"more" else b""  # another test cell follows: N forks its P now
                got, why = exchange(b"E", more, b"e", time.monotonic() + limits["kill_grace_s"] + 3, MAX_STATUS_BYTES)
                part_end = None
            elif op in ("call", "read") and part_end is not None:
                if time.monotonic() >= part_end:
                    got, why = None, "timeout"
                else:
                    got, why = exchange(b"C" if op == "call" else b"R", data or b"", b"AL", part_end, MAX_ANSWER_BYTES)
            else:
                send(cout, {"op": "error", "why": f"unexpected {op!r}"})
                continue
            if got is None:
                kill_namespace()
                stopped = {"phase": "parts", "why": why, "part": part, "limit": "part"}
                send(cout, {"op": "lost", "stopped": stopped})
                continue
            tag, payload = got
            if tag == b"A":
                send(cout, {"op": "answer"}, payload)
            elif tag == b"L":
                send(cout, {"op": "part_lost", "status": payload[:MAX_STATUS_BYTES].decode("utf-8", "replace")})
            elif tag == b"e":
                send(cout, {"op": "ended", "status": payload[:MAX_STATUS_BYTES].decode("utf-8", "replace")})
            else:
                send(cout, {"op": "started"})
    finally:
        kill_namespace()
        os.waitpid(pid, 0)
        os.close(r)
        os.close(to_w)
    send(cout, {"op": "closed"})


def warm_up():
    """Pay lazy imports and kernel JIT once here instead of in every forked process."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torch.overrides  # noqa: F401
    strip_magics("%matplotlib inline\nx = 1\n")
    x = torch.randn(1, 3, 15, 15)
    w = torch.randn(4, 3, 3, 3)
    with torch.no_grad():
        y = F.conv2d(x, w, stride=2, padding=1)
        F.unfold(x, 3, padding=1, stride=2).transpose(1, 2) @ w.reshape(4, -1).t()
        F.max_pool2d(y, 2)
        torch.einsum("nchw,kc->nkhw", x, torch.randn(4, 3))
        F.local_response_norm(y, 2)
        torch.softmax(y.flatten(1), dim=1).topk(2)
        torch.nn.functional.pad(x, (1, 1, 1, 1))
        (x @ x.transpose(-1, -2)).double().exp().sum()
    np.pad(np.ones((2, 2)), 1)
    np.einsum("ij,jk->ik", np.ones((2, 2)), np.ones((2, 2)))
    req = wire.decode(wire.encode({"name": "f", "mode": "value", "banned": ["conv2d", "max_pool*"],
                                   "args": (torch.ones(2, 3),), "kwargs": {}}), bounded=False)
    ns = {"f": lambda t: torch.relu(t) * 2}
    pack_answer(call_name(ns, req))


def main():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    inp, out = sys.stdin.fileno(), os.dup(sys.stdout.fileno())
    devnull = os.open("/dev/null", os.O_WRONLY)
    os.dup2(devnull, 1)
    import warnings
    warnings.simplefilter("ignore")
    import numpy  # noqa: F401
    import torch
    torch.set_num_threads(1)
    cin, cout = Connection(inp, writable=False), Connection(out, readable=False)
    big_pipe((inp, out))
    recv(cin)  # init
    base_vm = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                base_vm = int(line.split()[1]) * 1024
    warm_up()
    send(cout, {"op": "ready", "base_vm": base_vm})
    while True:
        try:
            msg, _ = recv(cin)
        except EOFError:
            return
        if msg.get("op") == "quit":
            return
        if msg.get("op") == "notebook":
            limits = dict(msg["limits"], base_vm=base_vm)
            limits["cpu_s"] = int(limits["cells_total_s"]) + 5
            try:
                serve_notebook(msg["cells"], limits, cin, cout)
            except EOFError:
                return


if __name__ == "__main__":
    main()
