"""Max pooling: where the gradient goes, with stride = size and with overlap.

Forward, one channel of one image (channels and images are independent):
$y_{i,j} = \\max_{r,c < s} x_{i t + r,\\, j t + c}$ for window size $s$ and
stride $t$. With an upstream gradient $G = \\partial L/\\partial y$ the
gradient of $L = \\sum_{i,j} G_{i,j} y_{i,j}$ is routed, window by window,
to the entry that won the max:

$$\\frac{\\partial L}{\\partial x_{a,b}} = \\sum_{(i,j) \\ni (a,b)} G_{i,j}\\,
  [\\,(a,b) \\text{ is the argmax of window } (i,j)\\,].$$

The argmax mask is exported as a ``Piecewise`` whose condition compares the
entry with every other entry of its window. Ties: ``max`` has no derivative
where two entries of a window are equal; this project gives the whole
gradient to the FIRST maximal entry in row-major order within the window
(what ``numpy.argmax`` on the flattened window picks), so each window passes
back exactly G, once: the condition is ``>`` against entries before it and
``>=`` against entries after it.

Proven here, on every window of every case:

* away from ties, the mask is ``sympy.diff`` of ``Max`` (all 24 strict
  orderings of a 2x2 window), and ``diff`` of L is the sum over windows;
* with ties (all 256 weak orderings, values in {0,1,2,3}), exactly one
  entry wins, it is a maximum, and it is the first one;
* SymPy's own derivative at a tie (Heaviside(0) = 1/2 to every tied entry)
  is not a subgradient once three entries tie: the window would pass back
  3/2 G.

Run ``python -m derivations.max_pool``.
"""

from __future__ import annotations

import itertools
import sympy as sp

from . import export
from .proof import Checks
from .toolkit import partial, subject_main, symbol_array

SUBJECT = "max_pool"

#: Every check of a derivation run, by name: the facts' proofs are built from them.
CHECKS = Checks(SUBJECT)
require = CHECKS.require

#: (name, input size H = W, window size, stride)
CASES = [
    ("size2_stride2", 4, 2, 2),   # stride = size: disjoint windows
    ("size2_stride1", 3, 2, 1),   # overlapping windows: the centre sits in all four
]


class MaxPool:
    def __init__(self, h: int, size: int, stride: int):
        self.h, self.size, self.stride = h, size, stride
        self.oh = (h - size) // stride + 1
        self.x = symbol_array("x", 1, 1, h, h)            # (N, C, H, W) = (1, 1, h, h)
        self.G = symbol_array("G", 1, 1, self.oh, self.oh)
        self.X = self.x[0][0]

    def window(self, i: int, j: int) -> list[tuple[int, int]]:
        """Positions of window (i, j), in row-major order."""
        t, s = self.stride, self.size
        return [(i * t + r, j * t + c) for r, c in itertools.product(range(s), repeat=2)]

    def windows(self):
        return itertools.product(range(self.oh), repeat=2)

    def y(self, i: int, j: int) -> sp.Expr:
        return sp.Max(*(self.X[a][b] for a, b in self.window(i, j)))

    def wins(self, i: int, j: int, pos: tuple[int, int]) -> sp.Boolean:
        """Condition for ``pos`` to be the window's first maximum (row-major)."""
        win = self.window(i, j)
        me = self.X[pos[0]][pos[1]]
        k = win.index(pos)
        return sp.And(*(me > self.X[a][b] if q < k else me >= self.X[a][b]
                        for q, (a, b) in enumerate(win) if q != k))

    def dx(self, a: int, b: int) -> sp.Expr:
        """Routed gradient: G of every window whose winner is (a, b)."""
        return sp.Add(*(sp.Piecewise((self.G[0][0][i][j], self.wins(i, j, (a, b))), (0, True))
                        for i, j in self.windows() if (a, b) in self.window(i, j)))

    def loss(self) -> sp.Expr:
        return sp.Add(*(self.G[0][0][i][j] * self.y(i, j) for i, j in self.windows()))


# --------------------------------------------------------------------------
# Proofs on one window (all windows of a case are proven the same way)
# --------------------------------------------------------------------------
def check_window(net: MaxPool, i: int, j: int) -> dict:
    win = net.window(i, j)
    xs = [net.X[a][b] for a, b in win]
    y = net.y(i, j)
    dmax = [sp.diff(y, v) for v in xs]
    mask = [sp.Piecewise((1, net.wins(i, j, p)), (0, True)) for p in win]
    n = len(xs)
    # 1. no ties: every strict ordering of the window's entries
    for perm in itertools.permutations(range(n)):
        point = dict(zip(xs, perm))
        require([m.xreplace(point) for m in mask] == [dm.xreplace(point) for dm in dmax],
                "routing: mask = diff(Max) at every strict ordering")
    # 2. ties: every weak ordering; one winner, a maximum, the first one
    sympy_at_ties = {}
    for values in itertools.product(range(n), repeat=n):
        point = dict(zip(xs, values))
        m = [int(e.xreplace(point)) for e in mask]
        top = max(values)
        require(m.count(1) == 1 and m.index(1) == values.index(top),
                "ties: one winner, the first maximum, at every weak ordering")
        ties = values.count(top)
        if ties > 1 and ties not in sympy_at_ties:
            sympy_at_ties[ties] = {"values": list(values),
                                   "sympy_diff": [str(dm.xreplace(point)) for dm in dmax],
                                   "this_project": m}
    return sympy_at_ties


def case_export(name: str, h: int, size: int, stride: int) -> tuple[dict, dict]:
    net = MaxPool(h, size, stride)
    L = net.loss()
    f = {}
    for i, j in net.windows():
        f[f"y[0,0,{i},{j}]"] = export.formula(net.y(i, j), sp.latex(sp.Symbol(f"y_{{0,0,{i},{j}}}")),
                                              "max over the window")
    ties = {}
    for i, j in net.windows():
        ties = check_window(net, i, j) or ties
    for a, b in itertools.product(range(h), repeat=2):
        x = net.X[a][b]
        # diff of the loss is the G-weighted sum of each window's diff(Max): exact
        by_window = sp.Add(*(net.G[0][0][i][j] * sp.diff(net.y(i, j), x)
                             for i, j in net.windows()))
        require(sp.expand(sp.diff(L, x) - by_window) == 0,
                "routing: diff(L, x) = sum over windows of G diff(Max_w, x)")
        f[f"dL/dx[0,0,{a},{b}]"] = export.formula(
            net.dx(a, b), partial(x),
            "G of each window whose first maximum (row-major) is this entry")
    in_windows = {f"{a},{b}": sum((a, b) in net.window(i, j) for i, j in net.windows())
                  for a, b in itertools.product(range(h), repeat=2)}
    case = export.case({"N": 1, "C": 1, "H": h, "W": h, "size": size, "stride": stride,
                        "out": net.oh, "ties": "first maximum in row-major order"},
                       {"x": export.names(net.x), "G": export.names(net.G)}, f)
    return case, {"ties": ties, "in_windows": in_windows}


def derive() -> dict:
    CHECKS.clear()
    cases, info = {}, {}
    for name, h, size, stride in CASES:
        cases[name], info[name] = case_export(name, h, size, stride)
    names = ", ".join(f"{n} ({h}x{h}, size {s}, stride {t})" for n, h, s, t in CASES)
    ties = info["size2_stride1"]["ties"]
    for tied, passed_back in ((2, 1), (3, sp.Rational(3, 2)), (4, 2)):
        total = sum(sp.Rational(v) for v in ties[tied]["sympy_diff"])
        require(total == passed_back, f"sympy at ties: a {tied}-way tie passes {passed_back} G back")
    SIZES = [f"{n}: {h}x{h} input, window {s}, stride {t}" for n, h, s, t in CASES]
    facts = {
        "routing_is_derivative_of_max": export.fact(
            "Away from ties the exported dL/dx is the derivative of L = sum G y: each entry "
            "receives G of every window whose maximum it is, and nothing else. With stride = "
            "size every entry is in one window; with overlapping windows an entry collects "
            "from each window it wins (the centre of a 3x3 input pooled 2x2 with stride 1 is "
            "in four windows).",
            proof=CHECKS.proof("routing: "), sizes=SIZES,
            check=f"on every window of {names}: the Piecewise mask equals sympy.diff(Max(...)) "
                  "at all 24 strict orderings of the window's entries, and "
                  "sympy.expand(diff(L, x) - sum_w G_w diff(Max_w, x)) == 0 for every x",
            latex=r"\frac{\partial L}{\partial x_{a,b}} = \sum_{(i,j)\,\ni\,(a,b)} G_{i,j}\,"
                  r"\big[(a,b) = \operatorname{argmax}_{\text{window }(i,j)} x\big]",
            data={name: {"windows_containing_each_entry": v["in_windows"]}
                  for name, v in sorted(info.items())}),
        "ties_first_maximum_wins": export.fact(
            "At a tie max has no derivative (any split of G among the tied entries is a "
            "subgradient). The exported routing gives all of G to the first maximal entry "
            "in row-major order within the window (numpy.argmax on the flattened window), so "
            "each window passes back exactly G and the sum of dL/dx equals the sum of G.",
            proof=CHECKS.proof("ties: "), sizes=SIZES,
            check=f"on every window of {names}: at all 256 assignments of values 0..3 to the "
                  "four entries (every weak ordering), exactly one mask is 1 and it is the "
                  "first entry holding the maximum",
            latex=r"\sum_{(a,b)\in\text{window}} \big[(a,b)\text{ wins}\big] = 1"),
        "sympy_half_at_ties_is_not_a_subgradient": export.fact(
            "SymPy's derivative of Max at a tie gives Heaviside(0) = 1/2 to every tied "
            "entry: with two tied entries the window passes back G (a valid subgradient), "
            "with three or four it passes back 3/2 G or 2 G, which is not a subgradient. "
            "That is why the project uses the one-winner rule.",
            proof=CHECKS.proof("sympy at ties: "), sizes=["one 2x2 window"],
            check="sympy.diff(Max(...), x) evaluated at tied values, on a 2x2 window",
            data={str(k): v for k, v in sorted(ties.items())}),
    }
    return export.document(
        title="Max pooling: gradient routing, stride = size and overlapping windows, ties",
        source="derivations/max_pool.py", cases=cases, facts=facts)


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
