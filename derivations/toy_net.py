"""The toy net of seed post 004, derived symbol by symbol.

Network (one image at a time)::

    image x (n x n) --zero pad p--> xp (P x P), P = n + 2p
    z1 = convolve2d(xp, K, 'valid')      TRUE convolution: K is flipped   (m x m, m = P - k + 1)
    a1 = tanh(z1), flattened row-major   (m*m values)
    z2 = sum_r w_r a1_r                   (dense m*m -> 1)
    o  = logistic(z2)
    L  = (o - y)^2 / 2

Every pixel ``x_{i,j}``, kernel weight ``k_{a,b}``, dense weight ``w_r`` and
the label ``y`` is a SymPy symbol. The script exports, for each case (image
size, kernel size, padding):

* the forward pass (``z1[i,j]``, ``z2``, ``out``, ``L``);
* the full derivatives ``dL/dk[a,b]``, ``dL/dw[r]`` and the layer-1 deltas
  ``delta[i,j]`` = dL/dz1[i,j], in the raw symbols (what the tests lambdify);
* the same gradients in chain-rule form (``chain:...``), written with the
  forward values ``o``, ``a_{i,j}`` and the deltas, each proven equal to the
  full derivative, and each such array once more as one matrix
  (``matrix:chain:dL/dk`` and so on: a SymPy Matrix whose entries are exactly
  the ``chain:`` formulas);
* the derivation step by step (``chains``, see :mod:`derivations.steps`):
  one layer-1 delta, one kernel weight, and the whole kernel gradient, each
  step proven equal to the one before;

and the facts about the kernel gradient that the seed got wrong, each
checked before it is exported (:mod:`derivations.toy_net_facts`).

Run ``python -m derivations.toy_net``.
"""

from __future__ import annotations

import functools
import itertools

import sympy as sp

from . import export
from .activations import logistic
from .proof import is_zero
from .steps import Step, chain
# the toy net's layer 1 is scipy's convolve2d ('valid', kernel flipped); the chains use
# these names, which is where the tests swap in a wrong convolution
from .toolkit import convolve as convolve2d, correlate as correlate2d
from .toolkit import pad, partial, rot180, subject_main, symbol_matrix

SUBJECT = "toy_net"

#: (name, image size n, kernel size k, zero padding p)
CASES = [
    ("valid_3x3_k2", 3, 2, 0),      # the seed's network: four layer-1 nodes
    ("valid_3x3_k3", 3, 3, 0),      # a 3x3 kernel on the 3x3 image, 'valid': one node
    ("same_3x3_k3_p1", 3, 3, 1),    # a 3x3 kernel on the 3x3 image, 'same': nine nodes
]

# --------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------
class ToyNet:
    """The symbolic toy net for one (image size, kernel size, padding)."""

    def __init__(self, n: int, k: int, p: int):
        self.n, self.k, self.p = n, k, p
        self.m = n + 2 * p - k + 1
        if self.m < 1:
            raise ValueError(f"kernel {k}x{k} does not fit a {n}x{n} image with padding {p}")
        m = self.m
        self.x = symbol_matrix("x", n, n)
        self.kernel = symbol_matrix("k", k, k)
        self.w = [sp.Symbol(f"w_{{{r}}}", real=True) for r in range(m * m)]
        self.y = sp.Symbol("y", real=True)
        # forward pass
        self.xp = pad(self.x, p)
        self.z1 = convolve2d(self.xp, self.kernel)
        # symbols for the chain-rule form
        self.z1_sym = symbol_matrix("z", m, m)
        self.a_sym = symbol_matrix("a", m, m)
        self.delta_sym = symbol_matrix(r"\delta", m, m)
        self.o = sp.Symbol("o", real=True)

    # The rest of the forward pass is built on first use: the identity facts,
    # checked on many sizes, need only the convolution.
    @functools.cached_property
    def a1(self) -> sp.Matrix:
        return self.z1.applyfunc(sp.tanh)

    @functools.cached_property
    def z2(self) -> sp.Expr:
        return sum(w * a for w, a in zip(self.w, self.a1))  # Matrix iterates row-major

    @functools.cached_property
    def out(self) -> sp.Expr:
        return logistic(self.z2)

    @functools.cached_property
    def loss(self) -> sp.Expr:
        return (self.out - self.y) ** 2 / 2

    # -- full derivatives, in the raw symbols -------------------------------
    def full_kernel_gradient(self) -> sp.Matrix:
        return sp.Matrix(self.k, self.k, lambda a, b: sp.diff(self.loss, self.kernel[a, b]))

    def full_weight_gradient(self) -> list[sp.Expr]:
        return [sp.diff(self.loss, w) for w in self.w]

    def full_deltas(self) -> sp.Matrix:
        """dL/dz1: differentiate L as a function of free z1 symbols, then substitute."""
        a = self.z1_sym.applyfunc(sp.tanh)
        loss_of_z1 = (logistic(sum(w * ai for w, ai in zip(self.w, a))) - self.y) ** 2 / 2
        back = dict(zip(self.z1_sym, self.z1))
        return sp.Matrix(self.m, self.m,
                         lambda i, j: sp.diff(loss_of_z1, self.z1_sym[i, j]).xreplace(back))

    # -- chain-rule form -----------------------------------------------------
    def local_derivatives(self) -> dict[str, sp.Expr]:
        """The local derivatives, each derived and rewritten in forward values."""
        z2 = sp.Symbol("z_2", real=True)
        z = sp.Symbol("z", real=True)
        dL_do = sp.diff((self.o - self.y) ** 2 / 2, self.o)
        do_dz2 = sp.diff(logistic(z2), z2)
        assert is_zero(do_dz2 - logistic(z2) * (1 - logistic(z2)))
        da_dz = sp.diff(sp.tanh(z), z)
        assert sp.simplify(da_dz - (1 - sp.tanh(z) ** 2)) == 0
        return {"dL/do": dL_do, "do/dz2": self.o * (1 - self.o),
                "da/dz": lambda a: 1 - a ** 2}

    def chain_deltas(self) -> sp.Matrix:
        d = self.local_derivatives()
        g = d["dL/do"] * d["do/dz2"]  # dL/dz2
        w = sp.Matrix(self.m, self.m, self.w)
        return sp.Matrix(self.m, self.m,
                         lambda i, j: g * w[i, j] * d["da/dz"](self.a_sym[i, j]))

    def chain_weight_gradient(self) -> list[sp.Expr]:
        d = self.local_derivatives()
        return [d["dL/do"] * d["do/dz2"] * a for a in self.a_sym]

    def chain_kernel_gradient(self, deltas: sp.Matrix | None = None) -> sp.Matrix:
        """dL/dk_ab = sum_ij delta_ij dz1_ij/dk_ab (each dz1_ij/dk_ab by diff)."""
        deltas = self.delta_sym if deltas is None else deltas
        return sp.Matrix(self.k, self.k, lambda a, b: sum(
            deltas[i, j] * sp.diff(self.z1[i, j], self.kernel[a, b])
            for i in range(self.m) for j in range(self.m)))

    def forward_values(self) -> dict[sp.Symbol, sp.Expr]:
        values = {self.o: self.out}
        values.update(zip(self.a_sym, self.a1))
        return values

    def variables(self) -> dict:
        return {
            "image": export.names(self.x),
            "kernel": export.names(self.kernel),
            "weights": export.names(self.w),
            "label": str(self.y),
            "z1": export.names(self.z1_sym),
            "a1": export.names(self.a_sym),
            "deltas": export.names(self.delta_sym),
            "out": str(self.o),
        }


# --------------------------------------------------------------------------
# Exported formulas for one case
# --------------------------------------------------------------------------
def case_formulas(net: ToyNet) -> dict[str, dict]:
    f: dict[str, dict] = {}
    m, k = net.m, net.k
    for i, j in itertools.product(range(m), repeat=2):
        f[f"z1[{i},{j}]"] = export.formula(
            net.z1[i, j], sp.latex(net.z1_sym[i, j]),
            "layer-1 node: true convolution of the padded image with the kernel")
    f["z2"] = export.formula(net.z2, "z_2", "dense layer on the flattened tanh(z1)")
    f["out"] = export.formula(net.out, "o", "logistic output")
    f["L"] = export.formula(net.loss, "L", "cost")

    full_dk, full_dw, full_delta = (net.full_kernel_gradient(), net.full_weight_gradient(),
                                    net.full_deltas())
    chain_delta, chain_dw, chain_dk = (net.chain_deltas(), net.chain_weight_gradient(),
                                       net.chain_kernel_gradient())
    values = net.forward_values()
    chain_dk_of_forward = net.chain_kernel_gradient(chain_delta).xreplace(values)
    for i, j in itertools.product(range(m), repeat=2):
        lhs = sp.latex(net.delta_sym[i, j])
        f[f"delta[{i},{j}]"] = export.formula(
            full_delta[i, j], lhs, "layer-1 delta dL/dz1, in the raw symbols")
        f[f"chain:delta[{i},{j}]"] = export.formula(
            chain_delta[i, j], lhs, "layer-1 delta dL/dz1, in forward values")
        assert is_zero(full_delta[i, j] - chain_delta[i, j].xreplace(values)), (i, j)
    for r, w in enumerate(net.w):
        f[f"dL/dw[{r}]"] = export.formula(full_dw[r], partial(w), "dense-weight gradient")
        f[f"chain:dL/dw[{r}]"] = export.formula(
            chain_dw[r], partial(w), "dense-weight gradient, in forward values")
        assert is_zero(full_dw[r] - chain_dw[r].xreplace(values)), r
    for a, b in itertools.product(range(k), repeat=2):
        lhs = partial(net.kernel[a, b])
        f[f"dL/dk[{a},{b}]"] = export.formula(full_dk[a, b], lhs, "kernel-weight gradient")
        f[f"chain:dL/dk[{a},{b}]"] = export.formula(
            chain_dk[a, b], lhs, "kernel-weight gradient, in the layer-1 deltas")
        assert is_zero(full_dk[a, b] - chain_dk_of_forward[a, b]), (a, b)
    # The same results as one matrix each, the way a reader writes them: exactly
    # the chain-form entries above, arranged like the arrays they fill.
    f["matrix:chain:delta"] = export.formula(
        sp.ImmutableMatrix(chain_delta), r"\delta",
        "the layer-1 delta map dL/dz1 as a matrix, entries in forward values")
    f["matrix:chain:dL/dw"] = export.formula(
        sp.ImmutableMatrix(m * m, 1, chain_dw), r"\frac{\partial L}{\partial w}",
        "the dense-weight gradient as a column, entries in forward values")
    # \small: the seed's 2x2 matrix of four-term sums is a little wider than the column
    f["matrix:chain:dL/dk"] = export.formula(
        sp.ImmutableMatrix(chain_dk), r"\small\frac{\partial L}{\partial K}",
        "the kernel gradient as a matrix, entries in the layer-1 deltas")
    return f


# --------------------------------------------------------------------------
# The derivation step by step (rendered with {{ chain("toy_net", ...) }})
# --------------------------------------------------------------------------
def _partial(of: str, wrt: str) -> sp.Symbol:
    """A symbol that reads as the partial derivative d(of)/d(wrt); its value is a definition."""
    return sp.Symbol(rf"\frac{{\partial {of}}}{{\partial {wrt}}}", real=True)


def delta_chain(net: ToyNet, i: int = 0, j: int = 0) -> dict:
    """delta_{i,j} = dL/dz_{i,j}: the chain rule along the one path z -> a -> z_2 -> o -> L."""
    r = i * net.m + j
    z, zz, a_r = sp.Symbol("z", real=True), sp.Symbol("z_2", real=True), net.a_sym[i, j]
    zij, aij = sp.latex(net.z1_sym[i, j]), sp.latex(a_r)
    # (the names sort in the order of the path, so SymPy prints the product in that order)
    dL_do, do_dz2 = _partial("L", "o"), _partial("o", "z_2")
    dz2_da, da_dz = _partial("z_2", aij), sp.Symbol("{" + _partial(aij, zij).name + "}", real=True)
    z2_of_a = sum(w * a for w, a in zip(net.w, net.a_sym))
    definitions = {
        # each local derivative by sympy.diff, at the network's own values
        dL_do: sp.diff((net.o - net.y) ** 2 / 2, net.o),
        do_dz2: sp.diff(logistic(zz), zz).xreplace({zz: net.z2}),
        dz2_da: sp.diff(z2_of_a, a_r),
        da_dz: sp.diff(sp.tanh(z), z).xreplace({z: net.z1[i, j]}),
        **net.forward_values(),
    }
    return chain(
        sp.latex(net.delta_sym[i, j]), net.full_deltas()[i, j], [
            Step(dL_do * do_dz2 * dz2_da * da_dz,
                 f"chain rule: z[{i},{j}] reaches the cost along one path only, "
                 f"z[{i},{j}] → a[{i},{j}] → z₂ → o → L"),
            Step((net.o - net.y) * net.o * (1 - net.o) * net.w[r] * (1 - a_r ** 2),
                 f"differentiate each link: L = ½(o − y)² gives o − y; o = σ(z₂) gives "
                 f"σ(1 − σ) = o(1 − o); z₂ = Σ w[r]·a[r] gives w[{r}]; "
                 f"a = tanh(z) gives 1 − tanh² = 1 − a²"),
        ], definitions=definitions,
        description=f"The delta of node z[{i},{j}], the derivative of the cost with respect "
                    f"to it: the cost depends on z[{i},{j}] only through a[{i},{j}] = "
                    f"tanh(z[{i},{j}]), which the dense weight w[{r}] multiplies.")


def _kernel_chain_parts(net: ToyNet):
    """Shared pieces: indexed delta map and image, their definitions, the correlation entries."""
    m, k = net.m, net.k
    d, x = sp.IndexedBase(r"\delta", real=True), sp.IndexedBase("x", real=True)
    i, j = sp.symbols("i j", integer=True)
    corr = correlate2d(net.xp, net.delta_sym)
    c = sp.Matrix(k, k, lambda a, b: sp.Symbol(rf"(x \star \delta)_{{{a},{b}}}", real=True))
    definitions = dict(zip(net.delta_sym, net.full_deltas()))
    definitions.update({d[p, q]: net.delta_sym[p, q] for p in range(m) for q in range(m)})
    definitions.update({x[p, q]: net.xp[p, q] for p in range(net.xp.rows)
                        for q in range(net.xp.cols)})
    definitions.update(zip(c, corr))
    # k_{a,b} multiplies x_{i+k-1-a, j+k-1-b} in z_{i,j} (the true convolution flips K)
    term = lambda a, b: sp.Sum(d[i, j] * x[i + k - 1 - a, j + k - 1 - b],  # noqa: E731
                               (i, 0, m - 1), (j, 0, m - 1))
    return definitions, c, term


def kernel_weight_chain(net: ToyNet, a: int = 0, b: int = 0) -> dict:
    """dL/dk_{a,b}: chain rule over the layer-1 nodes, a pixel each, one correlation entry."""
    m, k = net.m, net.k
    definitions, c, term = _kernel_chain_parts(net)
    kab = sp.latex(net.kernel[a, b])
    nodes = [(i, j) for i in range(m) for j in range(m)]
    partials = {(i, j): _partial(sp.latex(net.z1_sym[i, j]), kab) for i, j in nodes}
    definitions.update({partials[n]: sp.diff(net.z1[n], net.kernel[a, b]) for n in nodes})
    pixels = sum(net.delta_sym[n] * sp.diff(net.z1[n], net.kernel[a, b]) for n in nodes)
    ca, cb = k - 1 - a, k - 1 - b
    return chain(
        partial(net.kernel[a, b]), net.full_kernel_gradient()[a, b], [
            Step(sum(net.delta_sym[n] * partials[n] for n in nodes),
                 f"chain rule over the {m * m} layer-1 nodes: k[{a},{b}] enters the cost "
                 f"only through z[0,0], …, z[{m - 1},{m - 1}], and δ[i,j] is ∂L/∂z[i,j]"),
            Step(pixels,
                 f"∂z[i,j]/∂k[{a},{b}] is the pixel that k[{a},{b}] multiplies in z[i,j]: "
                 f"x[i+{ca}, j+{cb}], not x[i, j], because the true convolution flips the "
                 f"kernel (read it off the forward formulas above)"),
            Step(term(a, b),
                 f"collect the {m * m} terms into one sum: the delta map laid on the "
                 f"{m}x{m} patch of the image that starts at row {ca}, column {cb}"),
            Step(c[ca, cb],
                 f"a patch times the delta map, summed, is one entry of the cross-correlation "
                 f"x ⋆ δ of the image with the delta map (slide δ over x, no flip): here the "
                 f"entry [{ca},{cb}]"),
        ], definitions=definitions,
        description=f"One kernel weight of the seed's network ({net.n}x{net.n} image, "
                    f"{k}x{k} kernel, no padding), derived the way one would by hand. "
                    f"δ[i,j] = ∂L/∂z[i,j] are the layer-1 deltas derived above.")


def kernel_gradient_chain(net: ToyNet) -> dict:
    """The whole k x k kernel gradient: a matrix of sums -> rot180(corr) -> conv(rot180(x), delta)."""
    k = net.k
    definitions, c, term = _kernel_chain_parts(net)
    rotated = sp.Symbol(r"\operatorname{rot180}(x \star \delta)", real=True)
    convolved = sp.Symbol(r"\operatorname{rot180}(x) * \delta", real=True)
    definitions[rotated] = sp.ImmutableMatrix(rot180(correlate2d(net.xp, net.delta_sym)))
    definitions[convolved] = sp.ImmutableMatrix(convolve2d(rot180(net.xp), net.delta_sym))
    return chain(
        r"\frac{\partial L}{\partial K}", net.full_kernel_gradient(), [
            Step(sp.ImmutableMatrix(k, k, lambda a, b: term(a, b)),
                 f"the same steps for every weight: k[a,b] multiplies x[i+{k - 1}−a, "
                 f"j+{k - 1}−b] in z[i,j], so its gradient lays the delta map on the "
                 f"patch that starts at [{k - 1}−a, {k - 1}−b]"),
            Step(sp.ImmutableMatrix(k, k, lambda a, b: c[k - 1 - a, k - 1 - b]),
                 "each sum is one entry of the cross-correlation x ⋆ δ, taken from the "
                 "opposite corner: entry [a, b] of the gradient is entry "
                 f"[{k - 1}−a, {k - 1}−b] of x ⋆ δ"),
            Step(rotated,
                 "reading a matrix from the opposite corner is a 180-degree rotation: the "
                 "flip of the forward pass comes back in the gradient"),
            Step(convolved,
                 "rotating a cross-correlation by 180 degrees is the same as rotating the "
                 "image and then taking the true convolution with the delta map; the delta "
                 "map itself is NOT rotated (seed 004's first code rotated it)"),
        ], definitions=definitions,
        description=f"The whole {k}x{k} kernel gradient of the seed's network at once, "
                    "ending in the form to code. x ⋆ δ is the 'valid' cross-correlation "
                    "(no flip) and * the true convolution (kernel flipped), as in the forward "
                    "pass.")


def chains() -> dict[str, dict]:
    net = ToyNet(3, 2, 0)
    return {"delta": delta_chain(net), "kernel_weight": kernel_weight_chain(net),
            "kernel_gradient": kernel_gradient_chain(net)}

# --------------------------------------------------------------------------
def derive() -> dict:
    from . import toy_net_facts   # here, not at the top: the facts are built on ToyNet
    cases = {}
    for name, n, k, p in CASES:
        net = ToyNet(n, k, p)
        cases[name] = export.case(
            {"image_size": n, "kernel_size": k, "padding": p, "nodes": net.m ** 2},
            net.variables(), case_formulas(net))
    facts = toy_net_facts.identity_facts()
    facts["transposed_counterexample"] = toy_net_facts.counterexample_fact()
    facts["seed_data_kernel_gradient_negligible"] = toy_net_facts.seed_data_fact()
    return export.document(
        title="The toy net of seed 004: convolution, tanh, dense, logistic, L2",
        source="derivations/toy_net.py", cases=cases, facts=facts, chains=chains())


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
