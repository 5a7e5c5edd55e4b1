"""Dense and softmax + cross-entropy in index form: the gradients for every N, D and K.

The layer and the loss are written with ``IndexedBase``/``Sum``; ``sympy.diff``
with respect to an entry with symbolic indices gives sums of KroneckerDeltas,
evaluated by ``doit()``, and the index-range conditions are resolved for
in-range indices (:func:`derivations.proof.in_range`). Exported by
:mod:`derivations.dense_softmax` (case ``index_form`` and two facts, whose
proofs also cover the small instances checked there); ``checks`` is that
derivation's :class:`derivations.proof.Checks`.
"""

from __future__ import annotations

import sympy as sp

from . import export
from .proof import Checks, in_range
from .toolkit import partial

def index_case(checks: Checks) -> tuple[dict, dict]:
    """The ``index_form`` case, and what the facts report (sympy.diff's raw results)."""
    N, D, K = sp.symbols("N D K", integer=True, positive=True)
    n, m, i, j, k, dd, a, c, o = sp.symbols("n m i j k d a c o", integer=True, nonnegative=True)
    x, w, b = (sp.IndexedBase(s, real=True) for s in ("x", "w", "b"))
    G, z, y = (sp.IndexedBase(s, real=True) for s in ("G", "z", "y"))

    # dense: z = x w + b, upstream G = dL/dz held fixed (see the module docstring)
    zz = sp.Sum(x[n, dd] * w[dd, o], (dd, 0, D - 1)) + b[o]
    surrogate = sp.Sum(G[n, o] * zz, (o, 0, K - 1), (n, 0, N - 1))
    dense_claims = {
        "dL/dw[a,c]": (w[a, c], {a: D, c: K}, sp.Sum(x[n, a] * G[n, c], (n, 0, N - 1))),
        "dL/db[c]": (b[c], {c: K}, sp.Sum(G[n, c], (n, 0, N - 1))),
        "dL/dx[m,a]": (x[m, a], {m: N, a: D}, sp.Sum(G[m, o] * w[a, o], (o, 0, K - 1))),
    }
    f = {"z[n,o]": export.formula(zz, "z_{n,o}", "dense forward, row layout")}
    raw = {}
    for name, (var, bounds, claim) in dense_claims.items():
        raw[name] = sp.diff(surrogate, var)
        got = in_range(raw[name], bounds)
        checks.require(sp.simplify(got - claim) == 0, f"index form {name}")
        f[name] = export.formula(claim, partial(var), "dense backward, G = dL/dz; "
                                 "0 <= a < D, 0 <= c < K, 0 <= m < N")

    # softmax + cross-entropy, batch mean
    S = sp.Sum(sp.exp(z[n, j]), (j, 0, K - 1))
    L = -sp.Sum(y[n, k] * (z[n, k] - sp.log(S)), (k, 0, K - 1), (n, 0, N - 1)) / N
    raw["dL/dz[m,i]"] = sp.diff(L, z[m, i])
    general = in_range(raw["dL/dz[m,i]"], {m: N, i: K})
    p_mi = sp.exp(z[m, i]) / sp.Sum(sp.exp(z[m, j]), (j, 0, K - 1))
    sum_y = sp.Sum(y[m, k], (k, 0, K - 1))
    checks.require(sp.simplify(general - (p_mi * sum_y - y[m, i]) / N) == 0,
            "index form dL/dz without the assumption")
    claim = (p_mi - y[m, i]) / N
    checks.require(sp.simplify(general.subs(sum_y, 1) - claim) == 0, "index form dL/dz = (p - y)/N")
    f["L"] = export.formula(L, "L", "batch-mean cross-entropy, log p = z - log sum exp z")
    f["dL/dz[m,i]"] = export.formula(claim, partial(z[m, i]),
                                     "(p - y)/N; assumes sum_k y[m,k] = 1; 0 <= m < N, 0 <= i < K")
    case = export.case({"general": True,
                        "sizes": {"N": "batch", "D": "inputs", "K": "outputs / classes"},
                        "indices": {"m": "N", "a": "D", "c": "K", "i": "K"}},
                       {"x": "x", "w": "w", "b": "b", "G": "G", "logits": "z", "y": "y",
                        "N": "N", "D": "D", "K": "K"}, f)
    return case, {"raw": raw, "general_dz": general}

def index_facts(checks: Checks, info: dict) -> dict[str, export.Fact]:
    """The two all-sizes facts; ``info`` is what :func:`index_case` returned."""
    return {
        "dense_backward_index_form": export.fact(
            "For every N, D, K: with z = x w + b and upstream gradient G = dL/dz, "
            "dL/dw = x^T G, dL/db = sum over the batch of G, dL/dx = G w^T.",
            proof=checks.proof("index form dL/dw", "index form dL/db", "index form dL/dx",
                               "dense: "),
            sizes="all", assumptions=["N, D, K integers >= 1",
                                      "0 <= m < N, 0 <= a < D, 0 <= c < K"],
            check="sympy.diff of the Sum, KroneckerDelta sums evaluated, index-range "
                  "Piecewise branches resolved for in-range indices, then "
                  "sympy.simplify(lhs - rhs) == 0; and sympy.expand on the N=2, D=3, K=2 "
                  "instance",
            latex=r"\frac{\partial L}{\partial w_{a,c}} = \sum_{n} x_{n,a} G_{n,c},\quad "
                  r"\frac{\partial L}{\partial b_{c}} = \sum_{n} G_{n,c},\quad "
                  r"\frac{\partial L}{\partial x_{m,a}} = \sum_{o} G_{m,o} w_{a,o}",
            data={name: sp.latex(e) for name, e in sorted(info["raw"].items())
                  if name != "dL/dz[m,i]"}),
        "softmax_ce_gradient_index_form": export.fact(
            "For every N and K, the batch-mean softmax cross-entropy has dL/dz = (p - y)/N "
            "provided every target row sums to 1 (one-hot labels). Without that assumption "
            "the derivative is (p * sum_k y - y)/N.",
            proof=checks.proof("index form dL/dz", "softmax_ce: "),
            sizes="all", assumptions=["N, K integers >= 1", "0 <= m < N, 0 <= i < K",
                                      "for (p - y)/N: sum_k y[m,k] = 1"],
            check="sympy.diff of the Sum, KroneckerDelta sums evaluated, index-range "
                  "Piecewise resolved, simplify(lhs - (p sum(y) - y)/N) == 0; then "
                  "sum(y) -> 1 and simplify(lhs - (p - y)/N) == 0. On the N=2, K=3 "
                  "instance: equal after y[n,K-1] -> 1 - sum of the others, and NOT equal "
                  "without it",
            latex=r"\frac{\partial L}{\partial z_{m,i}} = \frac{1}{N}\Big(p_{m,i}"
                  r"\sum_{k} y_{m,k} - y_{m,i}\Big) = \frac{p_{m,i} - y_{m,i}}{N}"
                  r"\quad\text{if } \sum_k y_{m,k} = 1",
            data={"sympy_diff": sp.latex(info["raw"]["dL/dz[m,i]"]),
                  "without_assumption": sp.latex(info["general_dz"])}),
    }
