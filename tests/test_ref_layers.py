"""alexnet_ref.layers against independent float64 loops and torch.nn.functional."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import alexnet_ref as A
from tests.oracles import assert_close_layer, conv2d_loop, linear_loop, lrn_loop, max_pool_loop


# ---- convolution -----------------------------------------------------------------------------

@pytest.mark.parametrize("n,c,h,w,k,f,s,p", [
    (2, 3, 9, 7, 4, 3, 2, 1),     # non-square, batched, padded, strided
    (1, 2, 11, 11, 3, 5, 1, 2),   # CONV2's padding
    (3, 3, 19, 23, 2, 11, 4, 0),  # CONV1's filter and stride on a small non-square map
])
def test_conv2d_matches_float64_loop(n, c, h, w, k, f, s, p):
    x = torch.randn(n, c, h, w, dtype=torch.float64)
    weight = torch.randn(k, c, f, f, dtype=torch.float64)
    bias = torch.randn(k, dtype=torch.float64)
    out = A.conv2d_forward(x, weight, bias, s, p)
    assert_close_layer(out, conv2d_loop(x, weight, bias, s, p), rtol=1e-10, atol_rel=1e-12)


def test_conv2d_is_cross_correlation_not_convolution():
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 0, 0] = 1.0
    weight = torch.arange(9.0).view(1, 1, 3, 3)        # asymmetric kernel
    out = A.conv2d_forward(x, weight, None, 1, 0)
    assert out.item() == 0.0                             # kernel[0, 0] meets x[0, 0]; flipped would give 8


def test_conv2d_matches_functional_float32():
    x = torch.randn(4, 5, 13, 10) * 100
    weight = torch.randn(6, 5, 3, 3)
    bias = torch.randn(6)
    out = A.conv2d_forward(x, weight, bias, 1, 1)
    assert_close_layer(out, F.conv2d(x.double(), weight.double(), bias.double(), padding=1))


def test_conv2d_without_bias():
    x, weight = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    assert torch.equal(A.conv2d_forward(x, weight, None, 1, 0), F.conv2d(x, weight))


@pytest.mark.parametrize("x,weight,bias,s,p,fragment", [
    ((3, 9, 9), (4, 3, 3, 3), (4,), 1, 0, "x must have shape [N, C, H, W], got shape (3, 9, 9)"),
    ((1, 3, 9, 9), (4, 2, 3, 3), (4,), 1, 0, "weight expects 2 input channels"),
    ((1, 3, 9, 9), (4, 3, 3, 3), (5,), 1, 0, "bias must have shape (4,), got (5,)"),
    ((1, 3, 10, 10), (4, 3, 3, 3), (4,), 2, 0, "is not a whole number"),
    ((1, 3, 2, 2), (4, 3, 3, 3), (4,), 1, 0, "larger than the padded input"),
])
def test_conv2d_errors(x, weight, bias, s, p, fragment):
    with pytest.raises(ValueError) as err:
        A.conv2d_forward(torch.randn(x), torch.randn(weight), torch.randn(bias), s, p)
    assert "conv2d_forward" in str(err.value) and fragment in str(err.value)


def test_conv2d_rejects_integer_tensors():
    with pytest.raises(ValueError, match="floating-point"):
        A.conv2d_forward(torch.ones(1, 1, 3, 3, dtype=torch.int64), torch.ones(1, 1, 3, 3), None, 1, 0)


# ---- ReLU ------------------------------------------------------------------------------------

def test_relu():
    x = torch.randn(3, 4, 5, 6)
    assert torch.equal(A.relu(x), F.relu(x))
    assert A.relu(torch.tensor([-0.0, -1e-30, 2.0])).tolist() == [0.0, 0.0, 2.0]


def test_relu_error():
    with pytest.raises(ValueError, match="relu: x must be a torch.Tensor, got list"):
        A.relu([1.0, -1.0])


# ---- LRN -------------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [1, 2, 3, 7, 96])
def test_lrn_matches_the_formula_loop_including_channel_edges(channels):
    a = torch.rand(2, channels, 3, 4, dtype=torch.float64) * 500   # raw-pixel scale: LRN bugs show
    assert_close_layer(A.local_response_norm(a), lrn_loop(a), rtol=1e-10, atol_rel=1e-12)


@pytest.mark.parametrize("n,k,alpha,beta", [(3, 1.0, 1e-3, 0.5), (7, 2.0, 1e-4, 0.75), (4, 2.0, 1e-4, 1.0)])
def test_lrn_other_hyper_parameters(n, k, alpha, beta):
    a = torch.randn(2, 9, 3, 3, dtype=torch.float64) * 300
    out = A.local_response_norm(a, n=n, k=k, alpha=alpha, beta=beta)
    assert_close_layer(out, lrn_loop(a, n, k, alpha, beta), rtol=1e-10, atol_rel=1e-12)


def test_lrn_equals_torch_with_alpha_times_n():
    a = torch.rand(2, 16, 7, 5) * 1000
    ref = torch.nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)(a.double())
    assert_close_layer(A.local_response_norm(a), ref)


def test_lrn_oracle_distinguishes_the_alpha_over_n_convention():
    """The check above would fail for torch's convention with alpha=1e-4 (alpha divided by n)."""
    a = torch.rand(1, 16, 4, 4, dtype=torch.float64) * 1000
    wrong = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2)(a)
    rel = ((wrong - A.local_response_norm(a)).abs().max() / A.local_response_norm(a).abs().max()).item()
    assert rel > 0.1


def test_lrn_float32_close_to_float64():
    a = torch.rand(2, 96, 11, 13, dtype=torch.float64) * 300
    assert_close_layer(A.local_response_norm(a.float()), A.local_response_norm(a))


@pytest.mark.parametrize("bad,fragment", [
    (torch.randn(96, 5, 5), "a must have shape [N, C, H, W], got shape (96, 5, 5)"),
    (torch.ones(1, 4, 2, 2, dtype=torch.int32), "floating-point"),
])
def test_lrn_errors(bad, fragment):
    with pytest.raises(ValueError) as err:
        A.local_response_norm(bad)
    assert "local_response_norm" in str(err.value) and fragment in str(err.value)


def test_lrn_rejects_bad_window():
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        A.local_response_norm(torch.randn(1, 4, 2, 2), n=0)


# ---- max pooling -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape,f,s", [((2, 3, 11, 9), 3, 2), ((1, 4, 13, 13), 3, 2), ((3, 2, 8, 6), 2, 2)])
def test_max_pool_matches_loop_and_functional(shape, f, s):
    x = torch.randn(shape, dtype=torch.float64) * 10
    out = A.max_pool2d_forward(x, f, s)
    assert_close_layer(out, max_pool_loop(x, f, s), rtol=0, atol_rel=0)
    assert torch.equal(out, F.max_pool2d(x, f, s))


def test_max_pool_overlaps():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0                    # the centre belongs to all four overlapping 3x3 windows
    assert A.max_pool2d_forward(x).flatten().tolist() == [1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("shape,f,s,fragment", [
    ((3, 9, 9), 3, 2, "x must have shape [N, C, H, W], got shape (3, 9, 9)"),
    ((1, 3, 10, 9), 3, 2, "(10 - 3 + 2*0)/2 + 1 = 4.5 is not a whole number"),
])
def test_max_pool_errors(shape, f, s, fragment):
    with pytest.raises(ValueError) as err:
        A.max_pool2d_forward(torch.randn(shape), f, s)
    assert "max_pool2d_forward" in str(err.value) and fragment in str(err.value)


# ---- fully connected -------------------------------------------------------------------------

def test_linear_matches_loop_and_functional():
    x, w, b = torch.randn(5, 17, dtype=torch.float64), torch.randn(7, 17, dtype=torch.float64), torch.randn(7)
    out = A.linear_forward(x, w, b.double())
    assert_close_layer(out, linear_loop(x, w, b), rtol=1e-10, atol_rel=1e-12)
    x32, w32 = x.float() * 100, w.float()
    assert_close_layer(A.linear_forward(x32, w32, b), F.linear(x32.double(), w32.double(), b.double()))


def test_linear_square_weight_orientation():
    x = torch.tensor([[1.0, 0.0]])
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert A.linear_forward(x, w, None).tolist() == [[1.0, 3.0]]   # x W^T, not x W ([[1, 2]])


@pytest.mark.parametrize("x,w,b,fragment", [
    ((9216,), (4096, 9216), (4096,), "x must have shape [N, in], got shape (9216,)"),
    ((2, 9216), (9216, 4096), (4096,), "weight shape (9216, 4096) expects 4096 input features"),
    ((2, 10), (4, 10), (5,), "bias must have shape (4,), got (5,)"),
])
def test_linear_errors(x, w, b, fragment):
    with pytest.raises(ValueError) as err:
        A.linear_forward(torch.randn(x), torch.randn(w), torch.randn(b))
    assert "linear_forward" in str(err.value) and fragment in str(err.value)


# ---- dropout ---------------------------------------------------------------------------------

def test_dropout_statistics_and_scaling():
    x = torch.rand(200, 500) + 0.5
    out = A.dropout_forward(x, p=0.3, training=True, generator=torch.Generator().manual_seed(1))
    dropped = out == 0
    frac = dropped.double().mean().item()
    assert abs(frac - 0.3) < 5 * (0.3 * 0.7 / x.numel()) ** 0.5
    torch.testing.assert_close(out[~dropped], x[~dropped] / 0.7)
    assert abs(out.mean().item() - x.mean().item()) < 0.01     # inverted dropout keeps the mean


def test_dropout_eval_is_identity_and_generator_is_deterministic():
    x = torch.randn(4, 8)
    assert A.dropout_forward(x, 0.5, training=False) is x
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(A.dropout_forward(x, 0.5, True, g1), A.dropout_forward(x, 0.5, True, g2))
    assert torch.equal(A.dropout_forward(x, 1.0), torch.zeros_like(x))
    assert A.dropout_forward(x, 0.0) is x


def test_dropout_error():
    with pytest.raises(ValueError, match=r"dropout_forward: p must be in \[0, 1\], got 1.5"):
        A.dropout_forward(torch.randn(3), p=1.5)


# ---- softmax ---------------------------------------------------------------------------------

def test_softmax_matches_torch_and_sums_to_one():
    x = torch.randn(6, 10, dtype=torch.float64) * 5
    torch.testing.assert_close(A.softmax(x), torch.softmax(x, -1))
    torch.testing.assert_close(A.softmax(x, dim=0), torch.softmax(x, 0))
    torch.testing.assert_close(A.softmax(x).sum(-1), torch.ones(6, dtype=torch.float64))


def test_softmax_huge_logits_do_not_overflow():
    x = torch.tensor([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4]])
    out = A.softmax(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]))


def test_softmax_error():
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range for x of shape \(2, 3\)"):
        A.softmax(torch.randn(2, 3), dim=2)
