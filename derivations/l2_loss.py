"""The L2 cost and its gradient, per entry and in index form.

The library's ``l2_loss(output, target)`` returns the batch MEAN of the
per-sample cost $\\frac12 \\sum_k (o_{n,k} - t_{n,k})^2$:

$$L = \\frac{1}{N} \\sum_{n=0}^{N-1} \\frac12 \\sum_{k=0}^{K-1} (o_{n,k} - t_{n,k})^2 .$$

The script derives $\\partial L/\\partial o$ on a small symbolic instance
(every output and target a symbol, N = 2 samples, K = 3 outputs) and in index
form for every N and K (``IndexedBase``/``Sum``), step by step (a chain, see
:mod:`derivations.steps`), and proves how the batch-sum cost relates to the
mean (on one sample at a time, N = 1, as seed 004's toy net trains, the two
coincide).

Run ``python -m derivations.l2_loss``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from . import export
from .proof import Proof, in_range
from .steps import Step, chain
from .toolkit import partial, subject_main, symbol_array

SUBJECT = "l2_loss"
N_SMALL, K_SMALL = 2, 3


# --------------------------------------------------------------------------
# Small instance
# --------------------------------------------------------------------------
def small_case() -> tuple[dict, dict]:
    o, t = symbol_array("o", N_SMALL, K_SMALL), symbol_array("t", N_SMALL, K_SMALL)
    per_sample = [sp.Rational(1, 2) * sum((o[n][k] - t[n][k]) ** 2 for k in range(K_SMALL))
                  for n in range(N_SMALL)]
    loss = sp.Add(*per_sample) / N_SMALL
    loss_sum = sp.Add(*per_sample)
    f = {"L": export.formula(loss, "L", "batch mean of 0.5 * sum over outputs of (o - t)^2")}
    sum_is_n_times_mean = True
    for n, k in itertools.product(range(N_SMALL), range(K_SMALL)):
        grad = sp.diff(loss, o[n][k])
        if sp.expand(grad - (o[n][k] - t[n][k]) / N_SMALL) != 0:
            raise AssertionError(f"l2_loss: dL/do[{n},{k}] = {grad}")
        sum_is_n_times_mean &= sp.expand(sp.diff(loss_sum, o[n][k]) - N_SMALL * grad) == 0
        f[f"dL/do[{n},{k}]"] = export.formula(grad, partial(o[n][k]), "gradient of the batch mean")
    case = export.case({"N": N_SMALL, "K": K_SMALL, "reduction": "mean"},
                       {"output": export.names(o), "target": export.names(t)}, f)
    return case, {"small_sum_is_n_times_mean": sum_is_n_times_mean}


# --------------------------------------------------------------------------
# Index form, every N and K
# --------------------------------------------------------------------------
def index_case() -> tuple[dict, dict]:
    N, K = sp.symbols("N K", integer=True, positive=True)
    n, k, m, j = sp.symbols("n k m j", integer=True, nonnegative=True)
    o, t = sp.IndexedBase("o", real=True), sp.IndexedBase("t", real=True)
    loss = sp.Sum(sp.Rational(1, 2) * (o[n, k] - t[n, k]) ** 2, (k, 0, K - 1), (n, 0, N - 1)) / N
    raw = sp.diff(loss, o[m, j])
    grad = in_range(raw, {m: N, j: K})
    claim = (o[m, j] - t[m, j]) / N
    f = {"L": export.formula(loss, "L", "batch mean, general N and K"),
         "dL/do[m,j]": export.formula(claim, r"\frac{\partial L}{\partial o_{m,j}}",
                                      "for 0 <= m < N, 0 <= j < K")}
    case = export.case({"general": True, "sizes": {"N": "samples", "K": "outputs"},
                        "indices": {"m": "N", "j": "K"}},
                       {"output": "o", "target": "t", "N": "N", "K": "K", "m": "m", "j": "j"}, f)
    in_bounds = lambda a, b: sp.simplify(in_range(a - b, {m: N, j: K})) == 0  # noqa: E731
    steps = chain(r"\frac{\partial L}{\partial o_{m,j}}", raw, [
        Step(sp.Sum((o[n, k] - t[n, k]) * sp.KroneckerDelta(n, m) * sp.KroneckerDelta(k, j),
                    (k, 0, K - 1), (n, 0, N - 1)) / N,
             "differentiate each squared term (linearity of the sum): ½(o − t)² gives "
             "(o[n,k] − t[n,k]) times ∂o[n,k]/∂o[m,j], which is 1 when n = m and k = j and "
             "0 otherwise (two Kronecker deltas); the 1/N of the mean stays in front",
             prove=in_bounds),
        Step(claim, "the Kronecker deltas keep only the term n = m, k = j of the double sum",
             prove=in_bounds),
    ], description="The batch-mean L2 cost, for any batch size N and any number of outputs K.",
        proven="each step equals the one before (the first equals sympy.diff of the cost): "
               "the sums over the Kronecker deltas are evaluated, the index-range conditions "
               "resolved for 0 <= m < N, 0 <= j < K, and sympy.simplify gives 0")
    return case, {"raw": raw, "grad": grad, "proven": sp.simplify(grad - claim) == 0,
                  "chain": steps}


def derive() -> dict:
    small, small_info = small_case()
    index, info = index_case()
    check_index = ("sympy.diff of the Sum, KroneckerDelta sums evaluated with doit(), "
                   "index-range Piecewise branches resolved for 0 <= m < N, 0 <= j < K, "
                   "then sympy.simplify(lhs - rhs) == 0")
    facts = {
        "gradient_index_form": export.fact(
            "For every batch size N and output size K, the gradient of the batch-mean L2 "
            "cost is (o - t) / N, entry by entry.",
            proof=Proof.of(index_form=info["proven"]), check=check_index, sizes="all",
            assumptions=["N, K integers >= 1", "0 <= m < N, 0 <= j < K"],
            latex=r"\frac{\partial}{\partial o_{m,j}} \frac{1}{N}\sum_{n=0}^{N-1}\frac12"
                  r"\sum_{k=0}^{K-1}(o_{n,k}-t_{n,k})^2 = \frac{o_{m,j} - t_{m,j}}{N}",
            data={"sympy_diff": sp.latex(info["raw"])}),
        "sum_vs_mean": export.fact(
            "The batch-SUM cost sum_n 0.5 * sum_k (o - t)^2 has gradient o - t, N times the "
            "batch-mean gradient. On one sample at a time (N = 1, as seed 004's toy net "
            "trains) the two coincide.",
            proof=Proof.of(sum_is_n_times_mean=small_info["small_sum_is_n_times_mean"]),
            sizes=[f"N={N_SMALL} K={K_SMALL}"],
            check="sympy.expand(d(sum)/do - N * d(mean)/do) == 0 on the "
                              "N=2, K=3 instance, every entry",
            latex=r"\frac{\partial L_{\text{sum}}}{\partial o} = o - t = "
                  r"N\,\frac{\partial L_{\text{mean}}}{\partial o}"),
    }
    return export.document(title="L2 cost: batch mean of 0.5 * sum (o - t)^2",
                           source="derivations/l2_loss.py",
                           cases={"mean_N2_K3": small, "index_form": index}, facts=facts,
                           chains={"gradient": info["chain"]})


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
