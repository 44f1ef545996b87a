"""The sandbox on a tiny inline notebook: what student code can see and do, and the protocol."""
from __future__ import annotations

import os
import socket

import numpy as np
import pytest

from course_grader.cases import Case
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
    out = zygote.run_notebook([{"label": "0", "source": src}], [{"calls": [Case("probe", (), {}, None, "exact", {}, "")]}])
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
    assert set(seen["env"]) <= {"PATH", "HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                "MPLBACKEND", "MPLCONFIGDIR", "PYTHONDONTWRITEBYTECODE", "LC_CTYPE", "PWD"}, seen["env"]


def test_parts_do_not_share_state(zygote):
    src = "import torch\nstate = []\ndef bump(x):\n    state.append(1)\n    torch.add = None\n    return len(state)\n"
    case = Case("bump", (np.zeros(1),), {}, None, "exact", {}, "")
    out = zygote.run_notebook([{"label": "0", "source": src}], [{"calls": [case, case]}, {"calls": [case]}])
    assert out.parts[0].results == [1, 2], out.parts[0]
    assert out.parts[1].results == [1], f"the second part saw the first part's state: {out.parts[1]}"


def test_cell_errors_are_reported_and_later_cells_run(zygote):
    cells = [{"label": "0", "source": "raise RuntimeError('boom')"},
             {"label": "1", "source": "%matplotlib inline\nY = 41 + 1"}]
    out = zygote.run_notebook(cells, [{"calls": [Case("Y", None, {}, 42, "exact", {}, "")]}])
    assert out.cell_errors and out.cell_errors[0]["error"] == "RuntimeError", out.cell_errors
    assert out.parts[0].results == [42], out.parts[0]


def test_results_are_plain_data(zygote):
    src = ("import numpy as np\nclass Evil:\n    def __reduce__(self):\n        return (print, ('pwned',))\n"
           "def f(x):\n    return {'obj': Evil(), 'arr': np.array([Evil()], dtype=object), 'ok': x * 2}\n")
    out = zygote.run_notebook([{"label": "0", "source": src}], [{"calls": [Case("f", (np.ones(2),), {}, None,
                                                                                 "exact", {}, "")]}])
    res = out.parts[0].results[0]
    assert isinstance(res, dict) and isinstance(res["ok"], np.ndarray), res
    assert res["obj"] == {"type": "Evil", "repr": res["obj"]["repr"]}, res["obj"]
    assert not isinstance(res["arr"], np.ndarray) or res["arr"].dtype != object, res["arr"]


def test_runtime_audit_reports_cell_and_line(zygote):
    src = "import numpy as np\nx = 1\nnp.allclose = lambda *a, **k: True\ntry:\n    open('/etc/hostname')\nexcept OSError:\n    pass\n"
    out = zygote.run_notebook([{"label": "7:demo", "source": src}], [{"calls": []}])
    events = {(e["event"], e["cell"], e["line"]) for e in out.events}
    assert ("open", "7:demo", 5) in events, out.events
    assert any(e["event"] == "patched" and e["detail"] == "numpy.allclose" for e in out.events), out.events
