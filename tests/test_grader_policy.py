"""The banned-operator rule (course_grader.policy) and the messages students see (course_grader.messages).

* a submission's own helpers, classes and methods are never library operators, whatever their names;
* what the graded function can reach through helpers, aliases, internal namespaces, dispatch
  controls or dynamic lookups cannot hide a banned operator;
* the trusted side and the in-kernel check() give the same verdict on every planted submission;
* feedback never shows an expected value unless the instructor opts in, and is bilingual.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from course_grader import cases as C
from course_grader import messages as M
from course_grader import policy
from course_grader import testing
from tests.exercises import incell
from tests.test_exercises_planted import HERE, PLANTED, calls_of, load_planted, outcome, student_functions

IMPORTS = "import numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def scan(code: str, function: str, banned) -> list[policy.Finding]:
    return policy.scan([IMPORTS, code], function, banned)


# --------------------------------------------------------------------------- names of the student's own
OWN_CODE = {
    "numpy CS231n helper": ("max_pool2d_forward", C.POOL_BANNED, '''
def max_pool_forward_naive(x, size, stride):
    return x[:, :, ::stride, ::stride]

def max_pool2d_forward(x, f=3, s=2):
    return torch.from_numpy(max_pool_forward_naive(x.numpy(), f, s))
'''),
    "class MaxPoolLayer": ("max_pool2d_forward", C.POOL_BANNED, '''
class MaxPoolLayer(nn.Module):
    def __init__(self, f, s):
        super().__init__()
        self.f, self.s = f, s

    def max_pool2d(self, x):
        return x.unfold(2, self.f, self.s).unfold(3, self.f, self.s).amax(dim=(-2, -1))

    def forward(self, x):
        return self.max_pool2d(x)

def max_pool2d_forward(x, f=3, s=2):
    return MaxPoolLayer(f, s)(x)
'''),
    "helper convolution": ("conv2d_forward", C.CONV_BANNED, '''
def convolution(x, w):
    return torch.einsum("nchw,kc->nkhw", x, w)

def conv2d_forward(x, weight, bias, stride, padding):
    cols = F.unfold(x, weight.shape[2:], padding=padding, stride=stride)
    return convolution(cols, weight.reshape(weight.shape[0], -1))
'''),
    "helper dropout_mask": ("dropout_forward", C.DROPOUT_BANNED, '''
def dropout_mask(shape, p, generator):
    return torch.rand(shape, generator=generator) >= p

def dropout_forward(x, p=0.5, training=True, generator=None):
    return x * dropout_mask(x.shape, p, generator) / (1 - p)
'''),
    "own log_softmax": ("softmax", C.SOFTMAX_BANNED, '''
def log_softmax(x, dim):
    return x - torch.logsumexp(x, dim=dim, keepdim=True)

def softmax(x, dim=-1):
    return log_softmax(x, dim).exp()
'''),
    "a method called like the operator on the student's own object": ("relu", C.RELU_BANNED, '''
class Act:
    def relu(self, x):
        return x.clamp(min=0)

ACT = Act()

def relu(x):
    return ACT.relu(x)
'''),
    "numpy windows and einsum": ("conv2d_forward", C.CONV_BANNED, '''
from numpy.lib.stride_tricks import sliding_window_view

def conv2d_forward(x, weight, bias, stride, padding):
    win = sliding_window_view(x.numpy(), weight.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return torch.from_numpy(np.einsum("nchwij,kcij->nkhw", win, weight.numpy()))
'''),
    "library operator only in an unreachable demo": ("relu", C.RELU_BANNED, '''
def demo():
    return F.relu(torch.ones(3))

def relu(x):
    return torch.maximum(x, torch.zeros_like(x))
'''),
    "a later definition replaces an earlier library one": ("relu", C.RELU_BANNED, '''
def relu(x):
    return F.relu(x)

def relu(x):
    return x * (x > 0)
'''),
}


@pytest.mark.parametrize("name", list(OWN_CODE))
def test_names_the_submission_defines_are_its_own(name):
    function, banned, code = OWN_CODE[name]
    assert scan(code, function, banned) == [], name


# --------------------------------------------------------------------------- walking around the rule
EVASIONS = {
    "from another helper": ("max_pool2d_forward", C.POOL_BANNED, "banned", '''
def inner(x):
    return F.max_pool2d(x, 3, 2)

def outer(x):
    return inner(x)

def max_pool2d_forward(x, f=3, s=2):
    return outer(x)
'''),
    "top-level alias": ("max_pool2d_forward", C.POOL_BANNED, "banned", '''
pool = F.max_pool2d

def max_pool2d_forward(x, f=3, s=2):
    return pool(x, f, s)
'''),
    "from-import alias": ("max_pool2d_forward", C.POOL_BANNED, "banned", '''
from torch.nn.functional import max_pool2d as mp

def max_pool2d_forward(x, f=3, s=2):
    return mp(x, f, s)
'''),
    "module alias": ("max_pool2d_forward", C.POOL_BANNED, "banned", '''
import torch.nn.functional as G

def max_pool2d_forward(x, f=3, s=2):
    return G.max_pool2d(x, f, s)
'''),
    "alias of an alias in a class attribute": ("max_pool2d_forward", C.POOL_BANNED, "banned", '''
fn = F
class Layer:
    op = fn.max_pool2d

def max_pool2d_forward(x, f=3, s=2):
    return Layer.op(x, f, s)
'''),
    "default argument": ("relu", C.RELU_BANNED, "banned", '''
def relu(x, act=torch.relu):
    return act(x)
'''),
    "getattr with a constant": ("relu", C.RELU_BANNED, "banned", '''
def relu(x):
    return getattr(torch, "relu")(x)
'''),
    "tensor method": ("softmax", C.SOFTMAX_BANNED, "banned", '''
def softmax(x, dim=-1):
    return x.softmax(dim)
'''),
    "np.pad": ("pad2d", C.PAD_BANNED, "banned", '''
def pad2d(x, p):
    return torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (p, p), (p, p))))
'''),
    "scipy correlate": ("conv2d_forward", C.CONV_BANNED, "banned", '''
import scipy.signal as sig

def conv2d_forward(x, weight, bias, stride, padding):
    return sig.correlate2d(x[0, 0], weight[0, 0], mode="valid")
'''),
    "scipy maximum_filter": ("max_pool2d_forward", C.POOL_BANNED, "banned", '''
from scipy import ndimage

def max_pool2d_forward(x, f=3, s=2):
    return ndimage.maximum_filter(x.numpy(), size=(1, 1, f, f))[:, :, 1::s, 1::s]
'''),
    "scipy softmax": ("softmax", C.SOFTMAX_BANNED, "banned", '''
def softmax(x, dim=-1):
    from scipy.special import softmax as sm
    return torch.from_numpy(sm(x.numpy(), axis=dim))
'''),
    "torch._C._nn": ("max_pool2d_forward", C.POOL_BANNED, "unverifiable", '''
def max_pool2d_forward(x, f=3, s=2):
    return torch._C._nn.max_pool2d_with_indices(x, [f, f], [s, s])[0]
'''),
    "torch.ops.aten": ("max_pool2d_forward", C.POOL_BANNED, "unverifiable", '''
def max_pool2d_forward(x, f=3, s=2):
    return torch.ops.aten.max_pool2d_with_indices(x, [f, f], [s, s])[0]
'''),
    "torch._VF imported": ("max_pool2d_forward", C.POOL_BANNED, "unverifiable", '''
from torch import _VF

def max_pool2d_forward(x, f=3, s=2):
    return _VF.max_pool2d(x, [f, f], [s, s], [0, 0], [1, 1], False)
'''),
    "torch._C._VariableFunctions": ("relu", C.RELU_BANNED, "unverifiable", '''
VF = torch._C._VariableFunctions

def relu(x):
    return VF.clamp_min(x, 0)
'''),
    "module __dict__": ("max_pool2d_forward", C.POOL_BANNED, "unverifiable", '''
def max_pool2d_forward(x, f=3, s=2):
    return torch.nn.functional.__dict__["max_pool2d"](x, f, s)
'''),
    "getattr with a computed name": ("max_pool2d_forward", C.POOL_BANNED, "unverifiable", '''
def max_pool2d_forward(x, f=3, s=2):
    return getattr(F, "max_" + "pool2d")(x, f, s)
'''),
    "vars of the module": ("relu", C.RELU_BANNED, "unverifiable", '''
def relu(x):
    return vars(F)["re" + "lu"](x)
'''),
    "eval": ("relu", C.RELU_BANNED, "unverifiable", '''
def relu(x):
    return eval("F.re" + "lu")(x)
'''),
    "DisableTorchFunction": ("relu", C.RELU_BANNED, "unverifiable", '''
def relu(x):
    with torch._C.DisableTorchFunction():
        return x.clamp(min=0)
'''),
    "DisableTorchFunctionSubclass in a helper": ("softmax", C.SOFTMAX_BANNED, "unverifiable", '''
def quiet(x, dim):
    with torch._C.DisableTorchFunctionSubclass():
        e = (x - x.amax(dim, keepdim=True)).exp()
        return e / e.sum(dim, keepdim=True)

def softmax(x, dim=-1):
    return quiet(x, dim)
'''),
    "_disabled_torch_function_impl": ("relu", C.RELU_BANNED, "unverifiable", '''
class Plain(torch.Tensor):
    __torch_function__ = torch._C._disabled_torch_function_impl

def relu(x):
    return x.as_subclass(Plain).clamp(min=0).as_subclass(torch.Tensor)
'''),
    "globals() rebinding at top level": ("relu", C.RELU_BANNED, "unverifiable", '''
def relu(x):
    return x.clamp(min=0)

globals()["relu"] = F.relu
'''),
    "the reference solution": ("receptive_field", (), "reference", '''
def receptive_field(layers):
    import alexnet_ref
    return alexnet_ref.receptive_field(layers)
'''),
}


@pytest.mark.parametrize("name", list(EVASIONS))
def test_evasions_are_found(name):
    function, banned, kind, code = EVASIONS[name]
    found = scan(code, function, banned)
    assert found and found[0].kind == kind, f"{name}: expected a {kind} finding, got {found}"
    message = " ".join(str(C.policy_failure(function, found)).split())
    assert "[vi]" in message and "[en]" in message and "0 điểm" in message and "scores 0" in message, message
    if kind == "unverifiable":
        assert "cannot verify" in message and "instead" in message.lower() or "Remove it" in message, message


# --------------------------------------------------------------------------- both paths, planted files
def _rule_only(hidden: str) -> str:
    """The imports and forbid(...) calls of a hidden block: the banned-operator rule without the value checks."""
    import ast
    tree = ast.parse(hidden)
    tree.body = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) or (
        isinstance(n, ast.Expr) and getattr(getattr(n.value, "func", None), "id", None) == "forbid")]
    return ast.unparse(tree)


def _policy_verdicts(path):
    """The trusted side's verdict of the rule (forbid with the submission's parsed cells) per test cell."""
    module = load_planted(path)
    functions = student_functions(module)
    nb = incell.notebook(module.ASSIGNMENT)
    namespace = incell.kernel(module.ASSIGNMENT, planted=path)
    trees = policy.parse_cells([path.read_text(encoding="utf-8")])
    out = {}
    for cell in incell.graded_cells(nb):
        if not incell.calls_of(nb, cell) & functions:
            continue
        try:
            with testing.active(testing.Context(cell.grade_id, C.DEFAULT_SEED, trees=trees)):
                exec(_rule_only(cell.hidden), dict(namespace))
            out[cell.grade_id] = ""
        except testing.CheckFailure as err:
            out[cell.grade_id] = M.part(cell.grade_id, err.what, err.text)
    return module, out


@pytest.mark.parametrize("path", [p for p in PLANTED if "forward" not in p.stem], ids=lambda p: p.stem)
def test_trusted_side_and_kernel_agree(path):
    module, static = _policy_verdicts(path)
    for gid, message in static.items():
        kernel = outcome(gid, dict(vars(module)))
        if message:
            assert gid in module.BREAKS, f"{path.name}: {gid} fails the policy on the trusted side:\n{message}"
            assert kernel == message, f"{path.name}: {gid}: the kernel says\n{kernel}\nthe trusted side\n{message}"
        elif kernel is not None:
            assert not any(w in kernel for w in ("0 điểm", "scores 0")), f"{path.name}: {gid}: {kernel}"


def test_correct_planted_files_pass_the_policy():
    for path in sorted((HERE / "correct").glob("*.py")):
        _, static = _policy_verdicts(path)
        failing = {gid: m for gid, m in static.items() if m}
        assert not failing, f"{path.name}: {failing}"


# --------------------------------------------------------------------------- the runtime tripwire
def _pool_case():
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 7)).astype(np.float32)
    return C.Case("max_pool2d_forward", (x,), {}, None, "allclose", {}, "pool")


@pytest.mark.parametrize("fn", [
    lambda x: torch.ops.aten.max_pool2d_with_indices(x, [3, 3], [2, 2])[0],
    lambda x: torch._C._nn.max_pool2d_with_indices(x, [3, 3], [2, 2])[0],
    lambda x: torch._VF.max_pool2d(x, [3, 3], [2, 2], [0, 0], [1, 1], False),
], ids=["ops.aten", "_C._nn", "_VF"])
def test_tripwire_records_executed_aten_operators(fn):
    result = C.call_student(fn, _pool_case(), C.POOL_BANNED)
    assert result[0] == "banned" and "max_pool2d" in result[1], result


def test_tripwire_sees_through_disabled_torch_function():
    def sneaky(x):
        with torch._C.DisableTorchFunction():
            return torch.nn.functional.max_pool2d(x, 3, 2)

    result = C.call_student(sneaky, _pool_case(), C.POOL_BANNED)
    assert result[0] == "banned" and result[1].startswith("aten.max_pool2d"), result
    ok, message = C.compare(_pool_case(), result, show_expected=False)
    assert not ok and "aten.max_pool2d" in message and "[vi]" in message


def test_tripwire_lets_building_blocks_through():
    def pool(x):
        return x.unfold(2, 3, 2).unfold(3, 3, 2).amax(dim=(-2, -1))

    result = C.call_student(pool, _pool_case(), C.POOL_BANNED)
    assert isinstance(result, np.ndarray) and result.shape == (1, 2, 3, 3)


# --------------------------------------------------------------------------- dropout honours the generator
def _dropout_case():
    g = np.random.default_rng(C.DEFAULT_SEED)
    x = (g.uniform(0.5, 3.0, size=(8, 512)) * np.where(g.random((8, 512)) < 0.5, 1.0, -1.0)).astype(np.float32)
    return C.Case("dropout_forward", (x,), {"training": True, "generator": C.Gen(12345)}, None, "dropout_generator",
                  {}, "dropout_forward(x of shape (8, 512), p=0.5, training=True, generator)")


@pytest.mark.parametrize("name,fn,key", [
    ("fixed mask", lambda x, p=0.5, training=True, generator=None:
        x * (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) >= p) / (1 - p), "seeds"),
    ("global generator", lambda x, p=0.5, training=True, generator=None:
        x * (torch.rand(x.shape) >= p) / (1 - p), "same state"),
    ("one row repeated", lambda x, p=0.5, training=True, generator=None:
        x * (torch.rand(x.shape[-1], generator=generator) >= p) / (1 - p), "repeats"),
])
def test_dropout_must_honour_the_generator(name, fn, key):
    case = _dropout_case()
    ok, message = C.compare(case, C.call_student(fn, case, C.DROPOUT_BANNED), show_expected=False)
    assert not ok and key in " ".join(message.split()), f"{name}: {message}"


def test_dropout_reseeding_every_call_gives_the_same_mask_twice():
    def reseeds(x, p=0.5, training=True, generator=None):
        generator.manual_seed(7)
        return x * (torch.rand(x.shape, generator=generator) >= p) / (1 - p)

    case = _dropout_case()
    ok, message = C.compare(case, C.call_student(reseeds, case, C.DROPOUT_BANNED), show_expected=False)
    assert not ok and "gave the same mask" in " ".join(message.split()), message


def test_dropout_drawn_from_the_generator_passes():
    def honest(x, p=0.5, training=True, generator=None):
        return x * (torch.rand(x.shape, generator=generator) >= p) / (1 - p)

    case = _dropout_case()
    assert C.compare(case, C.call_student(honest, case, C.DROPOUT_BANNED), show_expected=False) == (True, "ok")


# --------------------------------------------------------------------------- no expected value in feedback
def _renders(value) -> set[str]:
    """Ways an expected value could be printed."""
    out = set()
    if isinstance(value, (bool, np.bool_)):
        return out
    if isinstance(value, (int, np.integer)):
        out |= {str(int(value)), f"{int(value):,}", f"{int(value):_}", f"{float(value):g}", f"{int(value):.3e}"}
    elif isinstance(value, (float, np.floating)):
        v = float(value)
        out |= {repr(v), str(v), f"{v:g}", f"{v:.7g}", f"{v:.6g}", f"{v:.4g}", f"{v:e}", f"{v:.3e}"}
    elif isinstance(value, (tuple, list)):
        out |= {repr(tuple(value)), repr(list(value)), str(tuple(value)), " x ".join(map(str, value)),
                "×".join(map(str, value))}
    return {r for r in out if len(r.strip("-0.")) >= 2}


def _wrong(case):
    """A plausible wrong answer for ``case`` and the values it must not reveal."""
    e = case.expected
    if case.kind == "exact":
        if isinstance(e, bool):
            return (not e), set()
        if isinstance(e, (int, float)):
            return e + 1 if e != -1 else 3, _renders(e)
        if isinstance(e, (tuple, list)):
            flat = np.asarray(e).reshape(-1).tolist() if not any(isinstance(v, (list, tuple)) for v in e) else list(e)
            wrong = [v + 1 if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in flat]
            return wrong, _renders(list(e)) | set().union(*(_renders(v) for v in flat if not isinstance(v, list)))
    if case.kind == "shape":
        e = tuple(e)
        return np.zeros(tuple(d + 1 for d in e)), _renders(e)
    if case.kind in ("allclose", "probs"):
        e = np.asarray(e, dtype=np.float64)
        wrong = e * 1.5 + 0.25
        flat = np.abs(wrong - e).reshape(-1)
        idx = int(np.argmax(flat)) if flat.size else 0
        secret = _renders(float(e.reshape(-1)[idx])) if e.size else set()
        return wrong, secret
    if case.kind == "device":
        return {"result": "cpu" if e != "cpu" else "meta", "computed": {}}, set()
    return None, set()


def _wrong_result(value, shape_only: bool):
    """A plausible wrong result (shape or values off) and the renders of the true value it must not reveal."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        e = value.detach().double().numpy()
        if shape_only:
            return torch.zeros(tuple(d + 1 for d in e.shape)), _renders(tuple(e.shape))
        case = C.Case("f", (), {}, e, "allclose", {}, "")
        wrong, secrets = _wrong(case)
        return torch.from_numpy(wrong), secrets
    if isinstance(value, (bool, int, float, tuple, list)) and not isinstance(value, torch.Tensor):
        return _wrong(C.Case("f", None, {}, value, "exact", {}, ""))
    return value, set()


def _hidden_with_wrong_student(aid: str, cell) -> tuple[str | None, set]:
    """Run the hidden block of ``cell`` against the solution with every result made wrong."""
    nb = incell.notebook(aid)
    namespace = incell.kernel(aid)
    last = {"secrets": set()}
    shape_only = cell.grade_id.endswith("_shape")

    def wrong(fn):
        def call(*args, **kwargs):
            result, last["secrets"] = _wrong_result(fn(*args, **kwargs), shape_only)
            return result
        return call

    for name in incell.solution_functions(nb):
        namespace[name] = wrong(namespace[name])
    for name in incell.calls_of(nb, cell) - incell.solution_functions(nb):
        namespace[name], last["secrets"] = _wrong_result(namespace[name], False)
    message = incell.run_cell(cell, namespace, hidden_only=True)
    return message, last["secrets"]


def _value_cells():
    """Test cells of the forward layers (the backward exercises return several gradients, not perturbed here)."""
    for aid in C.ASSIGNMENTS:
        if aid == "forward_gpu" or aid.startswith("bw_"):
            continue
        for cell in incell.graded_cells(incell.notebook(aid)):
            if not cell.grade_id.endswith("_errors") and "dropout" not in cell.grade_id and "top_k" not in cell.grade_id:
                yield pytest.param(aid, cell, id=cell.grade_id)


@pytest.mark.parametrize("aid, cell", list(_value_cells()))
def test_wrong_answers_never_show_the_expected_value(aid, cell):
    message, secrets = _hidden_with_wrong_student(aid, cell)
    assert message is not None, f"{cell.grade_id}: a wrong answer passed the hidden tests"
    text = message.partition("\n")[2] or message    # the first line says what was checked (its inputs), the rest how it failed
    leaked = [s for s in secrets if re.search(r"(?<![\d.])" + re.escape(s) + r"(?![\d])", text)]
    assert not leaked, f"{cell.grade_id}: the message shows the expected value {leaked}:\n{message}"
    assert "[vi]" in message and "[en]" in message, message


def test_named_examples_of_the_issue():
    norm1 = incell.run("norm1", overrides={"NORM1_SHAPE": (55, 55, 95)}, only={"test_norm1_shape"},
                       hidden_only=True)["test_norm1_shape"]
    text = " ".join(str(norm1).split())
    assert "(55, 55, 96)" not in text and "96" not in text and "element 2" in text, text
    message = incell.run("norm1", overrides={"TORCH_ALPHA": 1e-4}, only={"test_torch_alpha"},
                         hidden_only=True)["test_torch_alpha"]
    assert "0.0005" not in message and "5e-04" not in message and "0.0001" in message, message
    alpha = C.Case("TORCH_ALPHA", None, {}, 5e-4, "exact", C.EXACT_FLOAT, "TORCH_ALPHA")
    ok, message = C.compare(alpha, 1e-4, show_expected=True)
    assert not ok and "0.0005" in message, message


def test_show_expected_is_read_from_the_course_config(tmp_path):
    assert M.show_expected(tmp_path) is False
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.CourseGrader.show_expected = True\n")
    sub = tmp_path / "autograded" / "ana"
    sub.mkdir(parents=True)
    assert M.show_expected(sub) is True
    M._show_expected_in.cache_clear()


def test_repository_config_keeps_expected_values_hidden():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    assert "c.CourseGrader.show_expected = False" in (root / "nbgrader_config.py").read_text(encoding="utf-8")
    assert M.show_expected(root) is False


# --------------------------------------------------------------------------- one bilingual catalogue
VI_LETTERS = set("ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")


def _fields(text):
    return {m.split("!")[0].split(":")[0] for m in re.findall(r"{([^{}]+)}", text)}


@pytest.mark.parametrize("key", list(M.CATALOGUE))
def test_every_message_is_in_both_languages(key):
    entry = M.CATALOGUE[key]
    assert set(entry) == {"vi", "en"}, key
    assert VI_LETTERS & set(entry["vi"].lower()), f"{key}: the Vietnamese text has no Vietnamese letters"
    strip = {f.replace("_vi", "").replace("_en", "") for f in _fields(entry["vi"])}
    assert strip == {f.replace("_vi", "").replace("_en", "") for f in _fields(entry["en"])}, key


def test_messages_are_wrapped_and_name_the_function():
    module = load_planted(HERE / "wrong" / "pool_getattr_concat.py")
    message = outcome("test_max_pool2d_forward_values", dict(vars(module)))
    lines = message.splitlines()
    assert max(len(line) for line in lines) <= M.WIDTH, message
    assert lines[0].startswith("test_max_pool2d_forward_values") and "max_pool2d_forward" in lines[1], message
    assert re.search(r"\bcell \d", message) is None, message


def test_banned_text_describes_every_list():
    lists = {name for name in dir(C) if name.endswith("_BANNED") and isinstance(getattr(C, name), tuple)}
    assert lists == set(C.BANNED_TEXT), lists ^ set(C.BANNED_TEXT)
    for name, text in C.BANNED_TEXT.items():
        assert set(text) == {"vi", "en"} and VI_LETTERS & set(text["vi"].lower()), name
    used = {m.group(1) for aid in C.ASSIGNMENTS for cell in incell.graded_cells(incell.notebook(aid))
            for m in re.finditer(r"forbid\(\"\w+\", (\w+)\)", cell.hidden)}
    assert used and used <= lists, used - lists


def test_tolerance_ratio_is_reported():
    case = C.Case("f", (), {}, np.array([1.0, 2.0]), "allclose", C.ONE_LAYER, "f")
    ok, message = C.compare(case, np.array([1.0, 2.5]), show_expected=False)
    ratio = 0.5 / (1e-5 * 2.0 + 1e-4 * 2.0)
    assert not ok and f"{ratio:.3g}" in message and math.isfinite(ratio)


# --------------------------------------------------------------------------- through the sandboxed grader
def _planted_body(name: str, function: str) -> str:
    """The planted file as one solution cell (its module-level constants dropped)."""
    text = (HERE / name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith(("ASSIGNMENT", "BREAKS")))


def test_sandboxed_grader_applies_the_same_policy(tmp_path):
    from tests.grader_course import make_course, make_submission, require_sandbox
    require_sandbox()
    from course_grader.grade import grade_assignment
    from course_grader.sandbox import Limits

    root = make_course(tmp_path / "course")
    make_submission(root, "own_helper", overrides={
        "conv2d_forward": _planted_body("correct/conv2d_convolution_helper.py", "conv2d_forward")})
    make_submission(root, "evader", overrides={
        "relu": _planted_body("wrong/relu_disabled_impl.py", "relu")})
    make_submission(root, "aliased", overrides={
        "conv2d_forward": _planted_body("wrong/conv2d_alias.py", "conv2d_forward")})
    result = grade_assignment("conv1", root=root, workers=1, limits=Limits(part_s=30.0, cells_s=30.0),
                              feedback=False, progress=False)
    verdicts = result["verdicts"]
    own = verdicts["own_helper"]
    assert own.score == own.max_score, [(p.grade_id, p.message) for p in own.parts if p.score < p.points]
    for student, broken in (("evader", {"test_relu_values", "test_relu_errors"}),
                            ("aliased", {"test_conv2d_forward_shape", "test_conv2d_forward_values",
                                         "test_conv2d_forward_errors"})):
        failed = {p.grade_id: p.message for p in verdicts[student].parts if p.score < p.points}
        assert set(failed) == broken, (student, failed)
        for gid, message in failed.items():
            flat = " ".join(message.split())
            assert "[vi]" in flat and "0 điểm" in flat and "scores 0" in flat, message


def test_kernel_check_reads_the_cells_ipython_ran():
    """Under nbgrader the test cell (hidden block included) runs in IPython: forbid() reads the cells from ``In``."""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        shell.run_cell("import torch\nimport torch.nn.functional as F\n%matplotlib --list\n", store_history=True)
        shell.run_cell("pool = F.max_pool2d\n", store_history=True)
        shell.run_cell(_planted_body("correct/pool_maxpool_layer.py", "max_pool2d_forward"), store_history=True)
        code = next(c.code for c in incell.graded_cells(incell.notebook("pool1"))
                    if c.grade_id == "test_max_pool2d_forward_values")
        ok = shell.run_cell(code, store_history=True)
        assert ok.error_in_exec is None, ok.error_in_exec
        shell.run_cell("def helper(x, f, s):\n    return pool(x, f, s)\n\n"
                       "def max_pool2d_forward(x, f=3, s=2):\n    return helper(x, f, s)\n", store_history=True)
        bad = shell.run_cell(code, store_history=True)
        message = " ".join(str(bad.error_in_exec).split())
        assert isinstance(bad.error_in_exec, AssertionError) and "pool (torch.nn.functional.max_pool2d)" in message, \
            message
    finally:
        InteractiveShell.clear_instance()


def test_switching_dispatch_off_is_flagged_for_the_instructor():
    from course_grader import flags
    found = flags.scan_source("import torch\n\ndef relu(x):\n    with torch._C.DisableTorchFunction():\n"
                              "        return x.clamp(min=0)\n", "relu")
    assert [f["line"] for f in found if "dispatch switched off" in f["what"]] == [4], found
    assert not flags.scan_source("def relu(x):\n    return x.clamp(min=0)\n", "relu")
