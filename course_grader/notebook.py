"""Which cells of a submission run, with locked cells restored from the source notebook.

* a solution cell (``nbgrader.solution``) runs as the student wrote it;
* a locked or read-only cell known to the source notebook runs as the source has it
  (an edited or deleted provided cell is restored, at its place in the source order);
* a test cell (``nbgrader.grade`` and not ``solution``) never runs: its verdict comes
  from the trusted side (:mod:`course_grader.cases`), whatever the submission did to it;
* any other code cell (a cell without nbgrader metadata, or one the student inserted)
  runs as written, as it would in stock nbgrader.
"""
from __future__ import annotations

from dataclasses import dataclass


def _meta(cell) -> dict:
    md = cell.get("metadata", {}) or {}
    nb = md.get("nbgrader") if isinstance(md, dict) else None
    return nb if isinstance(nb, dict) else {}


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def is_test(meta: dict) -> bool:
    return bool(meta.get("grade")) and not meta.get("solution")


@dataclass
class TestCell:
    grade_id: str
    points: float
    source: str
    index: int            # position in the source notebook


def test_cells(source_nb: dict) -> list[TestCell]:
    out = []
    for i, cell in enumerate(source_nb.get("cells", [])):
        meta = _meta(cell)
        if cell.get("cell_type") == "code" and is_test(meta) and meta.get("grade_id"):
            out.append(TestCell(str(meta["grade_id"]), float(meta.get("points", 0) or 0), _source(cell), i))
    return out


def cells_to_run(submission_nb: dict, source_nb: dict) -> list[dict]:
    """``[{"label", "source", "student": bool}]`` in execution order."""
    src_cells = source_nb.get("cells", [])
    by_id = {}
    for i, cell in enumerate(src_cells):
        gid = _meta(cell).get("grade_id")
        if gid:
            by_id[str(gid)] = (i, cell)
    emitted: list[tuple[float, dict]] = []
    seen = set()
    last_rank = -1.0
    sub_cells = submission_nb.get("cells", []) if isinstance(submission_nb.get("cells"), list) else []
    for j, cell in enumerate(sub_cells):
        if not isinstance(cell, dict):
            continue
        gid = str(_meta(cell).get("grade_id", "") or "")
        known = by_id.get(gid) if gid and gid not in seen else None
        if known is not None:
            i, scell = known
            seen.add(gid)
            last_rank = float(i)
            smeta = _meta(scell)
            if scell.get("cell_type") != "code" or is_test(smeta):
                continue
            if smeta.get("solution"):
                if cell.get("cell_type") == "code":
                    emitted.append((last_rank, {"label": f"{j}:{gid}", "source": _source(cell), "student": True}))
            else:
                emitted.append((last_rank, {"label": f"{j}:{gid}", "source": _source(scell), "student": False}))
            continue
        if cell.get("cell_type") != "code":
            continue
        # a cell the source does not lock: the student's, placed right after the last known cell
        last_rank += 1e-6
        emitted.append((last_rank, {"label": f"{j}", "source": _source(cell), "student": True}))
    for gid, (i, scell) in by_id.items():
        smeta = _meta(scell)
        if gid in seen or scell.get("cell_type") != "code" or is_test(smeta):
            continue
        # deleted by the student: a provided cell comes back as the source has it; a deleted
        # solution cell comes back as the released stub (its solution is never given away)
        source = _source(scell)
        if smeta.get("solution"):
            source = "raise NotImplementedError()"
        emitted.append((float(i) - 0.5, {"label": f"src{i}:{gid}", "source": source, "student": False}))
    emitted.sort(key=lambda t: t[0])
    return [c for _, c in emitted]


def restored_notebook(submission_nb: dict, source_nb: dict) -> dict:
    """The submission with every locked cell (test cells included) put back as in the source.

    Cells are kept in the submission's order; source cells the student deleted are appended
    at their source position; cell outputs are cleared.
    """
    import copy
    nb = copy.deepcopy(submission_nb)
    by_id = {}
    for i, cell in enumerate(source_nb.get("cells", [])):
        gid = _meta(cell).get("grade_id")
        if gid:
            by_id[str(gid)] = (i, cell)
    cells, seen = [], set()
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict):
            continue
        gid = str(_meta(cell).get("grade_id", "") or "")
        if gid in by_id and gid not in seen:
            seen.add(gid)
            _, scell = by_id[gid]
            smeta = _meta(scell)
            if not smeta.get("solution"):
                cell = copy.deepcopy(scell)
            else:
                cell["metadata"] = copy.deepcopy(scell.get("metadata", {}))
                cell["cell_type"] = scell.get("cell_type")
        elif gid:
            cell.get("metadata", {}).pop("nbgrader", None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    for gid, (i, scell) in sorted(by_id.items(), key=lambda t: t[1][0]):
        if gid not in seen:
            cell = copy.deepcopy(scell)
            if _meta(cell).get("solution") and cell.get("cell_type") == "code":
                cell["source"] = "raise NotImplementedError()"
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
            cells.insert(min(i, len(cells)), cell)
    nb["cells"] = cells
    nb["metadata"] = source_nb.get("metadata", nb.get("metadata", {}))
    return nb


def _visible(source: str) -> str:
    """A test cell's source without its hidden block (what the released notebook shows)."""
    out, hidden = [], False
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            out.append(line.rstrip())
    return "\n".join(out).strip()


def tampering(submission_nb: dict, source_nb: dict) -> list[dict]:
    """Flags for locked cells (tests included) that the submission deleted, edited or re-labelled."""
    sub = {}
    cells = submission_nb.get("cells", []) if isinstance(submission_nb.get("cells"), list) else []
    for j, cell in enumerate(cells):
        if isinstance(cell, dict):
            gid = str(_meta(cell).get("grade_id", "") or "")
            if gid:
                sub.setdefault(gid, (j, cell))
    out = []
    for i, scell in enumerate(source_nb.get("cells", [])):
        smeta = _meta(scell)
        gid = smeta.get("grade_id")
        if not gid or smeta.get("solution"):
            continue
        kind = "test cell" if is_test(smeta) else "locked cell"
        if gid not in sub:
            out.append({"cell": str(gid), "line": 0, "what": f"{kind} deleted", "detail": str(gid)})
            continue
        j, cell = sub[gid]
        meta = _meta(cell)
        changed = [k for k in ("grade", "solution", "locked", "points") if meta.get(k) != smeta.get(k)
                   and not (k == "points" and not smeta.get("grade"))]
        if changed:
            out.append({"cell": f"{j}:{gid}", "line": 0, "what": f"{kind} metadata changed",
                        "detail": ", ".join(changed)})
        if cell.get("cell_type") == "code" and _visible(_source(cell)) != _visible(_source(scell)):
            out.append({"cell": f"{j}:{gid}", "line": 0, "what": f"{kind} edited", "detail": str(gid)})
    return out
