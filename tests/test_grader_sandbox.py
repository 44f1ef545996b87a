"""The sandbox on a tiny inline notebook: what student code can see and do, and the protocol."""
from __future__ import annotations

import os
import socket

import numpy as np
import pytest

from course_grader.sandbox import Limits, Zygote
from tests.grader_course import REPO, require_sandbox

pytestmark = pytest.mark.slow

PROBE = r'''
import os, socket, sys

def probe():
    seen = {"uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(), "root": sorted(os.listdir("/")),
            "proc": sorted(os.listdir("/proc")), "env": sorted(os.environ), "cwd": os.getcwd()}
    readable = []
    for path in READ:
        try:
            with open(path, "rb") as f:
                f.read(1)
            readable.append(path)
        except OSError:
            pass
    seen["readable"] = readable
    writable = []
    for d in ("/", "/usr", "/grader", "/work", "/tmp", os.path.dirname(sys.executable)):
        try:
            with open(os.path.join(d, "w.txt"), "w") as f:
                f.write("x")
            writable.append(d)
        except OSError:
            pass
    seen["writable"] = writable
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
        seen["net"] = "connected"
    except OSError as err:
        seen["net"] = type(err).__name__
    try:
        import alexnet_ref
        seen["alexnet_ref"] = "imported"
    except ImportError:
        seen["alexnet_ref"] = "missing"
    try:
        import course_grader.cases
        seen["cases"] = "imported"
    except ImportError:
        seen["cases"] = "missing"
    return seen
'''


def run_notebook(z, cells, parts):
    """The cells once, then each part's calls ``(name, args)`` (``args=None``: a read) in one session."""
    from types import SimpleNamespace
    from course_grader.wire import StudentError
    outs = []
    with z.session(cells) as nb:
        for k, calls in enumerate(parts):
            with nb.part(str(k)) as p:
                results, problem = [], ""
                try:
                    for name, args in calls:
                        results.append(p.read(name) if args is None else p.call(name, args))
                except StudentError as err:
                    results, problem = None, str(err)
            outs.append(SimpleNamespace(results=results, problem=problem or p.lost, events=p.events))
    return SimpleNamespace(cell_errors=nb.cell_errors, events=nb.events, problem=nb.problem, parts=outs)


@pytest.fixture(scope="module")
def zygote():
    require_sandbox()
    with Zygote(0, Limits(part_s=10, cells_s=10, notebook_s=20)) as z:
        yield z


def test_what_student_code_sees(zygote, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    os.chmod(secret, 0o644)
    read = [str(REPO / "alexnet_ref" / "layers.py"), str(REPO / "course_grader" / "cases.py"),
            str(REPO / "solutions" / "conv1" / "conv1.ipynb"), str(REPO / "nbgrader_config.py"), str(secret),
            "/etc/passwd", "/root/.bashrc", "/proc/1/cmdline", "/proc/self/environ"]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    src = f"READ = {read!r}\nPORT = {port}\n" + PROBE
    out = run_notebook(zygote, [{"label": "0", "source": src}], [[("probe", ())]])
    listener.close()
    assert not out.cell_errors, out.cell_errors
    seen = out.parts[0].results[0]
    assert isinstance(seen, dict), f"probe returned {out.parts[0]}"
    assert seen["uid"] not in (0,) and seen["uid"] >= 61000, f"student code runs as uid {seen['uid']}"
    assert seen["pid"] > 1, "student code must not be the namespace's init"
    assert set(seen["root"]) <= {"usr", "lib", "lib64", "bin", "sbin", "etc", "proc", "dev", "tmp", "root", "grader-venv",
                                 "grader"}, f"unexpected top-level folders: {seen['root']}"
    assert seen["proc"] == [], f"/proc shows {seen['proc'][:10]}"
    assert seen["readable"] == [], f"the sandbox can read {seen['readable']}"
    assert seen["writable"] == ["/tmp"], f"the sandbox can write to {seen['writable']}"
    assert seen["net"] != "connected", "the sandbox reached a listener on the host's loopback"
    assert seen["alexnet_ref"] == "missing" and seen["cases"] == "missing"
    # TORCHINDUCTOR_CACHE_DIR: set by torch itself inside the sandbox when its dispatch modes are imported
    assert set(seen["env"]) <= {"PATH", "HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                "MPLBACKEND", "MPLCONFIGDIR", "PYTHONDONTWRITEBYTECODE", "LC_CTYPE", "PWD",
                                "TORCHINDUCTOR_CACHE_DIR"}, seen["env"]


def test_parts_do_not_share_state(zygote):
    src = "import torch\nstate = []\ndef bump(x):\n    state.append(1)\n    torch.add = None\n    return len(state)\n"
    call = ("bump", (np.zeros(1),))
    out = run_notebook(zygote, [{"label": "0", "source": src}], [[call, call], [call]])
    assert out.parts[0].results == [1, 2], out.parts[0]
    assert out.parts[1].results == [1], f"the second part saw the first part's state: {out.parts[1]}"


def test_cell_errors_are_reported_and_later_cells_run(zygote):
    cells = [{"label": "0", "source": "raise RuntimeError('boom')"},
             {"label": "1", "source": "%matplotlib inline\nY = 41 + 1"}]
    out = run_notebook(zygote, cells, [[("Y", None)]])
    assert out.cell_errors and out.cell_errors[0]["error"] == "RuntimeError", out.cell_errors
    assert out.parts[0].results == [("value", 42)], out.parts[0]


def test_results_are_plain_data(zygote):
    src = ("import numpy as np\nclass Evil:\n    def __reduce__(self):\n        return (print, ('pwned',))\n"
           "def f(x):\n    return {'obj': Evil(), 'arr': np.array([Evil()], dtype=object), 'ok': x * 2}\n")
    out = run_notebook(zygote, [{"label": "0", "source": src}], [[("f", (np.ones(2),))]])
    from course_grader.wire import Unplain
    res = out.parts[0].results[0]
    assert isinstance(res, dict) and res["ok"].tolist() == [2.0, 2.0], res
    assert isinstance(res["obj"], Unplain) and res["obj"].type_name == "Evil", res["obj"]
    assert isinstance(res["arr"], Unplain) and res["arr"].type_name == "ndarray", res["arr"]


def test_runtime_audit_reports_cell_and_line(zygote):
    src = "import numpy as np\nx = 1\nnp.allclose = lambda *a, **k: True\ntry:\n    open('/etc/hostname')\nexcept OSError:\n    pass\n"
    out = run_notebook(zygote, [{"label": "7:demo", "source": src}], [[]])
    events = {(e["event"], e["cell"], e["line"]) for e in out.events}
    assert ("open", "7:demo", 5) in events, out.events
    assert any(e["event"] == "patched" and e["detail"] == "numpy.allclose" for e in out.events), out.events


# --------------------------------------------------------------------------- limits enforced from outside
SHORT = Limits(part_s=3, cells_s=3, notebook_s=8)
DOUBLE = "def double(x):\n    return x * 2\n"
HUNG_CELLS = {
    "signals-ignored-sleep": "import signal, time\nfor s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):\n"
                             "    signal.signal(s, signal.SIG_IGN)\ntime.sleep(10_000)\n",
    "signals-blocked-sleep": "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))\n"
                             "time.sleep(10_000)\n",
    "ctypes-pause": "import ctypes, signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nctypes.CDLL(None).pause()\n",
    "busy-loop-ignoring-signals": "import signal\nfor s in (signal.SIGALRM, signal.SIGXCPU):\n"
                                  "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    try:\n        pass\n"
                                  "    except BaseException:\n        pass\n",
}


@pytest.fixture(scope="module")
def short_zygote():
    require_sandbox()
    with Zygote(1, SHORT) as z:
        yield z


def _double_case():
    return ("double", (np.arange(3.0),))


def _timed(z, cells, parts):
    import time
    t0 = time.monotonic()
    out = run_notebook(z, cells, parts)
    return out, time.monotonic() - t0


@pytest.mark.parametrize("kind", sorted(HUNG_CELLS))
def test_hung_top_level_cell_is_killed_at_the_cell_limit(short_zygote, kind):
    cells = [{"label": "0:double", "source": DOUBLE}, {"label": "1:hang", "source": HUNG_CELLS[kind]},
             {"label": "2:after", "source": "AFTER = 1"}]
    out, took = _timed(short_zygote, cells, [[_double_case()]])
    assert took < SHORT.cells_s + 30, f"{kind}: a cell limited to {SHORT.cells_s} s held the worker {took:.1f} s"
    errors = {e["cell"]: e for e in out.cell_errors}
    assert errors.get("1:hang", {}).get("error") == "NotebookStopped", f"{kind}: {out.cell_errors}"
    assert f"longer than {SHORT.cells_s:g} s" in errors["1:hang"]["message"], errors["1:hang"]
    assert errors.get("2:after", {}).get("error") == "NotRun", f"{kind}: the later cell is not reported: {errors}"
    assert out.parts[0].results is None and "stopped" in out.parts[0].problem, out.parts[0]
    again, _ = _timed(short_zygote, [{"label": "0", "source": DOUBLE}], [[_double_case()]])
    assert not again.cell_errors and again.parts[0].results[0].tolist() == [0, 2, 4], \
        f"the next notebook after {kind} was not graded normally: {again}"


def test_notebook_limit_is_enforced_across_cells(short_zygote):
    # the first cell stops the notebook process's own clock; each cell then stays under the per-cell
    # limit and ignores the polite interrupt, and together they exceed the notebook's limit
    stop_clock = "import time\n_sleep = time.sleep\ntime.monotonic = lambda: 0.0\n"
    slow = "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n_sleep(4.5)\n"
    cells = [{"label": "0:clock", "source": stop_clock}] + [{"label": f"{i}:slow", "source": slow} for i in range(1, 7)]
    out, took = _timed(short_zygote, cells, [[_double_case()]])
    assert took < SHORT.notebook_s + 30, f"the notebook's cells held the worker {took:.1f} s"
    stopped = [e for e in out.cell_errors if e["error"] == "NotebookStopped"]
    assert stopped and f"{SHORT.notebook_s:g} s in all" in stopped[0]["message"], out.cell_errors


def test_part_that_disables_the_notebook_process_timer_is_killed(short_zygote):
    # student code runs in the notebook process, so it can replace the process's own part timer
    # (the zygote runs it as __main__): only the zygote's clock still holds
    src = DOUBLE + ("import sys, time, signal\nmain = sys.modules['__main__']\n"
                    "def forever(*a, **k):\n    signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))\n"
                    "    time.sleep(10_000)\nmain.ask = forever\n")
    out, took = _timed(short_zygote, [{"label": "0", "source": src}], [[_double_case()], [_double_case()]])
    assert took < SHORT.part_s + 30, f"a part limited to {SHORT.part_s} s held the worker {took:.1f} s"
    assert out.parts[0].results is None and "time limit" in out.parts[0].problem, out.parts[0]
    assert out.parts[1].results is None and out.problem, f"the notebook outlived its killed part: {out}"
    again, _ = _timed(short_zygote, [{"label": "0", "source": DOUBLE}], [[_double_case()]])
    assert again.parts[0].results[0].tolist() == [0, 2, 4], f"the next notebook was not graded normally: {again}"


def test_worst_case_is_bounded_by_the_limits():
    lim = Limits()
    # a conv1-sized notebook: what a hung notebook can cost the run, every limit enforced from outside
    assert lim.worst_case_s(14, 4) <= lim.notebook_s + 4 * (lim.part_s + 3) + 40
    assert Limits(cells_s=3, notebook_s=600).worst_case_s(1, 0) < 3 + 40


def test_result_huge_after_upcast_is_refused_with_a_message(short_zygote):
    from course_grader.sandbox import MAX_ELEMENTS
    src = DOUBLE + f"import numpy as np\ndef bomb(x):\n    return np.ones({MAX_ELEMENTS + 1}, dtype=np.int8)\n"
    out = run_notebook(short_zygote, [{"label": "0", "source": src}], [[("bomb", (np.zeros(1),))], [_double_case()]])
    assert out.parts[0].results is None and f"at most {MAX_ELEMENTS}" in out.parts[0].problem, out.parts[0]
    assert out.parts[1].results[0].tolist() == [0, 2, 4], f"the part after the refused one: {out.parts[1]}"


# --------------------------------------------------------------------------- nothing left behind
def _children(pid: int) -> set[int]:
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def hung_course(tmp_path_factory):
    from tests.grader_course import make_course, make_submission
    require_sandbox()
    course = make_course(tmp_path_factory.mktemp("interrupted") / "course")
    make_submission(course, "ana", "solution")
    hang = "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))\ntime.sleep(10_000)\n"
    make_submission(course, "hung1", "solution", extra=[("extra-first", hang)])
    make_submission(course, "hung2", "solution", extra=[("extra-first", hang)])
    return course


@pytest.mark.parametrize("sig,when", [("SIGINT", "mid-run"), ("SIGKILL", "start-up")])
def test_interrupted_run_leaves_nothing_behind(hung_course, sig, when):
    import glob
    import signal
    import subprocess
    import sys
    import time
    before = set(glob.glob("/tmp/grader-child-*"))
    proc = subprocess.Popen([sys.executable, "-m", "course_grader", "grade", "conv1", "--root", str(hung_course),
                             "--quiet", "--force"], cwd=hung_course, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sandboxes: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(sandboxes) < 2:
        sandboxes |= _children(proc.pid)
        time.sleep(0.05)
    assert len(sandboxes) >= 2, f"the grader did not start its two sandboxes: {sandboxes}"
    if when == "mid-run":
        time.sleep(15)  # the sandboxes are up and both hung notebooks are running
    assert proc.poll() is None, f"the run ended before the {sig}: {proc.communicate()}"
    proc.send_signal(getattr(signal, sig))
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the grader did not stop within 60 s of {sig}")
    time.sleep(1)
    left = sorted(set(glob.glob("/tmp/grader-child-*")) - before)
    assert not left, f"left behind after {sig} at {when}: {left}"
    alive = sorted(p for p in sandboxes if _alive(p))
    assert not alive, f"sandbox processes {alive} outlived the grader after {sig} at {when}"
    if sig == "SIGINT":
        assert "Traceback" not in err, f"Ctrl-C printed a traceback:\n{err[-2000:]}"


def test_trusted_side_gives_up_one_phase_after_the_last_report():
    # a zygote that reports a cell start, then falls silent: the trusted side must not wait for the
    # notebook's whole budget (50 cells: over 600 s with these limits)
    import subprocess
    import sys
    import time
    from course_grader.sandbox import KILL_GRACE_S, TRUSTED_SLACK_S, SandboxError
    script = ("import json, time\nfrom multiprocessing.connection import Connection\n"
              "Connection(1, readable=False).send_bytes(json.dumps({'op': 'tick', 'phase': 'cell', 'i': 0}).encode())\n"
              "time.sleep(600)\n")
    lim = Limits(cells_s=1, part_s=60, notebook_s=600)
    z = Zygote(0, lim)
    z.proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, bufsize=0)
    z._connect()
    try:
        assert lim.worst_case_s(50, 10) > 600
        t0 = time.monotonic()
        with pytest.raises(SandboxError):
            z._wait_cells(50)
        took = time.monotonic() - t0
    finally:
        z.close_proc()
    bound = lim.cells_s + KILL_GRACE_S + TRUSTED_SLACK_S
    assert took < bound + 10, f"the trusted side waited {took:.0f} s for a silent zygote (bound {bound:g} s)"


# --------------------------------------------------------------------------- the session API (issue 10)
SESSION = r'''
import os, signal
import numpy as np
import torch

SHAPE = (96, 55, 55)
NAME = "conv1"
MODULE = np

def echo(*args, **kwargs):
    return {"args": args, "kwargs": kwargs}

def describe(*args, **kwargs):
    def one(a):
        if isinstance(a, torch.Tensor):
            return ["tensor", str(a.dtype), list(a.shape), a.requires_grad, a.device.type]
        if isinstance(a, torch.Generator):
            return ["generator", torch.rand(3, generator=a).tolist()]
        if isinstance(a, np.ndarray):
            return ["ndarray", str(a.dtype), list(a.shape)]
        return [type(a).__name__, repr(a)]
    return [one(a) for a in args] + [[k] + one(v) for k, v in sorted(kwargs.items())]

ERRORS = {"ValueError": ValueError, "IndexError": IndexError, "ZeroDivisionError": ZeroDivisionError,
          "NotImplementedError": NotImplementedError, "AssertionError": AssertionError, "TypeError": TypeError}

def raise_(name, message):
    raise ERRORS[name](message)

def fake_value_error():
    class ValueError(Exception):
        pass
    raise ValueError("not the builtin one")

def custom():
    class Oops(Exception):
        pass
    raise Oops("custom failure")

def exits():
    raise SystemExit(3)

def big_message():
    raise RuntimeError("x" * 10_000_000)

def crafted_message():
    raise ValueError("a\x00b\x1b[31mred\x1b[0m <script>alert(1)</script>\r\nnext")

def uses_conv(x, w):
    return torch.nn.functional.conv2d(x, w)

def hang():
    for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):
        signal.signal(s, signal.SIG_IGN)
    while True:
        try:
            pass
        except BaseException:
            pass

def huge():
    return np.ones(MAX + 1, dtype=np.int8)

def nested():
    x = 0
    for _ in range(1000):
        x = [x]
    return x

def many_keys():
    return {str(i): i for i in range(1_000_000)}

class FakeTensor:
    shape = (2, 2)
    dtype = torch.float32
    device = torch.device("cpu")
    requires_grad = False
    def __array__(self, *a, **k):
        return np.ones((2, 2))
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return torch.ones(2, 2)
    def __eq__(self, other):
        return True
    def __call__(self, *a):
        return 0

def fake_tensor():
    return FakeTensor()

class Sub(torch.Tensor):
    def __eq__(self, other):
        return True

def subclass():
    return torch.arange(3.0).as_subclass(Sub)

def meta():
    return torch.empty(2, 3, device="meta")

def grad():
    return torch.ones(2, requires_grad=True) * 2

def garbage():
    for fd in range(3, 256):
        try:
            os.write(fd, b"\xff" * 64 + b"A\x00\x00\x00\x00\x00\x00\x00\x10not a record")
        except OSError:
            pass
    return 1

def code_text():
    return "__import__('os').system('touch /tmp/pwned')"
'''


@pytest.fixture(scope="module")
def session_source():
    from course_grader.wire import MAX_ELEMENTS
    return f"MAX = {MAX_ELEMENTS}\n" + SESSION


def test_session_calls_with_every_argument_type(zygote, session_source):
    import torch
    g = torch.Generator().manual_seed(7)
    torch.rand(5, generator=g)  # the state, not the seed, is what travels
    args = (None, True, 3, 2.5, float("nan"), "s", (1, 2), [1, [2]], {"k": 1}, np.arange(3, dtype=np.float32),
            np.array([True]), torch.ones(2, 3, dtype=torch.float64, requires_grad=True), torch.arange(4),
            torch.Size([2, 3]), torch.float16, torch.device("cpu"), g, slice(1, None, 2), Ellipsis)
    with zygote.session([{"label": "0", "source": session_source}]) as nb:
        assert not nb.cell_errors and not nb.problem, (nb.cell_errors, nb.problem)
        with nb.part("types") as part:
            seen = part.call("describe", args, {"key": torch.zeros(1)})
            back = part.call("echo", args[:9] + args[11:13], {"size": torch.Size([4]), "dt": torch.int32})
    kinds = [s[0] for s in seen]
    assert kinds == ["NoneType", "bool", "int", "float", "float", "str", "tuple", "list", "dict", "ndarray", "ndarray",
                     "tensor", "tensor", "Size", "dtype", "device", "generator", "slice", "ellipsis", "key"], kinds
    assert seen[11] == ["tensor", "torch.float64", [2, 3], True, "cpu"], seen[11]
    assert seen[9] == ["ndarray", "float32", [3]] and seen[13] == ["Size", "torch.Size([2, 3])"], seen
    assert seen[16][1] == torch.rand(3, generator=g).tolist(), "the generator did not arrive in its state"
    assert seen[17] == ["slice", "slice(1, None, 2)"], seen[17]
    got = back["args"]
    assert isinstance(got, tuple) and got[:4] == (None, True, 3, 2.5) and np.isnan(got[4]), got
    assert got[5:9] == ("s", (1, 2), [1, [2]], {"k": 1}), got[5:9]
    t, i = got[9], got[10]
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64 and t.shape == (2, 3) and t.requires_grad, t
    assert i.dtype == torch.int64 and i.tolist() == [0, 1, 2, 3], i
    assert back["kwargs"] == {"size": torch.Size([4]), "dt": torch.int32}, back["kwargs"]
    assert type(back["kwargs"]["size"]) is torch.Size


def test_session_results_and_reads(zygote, session_source):
    import torch
    from course_grader.wire import Unplain, device_of
    with zygote.session([{"label": "0", "source": session_source}]) as nb:
        with nb.part("reads") as part:
            reads = [part.read(n) for n in ("SHAPE", "NAME", "echo", "FakeTensor", "nothing", "MODULE")]
            fake = part.call("fake_tensor")
            sub = part.call("subclass")
            m = part.call("meta")
            g = part.call("grad")
            code = part.call("code_text")
    assert reads == [("value", (96, 55, 55)), ("value", "conv1"), ("function", "echo"), ("function", "FakeTensor"),
                     ("missing",), ("unplain", "module")], reads
    assert isinstance(fake, Unplain) and fake.type_name == "FakeTensor" and not callable(fake), fake
    assert not isinstance(fake, torch.Tensor) and (fake == 1) is False
    assert type(sub) is torch.Tensor and sub.tolist() == [0.0, 1.0, 2.0], f"a tensor subclass came back as {type(sub)}"
    assert m.is_meta and m.shape == (2, 3) and device_of(m) == "meta", m
    assert g.requires_grad and g.tolist() == [2.0, 2.0] and device_of(g) == "cpu", g
    assert code == "__import__('os').system('touch /tmp/pwned')"


def test_session_exceptions_keep_their_builtin_type(zygote, session_source):
    import builtins
    from course_grader.wire import BannedOperator, StudentError
    import torch
    with zygote.session([{"label": "0", "source": session_source}]) as nb:
        with nb.part("errors") as part:
            for name in ("ValueError", "IndexError", "ZeroDivisionError", "NotImplementedError", "AssertionError",
                         "TypeError"):
                builtin = getattr(builtins, name)
                with pytest.raises(builtin) as info:
                    part.call("raise_", (name, f"{name} from the student"))
                assert type(info.value) is builtin and str(info.value) == f"{name} from the student", info.value
                assert getattr(info.value, "from_student", False) is True
            try:  # the way a hidden test uses it
                part.call("raise_", ("ValueError", "x must be 4-D"))
                caught = ""
            except ValueError as err:
                caught = str(err)
            assert caught == "x must be 4-D", caught
            with pytest.raises(StudentError) as fake:
                part.call("fake_value_error")
            assert not isinstance(fake.value, ValueError) and fake.value.type_name == "ValueError", fake.value
            with pytest.raises(StudentError) as custom:
                part.call("custom")
            assert custom.value.type_name == "Oops" and str(custom.value) == "custom failure"
            with pytest.raises(StudentError) as ex:
                part.call("exits")
            assert ex.value.type_name == "SystemExit", "SystemExit in student code must not stop the grader"
            with pytest.raises(RuntimeError) as big:
                part.call("big_message")
            assert len(str(big.value)) <= 300, len(str(big.value))
            with pytest.raises(ValueError) as crafted:
                part.call("crafted_message")
            text = str(crafted.value)
            assert "\x00" not in text and "\x1b" not in text and "\r" not in text and text.startswith("a"), repr(text)
            with pytest.raises(BannedOperator) as hit:
                part.call("uses_conv", (torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)), banned=("conv2d",))
            assert "conv2d" in hit.value.used and "conv2d" in str(hit.value), (hit.value.used, str(hit.value))
            ok = part.call("uses_conv", (torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)))
            assert ok.shape == (1, 1, 2, 2), "the same call without a banned list must run"
            with pytest.raises(NameError):
                part.call("not_defined")
            with pytest.raises(TypeError, match="argument 2 of echo"):
                part.call("echo", (1, object()))


def test_session_refuses_hostile_results_for_that_call_only(zygote, session_source):
    from course_grader.wire import MAX_ELEMENTS, PartLost, StudentError, Unplain
    with zygote.session([{"label": "0", "source": session_source}]) as nb:
        with nb.part("hostile") as part:
            for name in ("huge", "many_keys"):
                with pytest.raises(StudentError) as info:
                    part.call(name)
                assert info.value.type_name == "ResultTooLarge" and not isinstance(info.value, PartLost), info.value
                assert "larger than the grader accepts" in str(info.value), str(info.value)
            with pytest.raises(StudentError, match=f"at most {MAX_ELEMENTS}"):
                part.call("huge")
            deep = part.call("nested")
            depth = 0
            while isinstance(deep, list):
                deep, depth = deep[0], depth + 1
            assert isinstance(deep, Unplain) and depth < 40, (depth, deep)
            assert part.call("echo", (1,)) == {"args": (1,), "kwargs": {}}, "the part must go on after a refused result"
        with nb.part("garbage") as part:
            with pytest.raises(PartLost):
                part.call("garbage")
            with pytest.raises(PartLost):
                part.call("echo", (1,))  # every later call of a lost part fails at once
        with nb.part("after") as part:
            assert part.call("echo", (2,))["args"] == (2,), "the next part of the notebook must start fresh"
        assert not nb.problem, nb.problem


def test_session_call_that_never_returns_costs_the_part_limit(short_zygote, session_source):
    import time
    from course_grader.sandbox import PART_SLACK_S
    from course_grader.wire import PartLost
    with short_zygote.session([{"label": "0", "source": session_source}]) as nb:
        with nb.part("hang") as part:
            t0 = time.monotonic()
            with pytest.raises(PartLost) as lost:
                part.call("hang")
            took = time.monotonic() - t0
        assert took < SHORT.part_s + PART_SLACK_S + 5, f"a hung call held the worker {took:.1f} s"
        assert "time limit" in lost.value.why, lost.value.why
        with nb.part("next") as part:
            assert part.call("echo", (3,))["args"] == (3,), "the part after a hung one was not served"
    with short_zygote.session([{"label": "0", "source": DOUBLE}]) as nb:
        with nb.part("again") as part:
            assert part.call("double", (np.arange(3.0),)).tolist() == [0, 2, 4]


def test_session_interrupted_mid_call_ends_the_zygote_and_the_next_session_works(zygote):
    import _thread
    import threading
    src = "import time\ndef slow():\n    time.sleep(8)\n    return 1\ndef one():\n    return 1\n"
    timer = threading.Timer(1.0, _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        with zygote.session([{"label": "0", "source": src}]) as nb:
            with nb.part("a") as part:
                timer.start()
                part.call("slow")
    timer.join()
    assert zygote.proc is None, "a Ctrl-C in the middle of an exchange must end the zygote (its pipes are out of step)"
    with zygote.session([{"label": "0", "source": src}]) as nb:
        with nb.part("b") as part:
            assert part.call("one") == 1, "the session after the interrupted one was not served"
