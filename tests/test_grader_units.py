"""The grader's trusted-side pieces that need no sandbox: parsing, flags, cell selection, secret."""
from __future__ import annotations

import io
import json
import os
import stat
import struct
from pathlib import Path

import numpy as np
import pytest

from course_grader import flags, notebook
from course_grader.cases import Case, Device, Gen
from course_grader.grade import load_secret, seed_for
from course_grader.sandbox import Malformed, decode_blob, encode_tree, student_source

REPO = Path(__file__).resolve().parent.parent


def blob(tree, arrays=()):
    data = []
    for a in arrays:
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=True)
        data.append(buf.getvalue())
    head = json.dumps({"tree": tree, "blobs": [len(d) for d in data]}).encode()
    return struct.pack("<Q", len(head)) + head + b"".join(data)


def test_decode_roundtrip_plain_data():
    got = decode_blob(blob({"__dict__": {"results": [{"__nd__": 0}, {"__tuple__": ["raised", "ValueError", "m"]},
                                                     3, 2.5, None, True, {"__float__": "nan"}]}},
                           [np.arange(6, dtype=np.float32).reshape(2, 3)]))
    res = got["results"]
    assert res[0].dtype == np.float64 and res[0].shape == (2, 3), f"array came back as {res[0].dtype} {res[0].shape}"
    assert res[1] == ("raised", "ValueError", "m") and res[2:6] == [3, 2.5, None, True]
    assert np.isnan(res[6])


@pytest.mark.parametrize("bad, why", [
    (blob({"__nd__": 0}, [np.array([{"a": 1}], dtype=object)]), "an object array (a pickle)"),
    (blob({"__nd__": 1}, [np.zeros(2)]), "an array index out of range"),
    (blob({"__class__": "os.system"}), "an unknown object"),
    (blob(10**30), "an integer too large"),
    (struct.pack("<Q", 5) + b"nope!", "a header that is not JSON"),
    (struct.pack("<Q", 10**9) + b"{}", "a header length beyond the data"),
    (b"", "nothing"),
])
def test_decode_rejects(bad, why):
    with pytest.raises(Malformed):
        decode_blob(bad)
        pytest.fail(f"decode_blob accepted {why}")


def test_decode_rejects_deep_nesting():
    tree = 0
    for _ in range(100):
        tree = [tree]
    with pytest.raises(Malformed, match="deep"):
        decode_blob(blob(tree))


def test_encode_marks_generators_devices_tuples():
    arrays = []
    tree = encode_tree((np.ones(2), Gen(7), Device("cpu"), {"k": (1, 2.0)}, None), arrays)
    assert tree == {"__tuple__": [{"__nd__": 0}, {"__gen__": 7}, {"__dev__": "cpu"},
                                  {"__dict__": {"k": {"__tuple__": [1, 2.0]}}}, None]}, tree
    assert len(arrays) == 1


def test_student_side_holds_no_hidden_data():
    src = student_source()
    for name in ("def call_student", "def to_plain", "class Case"):
        assert name in src, f"the sandbox's copy of cases.py lacks {name}"
    for secret in ("SPECS", "_spec(", "alexnet_ref.", "def compare", "def check", "1_135_256_096", "62_378_344"):
        assert secret not in src, f"the sandbox's copy of cases.py contains {secret!r}"


# --------------------------------------------------------------------------- static flags
@pytest.mark.parametrize("code, what", [
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "patching np"),
    ("import torch\ntorch.Tensor.__eq__ = lambda s, o: True", "patching torch"),
    ("setattr(torch, 'allclose', f)", "patching torch with setattr"),
    ("get_ipython().ast_transformers.append(T())", "IPython hooks"),
    ("import sys\nf = sys._getframe(1)", "frame inspection"),
    ("import inspect\ninspect.stack()", "import of inspect"),
    ("import ctypes", "import of ctypes"),
    ("import socket", "import of socket"),
    ("import os\nos.system('ls')", "running programs"),
    ("import subprocess", "import of subprocess"),
    ("data = open('/etc/passwd').read()", "file access"),
    ("m = __import__('os')", "import tricks"),
    ("import builtins\nbuiltins.print = None", "patching builtins"),
    ("class Fake:\n    def __eq__(self, o):\n        return True", "class that overrides"),
    ("class T(torch.Tensor):\n    pass", "subclass of a result type"),
    ("import os\nos._exit(0)", "process exit"),
    ("import os\nos.kill(os.getppid(), 9)", "signals"),
    ("import os\nx = os.environ['HOME']", "environment"),
    ("import sqlite3", "import of sqlite3"),
    ("while True:\n    pass", "infinite loop"),
])
def test_scan_flags(code, what):
    found = flags.scan_source(code, "3")
    assert any(what in f["what"] for f in found), f"{code!r}: expected a flag {what!r}, got {found}"
    assert all(f["cell"] == "3" and f["line"] >= 1 for f in found), found


def test_reference_solutions_are_not_flagged():
    paths = sorted((REPO / "solutions").glob("*/*.ipynb"))
    assert paths, "no solution notebooks under solutions/"
    for path in paths:
        nb = json.loads(path.read_text())
        for i, cell in enumerate(nb["cells"]):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] == "code" and meta.get("solution"):
                found = flags.scan_source("".join(cell["source"]), str(i))
                assert not found, f"{path.name} cell {i} (a reference solution) is flagged: {found}"


# --------------------------------------------------------------------------- cells that run
def cell(source, gid=None, **meta):
    md = {"nbgrader": dict(grade_id=gid, **meta)} if gid else {}
    return {"cell_type": "code", "source": source, "metadata": md, "outputs": [], "execution_count": None}


SOURCE = {"cells": [
    cell("import torch", "imports", locked=True, grade=False, solution=False),
    cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", "f", solution=True, grade=False,
         locked=False),
    cell("assert f(1) == 1\n### BEGIN HIDDEN TESTS\ncheck('t', globals())\n### END HIDDEN TESTS", "t", grade=True,
         solution=False, locked=True, points=2),
    cell("print(f(2))"),
]}


def test_cells_to_run_restores_locked_and_skips_tests():
    sub = {"cells": [
        cell("import os  # edited provided cell", "imports", locked=True, grade=False, solution=False),
        cell("def f(x):\n    return x + 1", "f", solution=True, grade=False, locked=False),
        cell("pass  # the test emptied", "t", grade=True, solution=False, locked=True, points=2),
        cell("print(f(2))"),
        cell("x = 'extra'"),
    ]}
    run = notebook.cells_to_run(sub, SOURCE)
    sources = [c["source"] for c in run]
    assert sources == ["import torch", "def f(x):\n    return x + 1", "print(f(2))", "x = 'extra'"], sources
    assert [c["student"] for c in run] == [False, True, True, True]


def test_cells_to_run_brings_back_deleted_cells():
    sub = {"cells": [cell("x = 1")]}
    run = notebook.cells_to_run(sub, SOURCE)
    sources = [c["source"] for c in run]
    assert "import torch" in sources, sources
    assert "raise NotImplementedError()" in sources, "a deleted solution cell must run as the released stub"
    assert not any("check(" in s for s in sources), "a test cell ran"
    assert not any("BEGIN SOLUTION" in s for s in sources), "the instructor's solution ran"


def test_tampering_flags_edits_and_deletions():
    sub = {"cells": [
        cell("import torch", "imports", locked=True, grade=False, solution=False),
        cell("pass", "t", grade=True, solution=True, locked=False, points=100),
    ]}
    whats = {f["what"] for f in notebook.tampering(sub, SOURCE)}
    assert {"test cell edited", "test cell metadata changed"} <= whats, whats
    whats = {f["what"] for f in notebook.tampering({"cells": []}, SOURCE)}
    assert {"test cell deleted", "locked cell deleted"} <= whats, whats
    untouched = {"cells": [SOURCE["cells"][0], cell("def f(x): return x", "f", solution=True, grade=False,
                                                     locked=False),
                           cell("assert f(1) == 1", "t", grade=True, solution=False, locked=True, points=2)]}
    assert notebook.tampering(untouched, SOURCE) == [], "the released test cell (hidden block removed) is not an edit"


def test_test_cells_come_from_the_source():
    assert [(t.grade_id, t.points) for t in notebook.test_cells(SOURCE)] == [("t", 2.0)]


# --------------------------------------------------------------------------- secret and seeds
def test_secret_created_private_and_stable(tmp_path):
    a = load_secret(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / ".grader_secret").st_mode)
    assert mode == 0o600, f"the secret must be created 0600, got {oct(mode)}"
    assert load_secret(tmp_path) == a and len(a) == 32


def test_seeds_differ_per_student_and_assignment():
    s = b"k" * 32
    seeds = {seed_for(s, st, a) for st in ("ana", "ben") for a in ("conv1", "pool1")}
    assert len(seeds) == 4, seeds
    assert seed_for(s, "ana", "conv1") == seed_for(s, "ana", "conv1")
    assert seed_for(b"other" * 4, "ana", "conv1") != seed_for(s, "ana", "conv1")


def test_gitignore_covers_the_secret():
    text = (REPO / ".gitignore").read_text()
    assert ".grader_secret" in text.split(), ".grader_secret must be git-ignored"


# --------------------------------------------------------------------------- configuration
def test_nbgrader_config_uses_the_sandbox():
    from traitlets.config.loader import PyFileConfigLoader
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    pre = [p if isinstance(p, str) else f"{p.__module__}.{p.__name__}" for p in cfg.Autograde.autograde_preprocessors]
    assert pre[0] == "course_grader.nbgrader_plugin.SandboxExecute", pre
    assert not any(p.endswith(".Execute") for p in pre), f"stock Execute would run student code in-kernel: {pre}"
    assert "nbgrader.preprocessors.SaveAutoGrades" in pre, pre


def test_bench_stock_config_strips_the_sandbox():
    from tools.bench_grade import stock_config
    text = stock_config((REPO / "nbgrader_config.py").read_text())
    assert "SandboxExecute" not in text and "c.CourseDirectory.source_directory" in text


def test_case_fields_match_the_wire_format():
    c = Case("f", (np.ones(1),), {"p": 0.5}, None, "allclose", {}, "")
    assert (c.call, c.kind) == ("f", "allclose")
