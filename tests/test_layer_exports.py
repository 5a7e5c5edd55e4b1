"""The layer library's exported SymPy formulas <-> the hand-written ``cnn`` code.

Every formula of the subjects ``activations``, ``l2_loss``, ``dense_softmax``,
``max_pool`` and ``conv2d`` is lambdified (NumPy) and evaluated at 50 random,
generic float64 points; the matching ``cnn`` function must agree to a
relative error of 1e-10. A formula whose name has no NumPy counterpart fails
the test, so nothing exported goes unchecked. The index-form (general size)
formulas are evaluated on several concrete sizes. Every exported fact must
hold.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp

import cnn
import derivations
from derivations import conv2d_index, export, max_pool_index, toy_flip_index
from derivations.index_sums import same
from derivations.proof import Checks
from symbolic import evaluate, relative_error

SUBJECTS = ["activations", "l2_loss", "dense_softmax", "max_pool", "conv2d"]
POINTS = 50
RTOL = 1e-10
EXPORTS = {s: derivations.load(s) for s in SUBJECTS}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def split_name(name: str) -> tuple[str, tuple]:
    """``"dL/dw[0,1,2,0]"`` -> ``("dL/dw", (0, 1, 2, 0))``; ``"L"`` -> ``("L", ())``."""
    m = re.fullmatch(r"(.+?)(?:\[([^\]]*)\])?", name)
    base, index = m.group(1), m.group(2)
    return base, tuple(int(i) for i in index.split(",")) if index else ()


def compare_case(subject: str, case: str, points: dict, numpy_values: dict) -> int:
    """Every formula of the case against ``numpy_values[base][:, index]``; returns the count."""
    c = EXPORTS[subject].case(case)
    assert c.formulas, f"{subject}/{case} exports no formulas"
    for name in c.formulas:
        base, index = split_name(name)
        assert base in numpy_values, (f"{subject}/{case}: formula {name!r} has no NumPy "
                                      f"counterpart (known: {sorted(numpy_values)})")
        expected = np.asarray(numpy_values[base], dtype=np.float64)[(slice(None),) + index]
        got = evaluate(c, name, points)
        err = relative_error(got, expected)
        assert err <= RTOL, f"{subject}/{case} {name}: relative error {err:.3g} > {RTOL}"
    return len(c.formulas)


def stack(rows: list[tuple]) -> list[np.ndarray]:
    """Per-point results (tuples of arrays) -> one array per component, points first."""
    return [np.array(col, dtype=np.float64) for col in zip(*rows)]


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


def index_function(expr: sp.Expr, arrays: dict, scalars: dict, free: list[str]):
    """Lambdify an index-form expression: IndexedBase -> array, size -> int,
    free index (given when called) -> int."""
    bases = {b.label.name: b for b in expr.atoms(sp.IndexedBase)}
    syms = {s.name: s for s in expr.free_symbols if isinstance(s, sp.Symbol)}
    names = sorted(set(bases) | set(syms))
    unknown = [n for n in names if n not in arrays and n not in scalars and n not in free]
    assert not unknown, f"no value for {unknown} in {expr}"
    fn = sp.lambdify([bases.get(n, syms.get(n)) for n in names], expr, modules="numpy")
    return lambda **extra: fn(*({**arrays, **scalars, **extra}[n] for n in names))


def compare_index_case(subject: str, arrays: dict, sizes: dict, numpy_values: dict) -> None:
    """Each index-form formula at every index of the matching NumPy array."""
    case = EXPORTS[subject].case("index_form")
    for name, formula in case.formulas.items():
        base, _, idx = name.partition("[")
        idx_names = idx.rstrip("]").split(",") if idx else []
        expected = np.asarray(numpy_values[base], dtype=np.float64)
        assert expected.ndim == len(idx_names), (name, expected.shape)
        fn = index_function(formula.expr, arrays, sizes, idx_names)
        for index in np.ndindex(expected.shape):
            got = float(fn(**dict(zip(idx_names, index))))
            err = relative_error(got, expected[index])
            assert err <= RTOL, f"{subject}/index_form {name} at {index} with sizes " \
                                f"{sizes}: relative error {err:.3g} > {RTOL}"


# --------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------
def test_activations_match_exports():
    rng = np.random.default_rng(1)
    z = rng.uniform(-3, 3, POINTS)
    z[:5] = 0.0  # ReLU's kink: the export's Heaviside(z, 0) and the library must agree
    G = rng.uniform(-2, 2, POINTS)
    values = {}
    for name in ("relu", "tanh", "logistic", "arctan"):
        act = cnn.ACTIVATIONS[name]
        values[f"{name}(z)"] = act(z)
        values[f"{name}'(z)"] = act.derivative(z)
        values[f"{name}.backward(G,z)"] = act.backward(G, z)
    # names like "relu'(z)" carry no index: look them up whole
    c = EXPORTS["activations"].case("elementwise")
    assert sorted(c.formulas) == sorted(values)
    for name in c.formulas:
        err = relative_error(evaluate(c, name, {"z": z, "G": G}), values[name])
        assert err <= RTOL, f"activations {name}: relative error {err:.3g} > {RTOL}"
    assert np.all(cnn.relu.derivative(np.zeros(3)) == 0)


# --------------------------------------------------------------------------
# L2 loss
# --------------------------------------------------------------------------
def test_l2_loss_matches_exports():
    p = EXPORTS["l2_loss"].case("mean_N2_K3").parameters
    rng = np.random.default_rng(2)
    o = rng.uniform(-2, 2, (POINTS, p["N"], p["K"]))
    t = rng.uniform(-2, 2, (POINTS, p["N"], p["K"]))
    loss, do = stack([cnn.l2_loss(oi, ti) for oi, ti in zip(o, t)])
    n = compare_case("l2_loss", "mean_N2_K3", {"output": o, "target": t}, {"L": loss, "dL/do": do})
    assert n == 1 + p["N"] * p["K"]


@pytest.mark.parametrize("N,K", [(1, 1), (3, 4), (6, 2)])
def test_l2_loss_index_form(N, K):
    rng = np.random.default_rng(N * 10 + K)
    o, t = rng.uniform(-2, 2, (N, K)), rng.uniform(-2, 2, (N, K))
    loss, do = cnn.l2_loss(o, t)
    compare_index_case("l2_loss", {"o": o, "t": t}, {"N": N, "K": K}, {"L": loss, "dL/do": do})


# --------------------------------------------------------------------------
# dense, softmax + cross-entropy
# --------------------------------------------------------------------------
def test_dense_matches_exports():
    p = EXPORTS["dense_softmax"].case("dense_N2_in3_out2").parameters
    N, D, O = p["N"], p["D_in"], p["D_out"]
    rng = np.random.default_rng(3)
    pts = {"x": rng.uniform(-2, 2, (POINTS, N, D)), "w": rng.uniform(-2, 2, (POINTS, D, O)),
           "b": rng.uniform(-2, 2, (POINTS, O)), "G": rng.uniform(-2, 2, (POINTS, N, O))}
    rows = [(cnn.dense(x, w, b), *cnn.dense_backward(G, x, w))
            for x, w, b, G in zip(pts["x"], pts["w"], pts["b"], pts["G"])]
    y, dx, dw, db = stack(rows)
    compare_case("dense_softmax", "dense_N2_in3_out2", pts,
                 {"y": y, "dL/dx": dx, "dL/dw": dw, "dL/db": db})


def test_softmax_cross_entropy_matches_exports():
    p = EXPORTS["dense_softmax"].case("softmax_ce_N2_K3").parameters
    rng = np.random.default_rng(4)
    z = rng.uniform(-3, 3, (POINTS, p["N"], p["K"]))
    labels = rng.integers(0, p["K"], (POINTS, p["N"]))
    loss, dz = stack([cnn.softmax_cross_entropy(zi, li) for zi, li in zip(z, labels)])
    compare_case("dense_softmax", "softmax_ce_N2_K3",
                 {"logits": z, "y": one_hot(labels, p["K"])}, {"L": loss, "dL/dz": dz})


def test_dense_softmax_per_weight_matches_exports():
    p = EXPORTS["dense_softmax"].case("dense_softmax_N2_in2_K3").parameters
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
    p = EXPORTS["dense_softmax"].case("seed003_column").parameters
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
    n = compare_case("dense_softmax", "seed003_column", pts,
                     {"delta_2": delta_2, "dW2": dW2, "dB1": dB1, "delta_1": delta_1,
                      "dW1": dW1, "dB0": dB0, "delta_0": delta_0})
    assert n == K * N + K * H + K + H * N + H * D0 + H + D0 * N


# --------------------------------------------------------------------------
# max pooling
# --------------------------------------------------------------------------
def pool_numpy(case: str, x: np.ndarray, G: np.ndarray) -> dict:
    p = EXPORTS["max_pool"].case(case).parameters
    kw = dict(size=p["size"], stride=p["stride"])
    y, dx = stack([(cnn.max_pool2d(xi, **kw), cnn.max_pool2d_backward(Gi, xi, **kw))
                   for xi, Gi in zip(x, G)])
    return {"y": y, "dL/dx": dx}


def pool_shapes(case: str):
    p = EXPORTS["max_pool"].case(case).parameters
    return (POINTS, 1, 1, p["H"], p["W"]), (POINTS, 1, 1, p["out"], p["out"])


@pytest.mark.parametrize("case", sorted(EXPORTS["max_pool"].cases))
def test_max_pool_matches_exports(case):
    xs, gs = pool_shapes(case)
    rng = np.random.default_rng(7)
    x, G = rng.uniform(-2, 2, xs), rng.uniform(-2, 2, gs)
    compare_case("max_pool", case, {"x": x, "G": G}, pool_numpy(case, x, G))


@pytest.mark.parametrize("case", sorted(EXPORTS["max_pool"].cases))
def test_max_pool_ties_match_exports(case):
    """Inputs from {0, 1, 2} (ties in most windows) and all-equal inputs: the
    export's first-maximum rule and the library route the gradient alike."""
    xs, gs = pool_shapes(case)
    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, xs).astype(np.float64)
    x[:5] = 1.0  # every window a full tie
    G = rng.uniform(-2, 2, gs)
    compare_case("max_pool", case, {"x": x, "G": G}, pool_numpy(case, x, G))


# --------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(EXPORTS["conv2d"].cases))
def test_conv2d_matches_exports(case):
    p = EXPORTS["conv2d"].case(case).parameters
    kw = dict(stride=p["stride"], padding=p["padding"])
    rng = np.random.default_rng(9)
    pts = {"x": rng.uniform(-2, 2, (POINTS, p["N"], p["C"], p["H"], p["W"])),
           "w": rng.uniform(-2, 2, (POINTS, p["F"], p["C"], p["KH"], p["KW"])),
           "b": rng.uniform(-2, 2, (POINTS, p["F"])),
           "G": rng.uniform(-2, 2, (POINTS, p["N"], p["F"], p["OH"], p["OW"]))}
    rows = [(cnn.conv2d(x, w, b, **kw), *cnn.conv2d_backward(G, x, w, **kw))
            for x, w, b, G in zip(pts["x"], pts["w"], pts["b"], pts["G"])]
    y, dx, dw, db = stack(rows)
    n = compare_case("conv2d", case, pts, {"y": y, "dL/dx": dx, "dL/dw": dw, "dL/db": db})
    assert n == y[0].size + dx[0].size + dw[0].size + db[0].size


# --------------------------------------------------------------------------
# facts
# --------------------------------------------------------------------------
EXPECTED_FACTS = {
    "activations": {"relu_not_differentiable_at_0", "relu_derivative_convention",
                    "tanh_derivative_in_output", "logistic_derivative_in_output",
                    "arctan_derivative"},
    "l2_loss": {"gradient_index_form", "sum_vs_mean"},
    "dense_softmax": {"dense_backward_index_form", "softmax_ce_gradient_index_form",
                      "seed003_deltas_are_batch_sum_gradients",
                      "seed003_batch_mean_is_one_over_n", "seed003_equals_library_row_layout"},
    "max_pool": {"routing_is_derivative_of_max", "ties_first_maximum_wins",
                 "sympy_half_at_ties_is_not_a_subgradient"},
    "conv2d": {"dw_is_correlation_of_input_with_upstream", "db_is_sum_of_upstream",
               "dx_is_full_convolution_with_kernels",
               "dx_is_full_correlation_with_rotated_kernels",
               "dx_true_convolution_with_rotated_kernels_is_wrong"},
}


EXPECTED_FACTS.update({
    "conv2d_index": {"dw_all_sizes", "db_all_sizes", "dx_p_is_sum_over_covering_windows",
                     "dx_p_is_full_convolution_of_dilated_G", "toy_flip_all_sizes",
                     "dx_double_flip_and_undilated_G_are_wrong"},
    "max_pool_index": {"routing_all_sizes", "non_overlapping_windows_all_sizes"},
})


@pytest.mark.parametrize("subject", derivations.SUBJECTS)
def test_every_fact_holds(subject):
    facts = derivations.load(subject).facts
    expected = EXPECTED_FACTS.get(subject, set())
    assert expected <= set(facts), sorted(expected - set(facts))
    for name, fact in facts.items():
        # export.fact records holds = proof.holds and refuses anything but the expected
        # outcome, so a fact that does not hold appears only as a declared refutation
        assert fact["holds"] is fact.get("expected", True) is True, \
            f"{subject}: fact {name!r} does not hold"
        assert fact["check"] and fact["statement"], f"{subject}: fact {name!r} says no check"
        assert fact["checks"], f"{subject}: fact {name!r} names no check: holds from no proof"
        data = fact["data"]
        assert data["sizes"] in export.SIZES, (subject, name, data.get("sizes"))
        if data["sizes"] == "all":
            assert data["assumptions"], f"{subject}: {name!r} holds for all sizes, assuming?"
        if data["sizes"] == "listed":
            assert data["listed_sizes"], f"{subject}: {name!r} lists no sizes"


@pytest.mark.parametrize("module", [conv2d_index, max_pool_index], ids=lambda m: m.SUBJECT)
def test_all_sizes_proofs_rerun(module):
    """The symbolic (all-sizes) proofs, run again here: each check passes, as exported."""
    checks = Checks()
    if module is conv2d_index:
        module.prove(checks)
        toy_flip_index.prove_toy(checks)
    else:
        checks("routing: diff(L) = G of each covering window, masked", same(
            sp.diff(module.loss(), module.x[module.n_, module.c_, module.u, module.v]),
            module.routing_claim(), module.BOX))
        checks("non-overlap: s >= k puts an entry in at most one window",
               module.non_overlap_lemma())
    exported = {c for fact in derivations.load(module.SUBJECT).facts.values()
                for c in fact["checks"]}
    rerun = checks.proof("")
    assert rerun.holds, rerun.failed
    assert {name for name, _ in rerun.checks} <= exported


def test_subjects_are_registered():
    assert set(SUBJECTS) <= set(derivations.SUBJECTS)
