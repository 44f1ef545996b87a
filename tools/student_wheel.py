"""Build the students' wheel of ``alexnet_ref``: ``python -m tools.student_wheel [--out DIR]``.

The repository's own distribution (``alexnet-course`` in ``pyproject.toml``) also ships
``course_grader``, whose ``cases.py`` holds the hidden tests, and the development tools.  Students
need only the reference package, so this builds a second distribution, ``alexnet-ref``: a copy of
``alexnet_ref/`` in a temporary project whose version and runtime dependencies are read from
``pyproject.toml`` (one source of truth), built with ``pip wheel --no-deps --no-build-isolation``
(offline, with the setuptools of the running environment).  The book links the wheel from its
set-up page; ``make book`` writes it to ``book/downloads/`` (git-ignored) before the build.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "alexnet_ref"
DIST_NAME = "alexnet-ref"
DEFAULT_OUT = ROOT / "book" / "downloads"


class WheelError(RuntimeError):
    pass


def project_metadata() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def wheel_name() -> str:
    """The file name the build produces (PEP 427: name-version-py3-none-any.whl)."""
    return f"{DIST_NAME.replace('-', '_')}-{project_metadata()['version']}-py3-none-any.whl"


def _pyproject(meta: dict) -> str:
    deps = ",\n".join(f"    {dep!r}" for dep in meta["dependencies"])
    return (
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{DIST_NAME}"\nversion = "{meta["version"]}"\n'
        'description = "AlexNet, layer by layer: the reference implementation the chapters import"\n'
        f'requires-python = "{meta["requires-python"]}"\n'
        f'license = {{ text = "{meta["license"]["text"]}" }}\n'
        f"dependencies = [\n{deps},\n]\n\n"
        f'[tool.setuptools]\npackages = ["{PACKAGE}"]\n'
    )


def build(out_dir: Path = DEFAULT_OUT) -> Path:
    meta = project_metadata()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheel_name()
    with tempfile.TemporaryDirectory(prefix="alexnet-ref-wheel-") as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(ROOT / PACKAGE, project / PACKAGE,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (project / "pyproject.toml").write_text(_pyproject(meta), encoding="utf-8")
        dist = Path(tmp) / "dist"
        cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
               "--no-index", "--wheel-dir", str(dist), str(project)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        built = dist / target.name
        if done.returncode != 0 or not built.is_file():
            raise WheelError(f"student_wheel: `{' '.join(cmd)}` failed (exit {done.returncode}), "
                             f"expected {built.name}:\n{done.stdout}{done.stderr}")
        shutil.copyfile(built, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.student_wheel", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the wheel (default: book/downloads)")
    args = parser.parse_args(argv)
    try:
        target = build(args.out)
    except WheelError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"built {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
