"""What is special to the activations: f'(z) itself, the kink, the float limits.

ReLU'(0) = 0 (as PyTorch); every activation finite and warning-free up to
the float32/float64 maximum; the saturated tails within a few ulp of mpmath.
The generic checks (export, central differences of ``.backward``, PyTorch,
dtypes) run from the registry in ``test_all_layers.py`` and ``test_torch.py``.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnn
from gradcheck import elementwise_derivative, relative_error
from layer_checks import TORCH_DTYPES, bad_input_test, check_torch, import_torch

FLOATS = [np.float32, np.float64]
NO_WARNINGS = dict(over="raise", invalid="raise", divide="raise")
NAMES = sorted(cnn.ACTIVATIONS)


def test_relu_derivative_at_0_is_0():
    assert np.all(cnn.relu.derivative(np.zeros(3)) == 0)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=0, max_size=3), st.integers(0, 2**32 - 1))
def test_activation_derivative_matches_central_differences(name, shape, seed):
    act = cnn.ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    # Unsaturated, and |z| >= 1e-3 >> the step: see cnn.registry's activation values.
    z = rng.uniform(-4, 4, shape)
    z = np.where(np.abs(z) < 1e-3, np.copysign(1e-3, z), z)
    err = relative_error(act.derivative(z), elementwise_derivative(act, z))
    assert err <= 1e-7, f"{name}': relative error {err:.3g}"


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", NAMES)
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


@pytest.mark.parametrize("dtype", sorted(TORCH_DTYPES))
@pytest.mark.parametrize("name", NAMES)
def test_activations_match_torch_at_the_kink_and_saturated(name, dtype):
    """Forward and autograd derivative, including z = 0 (ReLU'(0) = 0 in both)
    and saturated values."""
    torch = import_torch()
    np_dtype, rtol = TORCH_DTYPES[dtype]
    fn = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid,
          "arctan": torch.atan}[name]
    rng = np.random.default_rng(16)
    z = np.concatenate([rng.standard_normal(50) * 3, [0.0, -0.0, 20.0, -20.0, 1e4, -1e4]])
    z = z.astype(np_dtype)
    zt = torch.tensor(z, requires_grad=True)
    at = fn(zt)
    act = cnn.ACTIVATIONS[name]
    check_torch(act(z), at, rtol, f"{name}(z)")
    dy = rng.standard_normal(z.shape).astype(np_dtype)
    at.backward(torch.tensor(dy))
    check_torch(act.backward(dy, z), zt.grad, rtol, f"{name}.backward")
    check_torch(act.derivative(z), torch.autograd.functional.jacobian(
        lambda t: fn(t).sum(), torch.tensor(z)), rtol, f"{name}'")


BAD_INPUTS = {
    "strings": (lambda: cnn.relu(np.array(["a"])), TypeError, r"z: got dtype <U1"),
    "NaN": (lambda: cnn.tanh.derivative(np.array([0.0, np.nan])), ValueError, r"z: got 1 non-finite"),
    "backward shapes": (lambda: cnn.relu.backward(np.zeros(3), np.zeros(4)), ValueError,
                        r"dy and z: got shapes \(3,\) and \(4,\)"),
    "logistic complex": (lambda: cnn.logistic(np.array([1 + 2j])), TypeError,
                         r"z: got dtype complex128; expected real numbers"),
    "tanh float16": (lambda: cnn.tanh(np.zeros(3, np.float16)), TypeError,
                     r"z: got dtype float16; expected float32 or float64"),
    "arctan empty": (lambda: cnn.arctan(np.zeros((2, 0))), ValueError,
                     r"z: got shape \(2, 0\) with an empty axis"),
    "relu.backward dy NaN": (lambda: cnn.relu.backward(np.array([np.nan, 1.0]), np.zeros(2)),
                             ValueError, r"dy: got 1 non-finite"),
}

test_bad_input_gets_a_clear_error = bad_input_test(BAD_INPUTS)
