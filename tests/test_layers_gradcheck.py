"""Every backward function against central differences, over random shapes.

Hypothesis draws the shapes, strides, paddings and kernel sizes; the values
come from a seeded generator (generic, asymmetric, float64), constructed to
stay away from the places where a function has no derivative: ReLU's kink
at 0 and ties inside a max-pooling window. Tolerance: relative error
<= 1e-7 (see :func:`gradcheck.relative_error`).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnn
from gradcheck import STEP, elementwise_derivative, numerical_gradient, relative_error

TOL = 1e-7
SETTINGS = settings(max_examples=100, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def assert_close(analytic, numeric, what):
    err = relative_error(analytic, numeric)
    assert err <= TOL, f"{what}: relative error {err:.3g} > {TOL}"


# --------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------
@st.composite
def conv_cases(draw):
    """Shapes where the kernel fits the padded input; strides may skip pixels."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.integers(0, 2))
    stride = draw(st.integers(1, 3))
    h = draw(st.integers(max(1, kh - 2 * padding), kh - 2 * padding + 6))
    w = draw(st.integers(max(1, kw - 2 * padding), kw - 2 * padding + 6))
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return dict(x=(n, c, h, w), w=(f, c, kh, kw), stride=stride, padding=padding,
                seed=draw(seeds))


@SETTINGS
@given(conv_cases())
def test_conv2d_backward_matches_central_differences(case):
    rng = np.random.default_rng(case["seed"])
    kw = dict(stride=case["stride"], padding=case["padding"])
    x = rng.standard_normal(case["x"])
    w = rng.standard_normal(case["w"])
    b = rng.standard_normal(case["w"][0])
    dy = rng.standard_normal(cnn.conv2d(x, w, b, **kw).shape)
    dx, dw, db = cnn.conv2d_backward(dy, x, w, **kw)

    assert_close(dx, numerical_gradient(lambda v: np.sum(cnn.conv2d(v, w, b, **kw) * dy), x), "dx")
    assert_close(dw, numerical_gradient(lambda v: np.sum(cnn.conv2d(x, v, b, **kw) * dy), w), "dw")
    assert_close(db, numerical_gradient(lambda v: np.sum(cnn.conv2d(x, w, v, **kw) * dy), b), "db")


# --------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------
@st.composite
def pool_cases(draw):
    """Non-overlapping (stride >= size) and overlapping (stride < size) windows."""
    size = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4))
    h, w = draw(st.integers(size, size + 7)), draw(st.integers(size, size + 7))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return dict(shape=(n, c, h, w), size=size, stride=stride, seed=draw(seeds))


def distinct_values(rng, shape):
    """A random arrangement of values at least 0.1 apart: no ties, and a
    central-difference step (1e-5) cannot change which element wins."""
    return (rng.permutation(int(np.prod(shape))) * 0.1 - 3.0).reshape(shape) \
        + rng.uniform(0, 0.01, shape)


@SETTINGS
@given(pool_cases())
def test_max_pool2d_backward_matches_central_differences(case):
    rng = np.random.default_rng(case["seed"])
    kw = dict(size=case["size"], stride=case["stride"])
    x = distinct_values(rng, case["shape"])
    dy = rng.standard_normal(cnn.max_pool2d(x, **kw).shape)
    dx = cnn.max_pool2d_backward(dy, x, **kw)
    assert_close(dx, numerical_gradient(lambda v: np.sum(cnn.max_pool2d(v, **kw) * dy), x), "dx")


# --------------------------------------------------------------------------
# Dense
# --------------------------------------------------------------------------
@SETTINGS
@given(st.integers(1, 5), st.integers(1, 8), st.integers(1, 8), seeds)
def test_dense_backward_matches_central_differences(n, d_in, d_out, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((n, d_in)), rng.standard_normal((d_in, d_out))
    b, dy = rng.standard_normal(d_out), rng.standard_normal((n, d_out))
    dx, dw, db = cnn.dense_backward(dy, x, w)
    assert_close(dx, numerical_gradient(lambda v: np.sum(cnn.dense(v, w, b) * dy), x), "dx")
    assert_close(dw, numerical_gradient(lambda v: np.sum(cnn.dense(x, v, b) * dy), w), "dw")
    assert_close(db, numerical_gradient(lambda v: np.sum(cnn.dense(x, w, v) * dy), b), "db")


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------
@SETTINGS
@given(st.integers(1, 6), st.integers(1, 10), st.floats(0.1, 20), seeds)
def test_softmax_cross_entropy_gradient_matches_central_differences(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k)) * scale
    labels = rng.integers(0, k, n)
    loss, dlogits = cnn.softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda v: cnn.softmax_cross_entropy(v, labels)[0], logits)
    assert_close(dlogits, numeric, "dlogits")


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), seeds)
def test_l2_loss_gradient_matches_central_differences(shape, seed):
    rng = np.random.default_rng(seed)
    output, target = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, doutput = cnn.l2_loss(output, target)
    numeric = numerical_gradient(lambda v: cnn.l2_loss(v, target)[0], output)
    assert_close(doutput, numeric, "doutput")


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(cnn.ACTIVATIONS))
@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=0, max_size=3), seeds)
def test_activation_derivative_matches_central_differences(name, shape, seed):
    act = cnn.ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    # Unsaturated: for |z| >> 4 the forward value sits so close to +-1 (or 0, 1)
    # that rounding it swamps any difference quotient; the saturated region is
    # covered by the stability tests and the comparison with PyTorch.
    z = rng.uniform(-4, 4, shape)
    # Keep |z| >= 1e-3 >> STEP: ReLU has a kink at 0.
    z = np.where(np.abs(z) < 1e-3, np.copysign(1e-3, z), z)
    numeric = elementwise_derivative(act, z)
    assert_close(act.derivative(z), numeric, f"{name}'")
    dy = rng.standard_normal(shape)
    assert_close(act.backward(dy, z), dy * numeric, f"{name}.backward")


# --------------------------------------------------------------------------
# The layers chained: conv -> relu -> pool -> dense -> softmax cross-entropy
# --------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.sampled_from([(1, 1), (2, 0)]), seeds)
def test_small_network_gradient_matches_central_differences(n, f, stride_padding, seed):
    """The backward functions compose by the chain rule (the seed 003 pipeline)."""
    stride, padding = stride_padding
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2, 9, 9))
    k = rng.standard_normal((f, 2, 3, 3)) * 0.5
    kb = rng.standard_normal(f)
    conv_kw = dict(stride=stride, padding=padding)
    h = cnn.conv2d(x, k, kb, **conv_kw)
    d_in = h.shape[1] * (h.shape[2] // 2) * (h.shape[3] // 2)
    w, wb = rng.standard_normal((d_in, 4)), rng.standard_normal(4)
    labels = rng.integers(0, 4, n)

    def loss_of(k_, w_):
        z = cnn.conv2d(x, k_, kb, **conv_kw)
        p = cnn.max_pool2d(cnn.relu(z))
        return cnn.softmax_cross_entropy(cnn.dense(p.reshape(n, -1), w_, wb), labels)[0]

    z = cnn.conv2d(x, k, kb, **conv_kw)
    a = cnn.relu(z)
    p = cnn.max_pool2d(a)
    flat = p.reshape(n, -1)
    loss, dlogits = cnn.softmax_cross_entropy(cnn.dense(flat, w, wb), labels)
    dflat, dw, _ = cnn.dense_backward(dlogits, flat, w)
    da = cnn.max_pool2d_backward(dflat.reshape(p.shape), a)
    dz = cnn.relu.backward(da, z)
    _, dk, _ = cnn.conv2d_backward(dz, x, k, **conv_kw)

    # Central differences are only valid if no ReLU input sits at the kink and
    # no pooling window has a near-tie for its (positive) maximum within reach
    # of the step; such draws are rare and are rejected, not passed.
    assume(np.abs(z).min() > 1e3 * STEP)
    oh, ow = p.shape[2:]
    windows = a[:, :, :2 * oh, :2 * ow].reshape(n, f, oh, 2, ow, 2).transpose(0, 1, 2, 4, 3, 5)
    top2 = np.sort(windows.reshape(n, f, oh, ow, 4), axis=-1)[..., -2:]
    assume(np.all((top2[..., 1] == 0) | (top2[..., 1] - top2[..., 0] > 1e3 * STEP)))
    assert_close(dw, numerical_gradient(lambda v: loss_of(k, v), w), "dW")
    assert_close(dk, numerical_gradient(lambda v: loss_of(v, w), k), "dK")
