"""Test cells run on the trusted side (course_grader.testrun) and the instructor's helpers (course_grader.testing).

The runner is exercised against an in-process stand-in for the sandbox session
(tests/fake_session.py: the same plain-data wire format); the end-to-end runs through the
real sandbox are in tests/test_grader_hostile.py and tests/test_grader_instructor.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from course_grader import notebook as nbm
from course_grader import policy, testing, testrun
from course_grader.testing import (CONV_BANNED, RELU_BANNED, CheckFailure, assert_close, assert_dropout_generator,
                                   assert_equal, assert_raises, assert_shape, call_mode, forbid, randn, rng)
from tests.fake_session import fake_session

REPO = Path(__file__).resolve().parent.parent

IMPORTS = """import math
import numpy as np
import torch
import torch.nn.functional as F

def answer_hash(name, value):
    return f"{name}={value}"
"""

GOOD_RELU = """def relu(x):
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"relu: x must be a tensor, got {type(x).__name__}")
    return torch.clamp(x, min=0)
"""

WRONG_RELU = """def relu(x):
    return x.abs()
"""

PLAIN_TEST = """# Check that relu zeroes the negative entries
x = torch.tensor([[-2.0, 0.0, 3.0]])
assert tuple(relu(x).shape) == (1, 3), "relu keeps the shape"
### BEGIN HIDDEN TESTS
from course_grader.testing import rng, randn, assert_close, forbid, RELU_BANNED
forbid("relu", RELU_BANNED)
for shape in [(2, 5), (3, 4, 6)]:
    x = randn(rng(), shape)
    assert_close(relu(x), torch.clamp(x.double(), min=0), what=f"relu(x of shape {shape})")
### END HIDDEN TESTS
"""

RAISES_TEST = """# Check that relu rejects a list
try:
    relu([1.0, -2.0])
except ValueError as err:
    assert "relu" in str(err), f"the message should name relu, got: {err}"
else:
    raise AssertionError("relu([1.0, -2.0]) should raise ValueError")
### BEGIN HIDDEN TESTS
from course_grader.testing import assert_raises
assert_raises(ValueError, relu, "text", contains=("relu",), what="relu of a str")
### END HIDDEN TESTS
"""

BARE_ASSERT_TEST = """# Check that relu of zero is zero
assert relu(torch.zeros(2)).sum() == 0
### BEGIN HIDDEN TESTS
y = relu(torch.tensor([-1.0, 2.0]))
assert float(y[1]) == 2.0
assert float(y[0]) == 12345.0
### END HIDDEN TESTS
"""

VALUE_TEST = """# Check that W_M2 is right
assert answer_hash("W_M2", W_M2) == "W_M2=55", "W_M2 is not right yet"
### BEGIN HIDDEN TESTS
from course_grader.testing import assert_equal
assert_equal(W_M2, 55, what="W_M2")
### END HIDDEN TESTS
"""


def code(source, grade_id=None, solution=False, grade=False, locked=False, points=0.0):
    meta = {} if grade_id is None else {"nbgrader": {"grade_id": grade_id, "solution": solution, "grade": grade,
                                                     "locked": locked, "points": points, "schema_version": 3}}
    return {"cell_type": "code", "source": source, "metadata": meta, "outputs": [], "execution_count": None}


def notebook(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def source_nb(tests=(("test_relu", PLAIN_TEST, 2.0),), relu=GOOD_RELU, extra=()):
    cells = [code(IMPORTS, "imports", locked=True), code(relu, "relu", solution=True),
             code("W_M2 = (227 - 11) // 4 + 1", "sizes", solution=True)]
    cells += [code(src, gid, grade=True, locked=True, points=pts) for gid, src, pts in tests]
    return notebook(*cells, *extra)


def grade(source, submission=None, part_s=120.0, seed=7):
    submission = submission or source
    cells = nbm.cells_to_run(submission, source)
    trees = policy.parse_cells([c["source"] for c in cells])
    with fake_session(cells, part_s) as session:
        return {v.grade_id: v for v in testrun.run_tests(session, source, seed, trees, ())}


def with_solution(source, relu):
    sub = json.loads(json.dumps(source))
    for cell in sub["cells"]:
        if nbm._meta(cell).get("grade_id") == "relu":
            cell["source"] = relu
    return sub


# --------------------------------------------------------------------------- the runner
def test_plain_assert_cell_passes_with_the_solution_and_fails_a_wrong_one():
    src = source_nb()
    good = grade(src)["test_relu"]
    assert good.passed and good.points == 2.0, good.message
    bad = grade(src, with_solution(src, WRONG_RELU))["test_relu"]
    assert not bad.passed
    assert bad.message.startswith("test_relu: relu(x of shape (2, 5))\n[vi] "), bad.message
    assert "[en]" in bad.message and "values are wrong" in bad.message


def test_try_except_value_error_works_through_the_proxy():
    src = source_nb([("test_relu_errors", RAISES_TEST, 0.5)])
    assert grade(src)["test_relu_errors"].passed
    no_check = with_solution(src, "def relu(x):\n    return x\n")
    v = grade(src, no_check)["test_relu_errors"]
    assert not v.passed and "should raise ValueError" in v.message


def test_student_exception_not_caught_fails_with_the_raised_message_naming_the_function():
    src = source_nb()
    v = grade(src, with_solution(src, "def relu(x):\n    raise KeyError('no way')\n"))["test_relu"]
    assert not v.passed
    assert v.message.startswith("test_relu: relu\n") and "KeyError" in v.message and "no way" in v.message


def test_bare_hidden_assert_names_its_line_and_never_shows_the_hidden_source():
    src = source_nb([("test_zero", BARE_ASSERT_TEST, 1.0)])
    v = grade(src)["test_zero"]
    assert not v.passed
    assert "line 3 of the hidden tests" in v.message, v.message
    assert "12345" not in v.message and "float(y[0])" not in v.message


def test_a_name_the_student_never_defined_fails_with_not_defined():
    src = source_nb()
    v = grade(src, with_solution(src, "def not_relu(x):\n    return x\n"))["test_relu"]
    assert not v.passed and "relu is not defined" in v.message, v.message


def test_variable_is_read_as_its_plain_value():
    src = source_nb([("test_W_M2", VALUE_TEST, 0.5)])
    assert grade(src)["test_W_M2"].passed
    sub = json.loads(json.dumps(src))
    for cell in sub["cells"]:
        if nbm._meta(cell).get("grade_id") == "sizes":
            cell["source"] = "W_M2 = 54"
    v = grade(src, sub)["test_W_M2"]
    assert not v.passed and "W_M2 is not right yet" in v.message


@pytest.mark.parametrize("redefined", [
    "def assert_close(*a, **k):\n    return None\n",
    "np = None\ntorch = None\nF = None\n",
    "def answer_hash(name, value):\n    return 'W_M2=55'\n",
    "def reference():\n    return None\ndef forbid(*a):\n    return None\n",
    "def rng():\n    import numpy\n    return numpy.random.default_rng(0)\n",
    "def len(x):\n    return 1\ndef isinstance(*a):\n    return True\n",
])
def test_student_redefining_instructor_names_changes_no_verdict(redefined):
    src = source_nb([("test_relu", PLAIN_TEST, 2.0), ("test_W_M2", VALUE_TEST, 0.5)])
    honest = {k: v.passed for k, v in grade(src, with_solution(src, WRONG_RELU)).items()}
    sub = with_solution(src, WRONG_RELU + "\n" + redefined)
    for cell in sub["cells"]:
        if nbm._meta(cell).get("grade_id") == "sizes":
            cell["source"] = "W_M2 = 54\n" + redefined
    hostile = {k: v.passed for k, v in grade(src, sub).items()}
    assert honest == {"test_relu": False, "test_W_M2": True}
    assert hostile == {"test_relu": False, "test_W_M2": False}


def test_each_cell_draws_its_own_reproducible_inputs():
    probe = "### BEGIN HIDDEN TESTS\nfrom course_grader.testing import rng\nraise AssertionError(str(rng().integers(0, 10**9)))\n### END HIDDEN TESTS\n"
    src = source_nb([("a", probe, 1.0), ("b", probe, 1.0)])
    first, again, other = grade(src, seed=1), grade(src, seed=1), grade(src, seed=2)
    assert first["a"].message == again["a"].message
    assert first["a"].message != first["b"].message
    assert first["a"].message != other["a"].message


def test_a_call_that_never_returns_loses_only_its_part():
    src = source_nb([("test_relu", PLAIN_TEST, 2.0), ("test_W_M2", VALUE_TEST, 0.5)])
    sub = with_solution(src, "def relu(x):\n    import time\n    time.sleep(30)\n")
    v = grade(src, sub, part_s=1.0)
    assert not v["test_relu"].passed and "longer than 1 s" in v["test_relu"].message
    assert v["test_W_M2"].passed


def test_free_names_are_the_globals_a_cell_reads_before_binding_them():
    source = "x = f(1)\nfor i in y:\n    g(i)\nh2 = lambda z: z + h\nimport numpy as np\nprint(np, q, len)\n"
    assert testrun.free_names(source) == ["f", "g", "h", "q", "y"]


def test_old_check_blocks_route_through_the_proxies():
    src = json.loads((REPO / "solutions" / "conv1" / "conv1.ipynb").read_text(encoding="utf-8"))
    cells = nbm.cells_to_run(src, src)
    trees = policy.parse_cells([c["source"] for c in cells])
    only = {"test_relu_values", "test_relu_errors", "test_W_M2", "test_conv2d_forward_errors"}
    with fake_session(cells) as session:
        verdicts = testrun.run_tests(session, src, 11, trees, (), only=only)
    assert {v.grade_id: v.passed for v in verdicts} == dict.fromkeys(only, True), [v.message for v in verdicts]


# --------------------------------------------------------------------------- the helpers in a kernel
def test_assert_close_accepts_any_dtype_and_rejects_wrong_values_without_the_expected_value():
    x = randn(rng(), (3, 4))
    assert_close(x.double().requires_grad_(), x.double())
    with pytest.raises(CheckFailure) as info:
        assert_close(x * 1.5 + 7.25, x.double(), what="x scaled")
    assert str(info.value).startswith("x scaled\n[vi] ")
    with pytest.raises(CheckFailure, match="shape"):
        assert_close(x[:2], x.double())


def test_assert_equal_and_shape():
    assert_equal(55.0, 55)
    assert_equal(torch.Size([2, 3]), (2, 3))
    with pytest.raises(CheckFailure):
        assert_equal(54, 55, what="W_M2")
    assert_shape(torch.zeros(2, 3), (2, 3))
    with pytest.raises(CheckFailure, match="dimension"):
        assert_shape(torch.zeros(2, 4), (2, 3))


def test_assert_raises_checks_type_and_message():
    def bad(x):
        raise ValueError(f"bad: {x}")
    assert_raises(ValueError, bad, 1, contains=("bad",))
    with pytest.raises(CheckFailure, match="does not name"):
        assert_raises(ValueError, bad, 1, contains=("relu",))
    with pytest.raises(CheckFailure, match="raised KeyError"):
        assert_raises(ValueError, lambda: {}["k"])
    with pytest.raises(CheckFailure, match="returned int 3"):
        assert_raises(ValueError, lambda: 3)


def test_forbid_in_a_kernel_scans_the_source_and_arms_the_tripwire():
    namespace = {"__name__": "__main__"}
    exec("import torch\nimport torch.nn.functional as F\ndef relu(x):\n    return F.relu(x)\n", namespace)
    namespace["In"] = ["", "import torch\nimport torch.nn.functional as F\ndef relu(x):\n    return F.relu(x)\n"]
    with pytest.raises(CheckFailure, match="F.relu"):
        exec("from course_grader.testing import forbid, RELU_BANNED\nforbid('relu', RELU_BANNED)", namespace)
    guarded = testing._tripwired(namespace["relu"], "relu", RELU_BANNED)
    with pytest.raises(CheckFailure, match="While it ran, relu called"):
        guarded(torch.tensor([-1.0, 1.0]))
    clean = testing._tripwired(lambda x: torch.clamp(x, min=0), "relu", RELU_BANNED)
    assert clean(torch.tensor([-1.0, 1.0])).tolist() == [0.0, 1.0]


def test_dropout_generator_mode_in_a_kernel():
    def dropout(x, p=0.5, training=True, generator=None):
        keep = (torch.rand(x.shape, generator=generator) >= p).to(x.dtype)
        return x * keep / (1 - p)
    x = torch.ones(64, 64)
    assert_dropout_generator(call_mode(dropout, "dropout_generator", x, p=0.3, training=True, generator=5), x, 0.3)

    def fixed(x, p=0.5, training=True, generator=None):
        return dropout(x, p, training, torch.Generator().manual_seed(0))
    with pytest.raises(CheckFailure):
        assert_dropout_generator(call_mode(fixed, "dropout_generator", x, p=0.3, training=True, generator=5), x, 0.3)


def test_kernel_rng_is_fixed():
    assert rng().integers(0, 10**9) == np.random.default_rng(testing.DEFAULT_SEED).integers(0, 10**9)


# --------------------------------------------------------------------------- an instructor adds a test cell (sandbox)
NEW_CELL = """# Check that relu keeps positive values and zeroes negative ones, on a random tensor
x = torch.randn(3, 4)
assert tuple(relu(x).shape) == (3, 4), f"relu must keep the shape, got {tuple(relu(x).shape)}"
### BEGIN HIDDEN TESTS
from course_grader.testing import rng, randn
g = rng()
for shape in [(5,), (2, 3, 4)]:
    x = randn(g, shape)
    y = relu(x)
    assert tuple(y.shape) == shape
    assert bool((y >= 0).all()), "relu returned a negative value"
    assert torch.allclose(y, torch.where(x > 0, x, torch.zeros_like(x))), "relu(x) is not max(0, x)"
try:
    relu("not a tensor")
except ValueError:
    pass
else:
    raise AssertionError("relu of a str must raise ValueError")
### END HIDDEN TESTS
"""

NEVER_PASSES = """# Check something the solution cannot do
### BEGIN HIDDEN TESTS
assert relu(torch.tensor([-1.0])).item() == -1.0
### END HIDDEN TESTS
"""


def _add_test_cell(root: Path, grade_id: str, source: str, points: float, after: str = "test_relu_errors"):
    path = root / "solutions" / "conv1" / "conv1.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    at = next(i for i, c in enumerate(nb["cells"]) if nbm._meta(c).get("grade_id") == after) + 1
    cell = code(source, grade_id, grade=True, locked=True, points=points)
    cell["id"] = grade_id.replace("_", "-")
    nb["cells"].insert(at, cell)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def course_with_new_cell(tmp_path_factory):
    from tests.grader_course import make_course, require_sandbox
    require_sandbox()
    root = make_course(tmp_path_factory.mktemp("new-test-cell"))
    _add_test_cell(root, "test_relu_random", NEW_CELL, 2)
    return root


@pytest.mark.slow
def test_an_added_test_cell_with_plain_asserts_is_graded_from_the_metadata(course_with_new_cell, capsys):
    from course_grader.grade import grade_assignment
    from course_grader.sandbox import Limits
    from tests.grader_course import make_submission, solution_cells
    from tools.release import main as release_main
    root = course_with_new_cell
    assert release_main(["conv1", "--root", str(root)]) == 0, capsys.readouterr().err
    assert "solutions score full marks through the grader: conv1" in capsys.readouterr().out
    assert release_main(["conv1", "--root", str(root)]) == 0
    assert "solutions score full marks through the grader: all unchanged" in capsys.readouterr().out
    sol = solution_cells(root)
    make_submission(root, "ana", "solution")
    make_submission(root, "ben", "solution", overrides={"relu": sol["relu"].replace(
        "return torch.clamp(x, min=0)", "return x.abs()")})
    make_submission(root, "cid", "solution", overrides={"relu": "def relu(x):\n    return x if isinstance(x, str) else torch.clamp(x, min=0)\n"})
    run = grade_assignment("conv1", root=root, workers=1, limits=Limits(part_s=20.0), feedback=False,
                           progress=False)
    parts = {s: {p.grade_id: p for p in v.parts} for s, v in run["verdicts"].items()}
    assert parts["ana"]["test_relu_random"].points == 2.0
    assert parts["ana"]["test_relu_random"].score == 2.0, parts["ana"]["test_relu_random"].message
    assert run["verdicts"]["ana"].score == run["verdicts"]["ana"].max_score == 12.0
    assert parts["ben"]["test_relu_random"].score == 0.0
    assert "relu(x) is not max(0, x)" in parts["ben"]["test_relu_random"].message
    # cid's relu returns a str unchanged: the try/except ValueError of the new cell reaches its else
    assert parts["cid"]["test_relu_random"].score == 0.0
    assert "relu of a str must raise ValueError" in parts["cid"]["test_relu_random"].message
    assert parts["cid"]["test_relu_values"].score == 1.5


@pytest.mark.slow
def test_a_test_cell_the_solution_cannot_pass_fails_the_release(tmp_path, capsys):
    from tests.grader_course import make_course, require_sandbox
    from tools.release import main as release_main
    require_sandbox()
    root = make_course(tmp_path / "course")
    _add_test_cell(root, "test_relu_impossible", NEVER_PASSES, 1)
    assert release_main(["conv1", "--root", str(root)]) == 1
    from tools.release import ReleaseError, _api, check_solutions
    with pytest.raises(ReleaseError) as failed:
        check_solutions(["conv1"], _api(root)[1], root)
    err = str(failed.value)
    assert "release conv1" in err and "cell test_relu_impossible (1 points)" in err, err
    assert "line 1 of the hidden tests" in err, err


def test_kernel_rng_continues_within_a_cell():
    namespace: dict = {}
    exec("from course_grader.testing import rng\na = rng().integers(0, 10**9)\nb = rng().integers(0, 10**9)",
         namespace)
    assert namespace["a"] != namespace["b"]
    assert namespace["a"] == np.random.default_rng(testing.DEFAULT_SEED).integers(0, 10**9)


def test_an_assertion_raised_deeper_than_a_hidden_line_is_not_quoted():
    deep = ("### BEGIN HIDDEN TESTS\nimport torch\n"
            "torch.testing.assert_close(relu(torch.tensor([-1.0, 2.0])), torch.tensor([123.0, 2.0]))\n"
            "### END HIDDEN TESTS\n")
    v = grade(source_nb([("deep", deep, 1.0)]))["deep"]
    assert not v.passed and "line 2 of the hidden tests" in v.message and "123" not in v.message, v.message


def test_a_changed_hidden_block_changes_the_source_fingerprint():
    from course_grader import fingerprint
    src = json.loads((REPO / "solutions" / "conv1" / "conv1.ipynb").read_text(encoding="utf-8"))
    before = fingerprint.notebook_digest(src)
    cell = next(c for c in src["cells"] if nbm._meta(c).get("grade_id") == "test_relu_values")
    cell["source"] = nbm._source(cell).replace("### END HIDDEN TESTS", "assert True\n### END HIDDEN TESTS")
    assert fingerprint.notebook_digest(src) != before


def test_trusted_code_sees_its_own_seeded_generators_and_leaves_the_process_s_alone():
    probe = ("### BEGIN HIDDEN TESTS\nimport random\nraise AssertionError(f'{torch.rand(1).item()} "
             "{np.random.rand()} {random.random()}')\n### END HIDDEN TESTS\n")
    src = source_nb([("a", probe, 1.0)])
    torch.manual_seed(5)
    expected_next = torch.rand(1).item()
    torch.manual_seed(5)
    first = grade(src)["a"].message
    assert torch.rand(1).item() == expected_next, "grading changed the process's torch generator"
    torch.manual_seed(99)
    assert grade(src)["a"].message == first


def test_meta_tensors_have_a_shape_and_no_values():
    m = torch.empty(2, 3, device="meta")
    assert_shape(m, (2, 3))
    with pytest.raises(CheckFailure, match="meta device"):
        assert_close(m, torch.zeros(2, 3, dtype=torch.float64))


def test_a_lost_part_fails_the_cell_even_if_the_test_catches_exception():
    lenient = ("# Check that relu rejects a list\ntry:\n    relu([1.0])\nexcept Exception:\n    pass\n"
               "else:\n    raise AssertionError('relu of a list should raise')\n")
    src = source_nb([("test_lenient", lenient, 1.0)])
    assert grade(src)["test_lenient"].passed
    hangs = "def relu(x):\n    import time\n    if isinstance(x, list):\n        time.sleep(30)\n    return x\n"
    v = grade(src, with_solution(src, hangs), part_s=1.0)["test_lenient"]
    assert not v.passed and "longer than 1 s" in v.message, v.message
