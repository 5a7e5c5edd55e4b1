"""Convolution in index form: the gradients and the flip identities for EVERY size.

The per-element derivation (``derivations/conv2d.py``) proves the identities
entry by entry on listed sizes. Here the sizes are symbols - N, C, F, H, W,
K_H, K_W, padding p, stride s, and O_H, O_W (integers, positive where they must
be) - and the layer is written with ``IndexedBase``/``Sum``:

$$y_{n,f,i,j} = b_f + \\sum_{c,a,e} w_{f,c,a,e}\\, x^p_{n,c,\\,s i + a,\\, s j + e},
  \\qquad L = \\sum_{n,f,i,j} G_{n,f,i,j}\\, y_{n,f,i,j}.$$

``sympy.diff`` of L with respect to ``w[f',c',a',e']``, ``b[f']`` and
``x_p[n',c',u,v]`` (fresh symbolic indices) gives sums of KroneckerDeltas;
:mod:`derivations.index_sums` sums them out and decides the index ranges
(its rules are stated and justified there) and compares canonical forms. What
is proven for all sizes:

* dL/dw is the correlation of the padded input with G, dL/db the sum of G;
* dL/dx_p is a sum over the windows that contain (u, v) - exactly the window
  rows i with ceil((u - K_H + 1)/s) <= i <= floor(u/s) - and equals the full
  convolution of the s-dilated G with the kernel, and the full correlation
  with the rotated kernel; a true convolution with the rotated kernel (the
  double flip) and a convolution of G without the dilation are NOT equal;
* dL/dx is the interior of dL/dx_p, and the last (H + 2p - K_H) mod s rows
  (columns) of x_p receive nothing;
* the toy net's flip: for a true convolution of an n x n image with a k x k
  kernel and padding p, dL/dK = conv(rot180(x_p), delta) = rot180(corr(x_p, delta)).

Each result is then instantiated at the small exported cases (sizes
substituted, sums expanded) and proven equal to the per-element formulas of
``conv2d`` and ``toy_net`` (``sympy.expand(difference) == 0``).

Run ``python -m derivations.conv2d_index``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from . import conv2d, export
from . import toy_flip_index as toy_flip
from .index_sums import (collapse, expression, instantiate, latex_term, same, tex,
                         window_lemmas)
from .proof import Checks
from .steps import Step, chain as proven_chain
from .toolkit import aligned, partial, subject_main

SUBJECT = "conv2d_index"

pos = dict(integer=True, positive=True)
N, C, F, H, W, KH, KW, s, OH, OW = sp.symbols("N C F H W K_H K_W s O_H O_W", **pos)
p = sp.Symbol("p", integer=True, nonnegative=True)
n, c, f, i, j, a, e, h, k = sp.symbols("n c f i j a e h k", integer=True, nonnegative=True)
n_, c_, f_, a_, e_ = sp.symbols("n' c' f' a' e'", integer=True, nonnegative=True)
u, v, h_, k_ = sp.symbols("u v h' k'", integer=True, nonnegative=True)
w, xp, x, b, G = (sp.IndexedBase(name, real=True) for name in ("w", "x^p", "x", "b", "G"))
D = sp.IndexedBase(r"\frac{\partial L}{\partial x^p}", real=True)
delta = sp.KroneckerDelta

ASSUMPTIONS = [
    "N, C, F, H, W, K_H, K_W and the stride s are integers >= 1; the padding p is an integer >= 0",
    "the kernel is no larger than the padded input: K_H <= H + 2p, K_W <= W + 2p",
    "O_H = floor((H + 2p - K_H)/s) + 1 >= 1, likewise O_W",
    "indices in range: 0 <= n < N, 0 <= c < C, 0 <= f < F, 0 <= a < K_H, 0 <= e < K_W, "
    "0 <= u < H + 2p, 0 <= v < W + 2p, 0 <= h < H, 0 <= k < W",
]

TOY_ASSUMPTIONS = [
    "the image size n and the kernel size k are integers >= 1; the padding p is an integer >= 0",
    "the kernel is no larger than the padded image: k <= n + 2p, so there are "
    "m = n + 2p - k + 1 >= 1 layer-1 nodes per side",
    "indices in range: 0 <= a < k, 0 <= b < k",
]

y = b[f] + sp.Sum(w[f, c, a, e] * xp[n, c, s * i + a, s * j + e],
                  (e, 0, KW - 1), (a, 0, KH - 1), (c, 0, C - 1))
L = sp.Sum(G[n, f, i, j] * y, (j, 0, OW - 1), (i, 0, OH - 1), (f, 0, F - 1), (n, 0, N - 1))

BOX_W = {f_: (0, F - 1), c_: (0, C - 1), a_: (0, KH - 1), e_: (0, KW - 1)}
BOX_B = {f_: (0, F - 1)}
BOX_XP = {n_: (0, N - 1), c_: (0, C - 1), u: (0, H + 2 * p - 1), v: (0, W + 2 * p - 1)}
BOX_X = {n_: (0, N - 1), c_: (0, C - 1), h_: (0, H - 1), k_: (0, W - 1)}
FREE = set(BOX_W) | set(BOX_XP) | set(BOX_X)


def dilated(nn, ff, r, t):
    """dil_s(G)[n,f,r,t]: G[n,f,i,j] at (s i, s j), 0 elsewhere (s - 1 zeros in between)."""
    return sp.Sum(delta(r, s * i) * delta(t, s * j) * G[nn, ff, i, j], (j, 0, OW - 1), (i, 0, OH - 1))


def claims() -> dict[str, sp.Expr]:
    """The right-hand sides, each written independently of sympy.diff."""
    rot = w[f, c_, KH - 1 - a, KW - 1 - e]                       # rot180 of the kernel
    return {
        "dL/dw": sp.Sum(G[n, f_, i, j] * xp[n, c_, s * i + a_, s * j + e_],
                        (j, 0, OW - 1), (i, 0, OH - 1), (n, 0, N - 1)),
        "dL/db": sp.Sum(G[n, f_, i, j], (j, 0, OW - 1), (i, 0, OH - 1), (n, 0, N - 1)),
        # sum over f and the (i, a), (j, e) with s i + a = u, s j + e = v of G w
        "dL/dx_p:windows": sp.Sum(delta(s * i + a, u) * delta(s * j + e, v)
                                  * G[n_, f, i, j] * w[f, c_, a, e],
                                  (e, 0, KW - 1), (a, 0, KH - 1), (j, 0, OW - 1),
                                  (i, 0, OH - 1), (f, 0, F - 1)),
        # full TRUE convolution of dil_s(G) with w: sum_a w[a] dilG[u - a]
        "dL/dx_p:full_convolution": sp.Sum(w[f, c_, a, e] * dilated(n_, f, u - a, v - e),
                                           (e, 0, KW - 1), (a, 0, KH - 1), (f, 0, F - 1)),
        # full cross-correlation of dil_s(G) (padded by K - 1) with rot180(w)
        "dL/dx_p:full_correlation_rot180": sp.Sum(
            rot * dilated(n_, f, u + a - (KH - 1), v + e - (KW - 1)),
            (e, 0, KW - 1), (a, 0, KH - 1), (f, 0, F - 1)),
    }


def wrong_claims() -> dict[str, sp.Expr]:
    """Forms that must NOT equal dL/dx_p: the double flip, and G without the dilation."""
    undilated = sp.Sum(delta(u - a, i) * delta(v - e, j) * G[n_, f, i, j],
                       (j, 0, OW - 1), (i, 0, OH - 1))
    return {
        "double_flip": sp.Sum(w[f, c_, KH - 1 - a, KW - 1 - e] * dilated(n_, f, u - a, v - e),
                              (e, 0, KW - 1), (a, 0, KH - 1), (f, 0, F - 1)),
        "no_dilation": sp.Sum(w[f, c_, a, e] * undilated, (e, 0, KW - 1), (a, 0, KH - 1),
                              (f, 0, F - 1)),
    }


def interior(dxp: sp.Expr) -> sp.Expr:
    """dL/dx by the chain rule through the zero padding x_p[u,v] = sum_{h,k} [u = h+p][v = k+p] x[h,k]."""
    padded = sp.Sum(delta(u, h + p) * delta(v, k + p) * x[n, c, h, k], (k, 0, W - 1), (h, 0, H - 1))
    return sp.Sum(D[n, c, u, v] * sp.diff(padded, x[n_, c_, h_, k_]),
                  (v, 0, W + 2 * p - 1), (u, 0, H + 2 * p - 1), (c, 0, C - 1), (n, 0, N - 1))


# --------------------------------------------------------------------------
# The proofs
# --------------------------------------------------------------------------
def prove(checks: Checks, cl: dict | None = None) -> dict:
    """Every all-sizes claim; returns the derived expressions and canonical forms."""
    cl = claims() if cl is None else cl
    raw = {"dL/dw": sp.diff(L, w[f_, c_, a_, e_]), "dL/db": sp.diff(L, b[f_]),
           "dL/dx_p": sp.diff(L, xp[n_, c_, u, v])}
    checks("dw: diff(L) = correlation of x_p with G", same(raw["dL/dw"], cl["dL/dw"], BOX_W))
    checks("db: diff(L) = sum of G", same(raw["dL/db"], cl["dL/db"], BOX_B))
    for name in ("windows", "full_convolution", "full_correlation_rot180"):
        checks(f"dxp: diff(L) = {name}", same(raw["dL/dx_p"], cl[f"dL/dx_p:{name}"], BOX_XP))
    canonical = {name: collapse(r, box) for (name, r), box in
                 zip(raw.items(), (BOX_W, BOX_B, BOX_XP))}
    dxp = expression(canonical["dL/dx_p"])
    chain = interior(dxp)
    checks("dx: interior of dL/dx_p", same(chain, D[n_, c_, h_ + p, k_ + p], BOX_X))
    for name, ok in window_lemmas(s, KH, OH).items():
        checks(f"rows: {name}", ok)
    for name, ok in window_lemmas(s, KW, OW).items():
        checks(f"columns: {name}", ok)
    return {"raw": raw, "canonical": canonical,
            "dL/dw": expression(canonical["dL/dw"]), "dL/db": expression(canonical["dL/db"]),
            "dL/dx_p": dxp, "chain": chain}


# --------------------------------------------------------------------------
# Instantiation at the exported small cases: the bridge to the per-element formulas
# --------------------------------------------------------------------------
def bridge_conv(checks: Checks, derived: dict, name: str, Nn, Cc, Ff, Hh, Kk, pp, ss):
    net = conv2d.Conv2d(Nn, Cc, Ff, Hh, Hh, Kk, Kk, pp, ss)
    sizes = {N: Nn, C: Cc, F: Ff, H: Hh, W: Hh, KH: Kk, KW: Kk, p: pp, s: ss,
             OH: net.OH, OW: net.OW}
    arrays = {"G": lambda n, f, i, j: net.G[n][f][i, j], "w": lambda f, c, a, e: net.w[f][c][a, e],
              "x^p": lambda n, c, u, v: net.xp[n][c][u, v], "b": lambda f: net.b[f]}
    dw, db, dx = net.dw(), net.db(), net.dx()
    same_entry = lambda general, free, target: sp.expand(  # noqa: E731
        instantiate(general, {**sizes, **free}, arrays) - target) == 0
    checks(f"dw: instance {name}", all(
        same_entry(derived["dL/dw"], {f_: fo, c_: co, a_: aa, e_: ee}, dw[fo][co][aa, ee])
        for fo, co, aa, ee in itertools.product(range(Ff), range(Cc), range(Kk), range(Kk))))
    checks(f"db: instance {name}", all(same_entry(derived["dL/db"], {f_: fo}, db[fo])
                                       for fo in range(Ff)))
    for form in ("dL/dx", "dL/dx:full_convolution", "dL/dx:full_correlation_rot180"):
        checks(f"dx: instance {name} ({form})", all(
            same_entry(derived[form], {n_: no, c_: co, h_: hh, k_: kk}, dx[no][co][hh, kk])
            for no, co, hh, kk in itertools.product(range(Nn), range(Cc), range(Hh), range(Hh))))
    # the refuted forms differ from dL/dx in some entry of this instance
    for wrong in ("double_flip", "no_dilation"):
        if (wrong == "double_flip") == (ss == 1):     # one instance refutes each
            checks(f"dxp differs: {wrong}: some entry at {name}", not all(
                same_entry(derived[f"wrong:{wrong}"], {n_: no, c_: co, h_: hh, k_: kk},
                           dx[no][co][hh, kk])
                for no, co, hh, kk in itertools.product(range(Nn), range(Cc), range(Hh),
                                                        range(Hh))))


# --------------------------------------------------------------------------
# Steps (the chain a reader writes by hand), formulas, facts
# --------------------------------------------------------------------------
def _split_raw(raw: sp.Sum) -> tuple[str, str]:
    """sympy.diff's Sum(G * Sum(deltas ...)) as (outer sums and G, the inner sum)."""
    inner = [t for t in sp.Mul.make_args(raw.function) if isinstance(t, sp.Sum)]
    rest = sp.Mul(*(t for t in sp.Mul.make_args(raw.function) if not isinstance(t, sp.Sum)))
    outer = tex(sp.Sum(sp.Symbol("@"), *raw.limits)).replace("@", tex(rest))
    return outer, tex(inner[0]) if inner else ""


def _terms_tex(ts, order) -> str:
    return " + ".join(latex_term(t, FREE, order) for t in ts)


def _d(var) -> str:
    return partial(var, printer=tex)


def _by_engine(box: dict, definitions: dict | None = None):
    """A step's proof: both sides (named arrays replaced by their definitions) brought to the
    canonical form of derivations/index_sums.py and compared (``same``)."""
    def expand(e):
        for base, meaning in (definitions or {}).items():
            e = e.replace(lambda z, base=base: isinstance(z, sp.Indexed) and z.base == base,
                          lambda z, meaning=meaning: meaning(*z.indices))
        return e

    return lambda a, b: same(expand(a), expand(b), box)


def _broken(latex: str, raw: sp.Sum) -> str:
    """sympy.diff's Sum(G * Sum(deltas ...)) on two lines (narrow enough for the page)."""
    outer, inner = _split_raw(raw)
    return (r"\begin{aligned}[t] &" + outer + r" \\ &\qquad " + inner + r"\end{aligned}"
            if inner else latex)


def index_chains(cl: dict, derived: dict) -> dict:
    """dL/dw and dL/dx_p for every size, each step proven by the index engine."""
    dil = sp.IndexedBase(r"\operatorname{dil}_s(G)", real=True)
    rot = sp.IndexedBase(r"\operatorname{rot180}(w)", real=True)
    meaning = {dil: lambda nn, ff, r, t: dilated(nn, ff, r, t),
               rot: lambda ff, cc, aa, ee: w[ff, cc, KH - 1 - aa, KW - 1 - ee]}
    raw = derived["raw"]
    engine = ("each step brought to the canonical form of derivations/index_sums.py (delta "
              "rule, range rule; the named arrays dil_s(G) and rot180(w) replaced by their "
              "definitions first) and compared with the step before, for symbolic sizes")
    dw = proven_chain(_d(w[f_, c_, a_, e_]), raw["dL/dw"], [
        Step(raw["dL/dw"], "sympy.diff of L = sum G y: the derivative of w[f,c,a,e] with "
                           "respect to w[f',c',a',e'] is a product of Kronecker deltas.",
             prove=_by_engine(BOX_W)),
        Step(derived["dL/dw"], "Delta rule: summing over f, c, a, e picks f = f', c = c', "
                               "a = a', e = e', each in its range, so no condition is left: "
                               "the correlation of the padded input with G (stride s).",
             prove=_by_engine(BOX_W)),
    ], proven=engine, description="For every size, stride and padding.")
    full = sp.Sum(w[f, c_, a, e] * dil[n_, f, u - a, v - e], (e, 0, KW - 1), (a, 0, KH - 1),
                  (f, 0, F - 1))
    corr = sp.Sum(rot[f, c_, a, e] * dil[n_, f, u + a - KH + 1, v + e - KW + 1],
                  (e, 0, KW - 1), (a, 0, KH - 1), (f, 0, F - 1))
    dx = proven_chain(_d(xp[n_, c_, u, v]), raw["dL/dx_p"], [
        Step(raw["dL/dx_p"], "sympy.diff of L = sum G y: x_p[n,c,s i + a,s j + e] is "
                             "x_p[n',c',u,v] when n = n', c = c', s i + a = u, s j + e = v.",
             prove=_by_engine(BOX_XP)),
        Step(derived["dL/dx_p"], "Delta rule over n, c, a = u - s i and e = v - s j: the "
                                 "brackets say that a and e must be kernel offsets, i.e. that "
                                 "the window of output (i, j) covers (u, v).",
             prove=_by_engine(BOX_XP)),
        Step(full, "The same canonical form as the full TRUE convolution of the dilated G "
                   "(G[i,j] at (s i, s j), zeros between and outside) with the kernel as it is.",
             prove=_by_engine(BOX_XP, meaning)),
        Step(corr, "Equivalently (a -> K_H - 1 - a, e -> K_W - 1 - e) the full "
                   "cross-correlation with the kernel rotated by 180 degrees.",
             prove=_by_engine(BOX_XP, meaning)),
    ], proven=engine, description="For every size, stride and padding; x_p is the padded "
                                  "input, and dL/dx is its interior, dL/dx_p[n,c,h + p,k + p].")
    for record, name in ((dw, "dL/dw"), (dx, "dL/dx_p")):
        steps = record["steps"]
        for st, expr in zip(steps, (raw[name], derived[name], full, corr)):
            st["latex"] = tex(expr)
        steps[0]["latex"] = _broken(steps[0]["latex"], raw[name])
    can = derived["canonical"]["dL/dx_p"]
    dx["steps"][1]["latex"] = (r"\begin{aligned}[t] &" + _terms_tex(can, [f, i, j]).replace(
        r"\big[", r"\\ &\qquad\big[", 1) + r"\end{aligned}")
    return {"dw_all_sizes": dw, "dx_p_all_sizes": dx}


def derive() -> dict:
    checks = Checks()
    cl = claims()
    derived = prove(checks, cl)
    to_x = {u: h_ + p, v: k_ + p}
    derived["dL/dx"] = derived["dL/dx_p"].xreplace(to_x)
    for name in ("full_convolution", "full_correlation_rot180"):
        derived[f"dL/dx:{name}"] = cl[f"dL/dx_p:{name}"].xreplace(to_x)
    for name, wrong in wrong_claims().items():
        derived[f"wrong:{name}"] = wrong.xreplace(to_x)
    where = []
    for name, Nn, Cc, Ff, Hh, Kk, pp, ss in conv2d.CASES:
        bridge_conv(checks, derived, name, Nn, Cc, Ff, Hh, Kk, pp, ss)
        where.append(f"conv2d/{name}: N={Nn} C={Cc} F={Ff} {Hh}x{Hh} k={Kk}x{Kk} p={pp} s={ss}")
    tcl, toy_where = toy_flip.prove_and_instantiate(checks)

    free = {"dL/dw": [f_, c_, a_, e_], "dL/db": [f_], "dL/dx_p": [n_, c_, u, v],
            "dL/dx_p:full_convolution": [n_, c_, u, v],
            "dL/dx_p:full_correlation_rot180": [n_, c_, u, v], "dL/dx": [n_, c_, h_, k_],
            "y": [n, f, i, j], "toy:dL/dK": [a_, toy_flip.b_]}
    exprs = {"dL/dw": derived["dL/dw"], "dL/db": derived["dL/db"], "dL/dx_p": derived["dL/dx_p"],
             "dL/dx_p:full_convolution": cl["dL/dx_p:full_convolution"],
             "dL/dx_p:full_correlation_rot180": cl["dL/dx_p:full_correlation_rot180"],
             "dL/dx": derived["dL/dx"], "y": y, "toy:dL/dK": tcl["conv(rot180(x_p), delta)"]}
    lhs = {"dL/dw": _d(w[f_, c_, a_, e_]), "dL/db": _d(b[f_]), "dL/dx": _d(x[n_, c_, h_, k_]),
           "y": "y_{n,f,i,j}", "toy:dL/dK": _d(toy_flip.K[a_, toy_flip.b_])}
    desc = {"dL/dw": "correlation of x_p with G (stride s)", "dL/db": "sum of G",
            "dL/dx_p": "sum over the windows that cover (u, v); brackets = kernel ranges",
            "dL/dx_p:full_convolution": "full true convolution of dil_s(G) with w",
            "dL/dx_p:full_correlation_rot180": "full correlation of dil_s(G) with rot180(w)",
            "dL/dx": "interior of dL/dx_p: u = h' + p, v = k' + p",
            "y": "forward (cross-correlation, bias)",
            "toy:dL/dK": "toy net: conv(rot180(x_p), delta), true convolution, 'valid'"}
    formulas = {name: export.formula(expr, lhs.get(name, _d(xp[n_, c_, u, v])),
                                     desc[name] + "; free indices "
                                     + ", ".join(map(str, free[name])))
                for name, expr in exprs.items()}
    case = export.case(
        {"general": True, "free_indices": {k: [str(t) for t in v] for k, v in free.items()},
         "sizes": ["N", "C", "F", "H", "W", "K_H", "K_W", "p", "s", "O_H", "O_W", "n", "k"],
         "O_H": "floor((H + 2p - K_H)/s) + 1",
         "toy": "image n x n, kernel k x k, padding p; x^p is (n+2p) x (n+2p)"},
        {"x^p": "x^p", "w": "w", "b": "b", "G": "G", "x": "x", "K": "K", "delta": r"\delta"},
        formulas)

    engine = ("sympy.diff of the index-form Sum; KroneckerDeltas summed out by the delta rule "
              "and index-range conditions decided by the range rule "
              "(derivations/index_sums.py, rules stated there); both sides brought to that "
              "canonical form and compared")
    bridge = ("; instantiated (sizes and indices substituted, every Sum written out) at "
              f"{', '.join(where)} and equal "
              "to the per-element sympy.diff formulas there (sympy.expand(difference) == 0)")
    fact = lambda statement, prefixes, check, assumptions=ASSUMPTIONS, **kw: export.fact(  # noqa: E731
        statement, proof=checks.proof(*prefixes), check=check, sizes="all",
        assumptions=assumptions, **kw)
    facts = {
        "dw_all_sizes": fact(
            "For every size, stride and padding: dL/dw[f,c,a,e] = sum over n, i, j of "
            "G[n,f,i,j] x_p[n,c,s i + a,s j + e], the correlation of the padded input with G.",
            ("dw:",), engine + bridge,
            data={"instantiated_at": where},
            latex=rf"{_d(w[f_, c_, a_, e_])} = {tex(exprs['dL/dw'])}"),
        "db_all_sizes": fact(
            "For every size: dL/db[f] is the sum of G[n,f,i,j] over n, i, j.",
            ("db:",), engine + bridge, data={"instantiated_at": where},
            latex=rf"{_d(b[f_])} = {tex(exprs['dL/db'])}"),
        "dx_p_is_sum_over_covering_windows": fact(
            "For every size: dL/dx_p[n,c,u,v] sums G[n,f,i,j] w[f,c,u - s i,v - s j] over f "
            "and exactly the output positions whose window covers (u, v): the window rows i "
            "with max(0, ceil((u - K_H + 1)/s)) <= i <= min(O_H - 1, floor(u/s)), likewise "
            "j. The last (H + 2p - K_H) mod s rows (and (W + 2p - K_W) mod s columns) of "
            "x_p are in no window and receive 0; with s > K_H, rows between windows too.",
            ("dxp: diff(L) = windows", "rows:", "columns:"),
            engine + "; the ranges by the lemmas u - s i >= 0 <=> i <= floor(u/s) and "
            "u - s i <= K - 1 <=> i >= ceil((u-K+1)/s), each proven by writing "
            "u = s q + r, 0 <= r <= s - 1 (division with remainder: the definition of "
            "floor/ceil) and deciding both cases with the range rule" + bridge,
            data={"instantiated_at": where},
            latex=aligned(_d(xp[n_, c_, u, v]), *_terms_tex(
                derived["canonical"]["dL/dx_p"], [f, i, j]).split(r" \big[", 1)).replace(
                r"\qquad ", r"\qquad \big[")),
        "dx_p_is_full_convolution_of_dilated_G": fact(
            "For every size: dL/dx_p[n,c] is the FULL true convolution of the s-dilated "
            "upstream gradient with the kernels w[f,c], summed over f - equivalently the full "
            "cross-correlation with the 180-degree rotated kernels - and dL/dx[n,c,h,k] is "
            "its interior entry dL/dx_p[n,c,h + p,k + p].",
            ("dxp: diff(L) = full", "dx: "), engine + bridge,
            data={"instantiated_at": where},
            latex=rf"{_d(x[n_, c_, h_, k_])} = {_d(xp[n_, c_, h_ + p, k_ + p])} = "
                  r"\sum_f \operatorname{conv}_{\text{full}}\big(\operatorname{dil}_s(G_{n',f}),"
                  r"\ w_{f,c'}\big)_{h'+p,\,k'+p}"),
        "toy_flip_all_sizes": fact(
            "For the toy net's TRUE convolution of an n x n image, zero-padded by p, with a "
            "k x k kernel, for every n, k and p: dL/dK = conv(rot180(x_p), delta) = "
            "rot180(corr(x_p, delta)), with delta the layer-1 deltas ('valid'). (The seed's "
            "transposed variant differs, on each exported case with k > 1.)",
            ("toy: ",), engine + "; instantiated at " + ", ".join(toy_where) + " and equal to "
            "the per-element chain-rule formulas there", assumptions=TOY_ASSUMPTIONS,
            data={"instantiated_at": toy_where},
            latex=rf"{_d(toy_flip.K[a_, toy_flip.b_])} = {tex(exprs['toy:dL/dK'])}"),
    }
    facts["dx_double_flip_and_undilated_G_are_wrong"] = export.fact(
        "Two tempting forms are NOT dL/dx: the true convolution with the rotated kernels "
        "(flipping twice), and the convolution of G without the stride dilation. Each differs "
        "from dL/dx in some entry of an exported case (a 3x3 kernel; stride 2 for the dilation).",
        proof=checks.proof("dxp differs:"), sizes=where,
        check="the forms instantiated at the conv2d cases; sympy.expand(difference) != 0 "
              "for some entry (a refutation needs an instance: canonical forms that merely "
              "differ prove nothing)")
    return export.document(
        title="Convolution in index form: the gradients and the flip for every size",
        source="derivations/conv2d_index.py", cases={"index_form": case}, facts=facts,
        chains=index_chains(cl, derived))


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
