"""Adversarial suite: a class of conv1 submissions where most students attack the grader.

One course, two grading runs: the honest students alone, then the honest students with every
hostile submission of ``tests/hostile/``.  Each hostile submission must get exactly its
``# expected:`` score and its ``# flag:`` flag, and every honest student's gradebook rows and
autograded files must be byte-identical between the two runs.
"""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.grader_course import (HOSTILE, gradebook_rows, make_course, make_hostile, make_submission,
                                 parse_hostile, require_sandbox, solution_cells, student_files)

pytestmark = pytest.mark.slow

HONEST = {"ana": 10.0, "ben": 8.5, "cid": 0.0}
FILES = sorted(HOSTILE.glob("h*.py"))


class Listener:
    """A TCP server on the host's 127.0.0.1 that records anything a sandbox manages to send."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                self.received.append(conn.recv(4096) or b"<connected>")
            except OSError:
                self.received.append(b"<connected>")
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    require_sandbox()
    from course_grader.grade import grade_assignment
    from course_grader.sandbox import Limits

    root = make_course(tmp_path_factory.mktemp("hostile-course"))
    sol = solution_cells(root)
    make_submission(root, "ana", "solution")
    wrong_relu = sol["relu"].replace("return torch.clamp(x, min=0)", "return x.abs()")
    assert wrong_relu != sol["relu"], "the reference relu changed: update the honest student 'ben'"
    make_submission(root, "ben", "solution", overrides={"relu": wrong_relu})
    make_submission(root, "cid", "blank")
    limits = Limits(part_s=6.0, cells_s=15.0, notebook_s=20.0)
    before = grade_assignment("conv1", root=root, workers=2, limits=limits, feedback=False, progress=False)
    rows_before = gradebook_rows(root, HONEST)
    files_before = {s: student_files(root, s) for s in HONEST}

    listener = Listener()
    infos = {}
    for path in FILES:
        info = parse_hostile(path, {"COURSE": str(root), "PORT": str(listener.port)})
        infos[info["name"]] = info
        make_hostile(root, info["name"], info)
    try:
        after = grade_assignment("conv1", root=root, workers=2, limits=limits, feedback=False, progress=False,
                                 force=True)
    finally:
        listener.close()
    return {"root": root, "before": before, "after": after, "rows_before": rows_before,
            "files_before": files_before, "infos": infos, "listener": listener}


def test_there_are_enough_hostile_submissions():
    assert len(FILES) >= 20, f"expected at least 20 hostile submissions in {HOSTILE}, found {len(FILES)}"


def test_honest_students_graded(graded):
    for run in ("before", "after"):
        got = {s: graded[run]["verdicts"][s].score for s in HONEST}
        assert got == HONEST, f"honest scores in the {run} run: expected {HONEST}, got {got}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_hostile_submission(graded, path):
    info = graded["infos"][path.stem]
    assert not graded["after"]["errors"], f"grading errors: {graded['after']['errors']}"
    v = graded["after"]["verdicts"][path.stem]
    detail = "; ".join(f"{p.grade_id}={p.score:g} {p.message[:120]}" for p in v.parts)
    assert v.score == info["expected"], (f"{path.stem} ({info['what']}): expected score {info['expected']:g}, "
                                         f"got {v.score:g}: {detail}")
    rows = gradebook_rows(graded["root"], {path.stem})[path.stem]
    recorded = sum(r[1] or 0 for r in rows)
    assert recorded == info["expected"], f"{path.stem}: the gradebook holds {recorded}, expected {info['expected']}"
    whats = [f["what"] for f in v.flags]
    if info["flag"]:
        assert any(info["flag"] in w for w in whats), f"{path.stem}: expected a flag containing {info['flag']!r}, " \
                                                      f"got {whats}"
    else:
        static = [w for w in whats if not w.startswith("runtime")]
        assert not static, f"{path.stem} is honest and must not be flagged, got {v.flags}"


def test_other_students_byte_identical(graded):
    rows_after = gradebook_rows(graded["root"], HONEST)
    assert rows_after == graded["rows_before"], "an honest student's gradebook rows changed when hostile " \
                                                 f"submissions were graded with them:\n{graded['rows_before']}\n{rows_after}"
    for s in HONEST:
        after = student_files(graded["root"], s)
        assert after == graded["files_before"][s], f"{s}'s autograded files changed next to the hostile submissions"


def test_network_unreachable(graded):
    assert graded["listener"].received == [], f"a sandbox reached the host's loopback: {graded['listener'].received}"


def test_disk_bomb_left_nothing(graded):
    root: Path = graded["root"]
    leftovers = [p for p in root.rglob("bomb*")]
    assert not leftovers, f"files written by the disk bomb outside the sandbox: {leftovers[:5]}"


def test_results_that_look_like_code_never_ran(graded):
    root: Path = graded["root"]
    assert not list(root.rglob("pwned*")), "a string a submission returned was executed on the trusted side"


def test_feedback_messages_are_bounded_plain_text(graded):
    for sid, v in graded["after"]["verdicts"].items():
        for p in v.parts:
            bad = [c for c in p.message if ord(c) < 32 and c not in "\n\t"]
            assert not bad, f"{sid} {p.grade_id}: control characters in the message: {p.message[:200]!r}"
            assert len(p.message) < 4000, f"{sid} {p.grade_id}: a message of {len(p.message)} characters"


def test_a_student_exception_is_reported_as_the_student_s(graded):
    parts = {p.grade_id: p for p in graded["after"]["verdicts"]["h44_crafted_exceptions"].parts}
    message = parts["test_conv2d_forward_shape"].message
    assert message.startswith("test_conv2d_forward_shape: conv2d_forward\n"), message[:300]
    flat = " ".join(message.split())
    assert "It raised AssertionError: course_grader.testing: all hidden tests passed" in flat, message[:400]
