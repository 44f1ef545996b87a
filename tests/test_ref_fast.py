"""alexnet_ref.fast (the speed work) computes what the plain teaching path computes."""
import inspect

import pytest
import torch

import alexnet_ref as A
from alexnet_ref import fast, layers, model as model_module

# Whole-network tolerance of the measured facts on float32 logits: rtol=1e-4, atol=3e-5·max|ref|.
RTOL, ATOL_REL = 1e-4, 3e-5


def assert_logits_close(actual, expected, tight=False):
    scale = expected.abs().max().item()
    rtol, atol_rel = (1e-10, 1e-12) if tight else (RTOL, ATOL_REL)
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol_rel * scale)


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 3, 227, 227, generator=torch.Generator().manual_seed(1)) * 20


@pytest.fixture(scope="module")
def pair():
    """The same network twice: fast (the default) and plain."""
    return A.AlexNet(), A.AlexNet(fast=False)


@pytest.mark.parametrize("grouped", [False, True])
def test_fast_module_equals_plain_module_in_evaluation(images, grouped, pair):
    quick, plain = pair if not grouped else (A.AlexNet(grouped=True), A.AlexNet(grouped=True, fast=False))
    quick.eval(), plain.eval()
    assert quick.fast and not plain.fast
    x = images.clone()
    with torch.no_grad():
        got, want = quick.logits(x), plain.logits(x)
    assert torch.equal(x, images), "the in-place work must never touch the caller's input"
    assert_logits_close(got, want)
    assert torch.equal(got.argmax(1), want.argmax(1))


def test_fast_module_equals_plain_module_in_float64(images):
    quick, plain = A.AlexNet().double().eval(), A.AlexNet(fast=False).double().eval()
    with torch.inference_mode():
        assert_logits_close(quick.logits(images[:1].double()), plain.logits(images[:1].double()), tight=True)


def test_fast_module_applies_the_same_dropout_in_training(images, pair):
    quick, plain = (net.train() for net in pair)
    with torch.no_grad():
        torch.manual_seed(5)
        got = quick.logits(images[:1])
        torch.manual_seed(5)
        want = plain.logits(images[:1])
        torch.manual_seed(6)
        other = plain.logits(images[:1])
    assert_logits_close(got, want)
    assert not torch.allclose(got, other)                  # dropout is really on


def test_fast_module_gives_the_plain_gradients(images, pair):
    """Autograd through the fast path (nothing in place while it records) = through the plain one."""
    grads = []
    for net in pair:
        net.eval().zero_grad()
        loss, _ = A.softmax_cross_entropy(net.logits(images[:1]), torch.tensor([3]))
        loss.backward()
        grads.append({name: p.grad.clone() for name, p in net.named_parameters()})
    for name, g in grads[0].items():
        want = grads[1][name]
        torch.testing.assert_close(g, want, rtol=1e-4, atol=1e-4 * want.abs().max().item(),
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("grouped", [False, True])
def test_functional_logits_equal_the_plain_stage_walk(images, grouped):
    params = A.init_params(grouped)
    x = images.clone()
    *_, (name, plain) = A.alexnet_stages(x, params, grouped=grouped)
    assert name == "fc8"
    assert_logits_close(A.alexnet_logits(x, params, grouped=grouped), plain)
    assert torch.equal(x, images)


@pytest.mark.parametrize("n,k,alpha,beta", [(5, 2.0, 1e-4, 0.75), (3, 1.0, 1e-3, 0.5), (4, 2.0, 1e-4, 1.0)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_fast_lrn_equals_the_formula(n, k, alpha, beta, layout, monkeypatch):
    monkeypatch.setattr(fast, "LRN_CHUNK", 3 * 7 * 5 * 2)   # two images per chunk: 5 images = 3 chunks
    a = (torch.rand(5, 7, 5, 3, dtype=torch.float64) * 300).contiguous(memory_format=layout)
    want = A.local_response_norm(a, n, k, alpha, beta)
    torch.testing.assert_close(fast.local_response_norm(a, n, k, alpha, beta), want, rtol=1e-12, atol=0)
    b = a.clone()
    assert fast.local_response_norm(b, n, k, alpha, beta, inplace=True) is b
    torch.testing.assert_close(b, want, rtol=1e-12, atol=0)
    leaf = a.clone().requires_grad_()
    out = fast.local_response_norm(leaf, n, k, alpha, beta, inplace=True)   # records: out of place
    torch.testing.assert_close(out, want, rtol=1e-12, atol=0)
    dout = torch.randn(a.shape, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(out, leaf, dout)[0],
                               A.local_response_norm_backward(dout, a, n, k, alpha, beta), rtol=1e-10, atol=1e-15)


def test_fast_lrn_float32_close_to_float64():
    a = torch.rand(3, 96, 11, 13, dtype=torch.float64) * 300
    want = A.local_response_norm(a)
    torch.testing.assert_close(fast.local_response_norm(a.float()).double(), want, rtol=1e-5,
                               atol=1e-6 * want.abs().max().item())


def test_fast_lrn_keeps_the_error_contract():
    with pytest.raises(ValueError, match=r"local_response_norm: a must have shape \[N, C, H, W\]"):
        fast.local_response_norm(torch.randn(4, 3, 3))


def test_fast_pool_relu_and_layout_are_exact():
    x = torch.randn(3, 8, 27, 27)
    assert torch.equal(fast.max_pool2d(x, 3, 2), A.max_pool2d_forward(x, 3, 2))
    assert fast.max_pool2d(x, 3, 2).is_contiguous()
    for size in (5, 55):
        y = torch.randn(1, 4, size, size)
        assert torch.equal(fast.conv_layout(y), y)
    assert fast.conv_layout(torch.randn(1, 4, 55, 55)).is_contiguous(memory_format=torch.channels_last)
    r = torch.randn(4, 5)
    want = A.relu(r)
    assert torch.equal(fast.relu_(r), want) and torch.equal(r, want)     # in place
    leaf = torch.randn(4, 5, requires_grad=True)
    assert torch.equal(fast.relu_(leaf), A.relu(leaf)) and leaf.grad_fn is None


def test_the_teaching_path_has_no_speed_tricks():
    """The speed work lives in alexnet_ref.fast only: layers.py and the model's plain forward stay plain."""
    plain = inspect.getsource(layers) + inspect.getsource(model_module.AlexNet.logits).split("if self.fast:")[0] \
        + inspect.getsource(model_module.alexnet_stages)
    plain_forward = inspect.getsource(model_module.AlexNet.logits).split("return _fast.alexnet_logits")[1]
    for trick in ("channels_last", "rsqrt", "out=", "_(", "LRN_CHUNK"):
        assert trick not in plain, trick
        assert trick not in plain_forward, trick
