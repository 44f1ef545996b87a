"""The GPU table of the forward_gpu chapter: measured on a GPU, else the recorded table with its label, else a note.

Runs the chapter's GPU cell (byte-identical in both languages) on this CPU machine in a temporary
folder laid out like the repository, with and without a recorded ``book/data/gpu_forward.json``.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def gpu_cell(lang: str) -> str:
    page = (ROOT / "book" / lang / "15_forward_gpu.md").read_text(encoding="utf-8")
    cells = [c for c in re.findall(r"```\{code-cell\} ipython3\n(.*?)```", page, re.S) if "GPU_RECORD" in c]
    assert len(cells) == 1, f"{lang}: expected one code cell with the GPU table, found {len(cells)}"
    return cells[0]


def run_cell(folder: Path, lang: str) -> str:
    namespace = {"torch": torch, "time": __import__("time"), "tr": lambda vi, en: vi if lang == "vi" else en,
                 "num": lambda value, spec: format(value, spec), "GFLOP_PER_IMAGE": 2.27}
    out = io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out):
        exec(compile(gpu_cell(lang), f"15_forward_gpu ({lang})", "exec"), namespace)
    return out.getvalue()


def test_twin_pages_share_the_gpu_cell():
    assert gpu_cell("vi") == gpu_cell("en")


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the cell measures instead")
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_without_a_gpu_the_page_shows_the_recorded_table_or_says_there_is_none(tmp_path, lang):
    page_dir = tmp_path / "book" / lang
    page_dir.mkdir(parents=True)
    note = run_cell(page_dir, lang)
    assert ("No GPU measurement recorded yet" if lang == "en" else "Chưa có số đo GPU nào được ghi lại") in note
    assert not re.search(r"\d", note), f"no GPU numbers may appear when none were measured:\n{note}"
    record = {"device": "Example GPU 80GB", "date": "2026-12-01", "torch": "2.13.0+cu128", "peak_mib": 1234,
              "rows": [{"batch": 1, "dtype": "float32", "ms": 1.25, "images_per_s": 800.0, "gflops": 1816.0},
                       {"batch": 8, "dtype": "bfloat16", "ms": 2.5, "images_per_s": 3200.0, "gflops": 7264.0}]}
    (tmp_path / "book" / "data").mkdir()
    (tmp_path / "book" / "data" / "gpu_forward.json").write_text(json.dumps(record))
    table = run_cell(page_dir, lang)
    label = table.splitlines()[0]
    assert "Example GPU 80GB" in label and "2026-12-01" in label and "2.13.0+cu128" in label, table
    assert ("not measured in this build" if lang == "en" else "không đo lại") in label
    assert re.search(r"^\s+8\s+bfloat16\s+2\.50\s+3200\s+7264$", table, re.M), table
    assert "1234 MiB" in table
