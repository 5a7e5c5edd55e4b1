"""What is special to ``dense``: its bad-input rows.

The generic checks run from the registry in ``test_all_layers.py`` and
``test_torch.py``; dense composed with the softmax loss (the per-weight
export and seed 003's column layout) in ``test_softmax_cross_entropy.py``.
"""

from __future__ import annotations

import numpy as np

import cnn
from layer_checks import bad_input_test, with_value

RNG = np.random.default_rng(0)
XD, WD, BD = RNG.standard_normal((5, 7)), RNG.standard_normal((7, 4)), np.zeros(4)

BAD_INPUTS = {
    "features mismatch": (lambda: cnn.dense(np.zeros((2, 5)), np.zeros((4, 3)), np.zeros(3)), ValueError,
                          r"w: got shape \(4, 3\) but x has 5 features"),
    "bias": (lambda: cnn.dense(np.zeros((2, 4)), np.zeros((4, 3)), np.zeros(4)), ValueError,
             r"b: got shape \(4,\); expected \(3,\)"),
    "dy shape": (lambda: cnn.dense_backward(np.zeros((2, 4)), np.zeros((2, 4)), np.zeros((4, 3))),
                 ValueError, r"dy: got shape \(2, 4\); expected \(2, 3\)"),
    "x 1-D": (lambda: cnn.dense(XD[0], WD, BD), ValueError,
              r"x: got a 1-D array of shape \(7,\); expected a 2-D array \(N, D_in\)"),
    "w NaN (weights)": (lambda: cnn.dense(XD, with_value(WD, (6, 3), np.nan), BD), ValueError,
                        r"w: got 1 non-finite value\(s\).*\(6, 3\)"),
    "b 2-D": (lambda: cnn.dense(XD, WD, BD[None]), ValueError,
              r"b: got a 2-D array of shape \(1, 4\); expected a 1-D array \(D_out,\)"),
    "backward features": (lambda: cnn.dense_backward(np.zeros((5, 4)), XD[:, :6], WD), ValueError,
                          r"w: got shape \(7, 4\) but x has 6 features"),
    "backward dy complex": (lambda: cnn.dense_backward(np.zeros((5, 4)) + 0j, XD, WD), TypeError,
                            r"dy: got dtype complex128; expected real numbers"),
}

test_bad_input_gets_a_clear_error = bad_input_test(BAD_INPUTS)
