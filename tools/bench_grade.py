"""Benchmark the course's sandboxed grader against stock ``nbgrader autograde``.

``python -m tools.bench_grade [--n 40] [--assignments conv1 pool1 fc8]`` builds a throw-away
course in a temporary folder, releases the assignments with nbgrader, synthesises ``n``
submissions per assignment from the solution notebooks (most correct, some with a function left
as the released stub, some with a wrong implementation, some blank), then grades the same
submissions twice, side by side:

* stock: ``nbgrader autograde <id>`` with nbgrader's own Execute preprocessor (one kernel per
  notebook), two processes in parallel on two copies of the course (half of the students each),
  as measured in ``docs/measured-facts.md``;
* ours: ``python -m course_grader grade <id>`` (2 sandbox workers, every protection on).

It prints notebooks per minute for both and their ratio, checks that both give every student
the same total, and writes ``bench-results/grade.json``.  Then (unless ``--no-attackers``) it
grades the first assignment's class again with one attacker per class of attack added (a
top-level cell that ignores signals and sleeps, one blocked in C, a memory bomb, an output
bomb), with the default limits, and prints that time next to the honest class's: every limit is
enforced from outside the student's process, so the target is the honest time plus about one
per-cell limit (the two workers wait out the two hung notebooks side by side).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# Sandboxed autograding"


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _env() -> dict:
    return dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def stock_config(text: str) -> str:
    """The course's nbgrader_config.py without the sandboxed-grader block (stock Execute)."""
    i = text.find(MARKER)
    if i < 0:
        return text
    j = text.rfind("\n# -", 0, i)
    return text[:j + 1] if 0 <= j and i - j < 200 else text[:i]


def release(course: Path, aids: list[str]):
    for aid in aids:
        r = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", aid, "--force"],
                           cwd=course, env=_env(), capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"bench_grade: nbgrader generate_assignment {aid} failed:\n{r.stderr[-3000:]}")


def synthesise(course: Path, aid: str, n: int) -> dict[str, str]:
    """n submissions of ``aid``; returns student -> kind."""
    released = json.loads((course / "release" / aid / f"{aid}.ipynb").read_text())
    source = json.loads((course / "solutions" / aid / f"{aid}.ipynb").read_text())
    sol = {}
    for c in source["cells"]:
        meta = c.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            sol[meta["grade_id"]] = "\n".join(line for line in _src(c).splitlines()
                                              if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
    sol_ids = list(sol)
    kinds = {}
    for i in range(n):
        student = f"s{i:03d}"
        kind = ["correct", "correct", "correct", "stub", "correct", "wrong", "correct", "blank"][i % 8]
        nb = copy.deepcopy(released)
        target = sol_ids[i % len(sol_ids)]
        for c in nb["cells"]:
            gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid not in sol or kind == "blank":
                continue
            if kind == "stub" and gid == target:
                continue
            text = sol[gid]
            if kind == "wrong" and gid == target:
                # an off-by-one bug in the first number assignment or return of the cell
                text = text.replace(" + 1\n", " + 2\n", 1) if " + 1\n" in text else text.replace("return ", "return 2 * ", 1)
            c["source"] = text
        d = course / "submitted" / student / aid
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{aid}.ipynb").write_text(json.dumps(nb, indent=1))
        (d / "timestamp.txt").write_text("2026-11-28 10:00:00.000000 UTC")
        kinds[student] = kind
    return kinds


ATTACKS = {
    "attack-hang": "import signal, time\nfor s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):\n"
                   "    signal.signal(s, signal.SIG_IGN)\ntime.sleep(10 ** 6)\n",
    "attack-c-block": "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))\n"
                      "time.sleep(10 ** 6)\n",
    "attack-memory": "hog = []\nwhile True:\n    hog.append(bytearray(1 << 28))\n",
    "attack-output": "import sys\nfor _ in range(20_000):\n    sys.stdout.write('x' * 65536)\n    "
                     "sys.stderr.write('y' * 65536)\n",
}
ATTACK_SCORES = {"attack-hang": 0.0, "attack-c-block": 0.0}  # the others keep their correct functions' points


def add_attackers(course: Path, aid: str, like: str) -> list[str]:
    """One correct submission per attack, with the attack in a first, top-level cell."""
    nb = json.loads((course / "submitted" / like / aid / f"{aid}.ipynb").read_text())
    for student, code in ATTACKS.items():
        sub = copy.deepcopy(nb)
        sub["cells"].insert(0, {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                                "source": code})
        d = course / "submitted" / student / aid
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{aid}.ipynb").write_text(json.dumps(sub, indent=1))
        (d / "timestamp.txt").write_text("2026-11-28 10:00:00.000000 UTC")
    return list(ATTACKS)


def totals(course: Path, aid: str) -> dict[str, float]:
    import sqlite3
    db = sqlite3.connect(str(course / "gradebook.db"))
    try:
        rows = db.execute("SELECT submitted_assignment.student_id, SUM(COALESCE(grade.auto_score, 0)) FROM grade "
                          "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
                          "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
                          "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
                          "WHERE assignment.name = ? GROUP BY submitted_assignment.student_id", (aid,)).fetchall()
    finally:
        db.close()
    return {s: float(t) for s, t in rows}


def run_stock(halves: list[Path], aid: str) -> float:
    t0 = time.monotonic()
    procs = [subprocess.Popen([str(Path(sys.executable).parent / "nbgrader"), "autograde", aid, "--force"],
                              cwd=h, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for h in halves]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"bench_grade: stock nbgrader autograde {aid} failed:\n{err[-3000:]}")
    return time.monotonic() - t0


def run_ours(course: Path, aids: list[str], feedback: bool) -> float:
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "course_grader", "grade", *aids, "--root", str(course), "--force"]
    if not feedback:
        cmd.append("--no-feedback")
    r = subprocess.run(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"bench_grade: python -m course_grader grade {' '.join(aids)} failed:\n{r.stderr[-3000:]}")
    return time.monotonic() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_grade", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="submissions per assignment (default 40)")
    parser.add_argument("--assignments", nargs="+", default=["conv1", "pool1", "fc8"])
    parser.add_argument("--feedback", action="store_true", help="include feedback generation in our time")
    parser.add_argument("--keep", action="store_true", help="keep the temporary course folder")
    parser.add_argument("--no-attackers", action="store_true", help="skip the class-with-attackers row")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "grade.json")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler for the scaling rows (default: a loopback "
                        "cluster of one worker per core, started here)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1 worker / all cores / Dask rows")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    try:
        course = tmp / "ours"
        course.mkdir()
        (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
        for aid in args.assignments:
            shutil.copytree(ROOT / "solutions" / aid, course / "solutions" / aid)
        print(f"releasing {' '.join(args.assignments)} ...", file=sys.stderr)
        release(course, args.assignments)
        kinds = {aid: synthesise(course, aid, args.n) for aid in args.assignments}
        # stock: two copies with half of the students each, stock config (no sandbox block)
        halves = []
        for h in range(2):
            d = tmp / f"stock{h}"
            shutil.copytree(course, d, ignore=shutil.ignore_patterns("submitted"))
            (d / "nbgrader_config.py").write_text(stock_config((ROOT / "nbgrader_config.py").read_text()))
            for aid in args.assignments:
                for i, student in enumerate(sorted(kinds[aid])):
                    if i % 2 == h:
                        shutil.copytree(course / "submitted" / student / aid, d / "submitted" / student / aid)
            halves.append(d)
        rows = []
        stock_by_aid = {}
        for aid in args.assignments:
            n = len(kinds[aid])
            print(f"{aid}: stock nbgrader autograde, {n} notebooks in 2 processes ...", file=sys.stderr)
            t_stock = run_stock(halves, aid)
            print(f"{aid}: course_grader, {n} notebooks with 2 sandbox workers ...", file=sys.stderr)
            t_ours = run_ours(course, [aid], args.feedback)
            stock_totals = {}
            for h in halves:
                stock_totals.update(totals(h, aid))
            our_totals = totals(course, aid)
            stock_by_aid[aid] = stock_totals
            differ = {s: (stock_totals.get(s), our_totals.get(s)) for s in kinds[aid]
                      if stock_totals.get(s) != our_totals.get(s)}
            rows.append({"assignment": aid, "notebooks": n, "stock_s": round(t_stock, 2), "ours_s": round(t_ours, 2),
                         "stock_nb_per_min": round(n / t_stock * 60, 1), "ours_nb_per_min": round(n / t_ours * 60, 1),
                         "ratio": round(t_stock / t_ours, 2), "score_differences": differ})
        n_all = sum(r["notebooks"] for r in rows)
        t_stock = sum(r["stock_s"] for r in rows)
        t_ours = sum(r["ours_s"] for r in rows)
        print(f"all assignments in one run: course_grader grade {' '.join(args.assignments)} ...", file=sys.stderr)
        t_one = run_ours(course, args.assignments, args.feedback)
        one_totals = {aid: totals(course, aid) for aid in args.assignments}
        print(f"\n{'assignment':<12}{'notebooks':>10}{'stock s':>10}{'ours s':>10}{'stock nb/min':>14}"
              f"{'ours nb/min':>13}{'ratio':>8}  scores")
        for r in rows:
            agree = "identical" if not r["score_differences"] else f"{len(r['score_differences'])} differ"
            print(f"{r['assignment']:<12}{r['notebooks']:>10}{r['stock_s']:>10.1f}{r['ours_s']:>10.1f}"
                  f"{r['stock_nb_per_min']:>14.1f}{r['ours_nb_per_min']:>13.1f}{r['ratio']:>8.1f}  {agree}")
        print(f"{'all':<12}{n_all:>10}{t_stock:>10.1f}{t_ours:>10.1f}{n_all / t_stock * 60:>14.1f}"
              f"{n_all / t_ours * 60:>13.1f}{t_stock / t_ours:>8.1f}  (one run per assignment)")
        print(f"{'all':<12}{n_all:>10}{t_stock:>10.1f}{t_one:>10.1f}{n_all / t_stock * 60:>14.1f}"
              f"{n_all / t_one * 60:>13.1f}{t_stock / t_one:>8.1f}  (one run: make grade A=\"{' '.join(args.assignments)}\")")
        same = all(one_totals[aid] == stock_by_aid[aid] for aid in args.assignments)
        print(f"one-run scores {'identical to stock' if same else 'DIFFER from stock'}")
        for r in rows:
            for s, (a, b) in list(r["score_differences"].items())[:5]:
                print(f"  {r['assignment']} {s}: stock {a} vs ours {b}", file=sys.stderr)
        attack = None
        if not args.no_attackers:
            aid = args.assignments[0]
            honest = totals(course, aid)
            like = next(s for s, k in sorted(kinds[aid].items()) if k == "correct")
            attackers = add_attackers(course, aid, like)
            print(f"{aid}: the class again with {len(attackers)} attackers, default limits ...", file=sys.stderr)
            t_attack = run_ours(course, [aid], args.feedback)
            after = totals(course, aid)
            changed = {s: (honest[s], after.get(s)) for s in honest if after.get(s) != honest[s]}
            wrong = {s: after.get(s) for s in attackers if after.get(s) != ATTACK_SCORES.get(s, honest[like])}
            t_honest = next(r["ours_s"] for r in rows if r["assignment"] == aid)
            from course_grader.sandbox import Limits
            cell_s = Limits().cells_s
            print(f"{'class with attackers':<22}{len(kinds[aid]) + len(attackers):>4} notebooks {t_attack:8.1f} s   "
                  f"honest class {t_honest:.1f} s + {t_attack - t_honest:.1f} s (target: about one per-cell limit, "
                  f"{cell_s:g} s); honest grades {'unchanged' if not changed else f'CHANGED {changed}'}; "
                  f"attackers {'scored as expected' if not wrong else f'UNEXPECTED {wrong}'}")
            attack = {"assignment": aid, "honest_s": t_honest, "with_attackers_s": round(t_attack, 2),
                      "extra_s": round(t_attack - t_honest, 2), "cells_s": cell_s, "attackers": attackers,
                      "honest_changed": changed, "attacker_scores": {s: after.get(s) for s in attackers}}
        scaling = None
        if not args.no_scaling:
            from tools.bench_cluster import rows as scaling_rows
            aid = args.assignments[0]
            scaling = scaling_rows(course, aid, len(totals(course, aid)), args.scheduler)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows, "total": {"notebooks": n_all, "stock_s": t_stock,
                                        "ours_s": t_ours, "ratio": t_stock / t_ours, "ours_one_run_s": t_one,
                                        "ratio_one_run": t_stock / t_one, "one_run_scores_identical": same},
                                        "attackers": attack, "scaling": scaling}, indent=1))
        print(f"wrote {args.out}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
