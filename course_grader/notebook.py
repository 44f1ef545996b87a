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
    md = cell.get("metadata") if isinstance(cell, dict) else None
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


def _insert_in_place(cells: list, cell: dict, before: list):
    """Insert ``cell`` right after the last of ``cells`` whose grade_id is among ``before``'s."""
    ids = {str(_meta(c).get("grade_id")) for c in before if _meta(c).get("grade_id")}
    at = 0
    for k, c in enumerate(cells):
        if str(_meta(c).get("grade_id", "")) in ids:
            at = k + 1
    cells.insert(at, cell)


def restored_notebook(submission_nb: dict, source_nb: dict) -> dict:
    """The submission with every locked cell (test cells included) put back as in the source.

    Cells are kept in the submission's order; a source cell the student deleted comes back
    right after the source cell that precedes it; cell outputs are cleared.
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
    src_cells = source_nb.get("cells", [])
    for gid, (i, scell) in sorted(by_id.items(), key=lambda t: t[1][0]):
        if gid not in seen:
            cell = copy.deepcopy(scell)
            if _meta(cell).get("solution") and cell.get("cell_type") == "code":
                cell["source"] = "raise NotImplementedError()"
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
            _insert_in_place(cells, cell, src_cells[:i])
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


def _points(meta: dict):
    try:
        return float(meta.get("points", 0) or 0)
    except (TypeError, ValueError):
        return meta.get("points")


def _as_released(cell: dict) -> bool:
    """Whether the cell's nbgrader checksum still matches it: the cell is as a release wrote it.

    A submission made from an earlier release carries that release's points with a matching
    checksum (nbgrader's ``compute_checksum``: source, kind, flags, id, points); points edited
    by hand do not match.
    """
    meta = _meta(cell)
    if not meta.get("checksum"):
        return False
    try:
        import nbformat
        from nbgrader.utils import compute_checksum
        node = nbformat.from_dict({**cell, "source": _source(cell)})  # as nbformat.read joins it
        return compute_checksum(node) == meta["checksum"]
    except Exception:
        return False


def tampering(submission_nb: dict, released_nb: dict) -> list[dict]:
    """Flags for locked cells (tests included) that the submission deleted, edited or re-labelled.

    ``released_nb`` is the notebook the students were given (``release/<id>/<id>.ipynb``); the
    source notebook may stand in for it (hidden blocks are ignored).  A change of points by a
    re-release after the student downloaded the notebook is not tampering.
    """
    sub = {}
    cells = submission_nb.get("cells", []) if isinstance(submission_nb.get("cells"), list) else []
    for j, cell in enumerate(cells):
        if isinstance(cell, dict):
            gid = str(_meta(cell).get("grade_id", "") or "")
            if gid:
                sub.setdefault(gid, (j, cell))
    out = []
    for i, scell in enumerate(released_nb.get("cells", [])):
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
        changed = [k for k in ("grade", "solution", "locked") if bool(meta.get(k)) != bool(smeta.get(k))]
        if smeta.get("grade") and _points(meta) != _points(smeta) and not _as_released(cell):
            changed.append("points")
        if changed:
            out.append({"cell": f"{j}:{gid}", "line": 0, "what": f"{kind} metadata changed",
                        "detail": ", ".join(changed)})
        if cell.get("cell_type") == "code" and _visible(_source(cell)) != _visible(_source(scell)):
            out.append({"cell": f"{j}:{gid}", "line": 0, "what": f"{kind} edited", "detail": str(gid)})
    return out


def apply_verdict(nb: dict, parts, reference_nb: dict) -> dict:
    """The graded notebook both front-ends write: every test cell present, with its verdict as output.

    ``parts`` are the verdicts (``grade_id``, ``points``, ``score``, ``message``).  A test cell the
    submission lacks is put back from ``reference_nb`` (the released notebook, so no hidden block)
    at its place there, so nbgrader's SaveAutoGrades, the feedback and the report see the same
    verdict; a failed part gets an error output (nbgrader scores it 0), a passed one no output.
    Returns a new notebook.
    """
    import copy
    nb = copy.deepcopy(nb)
    by_id = {v.grade_id: v for v in parts}
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict)]
    present = {str(_meta(c).get("grade_id")) for c in cells if _meta(c).get("grade_id")}
    ref_cells = reference_nb.get("cells", []) if isinstance(reference_nb, dict) else []
    for i, rcell in enumerate(ref_cells):
        rmeta = _meta(rcell)
        gid = str(rmeta.get("grade_id", "") or "")
        if gid in by_id and gid not in present and rcell.get("cell_type") == "code" and is_test(rmeta):
            _insert_in_place(cells, copy.deepcopy(rcell), ref_cells[:i])
            present.add(gid)
    for cell in cells:
        meta = _meta(cell)
        gid = str(meta.get("grade_id", "") or "")
        if cell.get("cell_type") == "code" and gid in by_id and is_test(meta):
            v = by_id[gid]
            cell["execution_count"] = None
            cell["outputs"] = [] if v.score >= v.points else [
                {"output_type": "error", "ename": "AssertionError", "evalue": v.message,
                 "traceback": [f"AssertionError: {v.message}"]}]
    nb["cells"] = cells
    return nb
