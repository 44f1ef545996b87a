"""Release the student version of assignments: ``python -m tools.release <id> [<id> ...]``.

For each id, nbgrader's generate_assignment turns ``solutions/<id>/<id>.ipynb`` into
``release/<id>/<id>.ipynb`` (solutions and hidden tests removed), which is then copied to
``book/exercises/<id>.ipynb`` for the book's download links.  Stops at the first failure with
a non-zero exit status and a message naming the id.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ReleaseError(RuntimeError):
    pass


def _api():
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    # nbgrader runs the `alembic` command to set up gradebook.db: find it next to this Python
    # even when the virtualenv is not activated (make calls .venv/bin/python directly).
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    config_file = ROOT / "nbgrader_config.py"
    if not config_file.is_file():
        raise ReleaseError(f"release: {config_file} is missing (it sets the course root and "
                           "source_directory = 'solutions')")
    config = PyFileConfigLoader(config_file.name, path=str(ROOT)).load_config()
    coursedir = CourseDirectory(config=config)
    if Path(coursedir.root).resolve() != ROOT:
        raise ReleaseError(f"release: nbgrader_config.py sets CourseDirectory.root = {coursedir.root!r}, "
                           f"expected the repository root {str(ROOT)!r}")
    return NbGraderAPI(coursedir, config=config), coursedir


def release(assignment_id: str, api, coursedir) -> Path:
    source = ROOT / coursedir.source_directory / assignment_id / f"{assignment_id}.ipynb"
    if not source.is_file():
        raise ReleaseError(f"release {assignment_id}: source notebook {source} does not exist")
    result = api.generate_assignment(assignment_id, force=True, create=True)
    released = ROOT / coursedir.release_directory / assignment_id / f"{assignment_id}.ipynb"
    if not result["success"] or not released.is_file():
        detail = "\n".join(filter(None, [result.get("log"), result.get("error")])) or f"no {released} was written"
        raise ReleaseError(f"release {assignment_id}: nbgrader generate_assignment failed:\n{detail}")
    target = ROOT / "book" / "exercises" / f"{assignment_id}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(released, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="+", metavar="id", help="assignment id, e.g. conv1")
    args = parser.parse_args(argv)
    try:
        api, coursedir = _api()
        for assignment_id in args.ids:
            target = release(assignment_id, api, coursedir)
            print(f"released {assignment_id} -> {target.relative_to(ROOT)}")
    except ReleaseError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
