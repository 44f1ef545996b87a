"""alexnet_ref.once.run_once: twin pages share one computation per book build, nothing else changes."""
import subprocess
import sys
import textwrap

import torch

from alexnet_ref import once


def _counting():
    calls = []

    def train(steps, lr=0.1):
        calls.append((steps, lr))
        return {"losses": [1.0 / (s + 1) for s in range(steps)], "weights": torch.arange(steps) * lr}
    return train, calls


def test_without_the_build_folder_it_just_calls(monkeypatch):
    monkeypatch.delenv(once.ENV, raising=False)
    monkeypatch.setattr(once, "_cells_so_far", lambda: ["a = 1"])
    train, calls = _counting()
    assert once.run_once(train, 3)["losses"] == [1.0, 0.5, 1 / 3]
    once.run_once(train, 3)
    assert calls == [(3, 0.1), (3, 0.1)], f"run_once without {once.ENV}: expected two real calls, got {calls}"


def test_outside_ipython_it_just_calls(monkeypatch, tmp_path):
    monkeypatch.setenv(once.ENV, str(tmp_path))
    train, calls = _counting()
    once.run_once(train, 2)
    once.run_once(train, 2)
    assert len(calls) == 2 and not list(tmp_path.glob("*.pt")), "run_once outside IPython must not cache"


def test_the_second_twin_reads_what_the_first_computed(monkeypatch, tmp_path):
    monkeypatch.setenv(once.ENV, str(tmp_path / "shared"))
    monkeypatch.setattr(once, "_cells_so_far", lambda: ["import torch", "x = run_once(train, 4, lr=0.5)"])
    train, calls = _counting()
    first = once.run_once(train, 4, lr=0.5)
    second = once.run_once(train, 4, lr=0.5)
    assert calls == [(4, 0.5)], f"the second page recomputed: calls {calls}"
    assert second["losses"] == first["losses"] and torch.equal(second["weights"], first["weights"])


def test_other_code_or_arguments_compute_again(monkeypatch, tmp_path):
    monkeypatch.setenv(once.ENV, str(tmp_path))
    cells = ["EPOCHS = 30"]
    monkeypatch.setattr(once, "_cells_so_far", lambda: list(cells))
    train, calls = _counting()
    once.run_once(train, 2)
    once.run_once(train, 2, lr=0.2)                 # other arguments
    cells[0] = "EPOCHS = 20"                        # the page's code changed
    once.run_once(train, 2)
    assert calls == [(2, 0.1), (2, 0.2), (2, 0.1)], f"stale result reused: calls {calls}"
    assert len(list(tmp_path.glob("*.pt"))) == 3


def test_two_ipython_kernels_with_the_same_cells_share_one_result(tmp_path):
    """As in the book build: two separate IPython processes run the same cells; the second one reads."""
    script = textwrap.dedent("""
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        for cell in ["from alexnet_ref.once import run_once",
                     "def f(n):\\n    print('computed')\\n    return [n, n * n]",
                     "result = run_once(f, 7)"]:
            assert shell.run_cell(cell, store_history=True).success
        print("result", shell.user_ns["result"])
    """)
    env = {"ALEXNET_BOOK_RESULTS": str(tmp_path), "PATH": "/usr/bin:/bin"}
    outputs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              check=True).stdout for _ in range(2)]
    assert "computed" in outputs[0] and "result [7, 49]" in outputs[0], outputs[0]
    assert "computed" not in outputs[1] and "result [7, 49]" in outputs[1], \
        f"the second kernel recomputed instead of reading {list(tmp_path.iterdir())}: {outputs[1]}"
