"""The vectorised layers agree with the plain-loop versions in ``cnn.reference``.

float64, tight tolerance (the two only differ in summation order), over
shapes that exercise stride, padding, rectangular kernels and inputs,
overlapping pooling windows and ties.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from cnn import reference
from gradcheck import relative_error

TOL = 1e-12

CONV_CASES = [
    # x shape,        w shape,       stride, padding
    ((2, 1, 8, 8), (2, 1, 5, 5), 1, 0),      # the MNIST layer, small
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 1),      # rectangular kernel, padding
    ((1, 2, 4, 4), (2, 2, 3, 3), 2, 1),      # the derivation's instance, stride 2
    ((3, 2, 9, 7), (3, 2, 3, 3), 2, 0),      # stride 2 leaves the last column unread
    ((2, 2, 5, 5), (1, 2, 2, 4), 3, 2),      # stride 3, padding 2
    ((1, 1, 1, 1), (1, 1, 3, 3), 1, 1),      # 1x1 image, 3x3 kernel on the padding
    ((2, 3, 6, 6), (2, 3, 6, 6), 1, 0),      # kernel = image: one output
]

POOL_CASES = [
    # x shape,        size, stride
    ((2, 2, 8, 8), 2, 2),      # the usual 2x2 pool
    ((2, 3, 7, 9), 2, 2),      # odd sides: the remainder is dropped
    ((2, 2, 7, 7), 3, 2),      # overlapping windows
    ((1, 2, 6, 8), 3, 1),      # heavily overlapping
    ((2, 1, 9, 9), 2, 3),      # gaps between windows
    ((1, 1, 5, 4), 4, 4),      # one window
]


def close(fast, slow, what):
    assert fast.shape == slow.shape, (what, fast.shape, slow.shape)
    err = relative_error(fast, slow)
    assert err <= TOL, f"{what}: relative error {err:.3g} > {TOL}"


@pytest.mark.parametrize("xs, ws, stride, padding", CONV_CASES)
def test_conv2d_matches_reference(xs, ws, stride, padding):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    kw = dict(stride=stride, padding=padding)
    y = cnn.conv2d(x, w, b, **kw)
    close(y, reference.conv2d(x, w, b, **kw), "y")
    close(cnn.conv2d(x, w, **kw), reference.conv2d(x, w, **kw), "y without bias")
    dy = rng.standard_normal(y.shape)
    for name, fast, slow in zip(("dx", "dw", "db"), cnn.conv2d_backward(dy, x, w, **kw),
                                reference.conv2d_backward(dy, x, w, **kw)):
        close(fast, slow, name)


@pytest.mark.parametrize("xs, size, stride", POOL_CASES)
@pytest.mark.parametrize("values", ["generic", "ties"])
def test_max_pool2d_matches_reference(xs, size, stride, values):
    rng = np.random.default_rng(2)
    # "ties": small integers, so most windows hold their maximum more than once
    # and the first-maximum rule decides where the gradient goes.
    x = rng.standard_normal(xs) if values == "generic" else rng.integers(0, 3, xs).astype(float)
    kw = dict(size=size, stride=stride)
    y = cnn.max_pool2d(x, **kw)
    np.testing.assert_array_equal(y, reference.max_pool2d(x, **kw))
    dy = rng.standard_normal(y.shape)
    close(cnn.max_pool2d_backward(dy, x, **kw), reference.max_pool2d_backward(dy, x, **kw), "dx")


def test_tie_cases_really_have_ties():
    """Guard for the test above: its "ties" inputs do contain tied maxima."""
    x = np.random.default_rng(2).integers(0, 3, (2, 2, 8, 8)).astype(float)
    windows = x.reshape(2, 2, 4, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 2, 4, 4, 4)
    ties = (windows == windows.max(axis=-1, keepdims=True)).sum(axis=-1) > 1
    assert ties.sum() >= 10


@pytest.mark.parametrize("n, d_in, d_out", [(1, 1, 1), (4, 7, 3), (5, 3, 9)])
def test_dense_matches_reference(n, d_in, d_out):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((n, d_in)), rng.standard_normal((d_in, d_out)), rng.standard_normal(d_out)
    close(cnn.dense(x, w, b), reference.dense(x, w, b), "y")
    dy = rng.standard_normal((n, d_out))
    for name, fast, slow in zip(("dx", "dw", "db"), cnn.dense_backward(dy, x, w),
                                reference.dense_backward(dy, x, w)):
        close(fast, slow, name)


@pytest.mark.parametrize("n, k, scale", [(1, 1, 1.0), (4, 10, 1.0), (6, 3, 10.0), (3, 5, 50.0)])
def test_softmax_cross_entropy_matches_reference(n, k, scale):
    rng = np.random.default_rng(4)
    logits, labels = rng.standard_normal((n, k)) * scale, rng.integers(0, k, n)
    loss, dlogits = cnn.softmax_cross_entropy(logits, labels)
    ref_loss, ref_dlogits = reference.softmax_cross_entropy(logits, labels)
    close(np.array(loss), np.array(ref_loss), "loss")
    close(dlogits, ref_dlogits, "dlogits")


def test_reference_keeps_float32():
    """Same API, same dtypes: the loop versions can stand in for the fast ones."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    y = reference.conv2d(x, w, stride=2, padding=1)
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in reference.conv2d_backward(y, x, w, stride=2, padding=1))
    p = reference.max_pool2d(x)
    assert p.dtype == reference.max_pool2d_backward(p, x).dtype == np.float32
