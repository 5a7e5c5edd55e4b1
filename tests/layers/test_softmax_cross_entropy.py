"""What is special to ``softmax_cross_entropy``: extreme logits, the cases it
shares with ``dense`` in the ``dense_softmax`` export, its bad-input rows.

* Stability: logits of +-1e4, a probability that underflows to 0 (the log(0)
  of seed 003), p within 1e-17 of 1: finite, accurate losses and gradients,
  no warnings.
* The export's composite cases: dense then the loss, per weight; seed 003's
  column-layout deltas; the index form for general sizes.

The generic checks run from the registry in ``test_all_layers.py`` and
``test_torch.py``.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import cnn
from layer_checks import (POINTS, bad_input_test, compare_case, compare_index_case, export,
                          one_hot, stack, with_value)

FLOATS = [np.float32, np.float64]
# Overflow, invalid operations and division by zero must not happen anywhere
# below; underflow to 0 is expected (e.g. exp(-1e4)) and exact enough.
NO_WARNINGS = dict(over="raise", invalid="raise", divide="raise")


# ----------------------------------------------------------------------------- stability

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


# ----------------------------------------------------------------------------- composite cases

def test_dense_softmax_per_weight_matches_exports():
    p = export("dense_softmax").case("dense_softmax_N2_in2_K3").parameters
    N, D, K = p["N"], p["D_in"], p["K"]
    rng = np.random.default_rng(5)
    pts = {"x": rng.uniform(-2, 2, (POINTS, N, D)), "w": rng.uniform(-1, 1, (POINTS, D, K)),
           "b": rng.uniform(-1, 1, (POINTS, K))}
    labels = rng.integers(0, K, (POINTS, N))
    rows = []
    for x, w, b, t in zip(pts["x"], pts["w"], pts["b"], labels):
        loss, dz = cnn.softmax_cross_entropy(cnn.dense(x, w, b), t)
        rows.append((loss, *cnn.dense_backward(dz, x, w)))
    loss, dx, dw, db = stack(rows)
    compare_case("dense_softmax", "dense_softmax_N2_in2_K3", {**pts, "y": one_hot(labels, K)},
                 {"L": loss, "dL/dx": dx, "dL/dw": dw, "dL/db": db})


@pytest.mark.parametrize("N,D,K", [(1, 1, 2), (3, 4, 5), (5, 2, 3)])
def test_dense_softmax_index_form(N, D, K):
    rng = np.random.default_rng(N * 100 + D * 10 + K)
    x, w, b = rng.uniform(-2, 2, (N, D)), rng.uniform(-1, 1, (D, K)), rng.uniform(-1, 1, K)
    G, z = rng.uniform(-2, 2, (N, K)), rng.uniform(-3, 3, (N, K))
    labels = rng.integers(0, K, N)
    dx, dw, db = cnn.dense_backward(G, x, w)
    loss, dz = cnn.softmax_cross_entropy(z, labels)
    compare_index_case("dense_softmax",
                       {"x": x, "w": w, "b": b, "G": G, "z": z, "y": one_hot(labels, K)},
                       {"N": N, "D": D, "K": K},
                       {"z": cnn.dense(x, w, b), "dL/dw": dw, "dL/db": db, "dL/dx": dx,
                        "L": loss, "dL/dz": dz})


def test_seed003_column_deltas_are_n_times_library_transposed():
    """Seed 003's batch-SUM, column-layout deltas = N x (library's batch-mean, row layout)^T."""
    p = export("dense_softmax").case("seed003_column").parameters
    D0, H, K, N = p["D0"], p["H"], p["K"], p["N"]
    rng = np.random.default_rng(6)
    pts = {"X": rng.uniform(-2, 2, (POINTS, D0, N)), "W1": rng.uniform(-1, 1, (POINTS, H, D0)),
           "W2": rng.uniform(-1, 1, (POINTS, K, H)), "B0": rng.uniform(-1, 1, (POINTS, H)),
           "B1": rng.uniform(-1, 1, (POINTS, K))}
    labels = rng.integers(0, K, (POINTS, N))
    fwd, rows = {"final_fc": [], "fc1": [], "Z1": []}, []
    for X, W1, W2, B0, B1, t in zip(*(pts[k] for k in ("X", "W1", "W2", "B0", "B1")), labels):
        x = X.T                                   # the library's row layout
        u = cnn.dense(x, W1.T, B0)
        a = cnn.relu(u)
        logits = cnn.dense(a, W2.T, B1)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        fwd["final_fc"].append((e / e.sum(axis=1, keepdims=True)).T)
        fwd["fc1"].append(a.T)
        fwd["Z1"].append(u.T)
        _, dlogits = cnn.softmax_cross_entropy(logits, t)
        da, dw2, db2 = cnn.dense_backward(dlogits, a, W2.T)
        du = cnn.relu.backward(da, u)
        dx, dw1, db1 = cnn.dense_backward(du, x, W1.T)
        rows.append(tuple(N * v for v in (dlogits.T, dw2.T, db2, du.T, dw1.T, db1, dx.T)))
    delta_2, dW2, dB1, delta_1, dW1, dB0, delta_0 = stack(rows)
    pts.update({k: np.array(v) for k, v in fwd.items()})
    pts["y_batch"] = np.swapaxes(one_hot(labels, K), 1, 2)
    n = len(compare_case("dense_softmax", "seed003_column", pts,
                         {"delta_2": delta_2, "dW2": dW2, "dB1": dB1, "delta_1": delta_1,
                          "dW1": dW1, "dB0": dB0, "delta_0": delta_0}))
    assert n == K * N + K * H + K + H * N + H * D0 + H + D0 * N


# ----------------------------------------------------------------------------- bad input

LOGITS = np.random.default_rng(0).standard_normal((3, 10))

BAD_INPUTS = {
    "label out of range": (lambda: cnn.softmax_cross_entropy(LOGITS, np.array([0, 10, 2])), ValueError,
                           r"labels: got class index 10; expected indices in 0..9"),
    "label negative": (lambda: cnn.softmax_cross_entropy(LOGITS, np.array([0, -1, 2])), ValueError,
                       r"labels: got class index -1"),
    "labels wrong length": (lambda: cnn.softmax_cross_entropy(LOGITS, np.array([0, 1])), ValueError,
                            r"labels: got shape \(2,\); expected \(3,\)"),
    "labels one-hot": (lambda: cnn.softmax_cross_entropy(LOGITS, np.eye(10)[:3]), TypeError,
                       r"labels: got dtype float64; expected integer class indices"),
    "logits empty batch": (lambda: cnn.softmax_cross_entropy(np.zeros((0, 10)), np.zeros(0, int)),
                           ValueError, r"logits: got shape \(0, 10\) with an empty axis"),
    "logits 1-D": (lambda: cnn.softmax_cross_entropy(LOGITS[0], np.array([1])), ValueError,
                   r"logits: got a 1-D array.*expected a 2-D array \(N, K\)"),
    "logits inf": (lambda: cnn.softmax_cross_entropy(with_value(LOGITS, (2, 9), np.inf),
                                                     np.array([0, 1, 2])), ValueError,
                   r"logits: got 1 non-finite value\(s\).*\(2, 9\)"),
    "labels 2-D": (lambda: cnn.softmax_cross_entropy(LOGITS, np.array([[0], [1], [2]])), ValueError,
                   r"labels: got shape \(3, 1\); expected \(3,\)"),
    "labels strings": (lambda: cnn.softmax_cross_entropy(LOGITS, np.array(["0", "1", "2"])),
                       TypeError, r"labels: got dtype <U1; expected integer class indices"),
}

test_bad_input_gets_a_clear_error = bad_input_test(BAD_INPUTS)
