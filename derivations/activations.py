"""The four activations of the seed networks and their derivatives.

ReLU, tanh, the logistic function and arctan act elementwise, so one scalar
symbol ``z`` (the pre-activation) and one scalar upstream gradient ``G``
($\\partial L/\\partial a$ for $a = f(z)$) describe every entry
of every array. For each activation ``f`` the script exports

* ``f(z)``             - the forward value;
* ``f'(z)``            - its derivative, by ``sympy.diff``;
* ``f.backward(G,z)``  - the chain rule $\\partial L/\\partial z = G f'(z)$;

and proves the forms in the forward output that backward passes like to
reuse (``tanh' = 1 - tanh^2``, ``logistic' = logistic (1 - logistic)``).

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

from pathlib import Path

import sympy as sp

from . import export

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


def prove(lhs: sp.Expr, rhs: sp.Expr, what: str) -> None:
    if sp.simplify(lhs - rhs) != 0:
        raise AssertionError(f"activations: {what} does not hold: {lhs} != {rhs}")


# --------------------------------------------------------------------------
def formulas() -> dict[str, dict]:
    f = {}
    for name, (forward, fn) in ACTIVATIONS.items():
        d = derivative(name)
        f[f"{name}(z)"] = export.formula(forward, rf"{fn}(z)", f"{name} forward")
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
    if (left, right) != (0, 1):
        raise AssertionError(f"relu one-sided derivatives at 0: {left}, {right}")
    d = derivative("relu")
    if d.subs(z, pos) != 1 or d.subs(z, -pos) != 0 or d.subs(z, 0) != RELU_AT_ZERO:
        raise AssertionError(f"relu derivative convention: {d}")
    sympy_default = sp.Heaviside(0)

    t = sp.tanh(z)
    prove(derivative("tanh"), 1 - t ** 2, "tanh' = 1 - tanh^2")
    s = logistic(z)
    prove(derivative("logistic"), s * (1 - s), "logistic' = logistic (1 - logistic)")
    prove(derivative("arctan"), 1 / (1 + z ** 2), "arctan' = 1/(1+z^2)")
    check = "sympy.simplify(diff(f(z), z) - rhs) == 0"
    return {
        "relu_not_differentiable_at_0": export.fact(
            "ReLU has no derivative at 0: the difference quotient (relu(h) - relu(0))/h "
            "tends to 0 as h -> 0- and to 1 as h -> 0+. Every value in [0, 1] is a "
            "subgradient there.",
            holds=True, check="sympy.limit of the difference quotient from each side",
            latex=r"\lim_{h\to 0^-}\frac{\operatorname{relu}(h)}{h} = 0,\quad "
                  r"\lim_{h\to 0^+}\frac{\operatorname{relu}(h)}{h} = 1",
            data={"left": str(left), "right": str(right)}),
        "relu_derivative_convention": export.fact(
            "The ReLU derivative is 1 for z > 0 and 0 for z < 0 (sympy.diff of Max(0, z) "
            "is Heaviside(z)); at z = 0 this project uses 0, i.e. Heaviside(z, 0), as seed "
            "003's dReLU (x > 0) * 1.0 and PyTorch do. SymPy's default Heaviside(0) is 1/2, "
            "so the convention is written out explicitly.",
            holds=True,
            check="diff(Max(0, z), z) == Heaviside(z); Heaviside(z, 0) evaluated at a "
                  "positive symbol, its negative and 0 gives 1, 0, 0",
            latex=r"\operatorname{relu}'(z) = \theta(z) = \begin{cases} 1 & z > 0 \\ "
                  r"0 & z \le 0 \end{cases}",
            data={"value_at_0": str(RELU_AT_ZERO), "sympy_heaviside_at_0": str(sympy_default)}),
        "tanh_derivative_in_output": export.fact(
            "The tanh derivative in terms of the output a = tanh(z): 1 - a^2.",
            holds=True, check=check, latex=r"\tanh'(z) = 1 - \tanh^2(z) = 1 - a^2"),
        "logistic_derivative_in_output": export.fact(
            "The logistic derivative in terms of the output a = sigma(z): a (1 - a).",
            holds=True, check=check,
            latex=r"\sigma'(z) = \sigma(z)\,\big(1 - \sigma(z)\big) = a(1 - a)"),
        "arctan_derivative": export.fact(
            "The arctan derivative is 1 / (1 + z^2): it has no form in the output that "
            "avoids z, so a backward pass keeps z.",
            holds=True, check=check, latex=r"\arctan'(z) = \frac{1}{1 + z^2}"),
    }


def derive() -> dict:
    return {
        "title": "Activations: ReLU, tanh, logistic, arctan and their derivatives",
        "source": "derivations/activations.py",
        "cases": {
            "elementwise": {
                "parameters": {"relu_derivative_at_0": RELU_AT_ZERO},
                "variables": {"z": str(z), "G": str(G)},
                "formulas": formulas(),
            }
        },
        "facts": facts(),
    }


def main(directory: Path = export.EXPORT_DIR) -> Path:
    return export.write(SUBJECT, derive(), directory)


if __name__ == "__main__":
    print(main())
