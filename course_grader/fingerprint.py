"""What a score depends on, as digests: a submission is graded again when any of them changed.

A grade is a function of the submission (notebook and ``timestamp.txt``), the
source notebook (the cells that run, the test cells and their points), the
hidden cases (:mod:`course_grader.cases` and the reference that builds their
expected values, :mod:`alexnet_ref`), the grader itself (its code, torch and
numpy), the release the submission is compared with for tampering flags, and
the course's configuration (``nbgrader_config.py``: the late-penalty plugin
and its settings live there) with the assignment's due date and the student's extension.  Each is one
entry of :func:`course_parts`; :func:`changed` names the entries that differ,
for the run to say why it regraded.
"""
from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from .notebook import _meta, _source as _text

PACKAGE = Path(__file__).resolve().parent
REFERENCE = PACKAGE.parent / "alexnet_ref"

# Why a submission is graded again, per entry (the CLI prints these).
REASONS = {
    "grader": "the grader changed",
    "submission": "the submission changed",
    "source": "the source notebook changed",
    "hidden": "the hidden cases changed",
    "release": "the released notebook changed",
    "config": "nbgrader_config.py or the due date changed",
    "extension": "the student's extension changed",
}


def _digest(*chunks) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        data = chunk if isinstance(chunk, bytes) else str(chunk).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def _files_digest(paths) -> str:
    paths = sorted(paths)
    return _digest(*[x for p in paths for x in (p.name, p.read_bytes())])


def notebook_digest(nb: dict) -> str:
    """The graded content of a source or released notebook: every nbgrader cell's kind, flags and
    points, and the source of every cell that is not a solution (solution cells are replaced by the
    student's).  Prose without nbgrader metadata does not change a score and is left out."""
    rows = []
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        meta = _meta(cell)
        if not meta.get("grade_id"):
            continue
        rows.append([str(meta["grade_id"]), cell.get("cell_type"), bool(meta.get("grade")),
                     bool(meta.get("solution")), bool(meta.get("locked")),
                     float(meta.get("points", 0) or 0) if meta.get("grade") else 0.0,
                     "" if meta.get("solution") else _text(cell)])
    return _digest(json.dumps(rows, ensure_ascii=False))


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def grader_digest(grader_version: str) -> str:
    code = [p for p in PACKAGE.glob("*.py") if p.name not in ("cases.py", "fingerprint.py")]
    return _digest(grader_version, _files_digest(code), _version("torch"), _version("numpy"))


def hidden_digest() -> str:
    return _files_digest([PACKAGE / "cases.py", *REFERENCE.rglob("*.py")])


def course_parts(grader_version: str, source_nb: dict, release_nb: dict | None, config_file: Path | None,
                 duedate) -> dict:
    """The entries shared by every submission of an assignment (computed once per run)."""
    config = config_file.read_bytes() if config_file is not None and Path(config_file).is_file() else b""
    return {"grader": grader_digest(grader_version), "source": notebook_digest(source_nb),
            "hidden": hidden_digest(), "release": notebook_digest(release_nb) if release_nb else "",
            "config": _digest(config, str(duedate))}


def submission_digest(sub_path: Path) -> str:
    ts = sub_path.parent / "timestamp.txt"
    return _digest(sub_path.read_bytes(), ts.read_bytes() if ts.is_file() else b"")


def of_submission(course: dict, sub_path: Path, extension=None) -> dict:
    """All entries of one submission; ``extension`` is the student's extension of the due date."""
    return {**course, "submission": submission_digest(sub_path), "extension": str(extension)}


def changed(old: dict | None, new: dict) -> list[str]:
    """The entries of ``new`` that ``old`` does not match (all of them when there is no ``old``)."""
    if not isinstance(old, dict):
        return list(new)
    return [k for k in new if old.get(k) != new[k]]


def reason(keys: list[str]) -> str:
    """The first cause in :data:`REASONS` order: a changed grader or submission explains the rest."""
    for k in REASONS:
        if k in keys:
            return REASONS[k]
    return "the earlier result is incomplete"
