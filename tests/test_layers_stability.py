"""Extreme inputs, dtypes and bad input.

* Stability: logits of +-1e4, a probability that underflows to 0 (the log(0)
  of seed 003), all-equal inputs to max pooling (the tie rule), the float32
  limits for the activations: finite losses and gradients, no warnings.
* dtypes: float32 in, float32 out, for every forward and backward function;
  integers are promoted to float64.
* Bad input: a ValueError/TypeError that names the argument.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import cnn

FLOATS = [np.float32, np.float64]
# Overflow, invalid operations and division by zero must not happen anywhere
# below; underflow to 0 is expected (e.g. exp(-1e4)) and exact enough.
NO_WARNINGS = dict(over="raise", invalid="raise", divide="raise")


# --------------------------------------------------------------------------
# Softmax cross-entropy at extreme logits
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_cross_entropy_is_finite_for_logits_of_1e4(dtype):
    logits = np.array([[1e4, -1e4, 0.0],
                       [-1e4, 1e4, 1e4],
                       [1e4, 1e4, 1e4],
                       [-1e4, -1e4, -1e4]], dtype)
    labels = np.array([1, 2, 0, 2])
    with np.errstate(**NO_WARNINGS):
        loss, dlogits = cnn.softmax_cross_entropy(logits, labels)
    assert loss.dtype == dlogits.dtype == dtype
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    # Per row, -log p[label]: 2e4, log 2, log 3, log 3 (to the dtype's precision).
    expected = (2e4 + np.log(2) + 2 * np.log(3)) / 4
    assert abs(loss - expected) <= 4 * np.finfo(dtype).eps * expected
    n = len(labels)
    expected_grad = np.array([[1, -1, 0], [0, 0.5, -0.5], [-2 / 3, 1 / 3, 1 / 3],
                              [1 / 3, 1 / 3, -2 / 3]]) / n
    np.testing.assert_allclose(dlogits, expected_grad, rtol=0, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype, gap", [(np.float64, 800.0), (np.float32, 120.0)])
def test_softmax_cross_entropy_when_a_probability_underflows_to_zero(dtype, gap):
    """Seed 003's log(0): softmax then log gives -log 0 = inf; ours gives the gap."""
    logits = np.array([[0.0, -gap]], dtype)
    with np.errstate(all="ignore"):
        naive_p = np.exp(logits) / np.exp(logits).sum()
        naive_loss = -np.log(naive_p[0, 1])
    assert naive_p[0, 1] == 0 and np.isinf(naive_loss)   # the failure being guarded against

    with np.errstate(**NO_WARNINGS):
        loss, dlogits = cnn.softmax_cross_entropy(logits, np.array([1]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss == pytest.approx(gap, rel=4 * float(np.finfo(dtype).eps))
    np.testing.assert_array_equal(dlogits, np.array([[1.0, -1.0]], dtype))


def test_softmax_cross_entropy_stays_accurate_when_p_is_nearly_1():
    """p = 1 - 4e-18: the loss -log p and the gradient p - 1 are ~4e-18, which
    log(1 + rest) and 1/(1 + rest) - 1 would both round to 0."""
    loss, dlogits = cnn.softmax_cross_entropy(np.array([[0.0, -40.0]]), np.array([0]))
    rest = float(mpmath.exp(-40))
    assert loss == pytest.approx(float(mpmath.log1p(mpmath.exp(-40))), rel=1e-14)
    expected = [-rest / (1 + rest), rest / (1 + rest)]
    np.testing.assert_allclose(dlogits[0], expected, rtol=1e-14, atol=0)


# --------------------------------------------------------------------------
# Max pooling on ties
# --------------------------------------------------------------------------
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 3), (3, 2), (2, 1), (3, 1)])
def test_max_pool2d_all_equal_inputs_route_to_the_first_element(size, stride):
    """All-equal input: every window's gradient goes to its top-left element
    (the first maximum in row-major order), nothing else gets any."""
    x = np.full((2, 3, 8, 7), 0.5)
    y = cnn.max_pool2d(x, size=size, stride=stride)
    np.testing.assert_array_equal(y, 0.5)
    dy = np.random.default_rng(0).standard_normal(y.shape)
    dx = cnn.max_pool2d_backward(dy, x, size=size, stride=stride)
    oh, ow = y.shape[2:]
    expected = np.zeros_like(x)
    expected[:, :, :stride * oh:stride, :stride * ow:stride] = dy
    np.testing.assert_array_equal(dx, expected)
    assert np.all(np.isfinite(dx))


def test_max_pool2d_tie_inside_a_window_goes_to_the_first_in_row_major_order():
    x = np.array([[[[1.0, 3.0],
                    [3.0, 3.0]]]])
    dx = cnn.max_pool2d_backward(np.array([[[[7.0]]]]), x)
    np.testing.assert_array_equal(dx, [[[[0.0, 7.0], [0.0, 0.0]]]])


def test_max_pool2d_overlapping_windows_accumulate():
    """size 2, stride 1 on a 3x3 map whose centre is the maximum: all four
    windows pick the centre, so it receives the sum of their gradients."""
    x = np.array([[[[0.0, 1.0, 0.0],
                    [1.0, 5.0, 1.0],
                    [0.0, 1.0, 0.0]]]])
    dy = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = cnn.max_pool2d_backward(dy, x, size=2, stride=1)
    expected = np.zeros_like(x)
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(dx, expected)


# --------------------------------------------------------------------------
# Activations at the limits of the float range
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(cnn.ACTIVATIONS))
def test_activations_are_finite_at_the_float_limits(name, dtype):
    big, tiny = np.finfo(dtype).max, np.finfo(dtype).tiny
    z = np.array([-big, -1e4, -100.0, -tiny, 0.0, tiny, 100.0, 1e4, big], dtype)
    act = cnn.ACTIVATIONS[name]
    with np.errstate(**NO_WARNINGS):
        a, d = act(z), act.derivative(z)
        g = act.backward(np.ones_like(z), z)
    for what, v in (("f", a), ("f'", d), ("backward", g)):
        assert v.dtype == dtype, (what, v.dtype)
        assert np.all(np.isfinite(v)), (what, v)
    assert np.all(d >= 0)
    np.testing.assert_array_equal(g, d)


@pytest.mark.parametrize("dtype", FLOATS)
def test_saturated_activation_values(dtype):
    """The limits themselves, exactly: no NaN from inf/inf, no 1 - 1 surprises."""
    big = np.finfo(dtype).max
    z = np.array([-big, -1e4, 0.0, 1e4, big], dtype)
    np.testing.assert_array_equal(cnn.logistic(z), [0, 0, 0.5, 1, 1])
    np.testing.assert_array_equal(cnn.logistic.derivative(z), [0, 0, 0.25, 0, 0])
    np.testing.assert_array_equal(cnn.tanh(z), [-1, -1, 0, 1, 1])
    np.testing.assert_array_equal(cnn.tanh.derivative(z), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(cnn.arctan.derivative(z)[[0, 2, 4]], [0, 1, 0])
    np.testing.assert_array_equal(cnn.relu.derivative(z), [0, 0, 0, 1, 1])  # relu'(0) = 0


MPMATH = {
    "tanh": (mpmath.tanh, lambda z: mpmath.sech(z) ** 2),
    "logistic": (lambda z: 1 / (1 + mpmath.exp(-z)),
                 lambda z: mpmath.exp(-z) / (1 + mpmath.exp(-z)) ** 2),
    "arctan": (mpmath.atan, lambda z: 1 / (1 + z ** 2)),
}


@pytest.mark.parametrize("name", sorted(MPMATH))
def test_activations_keep_relative_precision_in_the_tails(name):
    """float64 values and derivatives within a few ulp of 30-digit mpmath,
    entry by entry, deep into saturation (e.g. tanh'(20) = 1.7e-17, which
    1 - tanh(20)^2 would give as 0)."""
    z = np.array([-300.0, -30.0, -20.0, -10.0, -5.0, -0.5, 0.5, 5.0, 10.0, 20.0, 30.0, 300.0])
    act = cnn.ACTIVATIONS[name]
    f, df = MPMATH[name]
    with mpmath.workdps(30):
        want_f = np.array([float(f(mpmath.mpf(v))) for v in z])
        want_df = np.array([float(df(mpmath.mpf(v))) for v in z])
    np.testing.assert_allclose(act(z), want_f, rtol=4e-16, atol=0)
    np.testing.assert_allclose(act.derivative(z), want_df, rtol=1e-15, atol=0)


# --------------------------------------------------------------------------
# dtypes: float32 in, float32 out; integers promoted to float64
# --------------------------------------------------------------------------
def every_function(dtype):
    """(name, call) for every forward and backward function, inputs of ``dtype``."""
    rng = np.random.default_rng(0)

    def r(*shape):
        return (rng.standard_normal(shape) * 3).astype(dtype)

    x, w, b, dy_c = r(2, 3, 6, 6), r(4, 3, 3, 3), r(4), r(2, 4, 3, 3)
    p, dy_p = r(2, 3, 6, 6), r(2, 3, 3, 3)
    xd, wd, bd, dy_d = r(5, 7), r(7, 4), r(4), r(5, 4)
    labels = np.array([0, 3, 1, 2, 2])
    calls = {
        "conv2d": lambda: [cnn.conv2d(x, w, b, stride=2, padding=1)],
        "conv2d no bias": lambda: [cnn.conv2d(x, w, stride=2, padding=1)],
        "conv2d_backward": lambda: cnn.conv2d_backward(dy_c, x, w, stride=2, padding=1),
        "max_pool2d": lambda: [cnn.max_pool2d(p)],
        "max_pool2d_backward": lambda: [cnn.max_pool2d_backward(dy_p, p)],
        "max_pool2d_backward overlapping": lambda: [cnn.max_pool2d_backward(
            r(2, 3, 5, 5), p, size=2, stride=1)],
        "dense": lambda: [cnn.dense(xd, wd, bd)],
        "dense_backward": lambda: cnn.dense_backward(dy_d, xd, wd),
        "softmax_cross_entropy": lambda: cnn.softmax_cross_entropy(dy_d, labels),
        "l2_loss": lambda: cnn.l2_loss(dy_d, r(5, 4)),
    }
    for name, act in cnn.ACTIVATIONS.items():
        calls[name] = lambda act=act: [act(xd)]
        calls[f"{name}.derivative"] = lambda act=act: [act.derivative(xd)]
        calls[f"{name}.backward"] = lambda act=act: [act.backward(r(5, 7), xd)]
    return calls


@pytest.mark.parametrize("dtype", FLOATS)
def test_every_function_keeps_the_float_dtype(dtype):
    for name, call in every_function(dtype).items():
        for i, out in enumerate(call()):
            assert np.asarray(out).dtype == dtype, f"{name} output {i}: {np.asarray(out).dtype}"


def test_integer_inputs_are_promoted_to_float64():
    x = np.arange(2 * 1 * 5 * 5).reshape(2, 1, 5, 5)
    w = np.ones((1, 1, 3, 3), dtype=np.int32)
    y = cnn.conv2d(x, w)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, cnn.conv2d(x.astype(float), w.astype(float)))
    assert cnn.max_pool2d(x).dtype == np.float64
    assert cnn.relu(np.array([-1, 2])).dtype == np.float64
    assert cnn.dense(np.ones((2, 3), int), np.ones((3, 2), int), np.zeros(2, int)).dtype == np.float64


# --------------------------------------------------------------------------
# Bad input: clear errors naming the argument
# --------------------------------------------------------------------------
_X, _W = np.zeros((2, 3, 6, 6)), np.zeros((4, 3, 3, 3))
_LOGITS = np.zeros((3, 10))
_NAN = np.zeros((2, 3, 6, 6))
_NAN[1, 2, 3, 4] = np.nan
_INF = np.zeros((4, 3, 3, 3))
_INF[0, 0, 0, 0] = -np.inf

BAD_INPUTS = {
    "x wrong ndim": (lambda: cnn.conv2d(_X[0], _W), ValueError, r"x: got a 3-D array of shape \(3, 6, 6\); expected a 4-D array \(N, C, H, W\)"),
    "w wrong ndim": (lambda: cnn.conv2d(_X, _W[0]), ValueError, r"w: got a 3-D array"),
    "channels mismatch": (lambda: cnn.conv2d(_X, np.zeros((4, 2, 3, 3))), ValueError, r"w: got 2 input channel\(s\).*x has 3"),
    "kernel too large": (lambda: cnn.conv2d(_X, np.zeros((1, 3, 9, 3)), padding=1), ValueError, r"w: got a 9x3 kernel but the padded input is 8x8"),
    "bias shape": (lambda: cnn.conv2d(_X, _W, np.zeros(3)), ValueError, r"b: got shape \(3,\); expected \(4,\)"),
    "stride 0": (lambda: cnn.conv2d(_X, _W, stride=0), ValueError, r"stride: got 0; expected an integer >= 1"),
    "stride float": (lambda: cnn.conv2d(_X, _W, stride=1.5), TypeError, r"stride: got 1.5 of type float"),
    "stride bool": (lambda: cnn.conv2d(_X, _W, stride=True), TypeError, r"stride: got True"),
    "padding negative": (lambda: cnn.conv2d(_X, _W, padding=-1), ValueError, r"padding: got -1; expected an integer >= 0"),
    "conv dy shape": (lambda: cnn.conv2d_backward(np.zeros((2, 4, 3, 3)), _X, _W), ValueError, r"dy: got shape \(2, 4, 3, 3\); expected \(2, 4, 4, 4\)"),
    "empty batch": (lambda: cnn.conv2d(np.zeros((0, 3, 6, 6)), _W), ValueError, r"x: got shape \(0, 3, 6, 6\) with an empty axis"),
    "NaN": (lambda: cnn.conv2d(_NAN, _W), ValueError, r"x: got 1 non-finite value\(s\).*first at index \(1, 2, 3, 4\)"),
    "inf": (lambda: cnn.conv2d_backward(np.zeros((2, 4, 4, 4)), _X, _INF), ValueError, r"w: got 1 non-finite"),
    "complex": (lambda: cnn.conv2d(_X + 1j, _W), TypeError, r"x: got dtype complex128; expected real numbers"),
    "float16": (lambda: cnn.conv2d(_X, _W.astype(np.float16)), TypeError, r"w: got dtype float16; expected float32 or float64 \(half precision is not supported"),
    "strings": (lambda: cnn.relu(np.array(["a"])), TypeError, r"z: got dtype <U1"),
    "pool size too large": (lambda: cnn.max_pool2d(_X, size=7), ValueError, r"size: got 7 but x is 6x6"),
    "pool stride 0": (lambda: cnn.max_pool2d(_X, stride=0), ValueError, r"stride: got 0"),
    "pool size 0": (lambda: cnn.max_pool2d(_X, size=0), ValueError, r"size: got 0"),
    "pool dy shape": (lambda: cnn.max_pool2d_backward(np.zeros((2, 3, 2, 2)), _X), ValueError, r"dy: got shape \(2, 3, 2, 2\); expected \(2, 3, 3, 3\)"),
    "dense features mismatch": (lambda: cnn.dense(np.zeros((2, 5)), np.zeros((4, 3)), np.zeros(3)), ValueError, r"w: got shape \(4, 3\) but x has 5 features"),
    "dense bias": (lambda: cnn.dense(np.zeros((2, 4)), np.zeros((4, 3)), np.zeros(4)), ValueError, r"b: got shape \(4,\); expected \(3,\)"),
    "dense dy shape": (lambda: cnn.dense_backward(np.zeros((2, 4)), np.zeros((2, 4)), np.zeros((4, 3))), ValueError, r"dy: got shape \(2, 4\); expected \(2, 3\)"),
    "label out of range": (lambda: cnn.softmax_cross_entropy(_LOGITS, np.array([0, 10, 2])), ValueError, r"labels: got class index 10; expected indices in 0..9"),
    "label negative": (lambda: cnn.softmax_cross_entropy(_LOGITS, np.array([0, -1, 2])), ValueError, r"labels: got class index -1"),
    "labels wrong length": (lambda: cnn.softmax_cross_entropy(_LOGITS, np.array([0, 1])), ValueError, r"labels: got shape \(2,\); expected \(3,\)"),
    "labels one-hot": (lambda: cnn.softmax_cross_entropy(_LOGITS, np.eye(10)[:3]), TypeError, r"labels: got dtype float64; expected integer class indices"),
    "logits empty batch": (lambda: cnn.softmax_cross_entropy(np.zeros((0, 10)), np.zeros(0, int)), ValueError, r"logits: got shape \(0, 10\) with an empty axis"),
    "l2 shapes": (lambda: cnn.l2_loss(np.zeros((3, 2)), np.zeros((3, 1))), ValueError, r"output and target: got shapes \(3, 2\) and \(3, 1\)"),
    "l2 scalar": (lambda: cnn.l2_loss(np.float64(1.0), np.float64(1.0)), ValueError, r"output: got a 0-D array"),
    "activation NaN": (lambda: cnn.tanh.derivative(np.array([0.0, np.nan])), ValueError, r"z: got 1 non-finite"),
    "activation backward shapes": (lambda: cnn.relu.backward(np.zeros(3), np.zeros(4)), ValueError, r"dy and z: got shapes \(3,\) and \(4,\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_a_clear_error(case):
    call, error, message = BAD_INPUTS[case]
    with pytest.raises(error, match=message):
        call()


def test_check_finite_does_not_reject_huge_finite_values():
    """The cheap finite check sums the array first; a sum that overflows
    must fall back to the elementwise test instead of rejecting the input."""
    big = np.finfo(np.float32).max
    x = np.full((1, 1, 4, 4), big, np.float32)
    with np.errstate(**NO_WARNINGS):
        np.testing.assert_array_equal(cnn.max_pool2d(x), big)
