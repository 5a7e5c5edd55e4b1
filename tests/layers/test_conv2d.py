"""What is special to ``conv2d``: the call without a bias, its bad-input rows.

The generic checks (export, central differences, loops, PyTorch, dtypes) run
from the registry in ``test_all_layers.py`` and ``test_torch.py``; the
index-form export in ``tests/test_index_form.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from cnn import reference
from gradcheck import relative_error
from layer_checks import LAYERS, bad_input_test, rng_for, with_value

CONFIGS = LAYERS["conv2d"].configs


@pytest.mark.parametrize("k", range(len(CONFIGS)), ids=[c.id for c in CONFIGS])
def test_conv2d_without_bias_matches_reference(k):
    config = CONFIGS[k]
    rng = rng_for("conv2d", f"no bias {k}")
    x, w = (rng.standard_normal(config.shapes[n]) for n in ("x", "w"))
    fast, slow = cnn.conv2d(x, w, **config.hyper), reference.conv2d(x, w, **config.hyper)
    assert fast.shape == slow.shape
    assert relative_error(fast, slow) <= 1e-12
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    assert cnn.conv2d(x32, w32, **config.hyper).dtype == np.float32
    assert reference.conv2d(x32, w32, **config.hyper).dtype == np.float32


RNG = np.random.default_rng(0)
X4 = RNG.standard_normal((2, 3, 6, 6))              # (N, C, H, W)
W4 = RNG.standard_normal((4, 3, 3, 3))              # (F, C, KH, KW)
DY4 = RNG.standard_normal((2, 4, 4, 4))             # conv2d(X4, W4) output shape
_X, _W = np.zeros((2, 3, 6, 6)), np.zeros((4, 3, 3, 3))
_NAN = with_value(_X, (1, 2, 3, 4), np.nan)
_INF = with_value(_W, (0, 0, 0, 0), -np.inf)

BAD_INPUTS = {
    "x wrong ndim": (lambda: cnn.conv2d(_X[0], _W), ValueError, r"x: got a 3-D array of shape \(3, 6, 6\); expected a 4-D array \(N, C, H, W\)"),
    "x 5-D": (lambda: cnn.conv2d(X4[None], W4), ValueError,
              r"x: got a 5-D array of shape \(1, 2, 3, 6, 6\); expected a 4-D array \(N, C, H, W\)"),
    "w wrong ndim": (lambda: cnn.conv2d(_X, _W[0]), ValueError, r"w: got a 3-D array"),
    "channels mismatch": (lambda: cnn.conv2d(_X, np.zeros((4, 2, 3, 3))), ValueError, r"w: got 2 input channel\(s\).*x has 3"),
    "kernel too large": (lambda: cnn.conv2d(_X, np.zeros((1, 3, 9, 3)), padding=1), ValueError, r"w: got a 9x3 kernel but the padded input is 8x8"),
    "kernel > input, no output": (lambda: cnn.conv2d(X4, RNG.standard_normal((1, 3, 7, 7))), ValueError,
                                  r"w: got a 7x7 kernel but the padded input is 6x6 \(x is 6x6, padding=0\)"),
    "bias shape": (lambda: cnn.conv2d(_X, _W, np.zeros(3)), ValueError, r"b: got shape \(3,\); expected \(4,\)"),
    "b NaN": (lambda: cnn.conv2d(X4, W4, with_value(np.zeros(4), 2, np.nan)), ValueError,
              r"b: got 1 non-finite value\(s\).*first at index \(2,\)"),
    "w inf (weights)": (lambda: cnn.conv2d(X4, with_value(W4, (3, 2, 1, 0), np.inf)),
                        ValueError, r"w: got 1 non-finite value\(s\).*\(3, 2, 1, 0\)"),
    "no filters": (lambda: cnn.conv2d(X4, W4[:0]), ValueError, r"w: got shape \(0, 3, 3, 3\) with an empty axis"),
    "stride 0": (lambda: cnn.conv2d(_X, _W, stride=0), ValueError, r"stride: got 0; expected an integer >= 1"),
    "stride -2": (lambda: cnn.conv2d(X4, W4, stride=-2), ValueError, r"stride: got -2; expected an integer >= 1"),
    "stride float": (lambda: cnn.conv2d(_X, _W, stride=1.5), TypeError, r"stride: got 1.5 of type float"),
    "stride bool": (lambda: cnn.conv2d(_X, _W, stride=True), TypeError, r"stride: got True"),
    "padding negative": (lambda: cnn.conv2d(_X, _W, padding=-1), ValueError, r"padding: got -1; expected an integer >= 0"),
    "padding 0.5": (lambda: cnn.conv2d(X4, W4, padding=0.5), TypeError, r"padding: got 0.5 of type float; expected an integer >= 0"),
    "padding '1'": (lambda: cnn.conv2d(X4, W4, padding="1"), TypeError, r"padding: got '1' of type str"),
    "conv dy shape": (lambda: cnn.conv2d_backward(np.zeros((2, 4, 3, 3)), _X, _W), ValueError, r"dy: got shape \(2, 4, 3, 3\); expected \(2, 4, 4, 4\)"),
    "empty batch": (lambda: cnn.conv2d(np.zeros((0, 3, 6, 6)), _W), ValueError, r"x: got shape \(0, 3, 6, 6\) with an empty axis"),
    "NaN": (lambda: cnn.conv2d(_NAN, _W), ValueError, r"x: got 1 non-finite value\(s\).*first at index \(1, 2, 3, 4\)"),
    "inf": (lambda: cnn.conv2d_backward(np.zeros((2, 4, 4, 4)), _X, _INF), ValueError, r"w: got 1 non-finite"),
    "complex": (lambda: cnn.conv2d(_X + 1j, _W), TypeError, r"x: got dtype complex128; expected real numbers"),
    "w complex64": (lambda: cnn.conv2d(X4, W4.astype(np.complex64)), TypeError, r"w: got dtype complex64; expected real numbers"),
    "float16": (lambda: cnn.conv2d(_X, _W.astype(np.float16)), TypeError, r"w: got dtype float16; expected float32 or float64 \(half precision is not supported"),
    "x float16": (lambda: cnn.conv2d(X4.astype(np.float16), W4), TypeError, r"x: got dtype float16; expected float32 or float64"),
    "x object": (lambda: cnn.conv2d(X4.astype(object), W4), TypeError, r"x: got dtype object; expected real numbers"),
    "backward dy NaN": (lambda: cnn.conv2d_backward(with_value(DY4, (0, 1, 2, 3), np.nan), X4, W4),
                        ValueError, r"dy: got 1 non-finite value\(s\)"),
    "backward channels": (lambda: cnn.conv2d_backward(DY4, X4, W4[:, :2]), ValueError,
                          r"w: got 2 input channel\(s\).*but x has 3"),
}

test_bad_input_gets_a_clear_error = bad_input_test(BAD_INPUTS)
