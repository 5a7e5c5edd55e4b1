"""MnistNet's fast step against the composition of the public layer functions.

:class:`cnn.MnistNet` computes its forward and backward passes with its own
buffers, pools before the bias and ReLU, and runs the conv as one banded
matrix product (see its docstring). These tests rebuild the same network from
:func:`cnn.conv2d`, :data:`cnn.relu`, :func:`cnn.max_pool2d`, :func:`cnn.dense`,
:func:`cnn.softmax_cross_entropy` and their backward functions, and require
the same loss, logits and gradients: to 1e-6 relative in float64 on generic
data, and on data built to have exact ties in the pooling windows, where the
tie rule must route every window's gradient to the same element.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from cnn.networks import MnistNet
from cnn.networks.composed import composed_loss_and_grads
from gradcheck import relative_error

TOL = 1e-6


def composed(net: MnistNet, x, y):
    """(loss, logits, grads) of ``net`` from the shared public-API composition."""
    x = np.asarray(x, dtype=net.dtype)
    mean, std = net.config["input_mean"], net.config["input_std"]
    if mean != 0.0 or std != 1.0:
        x = (x - net.dtype.type(mean)) * net.dtype.type(1.0 / std)
    loss, grads, logits = composed_loss_and_grads(net.params, x, y, pool=net.pool)
    return loss, logits, grads


def perturbed(net, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    for name, p in net.params.items():
        net.params[name] = p + rng.normal(0, scale, p.shape).astype(p.dtype)
    return net


def assert_same_step(net, x, y, tol=TOL):
    loss, grads, logits = net.loss_and_grads(x, y)
    loss_c, logits_c, grads_c = composed(net, x, y)
    assert abs(float(loss) - float(loss_c)) <= tol * abs(float(loss_c))
    assert relative_error(logits, logits_c) <= tol
    assert set(grads) == set(grads_c) == set(net.params)
    errors = {k: relative_error(grads[k], grads_c[k]) for k in grads}
    assert max(errors.values()) <= tol, errors
    for k, g in grads.items():
        assert g.shape == net.params[k].shape and g.dtype == net.dtype, k


@pytest.mark.parametrize("shape, kwargs", [
    ((28, 28), {}),                                   # the seed's network
    ((12, 12), {"hidden": 7, "n_classes": 4}),
    ((8, 8), {"hidden": 5, "n_classes": 3}),          # sklearn digits
    ((13, 11), {"hidden": 6, "n_classes": 3}),        # odd conv outputs: a row and column unpooled
    ((9, 10), {"n_filters": 3, "kernel_size": 3, "hidden": 4, "n_classes": 2}),
    ((1, 3), {"hidden": 4, "n_classes": 2}),          # kernel clipped to 1x3, pool 1
])
def test_step_equals_composition_float64(shape, kwargs):
    rng = np.random.default_rng(sum(shape))
    net = perturbed(MnistNet(input_shape=shape, dtype="float64", seed=3, **kwargs), 4)
    K = net.config["n_classes"]
    x = rng.random((5, 1) + shape)
    y = rng.integers(0, K, 5)
    assert_same_step(net, x, y)
    net.set_input_scaling(0.3, 0.7)
    assert_same_step(net, x, y)


def test_step_equals_composition_at_batch_64():
    rng = np.random.default_rng(64)
    net = perturbed(MnistNet(dtype="float64", seed=1), 2, scale=0.1)
    assert_same_step(net, rng.random((64, 1, 28, 28)), rng.integers(0, 10, 64))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ties_are_routed_like_max_pool2d_backward(dtype):
    """Exact ties: 0/1 images and integer kernels make every sum exact, so many
    pooling windows hold their maximum twice or more; the gradients must still
    match the composition's to rounding (routing a tied window's gradient to
    another element changes dL/dK by far more)."""
    rng = np.random.default_rng(5)
    net = MnistNet(input_shape=(12, 12), hidden=6, n_classes=3, dtype=dtype, seed=0)
    net.params["conv_w"] = rng.integers(-1, 2, net.params["conv_w"].shape).astype(dtype)
    net.params["conv_b"] = np.array([0.5, -1.0], dtype)
    net.params["w1"] = rng.normal(size=net.params["w1"].shape).astype(dtype)
    net.params["w2"] = rng.normal(size=net.params["w2"].shape).astype(dtype)
    x = (rng.random((8, 1, 12, 12)) < 0.4).astype(dtype)
    y = rng.integers(0, 3, 8)
    # Count the windows whose positive maximum is tied: the test needs some.
    z = cnn.conv2d(x, net.params["conv_w"], net.params["conv_b"])
    windows = cnn.relu(z).reshape(8, 2, 4, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(8, 2, 4, 4, 4)                 # (n, f, I, J, element)
    top = windows.max(axis=-1, keepdims=True)
    tied = ((windows == top).sum(axis=-1) > 1) & (top[..., 0] > 0)
    assert tied.sum() >= 20, tied.sum()
    loss, grads, logits = net.loss_and_grads(x, y)
    loss_c, logits_c, grads_c = composed(net, x, y)
    tol = 1e-5 if dtype == "float32" else 1e-12
    errors = {k: relative_error(grads[k], grads_c[k]) for k in grads}
    assert max(errors.values()) <= tol, errors
    assert np.abs(grads["conv_w"]).max() > 0


def test_rounding_ties_follow_z_not_the_conv_output():
    """Two conv outputs that differ, u = 1e-8 and 2e-8, become equal after the
    bias in float32 (1 + 1e-8 == 1 + 2e-8 == 1). max_pool2d_backward sees a tie
    in ReLU(z) and picks the first; a pool-first implementation comparing u
    would pick the second and get dL/dK twice as large."""
    net = MnistNet(input_shape=(2, 2), n_filters=1, kernel_size=1, hidden=3, n_classes=2,
                   dtype="float32", seed=0)
    net.params["conv_w"][...] = 1.0
    net.params["conv_b"][...] = 1.0
    net.params["w1"][...] = np.array([[0.5, -1.0, 2.0]], np.float32)
    net.params["w2"][...] = np.array([[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0]], np.float32)
    x = np.array([[[[1e-8, 2e-8], [0.0, 0.0]]]], np.float32)
    y = np.array([1])
    _, grads, _ = net.loss_and_grads(x, y)
    _, _, grads_c = composed(net, x, y)
    np.testing.assert_allclose(grads["conv_w"], grads_c["conv_w"], rtol=1e-5)
    assert grads["conv_w"].item() != 0
    # dL/dK = dL/dz at the winner times x at the winner: the first, 1e-8.
    assert grads["conv_w"].item() == pytest.approx(grads["conv_b"].item() * 1e-8, rel=1e-6)


def test_dead_hidden_unit_gets_no_gradient():
    """A hidden unit with a zero column of w1 and a zero bias has pre-activation
    exactly 0 for every image: ReLU'(0) = 0 must give it zero gradient in the
    step as in the composition (ReLU'(0) = 1 would not)."""
    rng = np.random.default_rng(12)
    net = perturbed(MnistNet(input_shape=(12, 12), hidden=6, n_classes=3, dtype="float64"), 5)
    net.params["w1"][:, 2] = 0
    net.params["b1"][2] = 0
    x, y = rng.random((7, 1, 12, 12)), rng.integers(0, 3, 7)
    assert_same_step(net, x, y)
    _, grads, _ = net.loss_and_grads(x, y)
    assert not grads["w1"][:, 2].any() and grads["b1"][2] == 0
    assert not grads["w2"][2].any()


def test_replaced_parameter_arrays_are_used():
    rng = np.random.default_rng(9)
    net = MnistNet(input_shape=(8, 8), hidden=4, n_classes=3)
    x, y = rng.random((4, 1, 8, 8)), rng.integers(0, 3, 4)
    net.loss_and_grads(x, y)
    net.params["w1"] = np.ones_like(net.params["w1"])        # replaced, not updated in place
    loss, _, _ = net.loss_and_grads(x, y)
    assert loss == composed(net, x, y)[0]
    with pytest.raises(ValueError, match=r"params\['w2'\]: got shape"):
        net.params["w2"] = np.zeros((3, 3), np.float32)
        net.loss_and_grads(x, y)


def test_results_are_not_overwritten_by_later_calls():
    rng = np.random.default_rng(10)
    net = perturbed(MnistNet(input_shape=(8, 8), hidden=5, dtype="float64"), 1)
    x1, x2 = rng.random((3, 1, 8, 8)), rng.random((3, 1, 8, 8))
    y = np.array([0, 1, 2])
    loss1, grads1, logits1 = net.loss_and_grads(x1, y)
    kept = {k: v.copy() for k, v in grads1.items()}
    out1, cache1 = net.forward(x1)
    net.forward(x2)                                         # a second cache
    net.loss_and_grads(x2, y)                               # the reused buffers
    np.testing.assert_array_equal(out1, logits1)
    dlogits = net.loss(out1, y)[1]
    for k, g in net.backward(dlogits, cache1).items():      # still x1's gradients
        np.testing.assert_allclose(g, grads1[k], rtol=1e-12, atol=1e-15)
    net.loss_and_grads(x2, y)
    for k in grads1:
        np.testing.assert_array_equal(grads1[k], kept[k])
    with pytest.raises(TypeError, match="cache"):
        net.backward(dlogits, {"x": x1})
    with pytest.raises(ValueError, match="doutput: got shape"):
        net.backward(dlogits[:2], cache1)


def test_non_finite_images_are_rejected():
    net = MnistNet(input_shape=(8, 8), hidden=4)
    x = np.zeros((2, 1, 8, 8))
    x[1, 0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="x: got 1 non-finite"):
        net.loss_and_grads(x, np.array([0, 1]))


def test_pickle_and_copy_carry_the_parameters_not_the_buffers():
    import copy
    import pickle
    rng = np.random.default_rng(11)
    net = MnistNet(seed=4)
    x, y = rng.random((64, 1, 28, 28)), rng.integers(0, 10, 64)
    net.loss_and_grads(x, y)                                 # the conv's buffers exist now
    data = pickle.dumps(net)
    assert len(data) < 2 * 4 * net.n_params() + 20_000       # no MB-sized buffers inside
    for clone in (pickle.loads(data), copy.deepcopy(net)):
        np.testing.assert_array_equal(clone.output(x), net.output(x))
        cnn.SGD(0.1).step(clone.params, clone.loss_and_grads(x, y)[1])   # a step of its own
        assert not np.array_equal(clone.params["w1"], net.params["w1"])


def test_params_and_grads_are_views_of_one_flat_array():
    """So that an optimiser updates them in one go (cnn._flat): at construction, after
    set_params (a resume) or a replaced entry, and in a pickled copy, at the next pass;
    the values stay those of the dict, and the flat update is the per-parameter one."""
    import pickle
    from cnn._flat import tiling
    rng = np.random.default_rng(13)
    net = perturbed(MnistNet(input_shape=(12, 12), hidden=5, n_classes=3, seed=2), 3)
    names = list(net.params)
    x, y = rng.random((6, 1, 12, 12)), rng.integers(0, 3, 6)
    net.loss_and_grads(x, y)                           # perturbed() replaced every entry
    assert tiling(net.params, names) is not None
    values = {k: v.copy() for k, v in net.params.items()}
    net.set_params({k: v + 1 for k, v in values.items()})
    clone = pickle.loads(pickle.dumps(net))
    for n in (net, clone):
        grads = n.loss_and_grads(x, y)[1]
        assert tiling(n.params, names) is not None and tiling(grads, names) is not None
        for k in names:
            np.testing.assert_array_equal(n.params[k], values[k] + 1)
    loose = {k: v.copy() for k, v in net.params.items()}
    grads = net.loss_and_grads(x, y)[1]
    cnn.SGD(0.1, momentum=0.5).step(net.params, grads)
    cnn.SGD(0.1, momentum=0.5).step(loose, {k: g.copy() for k, g in grads.items()})
    for k in names:
        np.testing.assert_array_equal(net.params[k], loose[k])


@pytest.mark.parametrize("shape", [(28, 28), (13, 23), (11, 11)])
def test_the_cache_holds_the_window_maxima_in_nchw(shape):
    """Whatever layout the conv output has between conv and pool (cnn._conv_pool), the
    forward cache's ``m`` is max_pool2d of the conv output (the site's figure reads it)."""
    net = MnistNet(input_shape=shape, dtype="float64", seed=1)
    _, cache = net.forward(np.random.default_rng(0).random((3, 1) + shape))
    z = cnn.conv2d(cache.x, net.params["conv_w"], net.params["conv_b"])
    np.testing.assert_array_equal(cache.m, cnn.max_pool2d(z, size=net.pool, stride=net.pool))
