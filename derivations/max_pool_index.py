"""Max pooling in index form: the gradient routing for EVERY size, window and stride.

Sizes N, C, H, W, window k, stride s, O_H, O_W are symbols. The first-maximum
mask of window (i, j) is written out as an index expression

$$M_{n,c,i,j,a,e} = \\Big[\\sum_{a',e'} [ka'+e' < ka+e]\\,[x' \\ge x]
  + [ka'+e' > ka+e]\\,[x' > x] = 0\\Big],$$

with $x = x_{n,c,si+a,sj+e}$ and $x'$ the entry at $(a', e')$: the entry at
$(a, e)$ wins iff no earlier entry (row-major) is >= it and no later one is >
it. Two steps are argued by hand (SymPy cannot take a max over a symbolic number
of entries), and stated in the fact:

* the mask picks exactly one entry of each window, a maximum (the first one:
  every earlier entry is smaller, every later one no larger; any other entry
  is beaten by it), so ``max_window x = sum_{a,e} M x`` for every k, ties included;
* away from ties M is locally constant in x (each comparison keeps its sign
  near the point), so its derivative is 0 there.

Then ``sympy.diff`` of $L = \\sum G_{n,c,i,j} \\sum_{a,e} M x$ with M held fixed is
reduced by :mod:`derivations.index_sums` (delta rule, range rule) and proven
equal to the routing: each entry receives G of every window that covers it and
that it wins. Proven for all sizes too: which rows receive nothing (window
lemmas), and that with s >= k an entry is in at most one window. The routing
and the mask are instantiated at the exported cases of ``derivations/max_pool.py``
and proven equal to their per-element formulas.

Run ``python -m derivations.max_pool_index``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from . import export, max_pool, pool_index
from .index_sums import (collapse, expression, instantiate, latex_term, nonnegative, same, tex,
                         window_lemmas)
from .proof import Checks
from .pool_index import BOX, C, G, H, N, OH, OW, W, a, c, c_, delta, e, i, j, k, n, n_, s, u, v, x
from .toolkit import partial, subject_main

SUBJECT = "max_pool_index"

a2, e2 = sp.symbols("a'' e''", integer=True, nonnegative=True)   # the other entry of a window
M = sp.IndexedBase("M", real=True)

ASSUMPTIONS = pool_index.ASSUMPTIONS + [
    "by hand (see the check): max over a window = sum_{a,e} M x, and M is locally "
    "constant away from ties, so dM/dx = 0 there",
]


def mask(nn, cc, ii, jj, aa, ee) -> sp.Expr:
    """M[n,c,i,j,a,e]: 1 iff (a, e) is the first maximum (row-major) of window (i, j)."""
    me = x[nn, cc, s * ii + aa, s * jj + ee]
    other = x[nn, cc, s * ii + a2, s * jj + e2]
    q, q2 = k * aa + ee, k * a2 + e2
    # Iverson brackets as Heaviside(z, value at 0): [z >= 0] = H(z, 1), [z > 0] = H(z, 0).
    # Not Piecewise: SymPy 1.14 rewrites Piecewise((1, Eq(Sum(Piecewise(...)), 0)), ...)
    # into a condition with the summation variables left free (wrong).
    theta = sp.Heaviside
    beats = (theta(q - q2 - 1, 1) * theta(other - me, 1)      # earlier and >=
             + theta(q2 - q - 1, 1) * theta(other - me, 0))   # later and >
    return sp.Piecewise((1, sp.Eq(sp.Sum(beats, (e2, 0, k - 1), (a2, 0, k - 1)), 0)), (0, True))


def loss() -> sp.Expr:
    y = sp.Sum(M[n, c, i, j, a, e] * x[n, c, s * i + a, s * j + e], (e, 0, k - 1), (a, 0, k - 1))
    return sp.Sum(G[n, c, i, j] * y, (j, 0, OW - 1), (i, 0, OH - 1), (c, 0, C - 1), (n, 0, N - 1))


def routing_claim() -> sp.Expr:
    """G of window (i, j) goes to its entry (a, e) = (u - s i, v - s j) when M says it won."""
    return sp.Sum(delta(s * i + a, u) * delta(s * j + e, v) * G[n_, c_, i, j]
                  * M[n_, c_, i, j, a, e],
                  (e, 0, k - 1), (a, 0, k - 1), (j, 0, OW - 1), (i, 0, OH - 1))


def non_overlap_lemma() -> bool:
    """s >= k: if 0 <= u - s i1 <= k - 1 then u - s i2 < 0 for every i2 > i1."""
    d = sp.Dummy("d", integer=True)
    t = sp.Dummy("t", integer=True, nonnegative=True)     # s = k + t
    m = sp.Dummy("m", integer=True, nonnegative=True)     # i2 = i1 + 1 + m
    return nonnegative(-(d - (k + t) * (1 + m)) - 1, {d: (0, k - 1)})


def bridge(checks: Checks, routing: sp.Expr, name: str, h: int, size: int, stride: int) -> None:
    net = max_pool.MaxPool(h, size, stride)
    oh = net.oh
    sizes = {N: 1, C: 1, H: h, W: h, k: size, s: stride, OH: oh, OW: oh}
    arrays = {"G": lambda n, c, i, j: sp.Symbol(f"G_{{{n},{c},{i},{j}}}", real=True),
              "x": lambda n, c, r, t: net.X[r][t],
              "M": lambda *idx: sp.Symbol("M@" + ",".join(map(str, idx)))}
    ok = True
    for aa, bb in itertools.product(range(h), repeat=2):
        general = instantiate(routing, {**sizes, n_: 0, c_: 0, u: aa, v: bb}, arrays)
        mine = {}
        for term in sp.Add.make_args(general):
            g = [f for f in term.args if f.name.startswith("G")]
            mm = [f for f in term.args if f.name.startswith("M@")]
            idx = [int(t) for t in mm[0].name[2:].split(",")]
            mine[g[0]] = instantiate(mask(*[sp.Integer(t) for t in idx]), sizes, arrays)
        theirs = {pw.args[0].expr: pw.args[0].cond for pw in sp.Add.make_args(net.dx(aa, bb))}
        ok &= set(mine) == set(theirs)
        for g, m in mine.items():
            entries = sorted(m.free_symbols | theirs[g].free_symbols, key=str)
            # a Boolean combination of comparisons of 4 reals depends only on their weak
            # ordering, and values 0..3 realise every weak ordering: this is exhaustive
            for values in itertools.product(range(len(entries)), repeat=len(entries)):
                point = dict(zip(entries, values))
                ok &= bool(m.xreplace(point) == (1 if theirs[g].xreplace(point) else 0))
    checks(f"bridge: {name}", ok)


def derive() -> dict:
    checks = Checks()
    raw = sp.diff(loss(), x[n_, c_, u, v])
    checks("routing: diff(L) = G of each covering window, masked", same(raw, routing_claim(), BOX))
    canonical = collapse(raw, BOX)
    routing = expression(canonical)
    for name, ok in window_lemmas(s, k, OH).items():
        checks(f"rows: {name}", ok)
    for name, ok in window_lemmas(s, k, OW).items():
        checks(f"columns: {name}", ok)
    checks("non-overlap: s >= k puts an entry in at most one window", non_overlap_lemma())
    where = []
    for name, h, size, stride in max_pool.CASES:
        bridge(checks, routing, name, h, size, stride)
        where.append(f"max_pool/{name}: {h}x{h}, window {size}, stride {stride}")
    lhs = partial(x[n_, c_, u, v], printer=tex)
    body = latex_term(canonical[0], set(BOX), [i, j])
    latex = (r"\begin{aligned}" + lhs + " &= " + body.replace(r" \big[", r" \\ &\qquad \big[", 1)
             + r"\end{aligned}")
    formulas = {
        "dL/dx": export.formula(routing, lhs, "G of every window covering (u, v) that it wins; "
                                "free indices n', c', u, v"),
        "M": export.formula(mask(n, c, i, j, a, e), "M_{n,c,i,j,a,e}",
                            "1 iff (a, e) is the first maximum (row-major) of window (i, j)"),
    }
    case = export.case({"general": True, "free_indices": {"dL/dx": ["n'", "c'", "u", "v"],
                                                          "M": ["n", "c", "i", "j", "a", "e"]},
                        "sizes": ["N", "C", "H", "W", "k", "s", "O_H", "O_W"]},
                       {"x": "x", "G": "G", "M": "M"}, formulas)
    hand = ("By hand, not by SymPy: the mask picks exactly one entry per window, its first "
            "maximum, so max = sum M x for every k (ties included); away from ties M is "
            "locally constant, so dM/dx = 0 there. ")
    engine = ("sympy.diff of L = sum G sum M x with M held fixed; KroneckerDeltas summed out by "
              "the delta rule and ranges decided by the range rule (derivations/index_sums.py), "
              "compared in canonical form with the routing written independently; the window "
              "lemmas (u - s i >= 0 <=> i <= floor(u/s), u - s i <= k - 1 <=> i >= "
              "ceil((u-k+1)/s), rows past s (O_H - 1) + k - 1 in no window) by the range rule")
    steps = [
        {"latex": r"L = " + tex(loss()).replace("M_", "M_"),
         "justification": "The max of a window is sum_{a,e} M x (one entry wins, a maximum); "
                          "G = dL/dy held fixed as for the convolution."},
        {"latex": r"\begin{aligned}" + lhs + " &= " + tex(raw).replace(
            r"\sum_{a=0}", r"\\ &\qquad \sum_{a=0}", 1) + r"\end{aligned}",
         "justification": "sympy.diff of the Sum with M held fixed (dM/dx = 0 off ties)."},
        {"latex": latex,
         "justification": "Delta rule over n, c, a = u - s i, e = v - s j; the brackets are "
                          "0 <= a, e < k: window (i, j) covers (u, v)."},
    ]
    facts = {
        "routing_all_sizes": export.fact(
            "For every input size, window k and stride s (overlapping or not), away from ties: "
            "dL/dx[n,c,u,v] is the sum of G[n,c,i,j] over the windows (i, j) that cover "
            "(u, v) and whose first maximum (row-major) is (u, v), written with the explicit "
            "argmax mask M. The last (H - k) mod s rows and (W - k) mod s columns are in no "
            "window and receive 0.",
            proof=checks.proof("routing:", "rows:", "columns:", "bridge:"), sizes="all",
            assumptions=ASSUMPTIONS,
            check=hand + engine + f"; the routing and the mask instantiated at {', '.join(where)} "
                  "equal the per-element formulas there (same windows; masks equal at every "
                  "weak ordering of each window's entries)",
            latex=latex, steps=steps, data={"instantiated_at": where}),
        "non_overlapping_windows_all_sizes": export.fact(
            "With stride s >= window k, every input entry is in at most one window, so it "
            "receives the G of at most one window (stride = size: exactly the seeds' pooling).",
            proof=checks.proof("non-overlap:"), sizes="all",
            assumptions=ASSUMPTIONS[:3] + ["s >= k"],
            check="two windows i1 < i2 = i1 + 1 + m both covering u would need "
                  "u - s i2 = (u - s i1) - s (1 + m) >= 0 with 0 <= u - s i1 <= k - 1 and "
                  "s = k + t (t, m >= 0): the range rule proves it < 0",
            latex=r"s \ge k \implies \#\{(i,j) : 0 \le u - s i \le k - 1,\ "
                  r"0 \le v - s j \le k - 1\} \le 1"),
    }
    return export.document(title="Max pooling in index form: gradient routing for every size",
                           source="derivations/max_pool_index.py", cases={"index_form": case},
                           facts=facts)


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
