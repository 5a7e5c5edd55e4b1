"""The four activations of the seed networks and their derivatives.

ReLU, tanh, the logistic function and arctan act elementwise, so one scalar
symbol ``z`` (the pre-activation) and one scalar upstream gradient ``G``
($\\partial L/\\partial a$ for $a = f(z)$) describe every entry
of every array. For each activation ``f`` the script exports

* ``f(z)``             - the forward value;
* ``f'(z)``            - its derivative, by ``sympy.diff``;
* ``f.backward(G,z)``  - the chain rule $\\partial L/\\partial z = G f'(z)$;

and proves the forms in the forward output a = f(z) that backward passes like
to reuse (``tanh' = 1 - a^2``, ``logistic' = a (1 - a)``, ``arctan' =
1/(1 + z^2) = cos^2(a)``), each also as a chain of steps (:mod:`derivations.steps`).

ReLU at 0
---------
``Max(0, z)`` has no derivative at 0: the difference quotient tends to 0 from
the left and to 1 from the right (proven below with ``sympy.limit``). Any
value in [0, 1] is a subgradient. SymPy's own ``diff`` answers
``Heaviside(z)``, whose value at 0 is 1/2 in SymPy; this project takes the
derivative at 0 to be **0**, written ``Heaviside(z, 0)``. That is the seed
003 ``dReLU`` (``(x > 0) * 1.0``) and what PyTorch does.

Run ``python -m derivations.activations``.
"""

from __future__ import annotations

import sympy as sp

from . import export
from .proof import Proof
from .steps import Step, chain
from .toolkit import subject_main

SUBJECT = "activations"

z = sp.Symbol("z", real=True)
G = sp.Symbol("G", real=True)     # upstream gradient dL/da, a = f(z)


def relu(u):
    return sp.Max(0, u)


def logistic(u):
    return 1 / (1 + sp.exp(-u))


#: name -> (forward expression, LaTeX of the function's name)
ACTIVATIONS = {
    "relu": (relu(z), r"\operatorname{relu}"),
    "tanh": (sp.tanh(z), r"\tanh"),
    "logistic": (logistic(z), r"\sigma"),
    "arctan": (sp.atan(z), r"\arctan"),
}

#: The derivative convention at the kink: relu'(0) = 0.
RELU_AT_ZERO = 0


def derivative(name: str) -> sp.Expr:
    """``f'(z)`` by ``sympy.diff``; for ReLU with the value at 0 made explicit."""
    d = sp.diff(ACTIVATIONS[name][0], z)
    if name == "relu":
        # SymPy gives Heaviside(z) with H(0) = 1/2; state our convention instead.
        assert d == sp.Heaviside(z), d
        d = sp.Heaviside(z, RELU_AT_ZERO)
    return d


def prove(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    """``lhs == rhs`` identically in z, by ``sympy.simplify(lhs - rhs) == 0``."""
    return sp.simplify(lhs - rhs) == 0


# --------------------------------------------------------------------------
def formulas() -> dict[str, dict]:
    f = {}
    for name, (forward, fn) in ACTIVATIONS.items():
        d = derivative(name)
        # "a = tanh(z)": the output's name on the left, so the line is not "tanh(z) = tanh(z)"
        f[f"{name}(z)"] = export.formula(forward, "a", f"{name} forward: the output a = {name}(z)")
        f[f"{name}'(z)"] = export.formula(d, rf"{fn}'(z)", f"derivative of {name}, by sympy.diff")
        f[f"{name}.backward(G,z)"] = export.formula(
            G * d, r"\frac{\partial L}{\partial z}",
            f"chain rule through {name}: upstream gradient G = dL/da times {name}'(z)")
    return f


def facts() -> dict[str, dict]:
    h = sp.Symbol("h", real=True)
    pos = sp.Symbol("p", positive=True)
    left = sp.limit((relu(h) - relu(0)) / h, h, 0, "-")
    right = sp.limit((relu(h) - relu(0)) / h, h, 0, "+")
    kink = Proof.of(left_limit_is_0=left == 0, right_limit_is_1=right == 1)
    d = derivative("relu")
    convention = Proof.of(diff_is_heaviside=sp.diff(relu(z), z) == sp.Heaviside(z),
                          one_for_positive=d.subs(z, pos) == 1,
                          zero_for_negative=d.subs(z, -pos) == 0,
                          zero_at_zero=d.subs(z, 0) == RELU_AT_ZERO)
    sympy_default = sp.Heaviside(0)

    t = sp.tanh(z)
    tanh_ok = Proof.of(tanh_prime=prove(derivative("tanh"), 1 - t ** 2))
    s = logistic(z)
    logistic_ok = Proof.of(logistic_prime=prove(derivative("logistic"), s * (1 - s)))
    a = sp.atan(z)   # the output; cos(atan(z)) is 1/sqrt(1 + z^2), exactly
    arctan_ok = Proof.of(arctan_prime=prove(derivative("arctan"), 1 / (1 + z ** 2)),
                         arctan_prime_is_cos_squared_of_output=prove(derivative("arctan"),
                                                                     sp.cos(a) ** 2))
    check = "sympy.simplify(diff(f(z), z) - rhs) == 0"
    return {
        "relu_not_differentiable_at_0": export.fact(
            "ReLU has no derivative at 0: the difference quotient (relu(h) - relu(0))/h "
            "tends to 0 as h -> 0- and to 1 as h -> 0+. Every value in [0, 1] is a "
            "subgradient there.",
            proof=kink, sizes=None, check="sympy.limit of the difference quotient from each side",
            latex=r"\lim_{h\to 0^-}\frac{\operatorname{relu}(h)}{h} = 0,\quad "
                  r"\lim_{h\to 0^+}\frac{\operatorname{relu}(h)}{h} = 1",
            data={"left": str(left), "right": str(right)}),
        "relu_derivative_convention": export.fact(
            "The ReLU derivative is 1 for z > 0 and 0 for z < 0 (sympy.diff of Max(0, z) "
            "is Heaviside(z)); at z = 0 this project uses 0, i.e. Heaviside(z, 0), as seed "
            "003's dReLU (x > 0) * 1.0 and PyTorch do. SymPy's default Heaviside(0) is 1/2, "
            "so the convention is written out explicitly.",
            proof=convention, sizes=None,
            check="diff(Max(0, z), z) == Heaviside(z); Heaviside(z, 0) evaluated at a "
                  "positive symbol, its negative and 0 gives 1, 0, 0",
            latex=r"\operatorname{relu}'(z) = \theta(z) = \begin{cases} 1 & z > 0 \\ "
                  r"0 & z \le 0 \end{cases}",
            data={"value_at_0": str(RELU_AT_ZERO), "sympy_heaviside_at_0": str(sympy_default)}),
        "tanh_derivative_in_output": export.fact(
            "The tanh derivative in terms of the output a = tanh(z): 1 - a^2.",
            proof=tanh_ok, sizes=None, check=check, latex=r"\tanh'(z) = 1 - \tanh^2(z) = 1 - a^2"),
        "logistic_derivative_in_output": export.fact(
            "The logistic derivative in terms of the output a = sigma(z): a (1 - a).",
            proof=logistic_ok, sizes=None, check=check,
            latex=r"\sigma'(z) = \sigma(z)\,\big(1 - \sigma(z)\big) = a(1 - a)"),
        "arctan_derivative": export.fact(
            "The arctan derivative is 1 / (1 + z^2), and in terms of the output "
            "a = arctan(z) it is cos^2(a): since z = tan(a), 1 + z^2 = 1 + tan^2(a) = "
            "1 / cos^2(a).",
            proof=arctan_ok, sizes=None,
            check="sympy.simplify(diff(atan(z), z) - rhs) == 0 for rhs = 1/(1 + z^2) and for "
                  "rhs = cos(atan(z))^2",
            latex=r"\arctan'(z) = \frac{1}{1 + z^2} = \cos^2(a), \quad a = \arctan(z)"),
    }


# --------------------------------------------------------------------------
# Step by step: each derivative written with the output a = f(z)
# --------------------------------------------------------------------------
A = sp.Symbol("a", real=True)     # the output a = f(z), a definition in each chain


def chains() -> dict[str, dict]:
    e = sp.exp(-z)
    cos2 = sp.Symbol(r"\cos^{2}(a)", positive=True)   # the safe parser has no cos (yet)
    pos = sp.Symbol("p", positive=True)

    def off_the_kink(previous, step) -> bool:
        """Equal for every z > 0 and every z < 0 (ReLU is piecewise constant off 0)."""
        return all(sp.simplify((previous - step).subs(z, v)) == 0 for v in (pos, -pos))

    def at_zero_is_the_convention(previous, step) -> bool:
        return off_the_kink(previous, step) and step.subs(z, 0) == RELU_AT_ZERO

    return {
        "tanh": chain(r"\tanh'(z)", derivative("tanh"), [
            Step(1 / sp.cosh(z) ** 2, "the derivative of tanh = sinh/cosh by the quotient rule: "
                                      "(cosh² − sinh²)/cosh² = 1/cosh²",
                 prove=lambda u, v: prove(u, v)),
            Step(1 - sp.tanh(z) ** 2, "divide cosh² − sinh² by cosh² term by term: "
                                      "1 − sinh²/cosh² = 1 − tanh²(z)",
                 prove=lambda u, v: prove(u, v)),
            Step(1 - A ** 2, "write the output a = tanh(z): the backward pass needs only a"),
        ], definitions={A: sp.tanh(z)},
            description="tanh, written with its output a = tanh(z)."),
        "logistic": chain(r"\sigma'(z)", derivative("logistic"), [
            Step(e / (1 + e) ** 2, "differentiate σ(z) = 1/(1 + e^(−z)): the chain rule on "
                                   "the reciprocal gives e^(−z)/(1 + e^(−z))²"),
            Step(A * (1 - A), "split it as 1/(1 + e^(−z)) times e^(−z)/(1 + e^(−z)): the "
                              "first factor is σ(z) = a, the second is 1 − σ(z) = 1 − a, "
                              "because 1 − 1/(1 + e^(−z)) = e^(−z)/(1 + e^(−z))"),
        ], definitions={A: logistic(z)},
            description="The logistic function σ, written with its output a = σ(z)."),
        "arctan": chain(r"\arctan'(z)", derivative("arctan"), [
            Step(1 / (1 + z ** 2), "differentiate (sympy.diff): the derivative of the "
                                   "inverse of tan"),
            Step(cos2, "write z with the output a = arctan(z): z = tan(a), and "
                       "1 + tan²(a) = 1/cos²(a), so 1/(1 + z²) = cos²(a)"),
        ], definitions={cos2: sp.cos(sp.atan(z)) ** 2},
            description="arctan, written with its output a = arctan(z): it has a form in the "
                        "output too, cos²(a); the library keeps z, which is as cheap.",
            proven="each step equals the one before (the first equals sympy.diff): "
                   "cos²(a) is substituted as cos(atan(z))², which SymPy evaluates exactly "
                   "to 1/(1 + z²), and derivations.proof.is_zero proves the difference is 0"),
        "relu": chain(r"\operatorname{relu}'(z)", sp.diff(relu(z), z), [
            Step(sp.Piecewise((0, z < 0), (1, z > 0)),
                 "differentiate max(0, z) on each side of the kink: 0 for z < 0, 1 for z > 0; "
                 "at z = 0 there is no derivative (see the limits below)", prove=off_the_kink),
            Step(sp.Heaviside(z, RELU_AT_ZERO),
                 "the convention at the kink, as the code uses it: the step function θ(z) "
                 f"with θ(0) = {RELU_AT_ZERO} (seed 003's (x > 0) * 1.0, PyTorch)",
                 prove=at_zero_is_the_convention),
        ], description="ReLU, max(0, z): not differentiable at 0, so a value there is chosen.",
            proven="each step equals the one before at every z > 0 and every z < 0 (a positive "
                   "symbol and its negative, by sympy.simplify); the last step's value at "
                   "z = 0 is checked to be the convention"),
    }


def derive() -> dict:
    elementwise = export.case({"relu_derivative_at_0": RELU_AT_ZERO},
                              {"z": str(z), "G": str(G)}, formulas())
    return export.document(
        title="Activations: ReLU, tanh, logistic, arctan and their derivatives",
        source="derivations/activations.py", cases={"elementwise": elementwise},
        facts=facts(), chains=chains())


main = subject_main(__name__)


if __name__ == "__main__":
    print(main())
