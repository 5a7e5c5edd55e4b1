"""The toy net: exported SymPy formulas <-> cnn.toy_net, and the seed's facts.

Every formula in ``derivations/exported/toy_net.json`` is evaluated at random
generic points and compared with the hand-written NumPy code; the seed's
kernel-gradient variants are told apart; the seed's training is reproduced.
"""

from __future__ import annotations

import numpy as np
import pytest

import derivations
from cnn import toy_net
from symbolic import evaluate, relative_error

EXPORT = derivations.load("toy_net")
CASES = sorted(EXPORT.cases)
POINTS = 50
RTOL = 1e-12


def generic_points(case, seed=0):
    """Random, asymmetric, unsaturated inputs: |z1| stays well inside tanh's slope."""
    p = EXPORT.case(case).parameters
    n, k, m2 = p["image_size"], p["kernel_size"], p["nodes"]
    rng = np.random.default_rng(seed)
    return {
        "image": rng.uniform(-1, 1, (POINTS, n, n)),
        "kernel": rng.uniform(-0.6, 0.6, (POINTS, k, k)),
        "weights": rng.uniform(-1.5, 1.5, (POINTS, m2, 1)),
        "label": rng.uniform(0, 1, POINTS),
    }


def numpy_side(case, pts):
    """cnn.toy_net at every point: forward values, deltas and gradients."""
    padding = EXPORT.case(case).parameters["padding"]
    rows = []
    for x, k, w, y in zip(pts["image"], pts["kernel"], pts["weights"], pts["label"]):
        fwd = toy_net.forward(x, k, w, padding=padding)
        delta = toy_net.layer1_deltas(x, y, k, w, padding=padding)
        dk, dw = toy_net.gradients(x, y, k, w, padding=padding)
        rows.append((fwd, delta, dk, dw))
    fwd = [r[0] for r in rows]
    return {
        "z1": np.array([f.z1 for f in fwd]),
        "a1": np.array([f.a1 for f in fwd]),
        "z2": np.array([f.z2 for f in fwd]),
        "out": np.array([f.out for f in fwd]),
        "L": np.array([toy_net.cost(f.out, y) for f, y in zip(fwd, pts["label"])]),
        "delta": np.array([r[1] for r in rows]),
        "dk": np.array([r[2] for r in rows]),
        "dw": np.array([r[3] for r in rows]),
    }


def array_of(base, ours):
    """The NumPy array (points first) that formulas named ``base[...]`` must equal."""
    return {"z1": ours["z1"], "z2": ours["z2"], "out": ours["out"], "L": ours["L"],
            "delta": ours["delta"], "dL/dk": ours["dk"], "dL/dw": ours["dw"][..., 0]}[base]


def entry_of(name):
    """``"chain:dL/dk[0,1]"`` -> ``("dL/dk", (0, 1))``."""
    base, _, index = name.removeprefix("chain:").partition("[")
    return base, tuple(int(i) for i in index.rstrip("]").split(",")) if index else ()


@pytest.mark.parametrize("case", CASES)
def test_every_exported_formula_matches_numpy(case):
    """Full forms (raw symbols) and chain forms (forward values) alike.

    For each array (the kernel gradient, the weight gradient, the deltas, ...)
    and each point, the exported entries are stacked and compared with the
    NumPy array: relative error (max-norm over the array) <= RTOL.
    """
    pts = generic_points(case)
    ours = numpy_side(case, pts)
    inputs = {**pts, "weights": pts["weights"][..., 0],  # the export lists w_r as a vector
              "a1": ours["a1"], "out": ours["out"], "deltas": ours["delta"]}
    formulas = EXPORT.case(case).formulas
    assert len(formulas) >= 10
    groups = {}
    matrices = [n for n in formulas if n.startswith("matrix:")]
    for name in matrices:   # one matrix of entries checked below: exactly those entries
        prefix = name.removeprefix("matrix:")
        entries = sorted((entry_of(n)[1], formulas[n].expr) for n in formulas
                         if n.startswith(prefix + "["))
        matrix = formulas[name].expr
        assert len(entries) == len(matrix), name
        assert all(matrix[index if len(index) == 2 else (index[0], 0)] == expr
                   for index, expr in entries), f"{case} {name}: not its entries"
    for name in formulas:
        if name in matrices:
            continue
        kind = "chain" if name.startswith("chain:") else "full"
        base, index = entry_of(name)
        groups.setdefault((kind, base), []).append((index, name))
    checked = 0
    for (kind, base), entries in sorted(groups.items()):
        expected = array_of(base, ours)
        got = np.empty_like(expected)
        for index, name in entries:
            got[(slice(None),) + index] = evaluate(EXPORT.case(case), name, inputs)
            checked += 1
        assert len(entries) == max(1, expected[0].size), f"{case} {kind} {base}: missing entries"
        err = relative_error(got, expected, axis=tuple(range(1, expected.ndim)) or None)
        assert err <= RTOL, f"{case} {kind} {base}: relative error {err:.3g} > {RTOL}"
    assert checked == len(formulas) - len(matrices)


@pytest.mark.parametrize("case", CASES)
def test_gradients_match_central_differences(case):
    p = EXPORT.case(case).parameters
    pts = generic_points(case, seed=1)
    h = 1e-6
    for x, k, w, y in list(zip(pts["image"], pts["kernel"], pts["weights"], pts["label"]))[:5]:
        def loss(k_, w_):
            return toy_net.cost(toy_net.forward(x, k_, w_, padding=p["padding"]).out, y)

        dk, dw = toy_net.gradients(x, y, k, w, padding=p["padding"])
        for param, grad, is_kernel in ((k, dk, True), (w, dw, False)):
            numeric = np.zeros_like(param)
            for idx in np.ndindex(param.shape):
                plus, minus = param.copy(), param.copy()
                plus[idx] += h
                minus[idx] -= h
                args_p = (plus, w) if is_kernel else (k, plus)
                args_m = (minus, w) if is_kernel else (k, minus)
                numeric[idx] = (loss(*args_p) - loss(*args_m)) / (2 * h)
            np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-10)


# --------------------------------------------------------------------------
# The seed's kernel-gradient variants
# --------------------------------------------------------------------------
def _variant_gradients(x, delta, padding):
    xp = toy_net.pad(x, padding)
    return {v: toy_net.kernel_gradient(xp, delta, variant=v) for v in toy_net.KERNEL_GRADIENT_VARIANTS}


def test_variants_told_apart_on_generic_inputs():
    rng = np.random.default_rng(2)
    x, k, w, y = rng.uniform(-1, 1, (3, 3)), rng.uniform(-.6, .6, (2, 2)), rng.uniform(-1, 1, (4, 1)), 0.3
    delta = toy_net.layer1_deltas(x, y, k, w)
    g = _variant_gradients(x, delta, 0)
    true_dk, _ = toy_net.gradients(x, y, k, w)
    np.testing.assert_array_equal(g["correct"], true_dk)
    np.testing.assert_allclose(g["seed_rotated"], true_dk, rtol=1e-14)
    np.testing.assert_allclose(g["seed_original"], np.rot90(true_dk, 2), rtol=1e-14)
    for wrong in ("seed_original", "seed_transposed"):
        assert relative_error(g[wrong], true_dk) > 0.1, wrong


def test_exported_counterexample_reproduced_by_numpy():
    """The exact numbers of the exported counterexample come out of cnn.toy_net."""
    from fractions import Fraction

    data = EXPORT.facts["transposed_counterexample"]["data"]
    as_float = lambda a: np.array([[float(Fraction(v)) for v in row] for row in a])  # noqa: E731
    x, k = np.array(data["image"], float), as_float(data["kernel"])
    w = np.array([float(Fraction(v)) for v in data["weights"]])[:, None]
    delta = toy_net.layer1_deltas(x, float(Fraction(data["label"])), k, w)
    g = _variant_gradients(x, delta, 0)
    for ours, exported in (("correct", "true_gradient"), ("seed_original", "seed_original"),
                           ("seed_transposed", "seed_transposed"), ("seed_rotated", "seed_rotated")):
        np.testing.assert_allclose(g[ours], np.array(data[exported], float), rtol=1e-10,
                                   err_msg=ours)


def test_variants_train_identically_on_seed_data():
    images, labels = toy_net.seed_data()
    kernel, weights = toy_net.seed_init()
    runs = {v: toy_net.train(images, labels, kernel, weights, variant=v)
            for v in toy_net.KERNEL_GRADIENT_VARIANTS}
    ref = runs["correct"]
    for v, run in runs.items():
        # Same costs, outputs and dense weights: the training is the same ...
        np.testing.assert_allclose(run.costs, ref.costs, rtol=1e-6, err_msg=v)
        np.testing.assert_allclose(run.outputs, ref.outputs, rtol=1e-6, err_msg=v)
        np.testing.assert_allclose(run.weights, ref.weights, rtol=1e-6, err_msg=v)
        # ... because the kernel barely moves in any variant (it moves in
        # different directions, but by less than 1e-3 of its size).
        assert np.linalg.norm(run.kernel - kernel) < 1e-3 * np.linalg.norm(kernel), v


def test_seed_data_kernel_gradient_is_negligible():
    """The exported fact, recomputed with NumPy: ratios match and stay < 1e-3."""
    fact = EXPORT.facts["seed_data_kernel_gradient_negligible"]
    assert fact["holds"]
    images, labels = toy_net.seed_data()
    kernel, weights = toy_net.seed_init()
    for x, y, row in zip(images, labels, fact["data"]["per_image"]):
        dk, dw = toy_net.gradients(x, y, kernel, weights)
        np.testing.assert_allclose(np.abs(dk).max(), float(row["max_abs_dL_dk"]), rtol=1e-3)
        np.testing.assert_allclose(np.abs(dw).max(), float(row["max_abs_dL_dw"]), rtol=1e-3)
        assert np.abs(dk).max() <= 1e-3 * max(np.abs(dw).max(), 1e-300) or np.abs(dw).max() == 0


def test_all_exported_facts_hold():
    assert {"gradient_is_convolution", "seed_original_is_rot180", "seed_rotated_is_correct",
            "seed_transposed_is_wrong", "transposed_counterexample",
            "seed_data_kernel_gradient_negligible"} <= set(EXPORT.facts)
    for name, fact in EXPORT.facts.items():
        assert fact["holds"] is True, name


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------
def test_seed_training_outcome_reproduced():
    """Seed 004 reports cost 1.2848 -> 0.0126 and outputs [0.5, 0.7716, 0.9825, 0.9825]."""
    images, labels = toy_net.seed_data()
    kernel, weights = toy_net.seed_init()
    run = toy_net.train(images, labels, kernel, weights, lr=0.7, epochs=1000)
    assert run.costs[0] == pytest.approx(1.2848, abs=5e-5)
    assert run.costs[-1] == pytest.approx(0.0126, abs=5e-5)
    np.testing.assert_allclose(run.outputs, [0.5, 0.7716, 0.9825, 0.9825], atol=5e-5)


def test_unsaturated_kernel_learns_and_seed_kernel_does_not():
    images, labels = toy_net.seed_data()
    change = {}
    for scale in (4.0, toy_net.UNSATURATED_SCALE):
        kernel, weights = toy_net.seed_init(scale=scale)
        run = toy_net.train(images, labels, kernel, weights)
        change[scale] = np.linalg.norm(run.kernel - kernel) / np.linalg.norm(kernel)
    assert change[4.0] < 1e-3
    assert change[toy_net.UNSATURATED_SCALE] > 0.1


def test_training_does_not_modify_inputs():
    images, labels = toy_net.seed_data()
    kernel, weights = toy_net.seed_init()
    k0, w0 = kernel.copy(), weights.copy()
    toy_net.train(images, labels, kernel, weights, epochs=3)
    np.testing.assert_array_equal(kernel, k0)
    np.testing.assert_array_equal(weights, w0)
