"""What is special to ``avg_pool2d``: a linear layer, floor mode, sums that overflow.

Each window passes its gradient back exactly once, in equal shares, whatever
the input; entries past the last window (floor mode) get exactly 0; a window
sum that overflows float32 while the mean fits still gives the mean. The
generic checks (export, central differences, loops, PyTorch, dtypes, bad
input) run from the registry in ``test_all_layers.py`` and ``test_torch.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from gradcheck import relative_error
from layer_checks import LAYERS, bad_input_test, rng_for

CONFIGS = LAYERS["avg_pool2d"].configs


@pytest.mark.parametrize("k", range(len(CONFIGS)), ids=[c.id for c in CONFIGS])
def test_each_window_passes_its_gradient_back_once_whatever_the_input(k):
    config = CONFIGS[k]
    rng = rng_for("avg_pool2d", f"once{k}")
    x = rng.standard_normal(config.shapes["x"])
    dy = rng.standard_normal(cnn.avg_pool2d(x, **config.hyper).shape)
    dx = cnn.avg_pool2d_backward(dy, x, **config.hyper)
    # the layer is linear: the gradient is the same for any input of that shape
    np.testing.assert_array_equal(dx, cnn.avg_pool2d_backward(dy, 10 * x + 1, **config.hyper))
    assert relative_error(dx.sum(axis=(2, 3)), dy.sum(axis=(2, 3))) <= 1e-12


def test_floor_mode_leaves_the_remainder_out():
    """A 5x7 input, 2x2 windows, stride 2: row 4 and column 6 are in no window."""
    x = np.arange(35.0).reshape(1, 1, 5, 7)
    y = cnn.avg_pool2d(x)
    assert y.shape == (1, 1, 2, 3)
    np.testing.assert_array_equal(y[0, 0, 0], [(0 + 1 + 7 + 8) / 4, (2 + 3 + 9 + 10) / 4,
                                                (4 + 5 + 11 + 12) / 4])
    dx = cnn.avg_pool2d_backward(np.ones_like(y), x)
    np.testing.assert_array_equal(dx[0, 0, :4, :6], 0.25)
    np.testing.assert_array_equal(dx[0, 0, 4, :], 0)
    np.testing.assert_array_equal(dx[0, 0, :, 6], 0)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype, big", [(np.float32, 3e38), (np.float64, 1.7e308)])
def test_a_window_sum_that_overflows_still_gives_the_mean(dtype, big):
    """Four entries near the maximum: their sum overflows, their mean fits and is exact."""
    x = np.full((1, 1, 2, 2), big, dtype)
    y = cnn.avg_pool2d(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, x[:, :, :1, :1])


X4 = np.random.default_rng(0).standard_normal((2, 3, 6, 6))

BAD_INPUTS = {
    "size too large": (lambda: cnn.avg_pool2d(X4, size=7), ValueError, r"size: got 7 but x is 6x6"),
    "stride 0": (lambda: cnn.avg_pool2d(X4, stride=0), ValueError, r"stride: got 0; expected an integer >= 1"),
    "size 2.5": (lambda: cnn.avg_pool2d(X4, size=2.5), TypeError, r"size: got 2.5 of type float"),
    "x 2-D": (lambda: cnn.avg_pool2d(X4[0, 0]), ValueError,
              r"x: got a 2-D array of shape \(6, 6\); expected a 4-D array"),
    "dy shape": (lambda: cnn.avg_pool2d_backward(np.zeros((2, 3, 2, 2)), X4), ValueError,
                 r"dy: got shape \(2, 3, 2, 2\); expected \(2, 3, 3, 3\), the shape of "
                 r"avg_pool2d's output"),
}

test_bad_input_gets_a_clear_error = bad_input_test(BAD_INPUTS)
