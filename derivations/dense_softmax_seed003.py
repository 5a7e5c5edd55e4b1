"""Seed 003's deltas, in its own column layout (features x batch) and batch-SUM loss.

Seed 003 trains two dense layers (ReLU between, softmax + cross-entropy on
top) and writes every gradient by hand. Here its network is symbolic, its
formulas are written exactly as its code computes them, and each is proven to
be the gradient of the batch-SUM loss (for one-hot label columns, off the ReLU
kink); the library's row layout with the batch-MEAN loss is proven to give the
same quantities transposed and divided by N. Exported by
:mod:`derivations.dense_softmax` (case ``seed003_column`` and three facts);
``checks`` is that derivation's :class:`derivations.proof.Checks`.
"""

from __future__ import annotations

import itertools

import sympy as sp

from . import export
from .dense_softmax import log_softmax_rows, one_hot_rows, softmax_rows
from .proof import Checks, is_zero
from .toolkit import symbol_array, symbol_matrix

SEED003_SIZES = {"D0": 3, "H": 2, "K": 3, "N": 2}  # seed: 288, 60, 10, N


class Seed003:
    """Seed 003's two dense layers in its own layout and names.

    ``U = W1 @ X + B0``, ``fc1 = relu(U)``, ``Z2 = W2 @ fc1 + B1``,
    ``final_fc = softmax(Z2)`` per column; ``L_sum = -sum(y_batch * log final_fc)``.
    """

    def __init__(self, D0: int, H: int, K: int, N: int):
        self.D0, self.H, self.K, self.N = D0, H, K, N
        self.X = symbol_matrix("X", D0, N)
        self.W1, self.W2 = symbol_matrix("W^{(1)}", H, D0), symbol_matrix("W^{(2)}", K, H)
        self.B0 = sp.Matrix(symbol_array("B^{(0)}", H))
        self.B1 = sp.Matrix(symbol_array("B^{(1)}", K))
        self.Y = symbol_matrix("Y", K, N)
        # the seed's named intermediate values, as free symbols
        self.P, self.A, self.U = symbol_matrix("P", K, N), symbol_matrix("A", H, N), symbol_matrix("Z^{(1)}", H, N)
        # the raw network
        self.U_raw = self.W1 * self.X + self.B0 * sp.ones(1, N)
        self.A_raw = self.U_raw.applyfunc(lambda u: sp.Max(0, u))
        self.Z2_raw = self.W2 * self.A_raw + self.B1 * sp.ones(1, N)

    def loss_sum(self, Z2: sp.Matrix) -> sp.Expr:
        logp = log_softmax_rows(Z2.T).T  # columns are samples
        return -sum(self.Y[k, n] * logp[k, n] for k in range(self.K) for n in range(self.N))

    def seed_formulas(self) -> dict[str, sp.Matrix]:
        """The seed's deltas, written exactly as its code computes them."""
        delta_2 = self.P - self.Y
        dW2 = delta_2 * self.A.T
        dB1 = delta_2 * sp.ones(self.N, 1)                          # np.sum(axis=1)
        dReLU = self.U.applyfunc(lambda u: sp.Heaviside(u, 0))       # (x > 0) * 1.0
        delta_1 = (self.W2.T * delta_2).multiply_elementwise(dReLU)
        dW1 = delta_1 * self.X.T
        dB0 = delta_1 * sp.ones(self.N, 1)
        delta_0 = self.W1.T * delta_1                                # np.multiply(., 1.0)
        return {"delta_2": delta_2, "dW2": dW2, "dB1": dB1, "delta_1": delta_1,
                "dW1": dW1, "dB0": dB0, "delta_0": delta_0}

    def true_gradients(self) -> dict[str, sp.Matrix]:
        """Gradients of the batch-SUM loss, by sympy.diff of the raw network."""
        L = self.loss_sum(self.Z2_raw)
        Z2f, Uf = symbol_matrix("Z2", self.K, self.N), self.U
        L_of_Z2 = self.loss_sum(Z2f)
        L_of_U = self.loss_sum(self.W2 * Uf.applyfunc(lambda u: sp.Max(0, u))
                               + self.B1 * sp.ones(1, self.N))
        back_Z2 = dict(zip(Z2f, self.Z2_raw))
        back_U = dict(zip(Uf, self.U_raw))
        grad = lambda v: v.applyfunc(lambda s: sp.diff(L, s))  # noqa: E731
        return {
            "delta_2": Z2f.applyfunc(lambda s: sp.diff(L_of_Z2, s).xreplace(back_Z2)),
            "dW2": grad(self.W2), "dB1": grad(self.B1),
            "delta_1": Uf.applyfunc(lambda s: sp.diff(L_of_U, s).xreplace(back_U)),
            "dW1": grad(self.W1), "dB0": grad(self.B0), "delta_0": grad(self.X),
        }

    def forward_values(self) -> dict:
        """The seed's named values in the raw symbols; dReLU as SymPy's derivative."""
        values = dict(zip(self.P, softmax_rows(self.Z2_raw.T).T))
        values.update(zip(self.A, self.A_raw))
        values.update(zip(self.U, self.U_raw))
        return values

    def variables(self) -> dict:
        return {"X": export.names(self.X), "W1": export.names(self.W1),
                "W2": export.names(self.W2), "B0": export.names(list(self.B0)),
                "B1": export.names(list(self.B1)), "y_batch": export.names(self.Y),
                "final_fc": export.names(self.P), "fc1": export.names(self.A),
                "Z1": export.names(self.U)}


SEED003_MEANING = {
    "delta_2": ("Z2", r"\delta^{(2)}", "dL_sum/dZ2, Z2 = W2 fc1 + B1 (the logits)"),
    "dW2": ("W2", r"\frac{\partial L_{\text{sum}}}{\partial W^{(2)}}", "dL_sum/dW2"),
    "dB1": ("B1", r"\frac{\partial L_{\text{sum}}}{\partial B^{(1)}}", "dL_sum/dB1"),
    "delta_1": ("Z1", r"\delta^{(1)}", "dL_sum/dZ1, Z1 = W1 X + B0 (before the ReLU)"),
    "dW1": ("W1", r"\frac{\partial L_{\text{sum}}}{\partial W^{(1)}}", "dL_sum/dW1"),
    "dB0": ("B0", r"\frac{\partial L_{\text{sum}}}{\partial B^{(0)}}", "dL_sum/dB0"),
    "delta_0": ("X", r"\delta^{(0)}", "dL_sum/dX, X = X_maxpool_flatten"),
}


def seed003_case(checks: Checks) -> tuple[dict, dict]:
    net = Seed003(**SEED003_SIZES)
    seed, true = net.seed_formulas(), net.true_gradients()
    values = net.forward_values()
    hot = one_hot_rows(net.Y.T)  # columns are samples: sum_k Y[k,n] = 1
    # Off the kink (u != 0) relu'(u) is SymPy's Heaviside(u); at u = 0 the seed
    # (and this project) use 0. The proof covers u != 0, where ReLU is differentiable.
    off_kink = {sp.Heaviside(u, 0): sp.Heaviside(u) for u in net.U}
    f = {}
    for name, m in seed.items():
        proof_form = m.xreplace(off_kink).xreplace(values)
        checks.require(all(is_zero((s - t).xreplace(hot)) for s, t in zip(proof_form, true[name])),
                f"seed 003 delta {name} = gradient of the batch-sum loss")
        _, lhs, meaning = SEED003_MEANING[name]
        for r, c in itertools.product(range(m.rows), range(m.cols)):
            key = f"{name}[{r}]" if m.cols == 1 else f"{name}[{r},{c}]"
            sub = f"{{{r}}}" if m.cols == 1 else f"{{{r},{c}}}"
            f[key] = export.formula(m[r, c], rf"\left({lhs}\right)_{sub}",
                                    f"seed 003 {name} = {meaning}; batch SUM loss")
    # The batch mean L_sum / N has every gradient divided by N (diff is linear).
    L_sum = net.loss_sum(net.Z2_raw)
    mean_ok = all(sp.expand(sp.diff(L_sum / net.N, s) - sp.diff(L_sum, s) / net.N) == 0
                  for s in itertools.chain(net.W1, net.W2, net.B0, net.B1, net.X))
    checks.require(mean_ok, "seed 003 batch mean: mean-loss gradients are 1/N of the sum-loss ones")
    case = export.case({**SEED003_SIZES, "layout": "column: features x batch",
                        "reduction": "sum", "assumption": "sum_k y_batch[k,n] = 1",
                        "seed_sizes": {"D0": 288, "H": 60, "K": 10}}, net.variables(), f)
    return case, {"net": net, "seed": seed}


def row_layout_fact(checks: Checks, net: Seed003, seed: dict) -> export.Fact:
    """The library's row-layout, batch-mean backward = seed formulas transposed, / N."""
    N = net.N
    # library names: x (N, D0), w1 (D0, H), w2 (H, K); row vectors are samples
    x, w1, w2 = net.X.T, net.W1.T, net.W2.T
    p, y, a, u = net.P.T, net.Y.T, net.A.T, net.U.T
    # each step is the library formula derived above (index form): dz = (p - y)/N,
    # dense_backward: dw = x^T dy, db = sum over rows of dy, dx = dy w^T, relu: dy * H(u, 0)
    dlogits = (p - y) / N
    dw2, db2, da = a.T * dlogits, dlogits.T * sp.ones(N, 1), dlogits * w2.T
    du = da.multiply_elementwise(u.applyfunc(lambda v: sp.Heaviside(v, 0)))
    dw1, db1, dx = x.T * du, du.T * sp.ones(N, 1), du * w1.T
    pairs = {"dlogits = delta_2^T / N": (dlogits, seed["delta_2"].T / N),
             "dw2 = dW2^T / N": (dw2, seed["dW2"].T / N),
             "db2 = dB1 / N": (db2, seed["dB1"] / N),
             "drelu_input = delta_1^T / N": (du, seed["delta_1"].T / N),
             "dw1 = dW1^T / N": (dw1, seed["dW1"].T / N),
             "db1 = dB0 / N": (db1, seed["dB0"] / N),
             "dx = delta_0^T / N": (dx, seed["delta_0"].T / N)}
    for what, (lib, col) in pairs.items():
        checks.require(lib.shape == col.shape and all(sp.expand(e) == 0 for e in lib - col),
                f"row layout {what}")
    return export.fact(
        "The library's row layout (samples in rows; dense weights w1 = W1^T, w2 = W2^T) with "
        "the batch-MEAN loss gives exactly the seed 003 quantities transposed and divided "
        "by N: dlogits = delta_2^T/N, dw2 = dW2^T/N, db2 = dB1/N, the gradient at the ReLU "
        "input = delta_1^T/N, dw1 = dW1^T/N, db1 = dB0/N, dx = delta_0^T/N.",
        proof=checks.proof("row layout"), sizes=[", ".join(f"{k}={v}" for k, v in SEED003_SIZES.items())],
        check="sympy.expand(lhs - rhs) == 0 entrywise with symbolic P, Y, fc1, Z1, X, W1, W2 "
              f"(sizes {SEED003_SIZES}); the row-layout steps are the index-form results "
              "dL/dz = (p - y)/N, dw = x^T dy, db = sum_n dy, dx = dy w^T",
        latex=r"\frac{\partial L_{\text{mean}}}{\partial w_2} = \frac{1}{N}\Big("
              r"\frac{\partial L_{\text{sum}}}{\partial W^{(2)}}\Big)^{T},\ "
              r"\frac{\partial L_{\text{mean}}}{\partial z} = \frac{1}{N}\big(\delta^{(2)}\big)^{T},"
              r"\ \ldots,\ \frac{\partial L_{\text{mean}}}{\partial x} = "
              r"\frac{1}{N}\big(\delta^{(0)}\big)^{T}",
        data={"pairs": sorted(pairs)})


def seed003_facts(checks: Checks, info: dict) -> dict[str, export.Fact]:
    """The three facts about seed 003; ``info`` is what :func:`seed003_case` returned."""
    s = SEED003_SIZES
    return {
        "seed003_deltas_are_batch_sum_gradients": export.fact(
            "Seed 003's formulas delta_2 = final_fc - y_batch, dW2 = delta_2 fc1^T, "
            "dB1 = sum(delta_2, axis=1), delta_1 = (W2^T delta_2) * dReLU(W1 X + B0), "
            "dW1 = delta_1 X^T, dB0 = sum(delta_1, axis=1), delta_0 = W1^T delta_1 are "
            "exactly the gradients of the batch-SUM cross-entropy "
            "L_sum = -sum_n sum_k y log final_fc (no 1/N) with respect to the logits, W2, "
            "B1, the ReLU input, W1, B0 and X, for one-hot label columns and wherever the "
            "ReLU is differentiable (Z1 != 0; at 0 both use dReLU = 0).",
            proof=checks.proof("seed 003 delta "),
            sizes=[", ".join(f"{k}={v}" for k, v in s.items())],
            check="sympy.diff of L_sum through the raw network (X, W1, B0, W2, B1, Y "
                  f"symbols, sizes {s}), minus the seed formula with final_fc, fc1, Z1 "
                  "substituted, is 0 after Y[K-1,n] -> 1 - sum of the others (exp, Max, "
                  "Heaviside atoms replaced by symbols, rational function cancelled)",
            latex=r"\delta^{(2)} = P - Y,\ \frac{\partial L_{\text{sum}}}{\partial W^{(2)}}"
                  r" = \delta^{(2)} A^{T},\ \delta^{(1)} = \big(W^{(2)T}\delta^{(2)}\big)"
                  r"\odot \theta(Z_1),\ \frac{\partial L_{\text{sum}}}{\partial W^{(1)}} = "
                  r"\delta^{(1)} X^{T},\ \delta^{(0)} = W^{(1)T}\delta^{(1)}"),
        "seed003_batch_mean_is_one_over_n": export.fact(
            "For the batch-MEAN loss L_sum / N every one of these gradients is divided by "
            "N. Seed 003 sums over the batch without dividing by N, so its formulas belong "
            "to the batch-sum loss; with the mean loss its learning rate is effectively N "
            "times larger.",
            proof=checks.proof("seed 003 batch mean"),
            sizes=[", ".join(f"{k}={v}" for k, v in s.items())],
            check="sympy.expand(diff(L_sum / N, v) - diff(L_sum, v) / N) == 0 for every "
                  f"weight, bias and input symbol v (sizes {s})",
            latex=r"\frac{\partial L_{\text{mean}}}{\partial \theta} = \frac{1}{N}"
                  r"\frac{\partial L_{\text{sum}}}{\partial \theta}"),
        "seed003_equals_library_row_layout": row_layout_fact(checks, info["net"], info["seed"]),
    }
