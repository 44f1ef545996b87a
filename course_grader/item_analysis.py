"""Item analysis of one assignment after a grading run: ``reports/<id>-items.html``.

Built only from what the run recorded: the gradebook (scores after manual grades and
late penalty), ``grading-report/<id>.json`` (who was graded, who could not be) and each
submission's ``autograded/<student>/<id>/grader-report.json`` (per test cell verdicts,
flags with cell and line).  One self-contained HTML file, no script, no network: the
score histogram is an embedded PNG (matplotlib, Agg), every text that a student can
influence (failure messages, flag details, ids) is escaped, and a Content-Security-Policy
forbids scripts should anything slip through.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from collections import Counter
from pathlib import Path

from . import intake as _in
from . import notebook as _nb
from .layout import CourseLayout

TOP_MESSAGES = 5
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)


def message_key(message: str) -> str:
    """A failure message with its numbers replaced by ``#``: one group per kind of mistake, whatever values
    (the student's own) it quotes."""
    first = str(message).strip().splitlines()
    text = " ".join(line.strip() for line in first[:4])
    return _NUMBER.sub("#", text)[:300]


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _scores_from_gradebook(layout: CourseLayout, aid: str) -> dict:
    """``{student: (score after late penalty, max score)}`` from nbgrader's gradebook ({} without one)."""
    from nbgrader.api import MissingEntry
    from .gradebook import open_gradebook
    from .lms import final_score
    if not layout.db_path().is_file():
        return {}
    with open_gradebook(layout, readonly=True) as gb:
        try:
            a = gb.find_assignment(aid)
        except MissingEntry:
            return {}
        return {sub.student.id: (final_score(sub)[0], float(a.max_score or 0.0)) for sub in a.submissions}


def collect(layout: CourseLayout, aid: str) -> dict:
    """The numbers of the report (plain data; :func:`render` turns them into HTML)."""
    run = _read_json(layout.root / "grading-report" / f"{aid}.json")
    scores = _scores_from_gradebook(layout, aid)
    students = sorted(set(scores) | set(run.get("graded", {}) or {}) | set(run.get("unchanged", []) or []))
    try:
        cells = _nb.test_cells(json.loads(layout.source_nb(aid).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        cells = []
    items = {c.grade_id: {"grade_id": c.grade_id, "points": c.points, "n": 0, "passed": 0, "messages": Counter(),
                          "example": {}} for c in cells}
    flagged, errors = [], []
    for sid in students:
        if _in.check_student_id(sid):
            continue
        report = _read_json(layout.report_path(aid, sid))
        if sid not in scores and isinstance(report.get("score"), (int, float)):
            scores[sid] = (float(report["score"]), float(report.get("max_score") or 0.0))
        for part in report.get("parts", []) if isinstance(report.get("parts"), list) else []:
            if not isinstance(part, dict) or str(part.get("grade_id")) not in items:
                continue
            item = items[str(part["grade_id"])]
            item["n"] += 1
            try:
                ok = float(part.get("score") or 0.0) >= float(part.get("points") or 0.0) > 0
            except (TypeError, ValueError):
                ok = False
            if ok:
                item["passed"] += 1
            else:
                key = message_key(part.get("message") or "")
                item["messages"][key] += 1
                item["example"].setdefault(key, str(part.get("message") or "")[:600])
        for kind, out in (("flags", flagged), ("errors", errors)):
            for f in report.get(kind, []) if isinstance(report.get(kind), list) else []:
                if isinstance(f, dict):
                    out.append({"student": sid, "cell": str(f.get("cell", "")), "line": str(f.get("line", "")),
                                "what": str(f.get("what", "")), "detail": str(f.get("detail", ""))[:300]})
    return {"assignment": aid, "finished": str(run.get("finished", "")), "students": len(scores),
            "scores": dict(sorted(scores.items())), "items": list(items.values()), "flagged": flagged,
            "errors": errors, "not_graded": {str(k): str(v)[:300] for k, v in (run.get("errors") or {}).items()}}


def histogram_png(scores: list[float], max_score: float) -> bytes:
    """The score histogram as PNG bytes (matplotlib, Agg backend; no display)."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.ticker import MaxNLocator
    fig = Figure(figsize=(6, 2.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max([max_score, *scores, 1.0])
    bins = min(20, max(1, int(round(top)))) if float(top).is_integer() else 20
    ax.hist(scores, bins=bins, range=(0, top), color="#4c72b0", edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("score (after late penalty)")
    ax.set_ylabel("students")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top;text-align:left}"
          "pre{white-space:pre-wrap;margin:0;font-size:90%}.low{background:#fde2e2}")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def render(data: dict) -> str:
    aid = data["assignment"]
    values = [s for s, _ in data["scores"].values()]
    max_score = max([m for _, m in data["scores"].values()] or [0.0])
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
           "style-src 'unsafe-inline'\">", f"<title>Item analysis: {_e(aid)}</title><style>{_STYLE}</style>",
           "</head><body>", f"<h1>Item analysis: {_e(aid)}</h1>",
           f"<p>{len(values)} students; run finished {_e(data['finished'] or '-')}.</p>"]
    if values:
        mean = sum(values) / len(values)
        png = base64.b64encode(histogram_png(values, max_score)).decode("ascii")
        out += [f"<h2>Scores</h2><p>mean {mean:.2f} of {max_score:g}; median "
                f"{sorted(values)[len(values) // 2]:g}; full marks {sum(v >= max_score > 0 for v in values)}; "
                f"zero {sum(v == 0 for v in values)}</p>",
                f"<img alt=\"histogram of the scores of {_e(aid)}\" src=\"data:image/png;base64,{png}\">"]
    out.append("<h2>Test cells</h2><table><tr><th>test cell</th><th>points</th><th>passed</th>"
               "<th>most common failure messages (count)</th></tr>")
    for item in data["items"]:
        n, ok = item["n"], item["passed"]
        share = f"{ok}/{n} ({100.0 * ok / n:.0f}%)" if n else "-"
        msgs = "".join(f"<tr><td>{count}</td><td><pre>{_e(item['example'][key])}</pre></td></tr>"
                       for key, count in item["messages"].most_common(TOP_MESSAGES))
        low = " class=\"low\"" if n and ok / n < 0.5 else ""
        out.append(f"<tr{low}><td>{_e(item['grade_id'])}</td><td>{item['points']:g}</td><td>{share}</td>"
                   f"<td>{'<table>' + msgs + '</table>' if msgs else ''}</td></tr>")
    out.append("</table>")
    for title, rows in (("Flagged submissions", data["flagged"]), ("Errors in submissions", data["errors"])):
        out.append(f"<h2>{title} ({len({r['student'] for r in rows})})</h2>")
        if rows:
            out.append("<table><tr><th>student</th><th>cell</th><th>line</th><th>what</th><th>detail</th></tr>")
            out += [f"<tr><td>{_e(r['student'])}</td><td>{_e(r['cell'])}</td><td>{_e(r['line'])}</td>"
                    f"<td>{_e(r['what'])}</td><td><pre>{_e(r['detail'])}</pre></td></tr>" for r in rows]
            out.append("</table>")
    if data["not_graded"]:
        out.append(f"<h2>Not graded ({len(data['not_graded'])})</h2><table>")
        out += [f"<tr><td>{_e(k)}</td><td><pre>{_e(v)}</pre></td></tr>" for k, v in data["not_graded"].items()]
        out.append("</table>")
    out.append("</body></html>\n")
    return "\n".join(out)


def write_report(layout: CourseLayout, aid: str) -> Path:
    """Write ``<course>/reports/<aid>-items.html`` (whole, atomically) and return its path."""
    path = layout.root / "reports" / f"{aid}-items.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(collect(layout, aid)), encoding="utf-8")
    os.replace(tmp, path)
    return path
