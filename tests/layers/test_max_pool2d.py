"""What is special to ``max_pool2d``: ties and the tie rule, exact forward values.

Where max has no derivative (a tie inside a window) the library, the export
and PyTorch on a contiguous NCHW tensor all give the whole gradient of the
window to its first maximum in row-major order. The generic checks run from
the registry in ``test_all_layers.py`` and ``test_torch.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from cnn import reference
from gradcheck import relative_error
from layer_checks import (LAYERS, POINTS, bad_input_test, check_torch, compare_case, export,
                          import_torch, stack, with_value)

CONFIGS = LAYERS["max_pool2d"].configs
CASES = sorted(export("max_pool").cases)


def _ties(rng, shape):
    """Small integers: most windows hold their maximum more than once."""
    return rng.integers(0, 3, shape).astype(np.float64)


@pytest.mark.parametrize("case", CASES)
def test_max_pool_ties_match_exports(case):
    """Inputs from {0, 1, 2} (ties in most windows) and all-equal inputs: the
    export's first-maximum rule and the library route the gradient alike."""
    p = export("max_pool").case(case).parameters
    rng = np.random.default_rng(8)
    x = _ties(rng, (POINTS, 1, 1, p["H"], p["W"]))
    x[:5] = 1.0  # every window a full tie
    G = rng.uniform(-2, 2, (POINTS, 1, 1, p["out"], p["out"]))
    kw = dict(size=p["size"], stride=p["stride"])
    y, dx = stack([(cnn.max_pool2d(xi, **kw), cnn.max_pool2d_backward(Gi, xi, **kw))
                   for xi, Gi in zip(x, G)])
    compare_case("max_pool", case, {"x": x, "G": G}, {"y": y, "dL/dx": dx})


@pytest.mark.parametrize("values", ["generic", "ties"])
@pytest.mark.parametrize("k", range(len(CONFIGS)), ids=[c.id for c in CONFIGS])
def test_max_pool2d_matches_reference_exactly_and_on_ties(k, values):
    """The forward value is an input entry, so it equals the loops' bit for bit;
    on ties the loops' first strict maximum is the same entry as the vectorised one."""
    config = CONFIGS[k]
    rng = np.random.default_rng(2)
    shape = config.shapes["x"]
    x = rng.standard_normal(shape) if values == "generic" else _ties(rng, shape)
    y = cnn.max_pool2d(x, **config.hyper)
    np.testing.assert_array_equal(y, reference.max_pool2d(x, **config.hyper))
    dy = rng.standard_normal(y.shape)
    err = relative_error(cnn.max_pool2d_backward(dy, x, **config.hyper),
                         reference.max_pool2d_backward(dy, x, **config.hyper))
    assert err <= 1e-12


def test_tie_cases_really_have_ties():
    """Guard for the test above: its "ties" inputs do contain tied maxima."""
    x = _ties(np.random.default_rng(2), (2, 2, 8, 8))
    windows = x.reshape(2, 2, 4, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 2, 4, 4, 4)
    ties = (windows == windows.max(axis=-1, keepdims=True)).sum(axis=-1) > 1
    assert ties.sum() >= 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", range(len(CONFIGS)), ids=[c.id for c in CONFIGS])
def test_max_pool2d_forward_is_exactly_torch(k, dtype):
    torch = import_torch()
    config = CONFIGS[k]
    shape = config.shapes["x"]
    x = np.random.default_rng(11).permutation(np.prod(shape)).reshape(shape).astype(dtype)
    y = torch.nn.functional.max_pool2d(torch.tensor(x), config.hyper["size"], config.hyper["stride"])
    check_torch(cnn.max_pool2d(x, **config.hyper), y, 0, "y")


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 1)])
def test_max_pool2d_tie_rule_matches_torch_on_contiguous_nchw(size, stride):
    """The documented tie rule (first maximum in row-major window order) is
    what PyTorch does on a contiguous NCHW tensor. (A channels-last tensor can
    break ties differently, so this is pinned to NCHW.)"""
    torch = import_torch()
    rng = np.random.default_rng(12)
    for x in (np.ones((2, 2, 8, 8)), _ties(rng, (2, 2, 8, 8))):
        xt = torch.tensor(x, requires_grad=True)
        assert xt.is_contiguous()
        yt = torch.nn.functional.max_pool2d(xt, size, stride)
        dy = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(dy))
        check_torch(cnn.max_pool2d_backward(dy, x, size=size, stride=stride), xt.grad, 1e-12, "dx")


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


def test_check_finite_does_not_reject_huge_finite_values():
    """The cheap finite check sums the array first; a sum that overflows
    must fall back to the elementwise test instead of rejecting the input."""
    big = np.finfo(np.float32).max
    x = np.full((1, 1, 4, 4), big, np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(cnn.max_pool2d(x), big)


X4 = np.random.default_rng(0).standard_normal((2, 3, 6, 6))

BAD_INPUTS = {
    "size too large": (lambda: cnn.max_pool2d(X4, size=7), ValueError, r"size: got 7 but x is 6x6"),
    "stride 0": (lambda: cnn.max_pool2d(X4, stride=0), ValueError, r"stride: got 0"),
    "size 0": (lambda: cnn.max_pool2d(X4, size=0), ValueError, r"size: got 0"),
    "dy shape": (lambda: cnn.max_pool2d_backward(np.zeros((2, 3, 2, 2)), X4), ValueError,
                 r"dy: got shape \(2, 3, 2, 2\); expected \(2, 3, 3, 3\)"),
    "x 2-D": (lambda: cnn.max_pool2d(X4[0, 0]), ValueError,
              r"x: got a 2-D array of shape \(6, 6\); expected a 4-D array"),
    "size 2.5": (lambda: cnn.max_pool2d(X4, size=2.5), TypeError, r"size: got 2.5 of type float"),
    "stride -1": (lambda: cnn.max_pool2d(X4, stride=-1), ValueError,
                  r"stride: got -1; expected an integer >= 1"),
    "x inf": (lambda: cnn.max_pool2d(with_value(X4, (1, 0, 5, 5), -np.inf)), ValueError,
              r"x: got 1 non-finite value\(s\).*\(1, 0, 5, 5\)"),
    "backward dy NaN": (lambda: cnn.max_pool2d_backward(
        with_value(np.zeros((2, 3, 3, 3)), (0, 0, 0, 0), np.nan), X4), ValueError,
        r"dy: got 1 non-finite"),
}

test_bad_input_gets_a_clear_error = bad_input_test(BAD_INPUTS)
