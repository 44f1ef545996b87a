"""``python -m course_grader grade <id> [<id> ...]``: grade every submission of assignments in the sandbox.

Run from the course root (the folder of ``nbgrader_config.py``).  Writes the
gradebook (one transaction per student, after a backup), ``autograded/``,
``feedback/`` (nbgrader generate_feedback), ``grades.csv`` and the item analysis
``reports/<id>-items.html``; prints the flagged submissions.
``python -m course_grader items <id>`` writes the item analysis again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _skip_unused_imports():
    """jsonschema, which nbgrader imports through nbformat and jupyter_server, compiles 39 lark
    grammars at import when rfc3987-syntax is installed (jupyter-events pulls it in), only to check
    the "iri" string formats that nothing in this process validates: about 2.4 s of CPU in every
    run, on the path before the first notebook (docs/measured-facts.md).  ``None`` in sys.modules
    makes that optional import fail the way jsonschema expects when the package is absent."""
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv=None) -> int:
    _skip_unused_imports()
    parser = argparse.ArgumentParser(prog="python -m course_grader", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grade", help="grade every submission of an assignment")
    g.add_argument("assignments", nargs="+", metavar="assignment", help="one or more assignment ids")
    g.add_argument("--root", type=Path, default=None, help="course root (default: the current folder)")
    g.add_argument("--workers", type=int, default=None,
                   help="sandbox workers on this machine (default: one per CPU this process may use)")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="grade on the workers of this Dask scheduler (course_grader.cluster); --workers is unused")
    g.add_argument("--student", action="append", help="grade only this student (repeatable)")
    g.add_argument("--force", action="store_true", help="regrade submissions already graded")
    g.add_argument("--no-feedback", action="store_true")
    g.add_argument("--part-timeout", type=float, default=None, help="seconds per graded part")
    g.add_argument("--quiet", action="store_true", help="no progress line")
    it = sub.add_parser("items", help="write the item analysis of graded assignments (reports/<id>-items.html)")
    it.add_argument("assignments", nargs="+", metavar="assignment", help="one or more assignment ids")
    it.add_argument("--root", type=Path, default=None, help="course root (default: the current folder)")
    args = parser.parse_args(argv)
    if args.cmd == "items":
        return _items(args)
    from .grade import RunError, grade_assignments
    from .sandbox import Limits
    limits = Limits()
    if args.part_timeout:
        limits.part_s = args.part_timeout
    try:
        results = grade_assignments(args.assignments, root=args.root, workers=args.workers, limits=limits,
                                    feedback=not args.no_feedback, progress=not args.quiet, force=args.force,
                                    students=args.student, scheduler=args.scheduler)
    except KeyboardInterrupt:
        # every student recorded so far is whole (see grade.record); the next run resumes after them
        print("\ngrade: interrupted; re-run to resume", file=sys.stderr)
        return 130
    except RunError as err:
        print(err, file=sys.stderr)
        return err.code
    for aid, res in results.items():
        verdicts = res["verdicts"]
        print(f"{aid}: graded {len(res['graded'])}, unchanged since the last run {len(res['skipped'])}; "
              f"backup {res['backup']}; feedback {res['feedback']}; csv {res['csv']}; items {res.get('items')}")
        for why, sids in sorted(res.get("regraded", {}).items()):
            print(f"  regraded {len(sids)}: {why}")
        for sid in sorted(verdicts):
            v = verdicts[sid]
            line = f"  {sid}: {v.score:g}/{v.max_score:g}"
            if v.late_penalty:
                line += f" (late: -{v.late_penalty:g}, {max(0.0, v.score - v.late_penalty):g})"
            if v.errors:
                line += f"  errors ({len(v.errors)}): " + "; ".join(
                    f"cell {e['cell']} line {e['line']}: {e['what']}" for e in v.errors[:4])
            if v.flags:
                line += f"  FLAGGED ({len(v.flags)}): " + "; ".join(
                    f"cell {f['cell']} line {f['line']}: {f['what']}" for f in v.flags[:4])
            print(line)
        if res["errors"]:
            print(f"{aid}: {len(res['errors'])} not graded (listed in {res.get('report')}):", file=sys.stderr)
        for sid, err in sorted(res["errors"].items()):
            print(f"  {sid}: {err}", file=sys.stderr)
    return 0


def _items(args) -> int:
    from .intake import check_student_id
    from .item_analysis import write_report
    from .layout import CourseLayout
    layout = CourseLayout.load(args.root)
    for aid in args.assignments:
        if check_student_id(aid) or not layout.source_nb(aid).is_file():
            print(f"items: unknown assignment {aid!r}: no {layout.source_nb(aid)}", file=sys.stderr)
            return 2
        print(f"{aid}: {write_report(layout, aid)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before the run started
        print("\ngrade: interrupted; re-run to resume", file=sys.stderr)
        sys.exit(130)
