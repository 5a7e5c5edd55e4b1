"""What is special to ``l2_loss``: its index-form export, its bad-input rows.

The generic checks run from the registry in ``test_all_layers.py`` and
``test_torch.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from layer_checks import bad_input_test, compare_index_case, with_value


@pytest.mark.parametrize("N,K", [(1, 1), (3, 4), (6, 2)])
def test_l2_loss_index_form(N, K):
    rng = np.random.default_rng(N * 10 + K)
    o, t = rng.uniform(-2, 2, (N, K)), rng.uniform(-2, 2, (N, K))
    loss, do = cnn.l2_loss(o, t)
    compare_index_case("l2_loss", {"o": o, "t": t}, {"N": N, "K": K}, {"L": loss, "dL/do": do})


BAD_INPUTS = {
    "shapes": (lambda: cnn.l2_loss(np.zeros((3, 2)), np.zeros((3, 1))), ValueError,
               r"output and target: got shapes \(3, 2\) and \(3, 1\)"),
    "scalar": (lambda: cnn.l2_loss(np.float64(1.0), np.float64(1.0)), ValueError,
               r"output: got a 0-D array"),
    "target NaN": (lambda: cnn.l2_loss(np.zeros((3, 1)), with_value(np.zeros((3, 1)), (1, 0), np.nan)),
                   ValueError, r"target: got 1 non-finite"),
    "empty batch": (lambda: cnn.l2_loss(np.zeros((0, 1)), np.zeros((0, 1))), ValueError,
                    r"output: got shape \(0, 1\) with an empty axis"),
}

test_bad_input_gets_a_clear_error = bad_input_test(BAD_INPUTS)
