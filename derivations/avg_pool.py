"""Average pooling: each window spreads its gradient evenly, overlapping windows add.

Forward, one channel of one image (channels and images are independent), NCHW,
window $k \\times k$ every $s$ pixels, floor mode, no padding:
$y_{i,j} = \\frac{1}{k^2} \\sum_{r,c < k} x_{i s + r,\\, j s + c}$ for
$0 \\le i < O_H = \\lfloor (H - k)/s \\rfloor + 1$ (and $O_W$ alike). With an
upstream gradient $G = \\partial L/\\partial y$, $L = \\sum_{i,j} G_{i,j} y_{i,j}$
and

$$\\frac{\\partial L}{\\partial x_{u,v}} = \\frac{1}{k^2}
  \\sum_{(i,j) \\ni (u,v)} G_{i,j}:$$

every window passes back its G divided evenly among its $k^2$ entries, an entry
in several windows (overlap, $s < k$) adds their shares, and an entry in no
window (the last $(H - k) \\bmod s$ rows and $(W - k) \\bmod s$ columns, floor
mode) receives 0. Average pooling is linear, so the gradient does not depend
on x (no ties, unlike max pooling).

Proven here:

* on every entry of every small case (disjoint, overlapping, overlapping with
  stride 2, floor mode with uncovered entries, a non-square input): ``sympy.diff``
  of L equals the routing above, is free of x, and sums to the sum of G;
* in index form, for every N, C, H, W, k and s: ``sympy.diff`` of the Sum is the
  routing (a chain of steps, each proven by the canonical forms of
  :mod:`derivations.index_sums`), rows and columns past the last window receive
  nothing, and the index form instantiated at each small case is its
  per-element formula.

Run ``python -m derivations.avg_pool``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from . import export
from .index_sums import collapse, expression, instantiate, latex_term, same, tex, window_lemmas
from .pool_index import ASSUMPTIONS, BOX, C, H, N, OH, OW, W, a, c, c_, delta, e, i, j, k, n, n_
from .pool_index import G as Gi, s, u, v, x as xi
from .proof import Checks
from .steps import Step, chain
from .toolkit import partial, subject_main, symbol, symbol_array

SUBJECT = "avg_pool"

#: (name, input height H, input width W, window size k, stride s)
CASES = [
    ("size2_stride2", 4, 4, 2, 2),         # stride = size: disjoint windows, every entry in one
    ("size2_stride1", 3, 3, 2, 1),         # overlapping: the centre sits in all four windows
    ("size3_stride2", 5, 5, 3, 2),         # overlapping with stride 2: row 2 in two windows
    ("size2_stride2_floor", 5, 4, 2, 2),   # floor mode: row 4 is in no window; H != W
]


class AvgPool:
    """One channel of one image, every input and upstream-gradient entry a symbol.

    ``x`` is nested lists of shape (1, 1, h, w) holding ``x_{0,0,r,t}``, ``G`` of
    shape (1, 1, O_H, O_W) holding ``G_{0,0,i,j}`` (``X``, ``g``: their one
    channel); ``y(i, j)`` is (1/k^2) times the sum of window (i, j), and
    ``L = sum_ij G_ij y_ij``, so that ``diff(L, x)`` is the backward pass.
    """

    def __init__(self, h: int, w: int, size: int, stride: int):
        self.h, self.w, self.size, self.stride = h, w, size, stride
        self.oh, self.ow = (h - size) // stride + 1, (w - size) // stride + 1
        self.x = symbol_array("x", 1, 1, h, w)            # (N, C, H, W) = (1, 1, h, w)
        self.G = symbol_array("G", 1, 1, self.oh, self.ow)
        self.X, self.g = self.x[0][0], self.G[0][0]

    def window(self, i: int, j: int) -> list[tuple[int, int]]:
        """Positions of window (i, j), in row-major order."""
        t, k = self.stride, self.size
        return [(i * t + r, j * t + c) for r, c in itertools.product(range(k), repeat=2)]

    def windows(self):
        return itertools.product(range(self.oh), range(self.ow))

    def entries(self):
        return itertools.product(range(self.h), range(self.w))

    def y(self, i: int, j: int) -> sp.Expr:
        return sp.Add(*(self.X[a][b] for a, b in self.window(i, j))) / self.size ** 2

    def loss(self) -> sp.Expr:
        return sp.Add(*(self.g[i][j] * self.y(i, j) for i, j in self.windows()))

    def covering(self, a: int, b: int) -> list[tuple[int, int]]:
        """The windows (i, j) that contain entry (a, b)."""
        return [(i, j) for i, j in self.windows() if (a, b) in self.window(i, j)]

    def routing(self, a: int, b: int) -> sp.Expr:
        """The routing identity: 1/k^2 times G of every window containing (a, b)."""
        return sp.Add(*(self.g[i][j] for i, j in self.covering(a, b))) / self.size ** 2


def case_export(checks: Checks, name: str, h: int, w: int, size: int,
                stride: int) -> tuple[dict, dict]:
    """One small case: y and dL/dx per entry, each dL/dx proven to be the routing.

    Returns the :func:`export.case` record and, per entry "r,t", how many windows
    contain it.
    """
    net = AvgPool(h, w, size, stride)
    L = net.loss()
    f = {}
    for p, q in net.windows():
        f[f"y[0,0,{p},{q}]"] = export.formula(net.y(p, q), sp.latex(symbol("y", 0, 0, p, q)),
                                              "mean over the window")
    total, inputs = 0, {entry for row in net.X for entry in row}
    for r, t in net.entries():
        entry = net.X[r][t]
        dx = sp.diff(L, entry)
        checks(f"routing: {name}", sp.expand(dx - net.routing(r, t)) == 0)
        checks(f"linear: {name}", not (dx.free_symbols & inputs))
        if not net.covering(r, t):
            checks(f"uncovered: {name}", dx == 0)
        total += dx
        f[f"dL/dx[0,0,{r},{t}]"] = export.formula(
            dx, partial(entry), "1/k^2 times G of each window containing this entry (0 if none)")
    upstream = sp.Add(*(g for row in net.g for g in row))
    checks(f"conserved: {name}", sp.expand(total - upstream) == 0)
    in_windows = {f"{r},{t}": len(net.covering(r, t)) for r, t in net.entries()}
    case = export.case({"N": 1, "C": 1, "H": h, "W": w, "size": size, "stride": stride,
                        "out": [net.oh, net.ow], "mode": "floor, no padding"},
                       {"x": export.names(net.x), "G": export.names(net.G)}, f)
    return case, in_windows


# --------------------------------------------------------------------------
# Index form: every N, C, H, W, window k and stride s
# --------------------------------------------------------------------------
# (the symbols of pool_index; x and G are the small cases' names for their arrays)


def index_loss() -> sp.Expr:
    y = sp.Sum(xi[n, c, s * i + a, s * j + e], (e, 0, k - 1), (a, 0, k - 1)) / k ** 2
    return sp.Sum(Gi[n, c, i, j] * y, (j, 0, OW - 1), (i, 0, OH - 1), (c, 0, C - 1), (n, 0, N - 1))


def index_chain(checks: Checks) -> tuple[dict, sp.Expr, str]:
    """dL/dx[n',c',u,v] for every size: chain rule, the deltas, the covering windows.

    Returns the chain's record, the routing in canonical form (what the bridge
    instantiates) and its LaTeX.
    """
    raw = sp.diff(index_loss(), xi[n_, c_, u, v])
    windows = ((j, 0, OW - 1), (i, 0, OH - 1))
    covers = sp.And(u - s * i >= 0, s * i + k - 1 - u >= 0, v - s * j >= 0, s * j + k - 1 - v >= 0)
    routing = sp.Sum(sp.Piecewise((Gi[n_, c_, i, j], covers), (0, True)), *windows) / k ** 2
    by_canonical_form = lambda prev, step: same(prev, step, BOX)   # noqa: E731
    steps = [
        Step(sp.Sum(Gi[n, c, i, j] / k ** 2 * sp.Sum(
            delta(n, n_) * delta(c, c_) * delta(s * i + a, u) * delta(s * j + e, v),
            (e, 0, k - 1), (a, 0, k - 1)), *windows, (c, 0, C - 1), (n, 0, N - 1)),
             "Chain rule: L depends on x only through the outputs y, G = dL/dy weights each "
             "one, and d x[n,c,si+a,sj+e] / d x[n',c',u,v] is 1 exactly when all four indices "
             "match (a product of Kronecker deltas); every window weighs its k^2 entries by "
             "1/k^2.", prove=by_canonical_form),
        Step(sp.Sum(Gi[n_, c_, i, j] * delta(s * i + a, u) * delta(s * j + e, v),
                    (e, 0, k - 1), (a, 0, k - 1), *windows) / k ** 2,
             "The deltas on the image and the channel keep n = n', c = c': channels and "
             "images do not mix.", prove=by_canonical_form),
        Step(routing,
             "The deltas on the offsets keep a = u - s i and e = v - s j, which must lie in "
             "0..k-1: window (i, j) contains (u, v). Each window containing the entry gives it "
             "G / k^2 (an even share), overlapping windows add, and an entry in no window "
             "gets 0.", prove=by_canonical_form),
    ]
    record = chain(partial(xi[n_, c_, u, v], printer=tex), raw, steps,
                   description="Every size: N images, C channels, an H x W input, window k, "
                               "stride s (overlapping or not, floor mode).",
                   proven="each step equals the one before (the first equals sympy.diff of L "
                          "= sum G y): both sides brought to canonical form by "
                          "derivations/index_sums.py (KroneckerDeltas summed out by the delta "
                          "rule, index ranges decided by the range rule on the box of valid "
                          "indices) and compared term by term")
    checks("index: diff(L) = 1/k^2 G of each covering window", same(raw, routing, BOX))
    canonical = collapse(raw, BOX)
    for printed, step in zip(record["steps"], steps):   # one sum sign per index, u - s i
        printed["latex"] = tex(step.expr)
    # the last step as the canonical form prints it: the covering windows as Iverson brackets
    brackets = " + ".join(latex_term(term, set(BOX), [i, j]) for term in canonical)
    record["steps"][-1]["latex"] = brackets
    return record, expression(canonical), brackets


def bridge(checks: Checks, routing: sp.Expr, name: str, h: int, w: int, size: int, stride: int):
    """The index form at a small case equals its per-element formula, entry by entry."""
    net = AvgPool(h, w, size, stride)
    sizes = {N: 1, C: 1, H: h, W: w, k: size, s: stride, OH: net.oh, OW: net.ow}
    arrays = {"G": lambda nn, cc, r, t: net.g[r][t], "x": lambda nn, cc, r, t: net.X[r][t]}
    L = net.loss()
    ok = all(sp.expand(instantiate(routing, {**sizes, n_: 0, c_: 0, u: aa, v: bb}, arrays)
                       - sp.diff(L, net.X[aa][bb])) == 0 for aa, bb in net.entries())
    checks(f"bridge: {name}", ok)


def derive() -> dict:
    checks = Checks()
    cases, in_windows = {}, {}
    for name, h, w, size, stride in CASES:
        cases[name], in_windows[name] = case_export(checks, name, h, w, size, stride)
    dx_chain, routing, brackets = index_chain(checks)
    for name, ok in window_lemmas(s, k, OH).items():
        checks(f"rows: {name}", ok)
    for name, ok in window_lemmas(s, k, OW).items():
        checks(f"columns: {name}", ok)
    where = []
    for name, h, w, size, stride in CASES:
        bridge(checks, routing, name, h, w, size, stride)
        where.append(f"{name}: {h}x{w}, window {size}, stride {stride}")
    sizes = [f"{n}: {h}x{w} input, window {k_}, stride {t}" for n, h, w, k_, t in CASES]
    routing_latex = (r"\frac{\partial L}{\partial x_{u,v}} = \frac{1}{k^2}"
                     r"\sum_{(i,j)\,\ni\,(u,v)} G_{i,j}")
    facts = {
        "routing_spreads_evenly": export.fact(
            "The exported dL/dx is the derivative of L = sum G y: each entry receives G/k^2 "
            "from every window that contains it, and nothing else. With stride = size every "
            "entry is in one window; with overlapping windows the shares add (the centre of "
            "a 3x3 input pooled 2x2 with stride 1 is in four windows); in floor mode the "
            "entries past the last window receive 0. The gradient is free of x (average "
            "pooling is linear), and the entries of dL/dx sum to the sum of G: each window "
            "passes back exactly its G.",
            proof=checks.proof("routing: ", "linear: ", "uncovered: ", "conserved: "),
            sizes=sizes,
            check="on every entry of every case: sympy.expand(diff(L, x) - 1/k^2 * sum of G "
                  "over the windows containing x) == 0, diff(L, x) has no x among its free "
                  "symbols, it is 0 for an entry in no window, and sympy.expand(sum of "
                  "dL/dx - sum of G) == 0",
            latex=routing_latex,
            data={name: {"windows_containing_each_entry": v} for name, v in sorted(in_windows.items())}),
        "routing_all_sizes": export.fact(
            "For every batch, channel count, input size, window k and stride s (overlapping "
            "or not): dL/dx[n,c,u,v] is 1/k^2 times the sum of G[n,c,i,j] over the windows "
            "(i, j) with 0 <= u - s i <= k - 1 and 0 <= v - s j <= k - 1. Rows u >= s (O_H - 1) "
            "+ k and columns v >= s (O_W - 1) + k (the last (H - k) mod s rows and (W - k) "
            "mod s columns) are in no window and receive 0.",
            proof=checks.proof("index: ", "rows: ", "columns: ", "bridge: "), sizes="all",
            assumptions=ASSUMPTIONS,
            check="sympy.diff of L = sum G (1/k^2) sum x over the window; KroneckerDeltas summed "
                  "out by the delta rule and ranges decided by the range rule "
                  "(derivations/index_sums.py), compared in canonical form with the routing "
                  "written independently; the window lemmas by the range rule; the index "
                  f"form instantiated at {', '.join(where)} equals diff(L, x) there, entry by "
                  "entry",
            latex=f"{partial(xi[n_, c_, u, v], printer=tex)} = {brackets}",
            data={"instantiated_at": where}),
    }
    return export.document(
        title="Average pooling: each window spreads its gradient evenly, overlapping windows add",
        source="derivations/avg_pool.py", cases=cases, facts=facts, chains={"dx": dx_chain})


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
