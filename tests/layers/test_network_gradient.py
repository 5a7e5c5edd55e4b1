"""The layers chained: conv -> relu -> pool -> dense -> softmax cross-entropy.

The backward functions compose by the chain rule (the seed 003 pipeline):
the gradients of the whole loss w.r.t. the kernels and the dense weights
against central differences, relative error <= 1e-7. Each layer on its own
is checked from the registry in ``test_all_layers.py``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnn
from gradcheck import STEP, numerical_gradient, relative_error

TOL = 1e-7
seeds = st.integers(0, 2**32 - 1)


def assert_close(analytic, numeric, what):
    err = relative_error(analytic, numeric)
    assert err <= TOL, f"{what}: relative error {err:.3g} > {TOL}"


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
