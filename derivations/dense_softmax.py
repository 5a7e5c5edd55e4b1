"""Dense layer, softmax + cross-entropy, and the deltas of seed 003.

Row layout (the library's): a batch is ``x`` of shape (N, D_in), one sample
per row; ``dense(x, w, b) = x w + b`` with ``w`` (D_in, D_out); the logits
``z`` (N, K) go through a row-wise softmax, and the loss is the batch MEAN of
the cross-entropy with one-hot targets ``y``:

$$p_{n,k} = \\frac{e^{z_{n,k}}}{\\sum_j e^{z_{n,j}}}, \\qquad
  L = -\\frac1N \\sum_n \\sum_k y_{n,k} \\log p_{n,k}.$$

Exported cases:

* ``dense_N2_in3_out2``   - the dense layer on a symbolic instance; ``G`` is the
  upstream gradient dL/dy. Because y is linear in w, b and x, the chain rule
  $\\partial L/\\partial w = \\sum G\\, \\partial y/\\partial w$ is exactly the
  derivative of $\\sum G \\odot y$ with G held fixed, which is what is
  differentiated.
* ``softmax_ce_N2_K3``    - the batch-mean loss and dL/dz = (p - y)/N.
* ``dense_softmax_N2_in2_K3`` - both together, per weight, in the raw symbols.
* ``index_form``          - the same results for every N, D, K, with
  ``IndexedBase``, ``Sum`` and ``KroneckerDelta``.
* ``seed003_column``      - seed 003's deltas in its column layout (features x
  batch), each proven to be the gradient of the batch-SUM loss, and proven
  equal to N times the transposed row-layout (batch-mean) gradients.

The cross-entropy results assume each target row sums to 1 (one-hot labels,
or any probability vector): $\\sum_k y_{n,k} = 1$. Without it
$\\partial L/\\partial z_{n,k} = (p_{n,k} \\sum_j y_{n,j} - y_{n,k})/N$.

Run ``python -m derivations.dense_softmax``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import sympy as sp

from . import export
from .proof import Checks, in_range, is_zero
from .steps import Step, chain

SUBJECT = "dense_softmax"


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def symbols(name: str, *shape: int) -> sp.Matrix | list:
    """A Matrix (2-D) or list (1-D) of real symbols ``name_{i,j}``, zero-based."""
    if len(shape) == 1:
        return [sp.Symbol(f"{name}_{{{i}}}", real=True) for i in range(shape[0])]
    rows, cols = shape
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{{{i},{j}}}", real=True))


def softmax_rows(z: sp.Matrix) -> sp.Matrix:
    return sp.Matrix(z.rows, z.cols, lambda n, k: sp.exp(z[n, k]) / sum(
        sp.exp(z[n, j]) for j in range(z.cols)))


def log_softmax_rows(z: sp.Matrix) -> sp.Matrix:
    # log p = z - log(sum exp z): what SymPy would not simplify log(exp(a)/s) into
    return sp.Matrix(z.rows, z.cols, lambda n, k: z[n, k] - sp.log(
        sum(sp.exp(z[n, j]) for j in range(z.cols))))


def one_hot_rows(y: sp.Matrix) -> dict:
    """The assumption sum_k y[n,k] = 1, as a substitution for the last column."""
    return {y[n, y.cols - 1]: 1 - sum(y[n, k] for k in range(y.cols - 1)) for n in range(y.rows)}


#: Every check of a derivation run, by name: the facts' proofs are built from them.
CHECKS = Checks()


def require(ok: bool, what: str) -> None:
    if not CHECKS(what, ok):
        raise AssertionError(f"{SUBJECT}: {what} does not hold")


def d(sym, of: str = "L") -> str:
    return rf"\frac{{\partial {of}}}{{\partial {sp.latex(sym)}}}"


# --------------------------------------------------------------------------
# Dense layer, small instance
# --------------------------------------------------------------------------
def dense_case(N: int = 2, D: int = 3, O: int = 2) -> dict:
    x, w, b, G = symbols("x", N, D), symbols("w", D, O), symbols("b", O), symbols("G", N, O)
    y = x * w + sp.Matrix(N, O, lambda n, o: b[o])
    L = sum(G[n, o] * y[n, o] for n in range(N) for o in range(O))
    f = {}
    for n, o in itertools.product(range(N), range(O)):
        f[f"y[{n},{o}]"] = export.formula(y[n, o], f"y_{{{n},{o}}}", "forward: x w + b")
    dw = sp.Matrix(D, O, lambda i, o: sp.diff(L, w[i, o]))
    db = [sp.diff(L, b[o]) for o in range(O)]
    dx = sp.Matrix(N, D, lambda n, i: sp.diff(L, x[n, i]))
    zero = lambda m: all(sp.expand(e) == 0 for e in m)  # noqa: E731  polynomials
    require(zero(dw - x.T * G), "dense: dL/dw = x^T G")
    require(zero(sp.Matrix(db) - sp.Matrix([sum(G[n, o] for n in range(N)) for o in range(O)])),
            "dense: dL/db = sum_n G")
    require(zero(dx - G * w.T), "dense: dL/dx = G w^T")
    for i, o in itertools.product(range(D), range(O)):
        f[f"dL/dw[{i},{o}]"] = export.formula(dw[i, o], d(w[i, o]), "= (x^T G)[d,o]")
    for o in range(O):
        f[f"dL/db[{o}]"] = export.formula(db[o], d(b[o]), "= sum over the batch of G[:,o]")
    for n, i in itertools.product(range(N), range(D)):
        f[f"dL/dx[{n},{i}]"] = export.formula(dx[n, i], d(x[n, i]), "= (G w^T)[n,d]")
    return {"parameters": {"N": N, "D_in": D, "D_out": O, "upstream": "G = dL/dy"},
            "variables": {"x": export.names(x), "w": export.names(w), "b": export.names(b),
                          "G": export.names(G)},
            "formulas": f}


# --------------------------------------------------------------------------
# Softmax + cross-entropy, small instance
# --------------------------------------------------------------------------
def softmax_ce_case(N: int = 2, K: int = 3) -> dict:
    z, y = symbols("z", N, K), symbols("y", N, K)
    L = -sum(y[n, k] * log_p for (n, k), log_p in
             zip(itertools.product(range(N), range(K)), log_softmax_rows(z))) / N
    p = softmax_rows(z)
    hot = one_hot_rows(y)
    f = {"L": export.formula(L, "L", "batch mean of the cross-entropy, log p = z - log sum exp z")}
    for n, k in itertools.product(range(N), range(K)):
        raw = sp.diff(L, z[n, k])
        claim = (p[n, k] - y[n, k]) / N
        require(is_zero((raw - claim).xreplace(hot)), f"softmax_ce: dL/dz[{n},{k}] = (p - y)/N")
        require(not is_zero(raw - claim), "softmax_ce: the one-hot assumption is needed")
        f[f"dL/dz[{n},{k}]"] = export.formula(
            claim, d(z[n, k]), "(p - y)/N with p the row softmax; assumes sum_k y[n,k] = 1")
    return {"parameters": {"N": N, "K": K, "reduction": "mean", "assumption": "sum_k y[n,k] = 1"},
            "variables": {"logits": export.names(z), "y": export.names(y)},
            "formulas": f}


# --------------------------------------------------------------------------
# Dense + softmax + cross-entropy, per weight, raw symbols
# --------------------------------------------------------------------------
def dense_softmax_case(N: int = 2, D: int = 2, K: int = 3) -> dict:
    x, w, b, y = symbols("x", N, D), symbols("w", D, K), symbols("b", K), symbols("y", N, K)
    z = x * w + sp.Matrix(N, K, lambda n, k: b[k])
    L = -sum(y[n, k] * log_softmax_rows(z)[n, k] for n in range(N) for k in range(K)) / N
    p = softmax_rows(z)
    delta = (p - y) / N  # dL/dz, from softmax_ce_case (proven there, and again below)
    hot = one_hot_rows(y)
    f = {"L": export.formula(L, "L", "batch-mean cross-entropy of softmax(x w + b)")}
    claims = {
        "w": (w, sp.Matrix(D, K, lambda i, k: sum(x[n, i] * delta[n, k] for n in range(N)))),
        "b": (sp.Matrix(b), sp.Matrix([sum(delta[n, k] for n in range(N)) for k in range(K)])),
        "x": (x, sp.Matrix(N, D, lambda n, i: sum(delta[n, k] * w[i, k] for k in range(K)))),
    }
    for name, (var, claim) in claims.items():
        for idx in itertools.product(*(range(s) for s in var.shape)):
            if name == "b":
                idx = idx[:1]
            sym = var[idx[0], idx[1]] if len(idx) == 2 else var[idx[0]]
            raw = sp.diff(L, sym)
            c = claim[idx[0], idx[1]] if len(idx) == 2 else claim[idx[0]]
            label = ",".join(map(str, idx))
            require(is_zero((raw - c).xreplace(hot)), f"dense_softmax: dL/d{name}[{label}]")
            f[f"dL/d{name}[{label}]"] = export.formula(
                c, d(sym), "in the raw symbols, with p = softmax(x w + b); assumes one-hot rows")
    return {"parameters": {"N": N, "D_in": D, "K": K, "reduction": "mean",
                           "assumption": "sum_k y[n,k] = 1"},
            "variables": {"x": export.names(x), "w": export.names(w), "b": export.names(b),
                          "y": export.names(y)},
            "formulas": f}


# --------------------------------------------------------------------------
# Index form: every N, D, K
# --------------------------------------------------------------------------
def index_case() -> tuple[dict, dict]:
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
        require(sp.simplify(got - claim) == 0, f"index form {name}")
        f[name] = export.formula(claim, d(var), "dense backward, G = dL/dz; "
                                 "0 <= a < D, 0 <= c < K, 0 <= m < N")

    # softmax + cross-entropy, batch mean
    S = sp.Sum(sp.exp(z[n, j]), (j, 0, K - 1))
    L = -sp.Sum(y[n, k] * (z[n, k] - sp.log(S)), (k, 0, K - 1), (n, 0, N - 1)) / N
    raw["dL/dz[m,i]"] = sp.diff(L, z[m, i])
    general = in_range(raw["dL/dz[m,i]"], {m: N, i: K})
    p_mi = sp.exp(z[m, i]) / sp.Sum(sp.exp(z[m, j]), (j, 0, K - 1))
    sum_y = sp.Sum(y[m, k], (k, 0, K - 1))
    require(sp.simplify(general - (p_mi * sum_y - y[m, i]) / N) == 0,
            "index form dL/dz without the assumption")
    claim = (p_mi - y[m, i]) / N
    require(sp.simplify(general.subs(sum_y, 1) - claim) == 0, "index form dL/dz = (p - y)/N")
    f["L"] = export.formula(L, "L", "batch-mean cross-entropy, log p = z - log sum exp z")
    f["dL/dz[m,i]"] = export.formula(claim, d(z[m, i]),
                                     "(p - y)/N; assumes sum_k y[m,k] = 1; 0 <= m < N, 0 <= i < K")
    case = {"parameters": {"general": True,
                           "sizes": {"N": "batch", "D": "inputs", "K": "outputs / classes"},
                           "indices": {"m": "N", "a": "D", "c": "K", "i": "K"}},
            "variables": {"x": "x", "w": "w", "b": "b", "G": "G", "logits": "z", "y": "y",
                          "N": "N", "D": "D", "K": "K"},
            "formulas": f}
    return case, {"raw": raw, "general_dz": general}


# --------------------------------------------------------------------------
# Seed 003: column layout (features x batch), batch SUM
# --------------------------------------------------------------------------
SEED003_SIZES = {"D0": 3, "H": 2, "K": 3, "N": 2}  # seed: 288, 60, 10, N


class Seed003:
    """Seed 003's two dense layers in its own layout and names.

    ``U = W1 @ X + B0``, ``fc1 = relu(U)``, ``Z2 = W2 @ fc1 + B1``,
    ``final_fc = softmax(Z2)`` per column; ``L_sum = -sum(y_batch * log final_fc)``.
    """

    def __init__(self, D0: int, H: int, K: int, N: int):
        self.D0, self.H, self.K, self.N = D0, H, K, N
        self.X = symbols("X", D0, N)
        self.W1, self.W2 = symbols("W^{(1)}", H, D0), symbols("W^{(2)}", K, H)
        self.B0 = sp.Matrix(symbols("B^{(0)}", H))
        self.B1 = sp.Matrix(symbols("B^{(1)}", K))
        self.Y = symbols("Y", K, N)
        # the seed's named intermediate values, as free symbols
        self.P, self.A, self.U = symbols("P", K, N), symbols("A", H, N), symbols("Z^{(1)}", H, N)
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
        Z2f, Uf = symbols("Z2", self.K, self.N), self.U
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


def seed003_case() -> tuple[dict, dict]:
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
        require(all(is_zero((s - t).xreplace(hot)) for s, t in zip(proof_form, true[name])),
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
    require(mean_ok, "seed 003 batch mean: mean-loss gradients are 1/N of the sum-loss ones")
    case = {"parameters": {**SEED003_SIZES, "layout": "column: features x batch",
                           "reduction": "sum", "assumption": "sum_k y_batch[k,n] = 1",
                           "seed_sizes": {"D0": 288, "H": 60, "K": 10}},
            "variables": net.variables(), "formulas": f}
    return case, {"net": net, "seed": seed}


def row_layout_fact(net: Seed003, seed: dict) -> dict:
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
        require(lib.shape == col.shape and all(sp.expand(e) == 0 for e in lib - col),
                f"row layout {what}")
    return export.fact(
        "The library's row layout (samples in rows; dense weights w1 = W1^T, w2 = W2^T) with "
        "the batch-MEAN loss gives exactly the seed 003 quantities transposed and divided "
        "by N: dlogits = delta_2^T/N, dw2 = dW2^T/N, db2 = dB1/N, the gradient at the ReLU "
        "input = delta_1^T/N, dw1 = dW1^T/N, db1 = dB0/N, dx = delta_0^T/N.",
        proof=CHECKS.proof("row layout"), sizes=[", ".join(f"{k}={v}" for k, v in SEED003_SIZES.items())],
        check="sympy.expand(lhs - rhs) == 0 entrywise with symbolic P, Y, fc1, Z1, X, W1, W2 "
              f"(sizes {SEED003_SIZES}); the row-layout steps are the index-form results "
              "dL/dz = (p - y)/N, dw = x^T dy, db = sum_n dy, dx = dy w^T",
        latex=r"\frac{\partial L_{\text{mean}}}{\partial w_2} = \frac{1}{N}\Big("
              r"\frac{\partial L_{\text{sum}}}{\partial W^{(2)}}\Big)^{T},\ "
              r"\frac{\partial L_{\text{mean}}}{\partial z} = \frac{1}{N}\big(\delta^{(2)}\big)^{T},"
              r"\ \ldots,\ \frac{\partial L_{\text{mean}}}{\partial x} = "
              r"\frac{1}{N}\big(\delta^{(0)}\big)^{T}",
        data={"pairs": sorted(pairs)})



# --------------------------------------------------------------------------
# The derivation step by step (rendered with {{ chain("dense_softmax", ...) }})
# --------------------------------------------------------------------------
def _softmax_parts(K: int):
    """Logits z_j, probabilities p_j (symbols defined as the softmax) and S = sum_k e^{z_k}."""
    z, p = symbols("z", K), symbols("p", K)
    S = sp.Symbol("S", positive=True)
    definitions = {S: sum(sp.exp(zk) for zk in z)}
    definitions.update({p[k]: sp.exp(z[k]) / S for k in range(K)})
    return z, p, S, definitions


def softmax_jacobian_chain(K: int = 3) -> dict:
    """dp_i/dz_j = p_i (delta_ij - p_j), as a K x K matrix."""
    z, p, S, definitions = _softmax_parts(K)
    i, j = sp.symbols("i j", integer=True, nonnegative=True)
    pI = sp.IndexedBase("p", real=True)
    softmax = [sp.exp(z[k]) / sum(sp.exp(zk) for zk in z) for k in range(K)]
    truth = sp.ImmutableMatrix(K, K, lambda a, b: sp.diff(softmax[a], z[b]))
    quotient = sp.ImmutableMatrix(K, K, lambda a, b: (
        (sp.exp(z[a]) * S if a == b else 0) - sp.exp(z[a]) * sp.exp(z[b])) / S ** 2)
    in_p = sp.ImmutableMatrix(K, K, lambda a, b: p[a] * (int(a == b) - p[b]))
    general = pI[i] * (sp.KroneckerDelta(i, j) - pI[j])

    equal = softmax_prover(definitions, z)

    def every_entry(previous, step) -> bool:
        return all(step.subs({i: a, j: b}).xreplace({pI[c]: p[c] for c in range(K)})
                   == previous[a, b] for a in range(K) for b in range(K))

    return chain(
        r"\left(\frac{\partial p_i}{\partial z_j}\right)", truth, [
            Step(quotient,
                 "quotient rule on p[i] = e^z[i] / S, with S = Σₖ e^z[k]: the numerator "
                 "depends on z[j] only when i = j, and ∂S/∂z[j] = e^z[j]", prove=equal),
            Step(in_p,
                 "split each fraction: e^z[i] / S is p[i] and e^z[j] / S is p[j], so the "
                 "diagonal is p[i](1 − p[i]) and the rest is −p[i]·p[j]", prove=equal),
            Step(general,
                 "both cases in one formula, for any i and j (rows i, columns j): δ[i,j], "
                 "the Kronecker delta, is 1 when i = j and 0 otherwise", prove=every_entry),
        ], definitions=definitions,
        description=f"The softmax p = softmax(z) of one sample with K = {K} classes: how each "
                    "probability moves when one logit moves. Raising z[j] raises p[j] and "
                    "lowers every other probability, because they must still sum to 1.",
        proven="each step equals the one before (the first equals sympy.diff of the softmax, "
               "entry by entry): S and p are substituted, and derivations.proof.is_zero "
               "proves each difference is 0; the last step is instantiated at every i, j "
               "and compared entry by entry")


def ce_gradient_chain(K: int = 3) -> dict:
    """dL/dz_j for one sample: the chain rule through p, the Kronecker delta, one-hot labels."""
    z, p, S, definitions = _softmax_parts(K)
    y = symbols("y", K)
    i = sp.Symbol("i", integer=True, nonnegative=True)
    yI, pI = sp.IndexedBase("y", real=True), sp.IndexedBase("p", real=True)
    definitions.update({yI[k]: y[k] for k in range(K)})
    definitions.update({pI[k]: p[k] for k in range(K)})
    L = -sum(y[k] * (z[k] - sp.log(sum(sp.exp(zk) for zk in z))) for k in range(K))
    truth = sp.ImmutableMatrix(1, K, lambda _, j: sp.diff(L, z[j]))
    equal = softmax_prover(definitions, z)
    one_hot = softmax_prover(definitions, z, hot={y[K - 1]: 1 - sum(y[:K - 1])})

    return chain(
        r"\frac{\partial L}{\partial z_j}", truth, [
            Step(sp.ImmutableMatrix(1, K, lambda _, j: sp.Sum(
                -yI[i] * (sp.KroneckerDelta(i, j) - pI[j]), (i, 0, K - 1))),
                 "chain rule through the K probabilities: Σᵢ ∂L/∂p[i] · ∂p[i]/∂z[j], with "
                 "∂L/∂p[i] = −y[i]/p[i] (from L = −Σᵢ y[i] log p[i]) and the Jacobian "
                 "p[i](δ[i,j] − p[j]) above; the p[i] cancel. One entry per j", prove=equal),
            Step(sp.ImmutableMatrix(1, K, lambda _, j: p[j] * sum(y) - y[j]),
                 "the Kronecker delta keeps only the term i = j: −Σᵢ y[i]·δ[i,j] = −y[j]; "
                 "what is left is p[j] times the sum of the labels", prove=equal),
            Step(sp.ImmutableMatrix(1, K, lambda _, j: p[j] - y[j]),
                 "one-hot labels sum to 1 (any probability vector does), so the gradient "
                 "is p − y", prove=one_hot),
        ], definitions=definitions,
        description=f"The cross-entropy L = −Σᵢ y[i] log p[i] of one sample (K = {K}), "
                    "differentiated with respect to the logits, written as the row of its "
                    "K entries.",
        proven="each step equals the one before (the first equals sympy.diff of the loss): "
               "the sums are written out, S and p substituted, and derivations.proof.is_zero "
               "proves each difference is 0; the last step after y[K-1] -> 1 - (the other "
               "labels), which is what 'one-hot' means here")


def softmax_prover(definitions: dict, logits, hot: dict | None = None):
    """Prove ``a == b`` after the definitions (and ``hot``), with each e^{z} a symbol E.

    :func:`derivations.proof.is_zero` treats e^{2z} and e^{z} as unrelated atoms;
    writing every e^{z_k} as a positive symbol E_k first (``subs`` turns e^{2z_k}
    into E_k^2) leaves a rational function of independent symbols, which it proves.
    """
    exps = {sp.exp(v): sp.Symbol(f"E_{i}", positive=True) for i, v in enumerate(logits)}
    hot = hot or {}

    def expand(e):
        e = sp.sympify(e).doit()
        for _ in range(len(definitions) + 1):
            new = e.xreplace(definitions).doit()
            if new == e:
                break
            e = new
        return e.xreplace(hot).subs(exps)

    def prove(a, b) -> bool:
        a, b = expand(a), expand(b)
        if isinstance(a, sp.MatrixBase) != isinstance(b, sp.MatrixBase):
            return False
        if isinstance(a, sp.MatrixBase):
            return a.shape == b.shape and all(is_zero(u - v) for u, v in zip(a, b))
        return is_zero(a - b)
    return prove


def dense_weight_chain(N: int = 2, D: int = 2, K: int = 3) -> dict:
    """dL/dw of dense + softmax + batch-mean cross-entropy: x^T G, then G = (P - Y)/N."""
    x, w, b, y = symbols("x", N, D), symbols("w", D, K), symbols("b", K), symbols("y", N, K)
    z = x * w + sp.Matrix(N, K, lambda n, k: b[k])
    L = -sum(y[n, k] * log_softmax_rows(z)[n, k] for n in range(N) for k in range(K)) / N
    G = symbols("G", N, K)
    zf = symbols("z", N, K)                      # free logits, to define G = dL/dz
    L_of_z = -sum(y[n, k] * log_softmax_rows(zf)[n, k] for n in range(N) for k in range(K)) / N
    definitions = {G[n, k]: sp.diff(L_of_z, zf[n, k]).xreplace(dict(zip(zf, z)))
                   for n in range(N) for k in range(K)}
    xTG = sp.Symbol(r"x^{T} G", real=True)
    mean = sp.Symbol(r"\frac{1}{N}\, x^{T} (P - Y)", real=True)
    P = softmax_rows(z)
    definitions[xTG] = sp.ImmutableMatrix(x.T * G)
    definitions[mean] = sp.ImmutableMatrix(x.T * (P - y) / N)
    equal = softmax_prover(definitions, list(z))
    one_hot = softmax_prover(definitions, list(z), hot=one_hot_rows(y))

    truth = sp.ImmutableMatrix(D, K, lambda a, k: sp.diff(L, w[a, k]))
    return chain(
        r"\frac{\partial L}{\partial w}", truth, [
            Step(sp.ImmutableMatrix(D, K, lambda a, k: sum(x[n, a] * G[n, k] for n in range(N))),
                 "chain rule through the logits: w[a,k] enters only z[n,k] = Σₐ x[n,a]·w[a,k] "
                 "+ b[k], once per sample n, with ∂z[n,k]/∂w[a,k] = x[n,a]; G[n,k] is ∂L/∂z[n,k]",
                 prove=equal),
            Step(xTG, "the matrix of these sums is a matrix product: row a of xᵀ times column k "
                      "of G", prove=equal),
            Step(mean, "substitute G: each sample's logits meet only its own term of the mean, "
                       "so G = (P − Y)/N, the softmax cross-entropy result above divided by the "
                       "batch size N (P: the softmax of each row, Y: the one-hot labels)",
                 prove=one_hot),
        ], definitions=definitions,
        description=f"The dense layer z = x w + b feeding the softmax, with the batch-mean "
                    f"cross-entropy, on a batch of N = {N} samples with D = {D} inputs and "
                    f"K = {K} classes (rows are samples).",
        proven="each step equals the one before (the first equals sympy.diff of the loss, "
               "entry by entry): G, the products and the softmax are substituted and "
               "derivations.proof.is_zero proves each difference is 0; the last step after "
               "each label row's last entry -> 1 - (the others), i.e. one-hot rows")


def chains() -> dict[str, dict]:
    return {"softmax_jacobian": softmax_jacobian_chain(), "ce_gradient": ce_gradient_chain(),
            "dense_weight_gradient": dense_weight_chain()}

# --------------------------------------------------------------------------
def derive() -> dict:
    CHECKS.clear()
    dense, softmax_ce = dense_case(), softmax_ce_case()
    index, info = index_case()
    seed_case, seed_info = seed003_case()
    s = SEED003_SIZES
    facts = {
        "dense_backward_index_form": export.fact(
            "For every N, D, K: with z = x w + b and upstream gradient G = dL/dz, "
            "dL/dw = x^T G, dL/db = sum over the batch of G, dL/dx = G w^T.",
            proof=CHECKS.proof("index form dL/dw", "index form dL/db", "index form dL/dx",
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
            proof=CHECKS.proof("index form dL/dz", "softmax_ce: "),
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
        "seed003_deltas_are_batch_sum_gradients": export.fact(
            "Seed 003's formulas delta_2 = final_fc - y_batch, dW2 = delta_2 fc1^T, "
            "dB1 = sum(delta_2, axis=1), delta_1 = (W2^T delta_2) * dReLU(W1 X + B0), "
            "dW1 = delta_1 X^T, dB0 = sum(delta_1, axis=1), delta_0 = W1^T delta_1 are "
            "exactly the gradients of the batch-SUM cross-entropy "
            "L_sum = -sum_n sum_k y log final_fc (no 1/N) with respect to the logits, W2, "
            "B1, the ReLU input, W1, B0 and X, for one-hot label columns and wherever the "
            "ReLU is differentiable (Z1 != 0; at 0 both use dReLU = 0).",
            proof=CHECKS.proof("seed 003 delta "),
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
            proof=CHECKS.proof("seed 003 batch mean"),
            sizes=[", ".join(f"{k}={v}" for k, v in s.items())],
            check="sympy.expand(diff(L_sum / N, v) - diff(L_sum, v) / N) == 0 for every "
                  f"weight, bias and input symbol v (sizes {s})",
            latex=r"\frac{\partial L_{\text{mean}}}{\partial \theta} = \frac{1}{N}"
                  r"\frac{\partial L_{\text{sum}}}{\partial \theta}"),
        "seed003_equals_library_row_layout": row_layout_fact(seed_info["net"], seed_info["seed"]),
    }
    return {
        "title": "Dense layer, softmax + cross-entropy, and the deltas of seed 003",
        "source": "derivations/dense_softmax.py",
        "cases": {"dense_N2_in3_out2": dense, "softmax_ce_N2_K3": softmax_ce,
                  "dense_softmax_N2_in2_K3": dense_softmax_case(), "index_form": index,
                  "seed003_column": seed_case},
        "facts": facts,
        "chains": chains(),
    }


def main(directory: Path = export.EXPORT_DIR) -> Path:
    return export.write(SUBJECT, derive(), directory)


if __name__ == "__main__":
    print(main())
