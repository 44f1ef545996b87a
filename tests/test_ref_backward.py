"""alexnet_ref.backward against autograd (float64) and centred-difference numerical gradients."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import alexnet_ref as A

F64 = torch.float64


def rel_error(x, y) -> float:
    """CS231n's relative error: max |x - y| / max(1e-8, |x| + |y|), element by element."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    assert x.shape == y.shape, f"shape {x.shape} != {y.shape}"
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numerical_gradient(f, x: torch.Tensor, dout: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    """d/dx of sum(f(x) * dout) by centred differences, one element of x at a time.

    As in CS231n, the two outputs are subtracted before they meet dout, which keeps the
    rounding error of a large sum out of the difference.  x is modified and restored.
    """
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        plus = f(x).clone()
        flat[i] = old - h
        minus = f(x).clone()
        flat[i] = old
        gflat[i] = ((plus - minus) * dout).sum().item() / (2 * h)
    return grad


def autograd(f, inputs, dout):
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    return torch.autograd.grad(f(*leaves), leaves, dout)


def distinct(*shape, spacing=0.01):
    """Values that differ by at least `spacing` (no ties, no kinks within a finite-difference step)."""
    count = int(np.prod(shape))
    return (torch.randperm(count, dtype=F64) - count / 2).mul_(spacing).view(shape)


# ---- ReLU ------------------------------------------------------------------------------------

def test_relu_backward_against_autograd_and_numerical():
    x = distinct(2, 3, 5, 4) + 0.005                        # no element at the kink
    dout = torch.randn(x.shape, dtype=F64)
    dx = A.relu_backward(dout, x)
    for f in (A.relu, F.relu):
        assert rel_error(dx, autograd(f, [x], dout)[0]) < 1e-12
    assert rel_error(dx, numerical_gradient(A.relu, x.clone(), dout, h=1e-4)) < 1e-8


def test_relu_backward_is_zero_at_the_kink_as_torch():
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=F64)
    dout = torch.ones(3, dtype=F64)
    assert A.relu_backward(dout, x).tolist() == [0.0, 0.0, 1.0]
    for forward in (F.relu, A.relu, A.fast.relu_):       # the reference's forwards agree with it
        assert autograd(forward, [x], dout)[0].tolist() == [0.0, 0.0, 1.0]


# ---- convolution -----------------------------------------------------------------------------

CONV_CASES = [
    (2, 3, 9, 7, 4, 3, 2, 1),     # non-square, batched, padded, strided
    (1, 2, 8, 8, 3, 5, 1, 2),     # CONV2's filter and padding
    (2, 3, 19, 15, 2, 11, 4, 0),  # CONV1's filter and stride
    (3, 2, 6, 5, 2, 3, 1, 1),     # CONV3-5's 3x3, padding 1
    (1, 1, 9, 6, 1, 3, 3, 0),     # stride equal to the filter: windows do not overlap
]


@pytest.mark.parametrize("n,c,h,w,k,f,s,p", CONV_CASES)
def test_conv2d_backward_against_autograd(n, c, h, w, k, f, s, p):
    x, weight, bias = (torch.randn(n, c, h, w, dtype=F64), torch.randn(k, c, f, f, dtype=F64),
                       torch.randn(k, dtype=F64))
    out = A.conv2d_forward(x, weight, bias, s, p)
    dout = torch.randn(out.shape, dtype=F64)
    mine = A.conv2d_backward(dout, x, weight, s, p)
    assert [t.shape for t in mine] == [x.shape, weight.shape, bias.shape]
    for forward in (lambda x, w, b: A.conv2d_forward(x, w, b, s, p),
                    lambda x, w, b: F.conv2d(x, w, b, stride=s, padding=p)):
        for got, want in zip(mine, autograd(forward, [x, weight, bias], dout)):
            assert rel_error(got, want) < 1e-10


@pytest.mark.parametrize("n,c,h,w,k,f,s,p", CONV_CASES[:2] + CONV_CASES[3:])
def test_conv2d_backward_against_numerical_gradient(n, c, h, w, k, f, s, p):
    x, weight, bias = (torch.randn(n, c, h, w, dtype=F64), torch.randn(k, c, f, f, dtype=F64),
                       torch.randn(k, dtype=F64))
    dout = torch.randn(A.conv2d_forward(x, weight, bias, s, p).shape, dtype=F64)
    dx, dweight, dbias = A.conv2d_backward(dout, x, weight, s, p)
    assert rel_error(dx, numerical_gradient(lambda t: A.conv2d_forward(t, weight, bias, s, p), x, dout)) < 1e-7
    assert rel_error(dweight, numerical_gradient(lambda t: A.conv2d_forward(x, t, bias, s, p), weight, dout)) < 1e-7
    assert rel_error(dbias, numerical_gradient(lambda t: A.conv2d_forward(x, weight, t, s, p), bias, dout)) < 1e-7


def test_conv2d_backward_weight_is_not_transposed():
    """A weight gradient with the roles of the two kernel axes swapped must not pass."""
    x = torch.randn(2, 3, 7, 6, dtype=F64)
    weight = torch.randn(4, 3, 3, 3, dtype=F64)
    dout = torch.randn(2, 4, 5, 4, dtype=F64)
    dweight = A.conv2d_backward(dout, x, weight, 1, 0)[1]
    assert rel_error(dweight.transpose(2, 3), autograd(lambda w: F.conv2d(x, w), [weight], dout)[0]) > 1e-2


# ---- LRN -------------------------------------------------------------------------------------

LRN_SCALES = {"raw pixels 0..255": lambda s: torch.rand(s, dtype=F64) * 255,
              "small": lambda s: torch.randn(s, dtype=F64) * 0.1}
# Finite-difference step per scale: about 1e-5 of the values, so that neither rounding
# (outputs ~1, gradients ~1e-4 at raw-pixel scale) nor curvature dominates.
LRN_STEP = {"raw pixels 0..255": 1e-3, "small": 1e-5}


@pytest.mark.parametrize("scale", LRN_SCALES)
@pytest.mark.parametrize("channels", [1, 2, 3, 7, 12])
def test_lrn_backward_against_autograd_including_channel_edges(scale, channels):
    a = LRN_SCALES[scale]((2, channels, 3, 4))
    dout = torch.randn(a.shape, dtype=F64)
    da = A.local_response_norm_backward(dout, a)
    torch_lrn = torch.nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)   # torch divides alpha by n
    for forward in (A.local_response_norm, torch_lrn):
        assert rel_error(da, autograd(forward, [a], dout)[0]) < 1e-10


@pytest.mark.parametrize("scale", LRN_SCALES)
@pytest.mark.parametrize("n,k,alpha,beta", [(5, 2.0, 1e-4, 0.75), (3, 1.0, 1e-3, 0.5), (4, 2.0, 1e-4, 1.0)])
def test_lrn_backward_against_numerical_gradient(scale, n, k, alpha, beta):
    a = LRN_SCALES[scale]((2, 6, 3, 2))
    dout = torch.randn(a.shape, dtype=F64)
    da = A.local_response_norm_backward(dout, a, n, k, alpha, beta)
    numerical = numerical_gradient(lambda t: A.local_response_norm(t, n, k, alpha, beta), a.clone(), dout,
                                   h=LRN_STEP[scale])
    assert rel_error(da, numerical) < 1e-7


def test_lrn_backward_cross_channel_term_matters_at_raw_pixel_scale():
    """The checks above catch a backward without the cross-channel term at raw-pixel scale."""
    a = torch.rand(2, 8, 4, 4, dtype=F64) * 255
    dout = torch.randn(a.shape, dtype=F64)
    only_own_term = dout * A.local_response_norm(a) / a      # dout * d^(-beta), since b = a * d^(-beta)
    assert rel_error(only_own_term, A.local_response_norm_backward(dout, a)) > 1e-2


# ---- max pooling -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape,f,s", [((2, 3, 11, 9), 3, 2), ((1, 2, 13, 13), 3, 2), ((2, 2, 8, 6), 2, 2),
                                       ((1, 3, 7, 10), 3, 1)])
def test_max_pool_backward_against_autograd_and_numerical(shape, f, s):
    x = distinct(*shape)                                    # ties avoided
    dout = torch.randn(A.max_pool2d_forward(x, f, s).shape, dtype=F64)
    dx = A.max_pool2d_backward(dout, x, f, s)
    for forward in (A.max_pool2d_forward, F.max_pool2d):
        assert rel_error(dx, autograd(lambda t: forward(t, f, s), [x], dout)[0]) < 1e-12
    numerical = numerical_gradient(lambda t: A.max_pool2d_forward(t, f, s), x.clone(), dout, h=1e-4)
    assert rel_error(dx, numerical) < 1e-8


def test_max_pool_backward_overlapping_windows_add_up():
    x = torch.zeros(1, 1, 5, 5, dtype=F64)
    x[0, 0, 2, 2] = 1.0                                    # the maximum of all four overlapping 3x3 windows
    dout = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=F64)
    dx = A.max_pool2d_backward(dout, x)
    assert dx[0, 0, 2, 2].item() == 10.0
    assert dx.sum().item() == 10.0                         # nothing goes to the other elements


def test_max_pool_backward_ties_go_to_the_first_maximum_like_torch():
    x = torch.tensor([[[[1.0, 5.0, 5.0],
                        [5.0, 2.0, 5.0],
                        [0.0, 5.0, 1.0]]]], dtype=F64)      # one window, five tied maxima
    dout = torch.tensor([[[[7.0]]]], dtype=F64)
    dx = A.max_pool2d_backward(dout, x)
    expected = torch.zeros_like(x)
    expected[0, 0, 0, 1] = 7.0                             # the first maximum in row-major order
    assert torch.equal(dx, expected)
    for layout in (torch.contiguous_format, torch.channels_last):
        assert torch.equal(autograd(lambda t: F.max_pool2d(t.contiguous(memory_format=layout), 3, 2),
                                    [x], dout)[0], expected)


# ---- fully connected -------------------------------------------------------------------------

def test_linear_backward_against_autograd_and_numerical():
    x, weight, bias = torch.randn(5, 7, dtype=F64), torch.randn(3, 7, dtype=F64), torch.randn(3, dtype=F64)
    dout = torch.randn(5, 3, dtype=F64)
    mine = A.linear_backward(dout, x, weight)
    assert [t.shape for t in mine] == [x.shape, weight.shape, bias.shape]
    for forward in (A.linear_forward, F.linear):
        for got, want in zip(mine, autograd(forward, [x, weight, bias], dout)):
            assert rel_error(got, want) < 1e-12
    for i, t in enumerate((x, weight, bias)):
        def f(v, i=i):
            args = [x, weight, bias]
            args[i] = v
            return A.linear_forward(*args)
        assert rel_error(mine[i], numerical_gradient(f, t.clone(), dout)) < 1e-7


# ---- dropout ---------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.5, 0.2, 0.0, 1.0])
def test_dropout_backward_with_the_forward_mask(p):
    x = torch.rand(6, 40, dtype=F64) + 0.5                 # never 0, so "kept" is exactly out != 0
    dout = torch.randn(x.shape, dtype=F64)
    out = A.dropout_forward(x, p, training=True, generator=torch.Generator().manual_seed(2))
    mask = out != 0
    dx = A.dropout_backward(dout, mask, p)
    if p == 1.0:                                           # nothing kept: the forward returns zeros
        assert torch.equal(dx, torch.zeros_like(dout))
        return
    graph = autograd(lambda t: A.dropout_forward(t, p, True, torch.Generator().manual_seed(2)), [x], dout)[0]
    assert rel_error(dx, graph) < 1e-12
    if 0 < p < 1:
        torch.testing.assert_close(dx[mask], dout[mask] / (1 - p))
        assert torch.equal(dx[~mask], torch.zeros_like(dx[~mask]))
        assert torch.equal(A.dropout_backward(dout, mask.to(F64), p), dx)   # a 0/1 float mask works too
        numerical = numerical_gradient(lambda t: t * mask / (1 - p), x.clone(), dout)
        assert rel_error(dx, numerical) < 1e-7


# ---- softmax + cross-entropy -----------------------------------------------------------------

def test_softmax_cross_entropy_against_autograd_and_numerical():
    logits, labels = torch.randn(6, 9, dtype=F64), torch.tensor([0, 8, 3, 3, 5, 1])
    loss, dlogits = A.softmax_cross_entropy(logits, labels)
    assert loss.dim() == 0
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels), rtol=1e-12, atol=0)
    graph = autograd(lambda z: F.cross_entropy(z, labels), [logits], torch.tensor(1.0, dtype=F64))[0]
    assert rel_error(dlogits, graph) < 1e-12
    numerical = numerical_gradient(lambda z: A.softmax_cross_entropy(z, labels)[0], logits.clone(),
                                   torch.tensor(1.0, dtype=F64), h=1e-4)
    assert rel_error(dlogits, numerical) < 1e-7
    torch.testing.assert_close(dlogits.sum(1), torch.zeros(6, dtype=F64))


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_softmax_cross_entropy_is_stable_for_huge_logits(dtype):
    logits = torch.tensor([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    labels = torch.tensor([1, 0, 2])
    loss, dlogits = A.softmax_cross_entropy(logits, labels)
    assert torch.isfinite(loss) and torch.isfinite(dlogits).all()
    # Row 0: -log softmax = 2e4; row 1: log 2; row 2: log 3.
    expected = (2e4 + np.log(2) + np.log(3)) / 3
    assert abs(loss.item() - expected) < 1e-6 * expected
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels))
    torch.testing.assert_close(dlogits, torch.tensor([[1, -1, 0], [-0.5, 0.5, 0], [1 / 3, 1 / 3, -2 / 3]],
                                                     dtype=dtype) / 3)


def test_softmax_cross_entropy_is_averaged_over_the_batch():
    logits, labels = torch.randn(4, 5, dtype=F64), torch.tensor([1, 2, 3, 4])
    single = [A.softmax_cross_entropy(logits[i:i + 1], labels[i:i + 1]) for i in range(4)]
    loss, dlogits = A.softmax_cross_entropy(logits, labels)
    torch.testing.assert_close(loss, sum(s[0] for s in single) / 4)
    torch.testing.assert_close(dlogits, torch.cat([s[1] for s in single]) / 4)


# ---- dtype and device ------------------------------------------------------------------------

def test_backward_keeps_dtype_and_device(device):
    x = torch.randn(2, 3, 9, 9, device=device)
    weight = torch.randn(4, 3, 3, 3, device=device)
    dout = torch.randn(2, 4, 9, 9, device=device)
    outs = [*A.conv2d_backward(dout, x, weight, 1, 1),
            A.relu_backward(x, x), A.local_response_norm_backward(x, x),
            A.max_pool2d_backward(torch.randn(2, 3, 4, 4, device=device), x),
            *A.linear_backward(torch.randn(2, 5, device=device), x.flatten(1), torch.randn(5, 243, device=device)),
            A.dropout_backward(x, x > 0, 0.5),
            *A.softmax_cross_entropy(x.flatten(1), torch.tensor([0, 7], device=device))]
    assert all(t.dtype == torch.float32 and t.device.type == device.type for t in outs)
    cpu = A.conv2d_backward(dout.cpu(), x.cpu(), weight.cpu(), 1, 1)[1]
    torch.testing.assert_close(outs[1].cpu(), cpu, rtol=1e-3, atol=1e-3)   # TF32 on CUDA


# ---- errors ----------------------------------------------------------------------------------

def t(*shape, dtype=torch.float32):
    return torch.zeros(shape, dtype=dtype)


ERRORS = [
    (A.relu_backward, (t(2, 3), t(3, 2)), "dout must have the shape of x, (3, 2), got (2, 3)"),
    (A.relu_backward, (t(2), [1.0, 2.0]), "x must be a torch.Tensor, got list"),
    (A.conv2d_backward, (t(1, 4, 7, 7), t(3, 9, 9), t(4, 3, 3, 3), 1, 0),
     "x must have shape [N, C, H, W], got shape (3, 9, 9)"),
    (A.conv2d_backward, (t(1, 4, 7, 7), t(1, 3, 9, 9), t(4, 2, 3, 3), 1, 0), "weight expects 2 input channels"),
    (A.conv2d_backward, (t(1, 4, 7, 7), t(1, 3, 10, 10), t(4, 3, 3, 3), 2, 0), "is not a whole number"),
    (A.conv2d_backward, (t(1, 4, 9, 9), t(1, 3, 9, 9), t(4, 3, 3, 3), 1, 0),
     "dout must have the shape of the forward output [N, K, H', W'], (1, 4, 7, 7), got (1, 4, 9, 9)"),
    (A.conv2d_backward, (t(1, 4, 7, 7, dtype=torch.int64), t(1, 3, 9, 9), t(4, 3, 3, 3), 1, 0),
     "dout must be a floating-point tensor, got dtype torch.int64"),
    (A.max_pool2d_backward, (t(1, 3, 4, 4), t(1, 3, 10, 9)), "(10 - 3 + 2*0)/2 + 1 = 4.5 is not a whole number"),
    (A.max_pool2d_backward, (t(1, 3, 4, 4), t(1, 3, 11, 11)),
     "dout must have the shape of the forward output [N, C, H', W'], (1, 3, 5, 5), got (1, 3, 4, 4)"),
    (A.local_response_norm_backward, (t(1, 4, 2, 2), t(4, 2, 2)),
     "a must have shape [N, C, H, W], got shape (4, 2, 2)"),
    (A.local_response_norm_backward, (t(1, 4, 2, 3), t(1, 4, 2, 2)),
     "dout must have the shape of a, (1, 4, 2, 2), got (1, 4, 2, 3)"),
    (A.linear_backward, (t(2, 4), t(2, 9216), t(9216, 4096)),
     "weight shape (9216, 4096) expects 4096 input features, x shape (2, 9216) has 9216"),
    (A.linear_backward, (t(2, 5), t(2, 10), t(4, 10)),
     "dout must have the shape of the forward output [N, out], (2, 4), got (2, 5)"),
    (A.linear_backward, (t(2, 4), t(10), t(4, 10)), "x must have shape [N, in], got shape (10,)"),
    (A.dropout_backward, (t(2, 3), t(3, 2) > 0, 0.5), "mask must have the shape of dout, (2, 3), got (3, 2)"),
    (A.dropout_backward, (t(2, 3), torch.full((2, 3), 2.0), 0.5), "mask must hold only 0 and 1 (1 = kept), "
                                                                  "got values such as 2.0"),
    (A.dropout_backward, (t(2, 3), t(2, 3) > 0, 1.5), "p must be in [0, 1], got 1.5"),
    (A.dropout_backward, (t(2, 3), [[1, 0]], 0.5), "mask must be a torch.Tensor, got list"),
    (A.softmax_cross_entropy, (t(4), torch.tensor([0])), "logits must have shape [N, classes], got shape (4,)"),
    (A.softmax_cross_entropy, (t(2, 3), torch.tensor([0.0, 1.0])),
     "labels must be an integer tensor of class indices, got dtype torch.float32"),
    (A.softmax_cross_entropy, (t(2, 3), torch.tensor([0, 1, 2])),
     "labels must have shape (2,) (one per row of logits (2, 3)), got (3,)"),
    (A.softmax_cross_entropy, (t(2, 3), torch.tensor([0, 3])), "labels must lie in 0..2, got 3"),
    (A.softmax_cross_entropy, (t(2, 3), torch.tensor([-1, 0])), "labels must lie in 0..2, got -1"),
    (A.softmax_cross_entropy, (t(0, 3), torch.tensor([], dtype=torch.int64)), "empty batch"),
]


@pytest.mark.parametrize("fn,args,fragment", ERRORS, ids=[f"{e[0].__name__}-{i}" for i, e in enumerate(ERRORS)])
def test_backward_errors_name_the_function_and_the_shapes(fn, args, fragment):
    with pytest.raises(ValueError) as err:
        fn(*args)
    assert str(err.value).startswith(fn.__name__ + ": "), str(err.value)
    assert fragment in str(err.value), str(err.value)


def test_lrn_backward_rejects_a_bad_window():
    with pytest.raises(ValueError, match="local_response_norm_backward: n must be a positive integer, got 0"):
        A.local_response_norm_backward(t(1, 4, 2, 2), t(1, 4, 2, 2), n=0)


# ---- the classic mistakes are told apart from the reference ----------------------------------

def _pool_to_every_element(dout, x, f=3, s=2):
    dx = torch.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s:i * s + f, j * s:j * s + f] += dout[:, :, i, j, None, None]
    return dx


def _pool_windows_overwritten(dout, x, f=3, s=2):
    dx = torch.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s:i * s + f, j * s:j * s + f]
            dx[:, :, i * s:i * s + f, j * s:j * s + f] = (window == window.amax((2, 3), keepdim=True)) \
                * dout[:, :, i, j, None, None]
    return dx


def _unstable_cross_entropy(logits, labels):
    e = torch.exp(logits)
    probs = e / e.sum(1, keepdim=True)
    loss = -torch.log(probs[torch.arange(len(labels)), labels]).mean()
    dlogits = probs.clone()
    dlogits[torch.arange(len(labels)), labels] -= 1
    return loss, dlogits / len(labels)


def test_classic_mistakes_are_far_from_the_reference():
    x, dpool = distinct(2, 3, 9, 9), torch.randn(2, 3, 4, 4, dtype=F64)
    want = A.max_pool2d_backward(dpool, x)
    assert rel_error(_pool_to_every_element(dpool, x), want) > 1e-2
    assert rel_error(_pool_windows_overwritten(dpool, x), want) > 1e-2

    dout, mask = torch.randn(4, 50, dtype=F64), torch.rand(4, 50) >= 0.5
    assert rel_error(dout * mask, A.dropout_backward(dout, mask, 0.5)) > 1e-2          # not rescaled

    logits, labels = torch.randn(8, 10, dtype=F64), torch.randint(0, 10, (8,))
    huge = logits * 1e4
    bad_loss, bad_grad = _unstable_cross_entropy(huge, labels)
    good_loss, good_grad = A.softmax_cross_entropy(huge, labels)
    assert not (torch.isfinite(bad_loss) and torch.isfinite(bad_grad).all())
    assert torch.isfinite(good_loss) and torch.isfinite(good_grad).all()
