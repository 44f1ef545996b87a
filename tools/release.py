"""Release the student version of assignments: ``python -m tools.release <id> [<id> ...]``.

For each id, nbgrader's generate_assignment turns ``solutions/<id>/<id>.ipynb`` into
``release/<id>/<id>.ipynb`` (solutions and hidden tests removed), which is then copied to
``book/exercises/<id>.ipynb`` for the book's download links (skipped, as make would, when both are
newer than the source notebook, ``nbgrader_config.py`` and this script).  Stops at the first failure with
a non-zero exit status and a message naming the id.

Then the instructor's own solution notebook of every id is graded by the course's grader
(sandbox, trusted test cells, points from the metadata): a test cell that the solution does
not pass (a hidden test that can never pass) fails the release with a message naming the
assignment, the cell and the failure.  A check that passed is remembered in
``release/.solution-checks/<id>.json`` (the digests of the source notebook, the grader and the
hidden code), so an unchanged assignment is not graded again; ``--no-check`` skips it, and
it is skipped with a warning where the sandbox cannot run (no bubblewrap or user namespaces).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK_KEY = b"release: the instructor's solution"  # HMAC key of the check's hidden inputs (no student secret)


class ReleaseError(RuntimeError):
    pass


def _api(root: Path = ROOT):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    # nbgrader runs the `alembic` command to set up gradebook.db: find it next to this Python
    # even when the virtualenv is not activated (make calls .venv/bin/python directly).
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    config_file = root / "nbgrader_config.py"
    if not config_file.is_file():
        raise ReleaseError(f"release: {config_file} is missing (it sets the course root and "
                           "source_directory = 'solutions')")
    config = PyFileConfigLoader(config_file.name, path=str(root)).load_config()
    coursedir = CourseDirectory(config=config)
    if Path(coursedir.root).resolve() != root.resolve():
        raise ReleaseError(f"release: nbgrader_config.py sets CourseDirectory.root = {coursedir.root!r}, "
                           f"expected the course root {str(root)!r}")
    return NbGraderAPI(coursedir, config=config), coursedir


def _up_to_date(outputs: list[Path], inputs: list[Path]) -> bool:
    """As make decides: every output exists and is newer than every input."""
    try:
        oldest = min(p.stat().st_mtime for p in outputs)
        return all(p.stat().st_mtime < oldest for p in inputs)
    except OSError:
        return False


def release(assignment_id: str, api, coursedir, root: Path = ROOT) -> Path:
    source = root / coursedir.source_directory / assignment_id / f"{assignment_id}.ipynb"
    if not source.is_file():
        raise ReleaseError(f"release {assignment_id}: source notebook {source} does not exist")
    released = root / coursedir.release_directory / assignment_id / f"{assignment_id}.ipynb"
    target = root / "book" / "exercises" / f"{assignment_id}.ipynb"
    if _up_to_date([released, target], [source, root / "nbgrader_config.py", Path(__file__)]):
        return target
    result = api.generate_assignment(assignment_id, force=True, create=True)
    if not result["success"] or not released.is_file():
        detail = "\n".join(filter(None, [result.get("log"), result.get("error")])) or f"no {released} was written"
        raise ReleaseError(f"release {assignment_id}: nbgrader generate_assignment failed:\n{detail}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(released, target)
    return target


def _check_digest(source: dict) -> dict:
    from course_grader import fingerprint as fp
    from course_grader.gradebook import GRADER_VERSION
    return {"source": fp.notebook_digest(source), "grader": fp.grader_digest(GRADER_VERSION),
            "hidden": fp.hidden_digest()}


def solution_failures(verdict) -> list[str]:
    """One line per test cell the solution did not pass."""
    return [f"  cell {p.grade_id} ({p.points:g} points): " + p.message.replace("\n", "\n    ")
            for p in verdict.parts if p.score < p.points]


def check_solutions(ids: list[str], coursedir, root: Path = ROOT, zygote=None) -> list[str]:
    """Grade each id's solution notebook through the grader (one sandbox for all); the ids checked.

    Raises :class:`ReleaseError` naming the assignment, the cell and the failure when the
    solution does not score full marks.
    """
    from course_grader.grade import grade_notebook
    from course_grader.sandbox import Zygote
    todo = []
    for aid in ids:
        path = root / coursedir.source_directory / aid / f"{aid}.ipynb"
        source = json.loads(path.read_text(encoding="utf-8"))
        # beside release/<id>/, which generate_assignment --force empties
        stamp = root / coursedir.release_directory / ".solution-checks" / f"{aid}.json"
        digest = _check_digest(source)
        try:
            if json.loads(stamp.read_text(encoding="utf-8")) == digest:
                continue
        except (OSError, ValueError):
            pass
        todo.append((aid, source, stamp, digest))
    if not todo:
        return []
    own = zygote is None
    zygote = zygote or Zygote(0)
    try:
        if own:
            try:
                zygote.start()
            except Exception as err:
                raise ReleaseError(f"release: the sandbox did not start to grade the solutions: {err}") from None
        problems = []
        for aid, source, stamp, digest in todo:
            verdict = grade_notebook(zygote, source, source, "instructor", aid, CHECK_KEY)
            failures = solution_failures(verdict)
            if failures:
                stamp.unlink(missing_ok=True)
                problems.append(f"release {aid}: the solution notebook scores {verdict.score:g} of "
                                f"{verdict.max_score:g} through the grader; a test cell it does not pass can "
                                f"never be passed by a student:\n" + "\n".join(failures))
                continue
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(json.dumps(digest) + "\n", encoding="utf-8")
        if problems:
            raise ReleaseError("\n".join(problems))
    finally:
        if own:
            zygote.close()
    return [t[0] for t in todo]


def _sandbox_unavailable() -> str:
    from course_grader.sandbox import userns_unavailable
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed (make grade-deps)"
    return userns_unavailable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="+", metavar="id", help="assignment id, e.g. conv1")
    parser.add_argument("--root", type=Path, default=ROOT, help="course root (default: this repository)")
    parser.add_argument("--no-check", action="store_true",
                        help="do not grade the solution notebooks through the grader")
    args = parser.parse_args(argv)
    try:
        api, coursedir = _api(args.root)
        for assignment_id in args.ids:
            target = release(assignment_id, api, coursedir, args.root)
            print(f"released {assignment_id} -> {target.relative_to(args.root)}")
        why = "" if args.no_check else _sandbox_unavailable()
        if why:
            print(f"release: the solutions were not graded through the sandbox ({why})", file=sys.stderr)
        elif not args.no_check:
            checked = check_solutions(args.ids, coursedir, args.root)
            print(f"solutions score full marks through the grader: {', '.join(checked) or 'all unchanged'}")
    except ReleaseError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
