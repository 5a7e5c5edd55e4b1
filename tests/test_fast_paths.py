"""Each algorithm the library chooses by shape equals the general one.

* :func:`cnn.conv2d` / :func:`cnn.conv2d_backward`: the banded GEMM (chosen for
  one input channel at stride 1) against im2col, forward and backward, on
  shapes where either could run (odd sizes, padding, stride, several
  channels, with and without bias), float32 and float64; the cache and
  ``need_dx=False`` change nothing but the work done.
* :func:`cnn.max_pool2d_relu` and its backward against ReLU and max pooling
  composed, bit for bit, on data full of ties and zeros.
* the fused conv -> ReLU -> max pool of :mod:`cnn._conv_pool` against
  :func:`cnn.conv2d` then :func:`cnn.max_pool2d_relu` and their backward passes,
  bit for bit, in the window-offset layout and in the fallback.
* the loss :class:`cnn.MnistNet` trains with is :func:`cnn.softmax_cross_entropy`.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from cnn import _conv_pool, conv
from cnn.networks import MnistNet
from gradcheck import relative_error

TOL = {"float32": 2e-5, "float64": 1e-12}

# (x shape, w shape, stride, padding): odd sizes, padding, stride 2, C > 1, F = 1, and
# widths that are not a whole number of the banded GEMM's column blocks.
SHAPES = [
    ((5, 1, 28, 28), (2, 1, 5, 5), 1, 0),
    ((3, 1, 9, 7), (3, 1, 3, 4), 1, 2),
    ((2, 1, 11, 10), (1, 1, 2, 3), 2, 1),
    ((2, 3, 8, 9), (4, 3, 3, 3), 2, 1),
    ((4, 2, 6, 5), (2, 2, 1, 5), 1, 0),
    ((2, 1, 13, 21), (2, 1, 3, 3), 1, 1),         # 21 output columns: blocks of 8 overhang
    ((2, 2, 12, 30), (3, 2, 3, 4), 2, 1),         # 15 output columns at stride 2
]


def _case(shape_x, shape_w, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape_x).astype(dtype)
    w = rng.standard_normal(shape_w).astype(dtype)
    b = rng.standard_normal(shape_w[0]).astype(dtype)
    return rng, x, w, b


def _run(monkeypatch, banded, x, w, b, dy_seed, **kw):
    monkeypatch.setattr(conv, "_use_banded", lambda g: banded)
    y = cnn.conv2d(x, w, b, **kw)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(x.dtype)
    return (y,) + cnn.conv2d_backward(dy, x, w, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape_x, shape_w, stride, padding", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_banded_conv_equals_im2col(monkeypatch, dtype, shape_x, shape_w, stride, padding, bias):
    _, x, w, b = _case(shape_x, shape_w, dtype, sum(shape_x))
    b = b if bias else None
    kw = {"stride": stride, "padding": padding}
    banded = _run(monkeypatch, True, x, w, b, 1, **kw)
    general = _run(monkeypatch, False, x, w, b, 1, **kw)
    for name, fast, slow in zip(("y", "dx", "dw", "db"), banded, general):
        assert fast.dtype == slow.dtype == np.dtype(dtype), name
        assert fast.shape == slow.shape, name
        assert relative_error(fast, slow) <= TOL[dtype], name


def test_the_mnist_conv_takes_the_banded_path():
    *_, g = conv._validated(np.zeros((64, 1, 28, 28)), np.zeros((2, 1, 5, 5)), 1, 0)
    assert conv._use_banded(g)
    *_, g = conv._validated(np.zeros((2, 8, 16, 16)), np.zeros((16, 8, 3, 3)), 2, 1)
    assert not conv._use_banded(g)


@pytest.mark.parametrize("banded", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape_x, shape_w, stride, padding", SHAPES[:4])
def test_cache_and_need_dx_change_only_the_work(monkeypatch, banded, dtype, shape_x, shape_w,
                                               stride, padding):
    monkeypatch.setattr(conv, "_use_banded", lambda g: banded)
    rng, x, w, b = _case(shape_x, shape_w, dtype, 7)
    kw = {"stride": stride, "padding": padding}
    cache = {}
    y = cnn.conv2d(x, w, b, cache=cache, **kw)
    np.testing.assert_array_equal(y, cnn.conv2d(x, w, b, **kw))
    assert cache["x"] is x and ("rows" in cache) == banded and ("cols" in cache) != banded
    dy = rng.standard_normal(y.shape).astype(dtype)
    plain = cnn.conv2d_backward(dy, x, w, **kw)
    cached = cnn.conv2d_backward(dy, x, w, cache=cache, **kw)
    dx, dw, db = cnn.conv2d_backward(dy, x, w, need_dx=False, cache=cache, **kw)
    none_dx, dw2, db2 = cnn.conv2d_backward(dy, x, w, need_dx=False, **kw)
    for a, b_ in zip(plain, cached):
        np.testing.assert_array_equal(a, b_)
    assert dx is None and none_dx is None
    for got in (dw, dw2):
        np.testing.assert_array_equal(got, plain[1])
    for got in (db, db2):
        np.testing.assert_array_equal(got, plain[2])
    # A cache filled for another x is not used: the gradients are x2's.
    x2 = x + 1
    cnn.conv2d(x2 * 3, w, b, cache=cache, **kw)
    np.testing.assert_array_equal(cnn.conv2d_backward(dy, x2, w, cache=cache, **kw)[1],
                                  cnn.conv2d_backward(dy, x2, w, **kw)[1])


def test_reused_buffers_never_change_a_held_cache():
    """The banded conv reuses its row buffer once nothing holds it: a cache still
    held keeps its rows while other forward passes run."""
    rng, x1, w, b = _case((4, 1, 12, 12), (2, 1, 3, 3), "float64", 11)
    x2 = rng.standard_normal(x1.shape)
    kept = {}
    y1 = cnn.conv2d(x1, w, b, cache=kept)
    rows = kept["rows"].copy()
    for x in (x2, x2 * 2):
        cnn.conv2d(x, w, b)                                  # no cache: the buffer is free
        cnn.conv2d(x, w, b, cache={})
    np.testing.assert_array_equal(kept["rows"], rows)
    dy = rng.standard_normal(y1.shape)
    np.testing.assert_array_equal(cnn.conv2d_backward(dy, x1, w, cache=kept)[1],
                                  cnn.conv2d_backward(dy, x1, w)[1])
    again = {}
    cnn.conv2d(x2, w, b, cache=again)
    assert again["rows"] is not kept["rows"]


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2)])
def test_the_pooling_cache_changes_only_the_work(size, stride):
    rng = np.random.default_rng(13)
    x = rng.integers(-3, 3, (2, 3, 9, 8)).astype(np.float64)        # ties
    kw = {"size": size, "stride": stride}
    cache = {}
    y = cnn.max_pool2d(x, cache=cache, **kw)
    y += 100                                     # the caller's array: the cache keeps its own
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(cnn.max_pool2d_backward(dy, x, cache=cache, **kw),
                                  cnn.max_pool2d_backward(dy, x, **kw))
    x2 = x[:, :, ::-1].copy()                    # another x: the cache is not used
    np.testing.assert_array_equal(cnn.max_pool2d_backward(dy, x2, cache=cache, **kw),
                                  cnn.max_pool2d_backward(dy, x2, **kw))


def _tied(rng, shape, dtype):
    """Small integers: many equal maxima in a window, many zeros and negatives."""
    return rng.integers(-4, 2, shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, size, stride", [
    ((4, 3, 8, 8), 2, 2), ((3, 2, 9, 7), 2, 2), ((2, 3, 11, 10), 3, 2), ((2, 2, 7, 7), 3, 1),
])
def test_fused_pool_relu_equals_the_composition(dtype, shape, size, stride):
    rng = np.random.default_rng(sum(shape))
    x = _tied(rng, shape, dtype)
    kw = {"size": size, "stride": stride}
    a = cnn.relu(x)
    y = cnn.max_pool2d(a, **kw)
    assert (y == 0).any() and (y > 0).any()
    np.testing.assert_array_equal(cnn.max_pool2d_relu(x, **kw), y)
    dy = rng.standard_normal(y.shape).astype(dtype)
    composed = cnn.relu.backward(cnn.max_pool2d_backward(dy, a, **kw), x)
    fused = cnn.max_pool2d_relu_backward(dy, x, **kw)
    assert fused.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(fused, composed)
    assert (fused != 0).any()


def test_fused_pool_relu_checks_its_arguments():
    with pytest.raises(ValueError, match=r"dy: got shape \(1, 1, 2, 2\); expected \(1, 1, 1, 1\)"):
        cnn.max_pool2d_relu_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="x: got 1 non-finite"):
        cnn.max_pool2d_relu(np.array([[[[np.nan, 0], [0, 0]]]]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_training_loss_is_softmax_cross_entropy_bit_for_bit(dtype):
    rng = np.random.default_rng(3)
    net = MnistNet(input_shape=(12, 12), hidden=7, dtype=dtype, seed=1)
    x, y = rng.random((9, 1, 12, 12)), rng.integers(0, 10, 9)
    loss, grads, logits = net.loss_and_grads(x, y)
    ref_loss, ref_dlogits = cnn.softmax_cross_entropy(logits, y)
    assert loss.dtype == ref_loss.dtype == np.dtype(dtype)
    assert loss == ref_loss
    assert net.loss(logits, y)[0] == ref_loss
    # dL/db2 is the batch sum of dL/dlogits: the same gradient, to summation order.
    np.testing.assert_array_equal(grads["b2"], ref_dlogits.sum(axis=0))


# (x shape, w shape, pool): the MNIST conv; an odd conv output (a row and a column in no
# window) whose column blocks overhang it; pool 1; 4 kernels; blocks of 7 columns (the
# NCHW fallback); a square 8x8 digit.
CONV_POOL = [((6, 1, 28, 28), (2, 1, 5, 5), 2), ((3, 1, 13, 23), (2, 1, 3, 3), 2),
             ((2, 1, 4, 9), (3, 1, 2, 2), 1), ((3, 1, 12, 12), (4, 1, 3, 3), 2),
             ((2, 1, 11, 11), (2, 1, 5, 5), 2), ((4, 1, 8, 8), (2, 1, 5, 5), 2)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape_x, shape_w, pool", CONV_POOL)
@pytest.mark.parametrize("ties", [False, True])
def test_fused_conv_pool_relu_equals_the_composition(dtype, shape_x, shape_w, pool, ties):
    rng, x, w, b = _case(shape_x, shape_w, dtype, sum(shape_x) + ties)
    if ties:                                     # exact sums: many tied window maxima
        x = (x > 0.3).astype(dtype)
        w, b = np.round(w).astype(dtype), np.round(b).astype(dtype)
    g = conv._geometry(x.shape, w.shape, 1, 0)
    cache = {}
    pooled, state = _conv_pool.conv_pool_relu(x, w, b, g, pool, cache)
    assert (state[0].ndim == 7) == _conv_pool._window_layout(g, pool)
    kw = {"size": pool, "stride": pool}
    z = cnn.conv2d(x, w, b)
    expected = cnn.max_pool2d_relu(z, **kw)
    assert pooled.dtype == np.dtype(dtype) and pooled.flags.c_contiguous
    np.testing.assert_array_equal(pooled, expected)
    dp = rng.standard_normal(pooled.shape).astype(dtype)
    dw, db = _conv_pool.conv_pool_relu_backward(dp, x, w, g, pool, cache, state)
    _, dw_c, db_c = cnn.conv2d_backward(cnn.max_pool2d_relu_backward(dp, z, **kw), x, w,
                                        need_dx=False)
    np.testing.assert_array_equal(dw, dw_c)
    np.testing.assert_array_equal(db, db_c)
    assert np.abs(dw).max() > 0


def test_the_mnist_block_takes_the_window_layout():
    g = conv._geometry((64, 1, 28, 28), (2, 1, 5, 5), 1, 0)
    assert _conv_pool._window_layout(g, 2)
    g7 = conv._geometry((64, 1, 11, 11), (2, 1, 5, 5), 1, 0)
    assert not _conv_pool._window_layout(g7, 2)                         # blocks of 7 columns
