"""The all-sizes (index-form) exports, evaluated at random sizes, against the ``cnn`` code.

``conv2d_index`` and ``max_pool_index`` export gradients for symbolic sizes
(``IndexedBase``/``Sum``/Piecewise). Here each is evaluated with NumPy
(:mod:`index_eval`) at >= 30 random sizes in N <= 3, C, F <= 3, H, W <= 9,
K_H, K_W <= 4, p <= 2, s <= 3 and compared with ``cnn.conv2d_backward`` /
``cnn.max_pool2d_backward`` / ``cnn.toy_net.kernel_gradient`` to 1e-12
(relative, max-norm). Then: breaking a derivation makes it refuse to export,
and ``export.fact`` refuses a literal ``holds``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp

import cnn
import derivations
from cnn import toy_net
from derivations import conv2d_index, export, max_pool_index, toy_flip_index
from derivations.proof import Proof
from index_eval import IndexEvaluator
from symbolic import relative_error

RTOL = 1e-12
CONV = derivations.load("conv2d_index")
POOL = derivations.load("max_pool_index")


def formula(export_, name):
    case = export_.case("index_form")
    expr = case.formulas[name].expr
    by_name = {s.name: s for s in expr.free_symbols}
    free = [by_name[i] for i in case.parameters["free_indices"][name]]
    return expr, free, by_name


def evaluate(export_, name, arrays, sizes, shape):
    expr, free, by_name = formula(export_, name)
    values = {by_name[k]: v for k, v in sizes.items() if k in by_name}
    return IndexEvaluator(expr, free)(arrays, values, shape)


def conv_sizes(count=36, seed=20240611):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        N, C, F = rng.integers(1, 4, 3)
        H, W = rng.integers(1, 10, 2)
        KH, KW = rng.integers(1, 5, 2)
        p, s = int(rng.integers(0, 3)), int(rng.integers(1, 4))
        if KH <= H + 2 * p and KW <= W + 2 * p:
            out.append(tuple(int(v) for v in (N, C, F, H, W, KH, KW)) + (p, s))
    return out


@pytest.mark.parametrize("N,C,F,H,W,KH,KW,p,s", conv_sizes())
def test_conv2d_index_form_matches_cnn(N, C, F, H, W, KH, KW, p, s):
    rng = np.random.default_rng(N + 10 * C + 100 * F + 1000 * H + W * 7 + KH * 13 + p * 17 + s)
    x, w = rng.uniform(-2, 2, (N, C, H, W)), rng.uniform(-2, 2, (F, C, KH, KW))
    OH, OW = (H + 2 * p - KH) // s + 1, (W + 2 * p - KW) // s + 1
    G = rng.uniform(-2, 2, (N, F, OH, OW))
    dx, dw, db = cnn.conv2d_backward(G, x, w, stride=s, padding=p)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    arrays = {"G": G, "w": w, "x^p": xp}
    sizes = {"N": N, "C": C, "F": F, "H": H, "W": W, "K_H": KH, "K_W": KW, "p": p, "s": s,
             "O_H": OH, "O_W": OW}
    where = f"at N={N} C={C} F={F} {H}x{W} k={KH}x{KW} p={p} s={s}"
    for name, expected in (("dL/dw", dw), ("dL/db", db), ("dL/dx", dx)):
        got = evaluate(CONV, name, arrays, sizes, expected.shape)
        assert relative_error(got, expected) <= RTOL, f"{name} {where}"
    padded = (N, C, H + 2 * p, W + 2 * p)
    dxp = evaluate(CONV, "dL/dx_p", arrays, sizes, padded)
    assert relative_error(dxp[:, :, p:p + H, p:p + W], dx) <= RTOL, f"dL/dx_p interior {where}"
    for form in ("dL/dx_p:full_convolution", "dL/dx_p:full_correlation_rot180"):
        assert relative_error(evaluate(CONV, form, arrays, sizes, padded), dxp) <= RTOL, \
            f"{form} {where}"
    # the rows and columns of x_p past the last window receive nothing
    assert not dxp[:, :, s * (OH - 1) + KH:, :].any() and not dxp[:, :, :, s * (OW - 1) + KW:].any()


def test_window_ranges_match_the_floor_ceil_statement():
    """The fact's statement: row u is in window i iff max(0, ceil((u-K+1)/s)) <= i <=
    min(O-1, floor(u/s)); checked on every u of 200 random (H, K, s)."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        K, s = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        Hp = K + int(rng.integers(0, 15))
        O = (Hp - K) // s + 1
        for u in range(Hp):
            covering = {i for i in range(O) if 0 <= u - s * i <= K - 1}
            lo, hi = max(0, -((K - 1 - u) // s)), min(O - 1, u // s)   # ceil, floor
            assert covering == set(range(lo, hi + 1)), (u, K, s, Hp)


@pytest.mark.parametrize("n,k,p", [(n, k, p) for n in (2, 4, 7) for p in (0, 2)
                                   for k in (1, 3, 4) if k <= n + 2 * p])
def test_toy_flip_index_form_matches_cnn(n, k, p):
    rng = np.random.default_rng(n * 31 + k * 7 + p)
    xp = np.pad(rng.uniform(-2, 2, (n, n)), p)
    m = n + 2 * p - k + 1
    delta = rng.uniform(-2, 2, (m, m))
    got = evaluate(CONV, "toy:dL/dK", {"x^p": xp, r"\delta": delta}, {"n": n, "k": k, "p": p},
                   (k, k))
    assert relative_error(got, toy_net.kernel_gradient(xp, delta)) <= RTOL


def pool_sizes(count=32, seed=7):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        N, C = (int(v) for v in rng.integers(1, 4, 2))
        H, W = (int(v) for v in rng.integers(1, 10, 2))
        k, s = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        if k <= min(H, W):
            out.append((N, C, H, W, k, s))
    return out


@pytest.mark.parametrize("ties", [False, True], ids=["generic", "ties"])
@pytest.mark.parametrize("N,C,H,W,k,s", pool_sizes())
def test_max_pool_index_form_matches_cnn(N, C, H, W, k, s, ties):
    rng = np.random.default_rng(N + 3 * C + 11 * H + 17 * W + 23 * k + s)
    x = (rng.integers(0, 3, (N, C, H, W)).astype(float) if ties
         else rng.uniform(-2, 2, (N, C, H, W)))
    OH, OW = (H - k) // s + 1, (W - k) // s + 1
    G = rng.uniform(-2, 2, (N, C, OH, OW))
    sizes = {"N": N, "C": C, "H": H, "W": W, "k": k, "s": s, "O_H": OH, "O_W": OW}
    mask = evaluate(POOL, "M", {"x": x}, sizes, (N, C, OH, OW, k, k))
    assert np.all(mask.reshape(N, C, OH, OW, -1).sum(axis=-1) == 1)   # one winner per window
    got = evaluate(POOL, "dL/dx", {"G": G, "M": mask}, sizes, (N, C, H, W))
    expected = cnn.max_pool2d_backward(G, x, size=k, stride=s)
    assert relative_error(got, expected) <= RTOL, f"N={N} C={C} {H}x{W} k={k} s={s}"


AVG = derivations.load("avg_pool")


@pytest.mark.parametrize("N,C,H,W,k,s", pool_sizes(seed=11))
def test_avg_pool_index_chain_matches_cnn_at_every_step(N, C, H, W, k, s):
    """Each step of avg_pool's all-sizes chain for dL/dx, evaluated, is cnn's backward."""
    rng = np.random.default_rng(N + 3 * C + 11 * H + 17 * W + 23 * k + s)
    x = rng.uniform(-2, 2, (N, C, H, W))
    OH, OW = (H - k) // s + 1, (W - k) // s + 1
    G = rng.uniform(-2, 2, (N, C, OH, OW))
    expected = cnn.avg_pool2d_backward(G, x, size=k, stride=s)
    steps = AVG.chain("dx").steps
    assert len(steps) == 3
    for number, step in enumerate(steps, start=1):
        expr = step.expr
        by_name = {v.name: v for v in expr.free_symbols}
        sizes = {by_name[n]: v for n, v in {"N": N, "C": C, "H": H, "W": W, "k": k, "s": s,
                                            "O_H": OH, "O_W": OW}.items() if n in by_name}
        free = [by_name[n] for n in ("n'", "c'", "u", "v")]
        got = IndexEvaluator(expr, free)({"G": G}, sizes, (N, C, H, W))
        assert relative_error(got, expected) <= RTOL, \
            f"step {number}: N={N} C={C} {H}x{W} k={k} s={s}"


# --------------------------------------------------------------------------
# A broken derivation refuses to export; a fact's holds is never a literal
# --------------------------------------------------------------------------
def _no_dilation(nn, ff, r, t):
    i, j = conv2d_index.i, conv2d_index.j
    return sp.Sum(sp.KroneckerDelta(r, i) * sp.KroneckerDelta(t, j) * conv2d_index.G[nn, ff, i, j],
                  (j, 0, conv2d_index.OW - 1), (i, 0, conv2d_index.OH - 1))


def _forward_off_by_one():
    m = conv2d_index
    y = m.b[m.f] + sp.Sum(m.w[m.f, m.c, m.a, m.e] * m.xp[m.n, m.c, m.s * m.i + m.a, m.s * m.j + m.e],
                          (m.e, 0, m.KW - 1), (m.a, 0, m.KH), (m.c, 0, m.C - 1))   # a <= K_H
    return sp.Sum(m.G[m.n, m.f, m.i, m.j] * y, (m.j, 0, m.OW - 1), (m.i, 0, m.OH - 1),
                  (m.f, 0, m.F - 1), (m.n, 0, m.N - 1))


def _mask_ties_last(nn, cc, ii, jj, aa, ee):
    """The tie rule broken: the LAST maximum wins (> and >= swapped)."""
    m = max_pool_index
    me, other = (m.x[nn, cc, m.s * ii + aa, m.s * jj + ee],
                 m.x[nn, cc, m.s * ii + m.a2, m.s * jj + m.e2])
    q, q2 = m.k * aa + ee, m.k * m.a2 + m.e2
    beats = (sp.Heaviside(q - q2 - 1, 1) * sp.Heaviside(other - me, 0)
             + sp.Heaviside(q2 - q - 1, 1) * sp.Heaviside(other - me, 1))
    return sp.Piecewise((1, sp.Eq(sp.Sum(beats, (m.e2, 0, m.k - 1), (m.a2, 0, m.k - 1)), 0)),
                        (0, True))


def _toy_without_rotation():
    m = toy_flip_index
    cl = TOY_CLAIMS()
    cl["conv(rot180(x_p), delta)"] = sp.Sum(m.xp[m.a_ + m.M - 1 - m.i, m.b_ + m.M - 1 - m.j]
                                            * m.d[m.i, m.j], (m.j, 0, m.M - 1), (m.i, 0, m.M - 1))
    return cl


def _rot180_off_by_one():
    m = conv2d_index
    cl = CLAIMS()
    cl["dL/dx_p:full_correlation_rot180"] = sp.Sum(
        m.w[m.f, m.c_, m.KH - m.a, m.KW - 1 - m.e]
        * m.dilated(m.n_, m.f, m.u + m.a - (m.KH - 1), m.v + m.e - (m.KW - 1)),
        (m.e, 0, m.KW - 1), (m.a, 0, m.KH - 1), (m.f, 0, m.F - 1))
    return cl


CLAIMS, TOY_CLAIMS = conv2d_index.claims, toy_flip_index.toy_claims
#: name -> (module to patch, attribute, its replacement, the subject that must refuse)
BREAKAGES = {
    "conv: the dilation dropped": (conv2d_index, "dilated", _no_dilation, conv2d_index),
    "conv: forward sums a over 0..K_H (off by one)": (conv2d_index, "L", None, conv2d_index),
    "conv: rot180 off by one (K_H - a)": (conv2d_index, "claims", _rot180_off_by_one,
                                          conv2d_index),
    "toy: the rotation of x_p dropped": (toy_flip_index, "toy_claims", _toy_without_rotation,
                                         conv2d_index),
    "pool: the last maximum wins ties": (max_pool_index, "mask", _mask_ties_last,
                                         max_pool_index),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_derivation_refuses_to_export(breakage, monkeypatch, tmp_path):
    module, attr, replacement, subject = BREAKAGES[breakage]
    monkeypatch.setattr(module, attr, _forward_off_by_one() if attr == "L" else replacement)
    with pytest.raises(export.FactNotProven, match="checks failed"):
        subject.main(tmp_path)
    assert not list(tmp_path.iterdir()), "a broken derivation wrote an export"


def test_fact_refuses_a_literal_holds():
    with pytest.raises(TypeError, match="never a literal"):
        export.fact("x", proof=True, check="c", sizes=None)
    with pytest.raises(TypeError):
        export.fact("x", holds=True, check="c", sizes=None)


def test_a_typed_fact_holds_only_by_its_proof(tmp_path):
    with pytest.raises(TypeError, match="never a literal"):
        export.Fact("x", True, "c")
    proven = export.Fact("x", Proof.of(a=True), "c")
    assert proven.holds is True and proven.to_json()["checks"] == ["a"]
    with pytest.raises(AttributeError):
        proven.holds = False
    with pytest.raises(dataclasses.FrozenInstanceError):
        proven.proof = Proof.of(a=False)
    # the writer takes only Facts: a hand-written record with "holds" is refused
    written = dict(proven.to_json())
    with pytest.raises(TypeError, match=r"facts \['x'\] are not export.Fact"):
        export.write("demo", {"title": "t", "cases": {}, "facts": {"x": written}}, tmp_path)
    assert not list(tmp_path.iterdir())


def test_fact_refuses_a_proof_that_fails_and_records_an_expected_refutation():
    with pytest.raises(export.FactNotProven, match="a_check"):
        export.fact("x", proof=Proof.of(a_check=False, b=True), check="c", sizes=None)
    with pytest.raises(export.FactNotProven, match="no check ran"):
        export.fact("x", proof=Proof.of(), check="c", sizes=None)
    refuted = export.fact("x", proof=Proof.of(a=False), check="c", sizes=None, expected=False)
    assert refuted.holds is False and refuted.expected is False
    assert refuted.to_json()["holds"] is False and refuted.to_json()["expected"] is False
    with pytest.raises(ValueError, match="assumptions"):
        export.fact("x", proof=Proof.of(a=True), check="c", sizes="all")


@pytest.mark.parametrize("subject", ["conv2d_index", "max_pool_index"])
def test_all_sizes_facts_say_so(subject):
    for name, fact in derivations.load(subject).facts.items():
        data = fact["data"]
        if data["sizes"] == "all":
            assert data["assumptions"] and fact["holds"] is True, name
        else:
            assert data["sizes"] == "listed" and data["listed_sizes"], name
