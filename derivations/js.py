"""Print an exported formula as a JavaScript expression, for the site's live explorers.

``js(expr)`` is one JavaScript expression over a single object ``v`` that maps
each symbol's name to its value::

    js(k_{0,0} x_{1,1} + k_{0,1} x_{1,0})
      == 'v["k_{0,0}"]*v["x_{1,1}"] + v["k_{0,1}"]*v["x_{1,0}"]'

so the symbol names stay exactly the export's (``x_{1,1}``, ``\\delta_{0,0}``,
``W^{(2)}_{0,0}``). The site runs only code printed at build time from the
expression the safe loader rebuilt, as ``function (v) { return ...; }`` in a
generated module (``docs/hooks/explorers.py``), never a string read from an
export: the export's ``js`` is documentation and a drift check
(``tests/test_js_forms.py``).

The conventions the NumPy code uses are printed explicitly rather than left
to the JavaScript runtime or to SymPy's defaults:

* ``Heaviside(z, 0)`` is ``(z > 0 ? 1 : 0)``: ReLU'(0) = 0; ``Heaviside(z, 1)`` is
  ``(z >= 0 ? 1 : 0)``. A Heaviside without its value at 0 (SymPy's default
  is 1/2, which is not what the code does) is refused.
* ``Piecewise`` is a chain of ``c ? a : ...`` in the order of its pairs, which
  is how the max-pool export states "the first maximum in row-major order
  wins a tie" (each entry's condition is ``>=`` against later entries and
  ``<`` against earlier ones); a Piecewise without a final ``True`` branch is
  refused (JavaScript would have no value to give).
* ``KroneckerDelta(a, b)`` is ``(a === b ? 1 : 0)`` on integer indices.
* Index form: ``Indexed(G, n, c, i, j)`` is ``v["G"][n][c][i][j]`` (nested arrays)
  and ``Sum(f, (i, lo, hi))`` a loop from ``lo`` to ``hi`` inclusive that binds
  ``v["i"]`` in a copy of ``v``; sizes and free indices are entries of ``v``.
* A matrix is an array of row arrays.

Numbers are exact SymPy integers and rationals in every export; a Float is
refused, since the exports never hold one and printing it would lose the
guarantee that the JavaScript is the formula.
"""

from __future__ import annotations

import json

import sympy as sp
from sympy.printing.jscode import JavascriptCodePrinter

__all__ = ["JSPrinter", "js"]


class JSPrinter(JavascriptCodePrinter):
    """SymPy's JavaScript printer with symbols looked up in ``v`` and explicit conventions."""

    def __init__(self):
        # contract=False: no Indexed loops inferred from repeated indices; the
        # index forms say their sums with Sum.
        super().__init__({"contract": False, "strict": True})

    def _print_Symbol(self, expr):
        return f"v[{json.dumps(expr.name)}]"

    _print_Dummy = _print_Symbol

    def _print_Float(self, expr):
        raise ValueError(f"js: the exported formulas hold exact numbers only, got Float {expr}")

    def _print_Heaviside(self, expr):
        # H(z, 0) is ReLU'(z) with ReLU'(0) = 0; H(z, 1) is "z >= 0" (the max-pool index
        # form's "earlier in row-major order"); SymPy's default H(0) = 1/2 is neither.
        at_zero = expr.args[1] if len(expr.args) == 2 else None
        if at_zero not in (0, 1):
            raise ValueError(f"js: {expr} does not say its value at 0 (0 or 1); SymPy's "
                             f"Heaviside(0) = 1/2 is not what the code does")
        return f"({self._print(expr.args[0])} {'>' if at_zero == 0 else '>='} 0 ? 1 : 0)"

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond != sp.true:
            raise ValueError(f"js: Piecewise {str(expr)[:80]} has no final (value, True) pair")
        out = self._print(expr.args[-1].expr)
        for value, cond in reversed(expr.args[:-1]):
            out = f"({self._print(cond)} ? {self._print(value)} : {out})"
        return out

    def _print_KroneckerDelta(self, expr):
        a, b = expr.args
        return f"({self._print(a)} === {self._print(b)} ? 1 : 0)"

    def _print_Indexed(self, expr):
        return (self._print(expr.base.label)
                + "".join(f"[{self._print(i)}]" for i in expr.indices))

    def _print_Sum(self, expr):
        body = self._print(expr.function)
        for var, lo, hi in expr.limits:   # innermost first, like SymPy's limits
            name = json.dumps(var.name)
            body = (f"((lo, hi) => {{ let t = 0; for (let k = lo; k <= hi; k++) "
                    f"{{ t += ((v) => {body})(Object.assign({{}}, v, {{{name}: k}})); }} "
                    f"return t; }})({self._print(lo)}, {self._print(hi)})")
        return body

    def _print_MatrixBase(self, expr):
        return "[" + ", ".join("[" + ", ".join(self._print(expr[i, j]) for j in range(expr.cols))
                               + "]" for i in range(expr.rows)) + "]"

    _print_ImmutableDenseMatrix = _print_MatrixBase

    def _print_BooleanTrue(self, expr):
        return "true"

    def _print_BooleanFalse(self, expr):
        return "false"

    def _print_Equality(self, expr):
        return f"({self._print(expr.lhs)} === {self._print(expr.rhs)})"


def js(expr: sp.Basic) -> str:
    """The JavaScript expression of ``expr`` over ``v`` (see the module docstring).

    Deterministic: the same expression (e.g. rebuilt from the same ``srepr``)
    always prints the same string.
    """
    return JSPrinter().doprint(expr)
