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
import sympy as sp

from . import dense_softmax_index, export
from .proof import Checks, expands_to_zero, is_zero
from .steps import Step, chain
from .toolkit import partial, subject_main, symbol_array, symbol_matrix

SUBJECT = "dense_softmax"


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
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
CHECKS = Checks(SUBJECT)
require = CHECKS.require


# --------------------------------------------------------------------------
# Dense layer, small instance
# --------------------------------------------------------------------------
def dense_case(N: int = 2, D: int = 3, O: int = 2) -> dict:
    x, w, b, G = symbol_matrix("x", N, D), symbol_matrix("w", D, O), symbol_array("b", O), symbol_matrix("G", N, O)
    y = x * w + sp.Matrix(N, O, lambda n, o: b[o])
    L = sum(G[n, o] * y[n, o] for n in range(N) for o in range(O))
    f = {}
    for n, o in itertools.product(range(N), range(O)):
        f[f"y[{n},{o}]"] = export.formula(y[n, o], f"y_{{{n},{o}}}", "forward: x w + b")
    dw = sp.Matrix(D, O, lambda i, o: sp.diff(L, w[i, o]))
    db = [sp.diff(L, b[o]) for o in range(O)]
    dx = sp.Matrix(N, D, lambda n, i: sp.diff(L, x[n, i]))
    zero = expands_to_zero   # polynomials in x, w, b, G: expand decides
    require(zero(dw - x.T * G), "dense: dL/dw = x^T G")
    require(zero(sp.Matrix(db) - sp.Matrix([sum(G[n, o] for n in range(N)) for o in range(O)])),
            "dense: dL/db = sum_n G")
    require(zero(dx - G * w.T), "dense: dL/dx = G w^T")
    for i, o in itertools.product(range(D), range(O)):
        f[f"dL/dw[{i},{o}]"] = export.formula(dw[i, o], partial(w[i, o]), "= (x^T G)[d,o]")
    for o in range(O):
        f[f"dL/db[{o}]"] = export.formula(db[o], partial(b[o]), "= sum over the batch of G[:,o]")
    for n, i in itertools.product(range(N), range(D)):
        f[f"dL/dx[{n},{i}]"] = export.formula(dx[n, i], partial(x[n, i]), "= (G w^T)[n,d]")
    return export.case({"N": N, "D_in": D, "D_out": O, "upstream": "G = dL/dy"},
                       {"x": export.names(x), "w": export.names(w), "b": export.names(b),
                        "G": export.names(G)}, f)


# --------------------------------------------------------------------------
# Softmax + cross-entropy, small instance
# --------------------------------------------------------------------------
def softmax_ce_case(N: int = 2, K: int = 3) -> dict:
    z, y = symbol_matrix("z", N, K), symbol_matrix("y", N, K)
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
            claim, partial(z[n, k]), "(p - y)/N with p the row softmax; assumes sum_k y[n,k] = 1")
    return export.case({"N": N, "K": K, "reduction": "mean", "assumption": "sum_k y[n,k] = 1"},
                       {"logits": export.names(z), "y": export.names(y)}, f)


# --------------------------------------------------------------------------
# Dense + softmax + cross-entropy, per weight, raw symbols
# --------------------------------------------------------------------------
def dense_softmax_case(N: int = 2, D: int = 2, K: int = 3) -> dict:
    x, w, b, y = symbol_matrix("x", N, D), symbol_matrix("w", D, K), symbol_array("b", K), symbol_matrix("y", N, K)
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
                c, partial(sym), "in the raw symbols, with p = softmax(x w + b); assumes one-hot rows")
    return export.case({"N": N, "D_in": D, "K": K, "reduction": "mean",
                        "assumption": "sum_k y[n,k] = 1"},
                       {"x": export.names(x), "w": export.names(w), "b": export.names(b),
                        "y": export.names(y)}, f)


# --------------------------------------------------------------------------
# The derivation step by step (rendered with {{ chain("dense_softmax", ...) }})
# --------------------------------------------------------------------------
def _softmax_parts(K: int):
    """Logits z_j, probabilities p_j (symbols defined as the softmax) and S = sum_k e^{z_k}."""
    z, p = symbol_array("z", K), symbol_array("p", K)
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
    y = symbol_array("y", K)
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
    x, w, b, y = symbol_matrix("x", N, D), symbol_matrix("w", D, K), symbol_array("b", K), symbol_matrix("y", N, K)
    z = x * w + sp.Matrix(N, K, lambda n, k: b[k])
    L = -sum(y[n, k] * log_softmax_rows(z)[n, k] for n in range(N) for k in range(K)) / N
    G = symbol_matrix("G", N, K)
    zf = symbol_matrix("z", N, K)                      # free logits, to define G = dL/dz
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
    from . import dense_softmax_seed003 as seed003   # here: it builds on the helpers above
    CHECKS.clear()
    dense, softmax_ce = dense_case(), softmax_ce_case()
    index, info = dense_softmax_index.index_case(CHECKS)
    seed_case, seed_info = seed003.seed003_case(CHECKS)
    facts = {**dense_softmax_index.index_facts(CHECKS, info),
             **seed003.seed003_facts(CHECKS, seed_info)}
    cases = {"dense_N2_in3_out2": dense, "softmax_ce_N2_K3": softmax_ce,
             "dense_softmax_N2_in2_K3": dense_softmax_case(), "index_form": index,
             "seed003_column": seed_case}
    return export.document(
        title="Dense layer, softmax + cross-entropy, and the deltas of seed 003",
        source="derivations/dense_softmax.py", cases=cases, facts=facts, chains=chains())


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
