"""Every assignment through stock nbgrader 0.9.6, in a temporary course (never the repository's gradebook).

One module-scoped course: generate_assignment for every id, then three kinds of
submission per assignment graded by `nbgrader autograde <id>` in one call:
``full`` (the released notebook with the solutions filled in: full marks),
``blank`` (the released notebook untouched: 0, without crashing) and, for
conv1, norm1 and pool1, ``planted`` (planted implementations from
tests/exercises: exactly the broken cells score 0).  Autograde wall times are
printed (run with -s to see them).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from course_grader import cases
from tests.exercises import course as C
from tests.exercises import incell

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent / "exercises"

# assignment -> ({solution cell grade_id: planted file}, test cells that must score 0)
PLANTED = {
    "conv1": ({"conv2d_forward": HERE / "correct" / "conv2d_einsum.py",     # prints and warns
               "relu": HERE / "wrong" / "relu_leaky.py"},
              {"test_relu_values"}),
    "norm1": ({"local_response_norm": HERE / "wrong" / "lrn_alpha_over_n.py"},
              {"test_local_response_norm_values", "test_local_response_norm_edges"}),
    "pool1": ({"max_pool2d_forward": HERE / "wrong" / "pool_library.py"},
              {"test_max_pool2d_forward_shape", "test_max_pool2d_forward_values",
               "test_max_pool2d_forward_errors"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = C.make_course(tmp_path_factory.mktemp("course"), cases.ASSIGNMENTS)
    start = time.perf_counter()
    for aid in cases.ASSIGNMENTS:
        C.release(course, aid)
        C.submit(course, "full", aid, C.solved_submission(course, aid))
        C.submit(course, "blank", aid, C.load(course / "release" / aid / f"{aid}.ipynb"))
        if aid in PLANTED:
            files, _ = PLANTED[aid]
            replace = {gid: path.read_text(encoding="utf-8") for gid, path in files.items()}
            C.submit(course, "planted", aid, C.solved_submission(course, aid, replace))
    release_s = time.perf_counter() - start
    times = {}
    for aid in cases.ASSIGNMENTS:
        times[aid] = C.autograde(course, aid)
    students = {aid: ["full", "blank"] + (["planted"] if aid in PLANTED else []) for aid in cases.ASSIGNMENTS}
    print(f"\ngenerate_assignment x{len(cases.ASSIGNMENTS)}: {release_s:.1f} s")
    for aid, t in times.items():
        print(f"nbgrader autograde {aid:12s} {t:6.1f} s for {len(students[aid])} students")
    print(f"all {len(cases.ASSIGNMENTS)} assignments: {sum(times.values()):.1f} s")
    return course, times


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_released_notebook_has_no_solution_and_no_hidden_tests(graded, aid):
    course, _ = graded
    released = C.load(course / "release" / aid / f"{aid}.ipynb")
    source = C.load(course / "solutions" / aid / f"{aid}.ipynb")
    text = "\n".join("".join(c["source"]) for c in released["cells"])
    code = "\n".join("".join(c["source"]) for c in released["cells"] if c["cell_type"] == "code")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "course_grader", "check("):
        assert marker not in text, f"{aid}: the released notebook contains {marker!r}"
    assert "alexnet_ref" not in code, f"{aid}: the released notebook's code mentions alexnet_ref"
    solution_lines = set()
    for cell in source["cells"]:
        if C.nbgrader_meta(cell).get("solution"):
            src = "".join(cell["source"])
            body = src.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
            solution_lines |= {line.strip() for line in body.splitlines() if len(line.strip()) > 12}
    leaked = [line for line in solution_lines if line in text]
    assert not leaked, f"{aid}: solution lines in the released notebook: {leaked[:3]}"
    stubs = [c for c in released["cells"] if C.nbgrader_meta(c).get("solution")]
    assert stubs and all("raise NotImplementedError()" in "".join(c["source"]) for c in stubs)
    assert all(c.get("outputs", []) == [] for c in released["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("aid", cases.ASSIGNMENTS)
def test_solution_scores_full_marks_and_blank_scores_zero(graded, aid):
    course, _ = graded
    full = C.cell_scores(course, aid, "full")
    expected = {c.grade_id: c.points for c in incell.graded_cells(incell.notebook(aid))}
    assert full == expected, f"{aid}: the solutions scored {full}"
    blank = C.cell_scores(course, aid, "blank")
    assert set(blank) == set(expected) and sum(blank.values()) == 0, f"{aid}: the blank notebook scored {blank}"
    outputs = C.cell_outputs(course, aid, "blank")
    for gid, outs in outputs.items():
        errors = [o for o in outs if o.get("output_type") == "error"]
        assert errors, f"{aid} {gid}: the blank notebook's test cell did not fail"
        # CheckFailure: the AssertionError of course_grader.testing's helpers
        assert errors[0]["ename"] in {"NotImplementedError", "NameError", "AssertionError", "CheckFailure"}, \
            errors[0]["ename"]


@pytest.mark.parametrize("aid", sorted(PLANTED))
def test_planted_submission_loses_exactly_the_broken_cells(graded, aid):
    course, _ = graded
    _, broken = PLANTED[aid]
    scores = C.cell_scores(course, aid, "planted")
    points = {c.grade_id: c.points for c in incell.graded_cells(incell.notebook(aid))}
    wrong = {gid: s for gid, s in scores.items() if s != (0 if gid in broken else points[gid])}
    assert not wrong, f"{aid}: unexpected scores {wrong} (broken: {sorted(broken)})"
    outputs = C.cell_outputs(course, aid, "planted")
    for gid in broken:
        error = [o for o in outputs[gid] if o.get("output_type") == "error"][0]
        # A visible test may catch the mistake first (AssertionError); otherwise the hidden
        # block's check (course_grader.testing.CheckFailure) does, and shows its message only.
        assert error["ename"] in {"AssertionError", "GradingFailure", "CheckFailure"}, error
        if error["ename"] in {"GradingFailure", "CheckFailure"}:
            assert "[vi]" in error["evalue"] and "[en]" in error["evalue"], error
            assert error["traceback"] == [f"AssertionError: {error['evalue']}"], \
                f"{aid} {gid}: a hidden failure should show its message only, got {error['traceback']}"
    if aid == "pool1":
        hidden = [o for o in outputs["test_max_pool2d_forward_values"] if o.get("output_type") == "error"]
        assert hidden and hidden[0]["ename"] in {"GradingFailure", "CheckFailure"}, \
            "pool1: the ban should be caught by the hidden part"


def test_feedback_never_shows_hidden_tests(graded):
    course, _ = graded
    C.nbgrader(course, "generate_feedback", "conv1", "--force")
    C.nbgrader(course, "generate_feedback", "pool1", "--force")
    for student in ("full", "blank", "planted"):
        html = (course / "feedback" / student / "conv1" / "conv1.html").read_text(encoding="utf-8")
        for marker in ("HIDDEN TESTS", "course_grader", "check(&quot;", 'check("'):
            assert marker not in html, f"conv1 feedback of {student} shows {marker!r}"
    planted = (course / "feedback" / "planted" / "pool1" / "pool1.html").read_text(encoding="utf-8")
    assert re.search(r"max_pool2d_forward uses [^<]*torch\.max_pool2d", planted), \
        "the feedback should say why a banned operator scored 0"
