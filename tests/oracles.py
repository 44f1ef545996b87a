"""Independent float64 oracles: deliberately simple loops over the formulas.

Written without torch so that they share no code with alexnet_ref.
"""
import numpy as np


def conv2d_loop(x, w, b, stride, pad):
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    w = np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    k, _, fh, fw = w.shape
    oh, ow = (h - fh) // stride + 1, (wd - fw) // stride + 1
    out = np.zeros((n, k, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride:i * stride + fh, j * stride:j * stride + fw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += np.asarray(b, np.float64)[None, :, None, None]
    return out


def lrn_loop(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    """b[i] = a[i] / (k + alpha * sum_{j=max(0,i-n//2)}^{min(C-1,i+n//2)} a[j]^2) ** beta, per pixel."""
    a = np.asarray(a, np.float64)
    out = np.empty_like(a)
    channels = a.shape[1]
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        s = np.zeros_like(a[:, 0])
        for j in range(lo, hi + 1):
            s += a[:, j] ** 2
        out[:, i] = a[:, i] / (k + alpha * s) ** beta
    return out


def max_pool_loop(x, f, s):
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    oh, ow = (h - f) // s + 1, (w - f) // s + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * s:i * s + f, j * s:j * s + f].max(axis=(2, 3))
    return out


def linear_loop(x, w, b):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    out = np.zeros((x.shape[0], w.shape[0]))
    for o in range(w.shape[0]):
        out[:, o] = (x * w[o]).sum(axis=1)
    return out + (0 if b is None else np.asarray(b, np.float64))


def assert_close_layer(actual, expected, rtol=1e-4, atol_rel=1e-5):
    """The course's one-layer tolerance: rtol=1e-4, atol=1e-5·max|ref| (see docs/measured-facts.md)."""
    actual = np.asarray(actual.detach().cpu().double() if hasattr(actual, "detach") else actual)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    atol = atol_rel * max(np.abs(expected).max(), 1e-30)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
