"""Proof helpers shared by the derivations.

Facts are exported only after they are checked here: :func:`is_zero` proves
an identity ``lhs - rhs == 0`` soundly (never a false one), :func:`in_range`
resolves the index-range conditions SymPy leaves in index-form derivatives.
"""

from __future__ import annotations

import sympy as sp


def is_zero(expr: sp.Expr) -> bool:
    """Prove ``expr == 0`` identically (sound, possibly incomplete).

    ``exp``, ``tanh``, ``Max`` and ``Heaviside`` sub-expressions are replaced by fresh
    symbols (outermost first); what remains is a rational function of
    independent symbols, brought over one denominator, whose expanded
    numerator must be the zero polynomial. A zero numerator makes the
    expression 0 wherever it is defined, so this never proves a false
    identity; it may fail to prove a true one that needs relations between
    the replaced atoms.
    """
    expr = sp.sympify(expr)
    for func in (sp.exp, sp.tanh, sp.Max, sp.Heaviside):
        atoms = sorted(expr.atoms(func), key=sp.default_sort_key)
        expr = expr.xreplace({a: sp.Dummy() for a in atoms})
    numerator, _ = sp.fraction(sp.together(expr))
    return sp.expand(numerator) == 0


def in_range(expr: sp.Expr, bounds: dict) -> sp.Expr:
    """Resolve the ``Piecewise`` index-range branches for in-range free indices.

    ``bounds`` maps each free index ``i`` to its size ``S`` (``0 <= i <= S-1``).
    A branch condition is accepted when it simplifies to ``True`` after
    writing ``S = i + 1 + r`` with ``r >= 0``: then it holds for every valid
    index. Other conditions are left as they are.
    """
    rests = {size: sp.Dummy(f"r_{size}", integer=True, nonnegative=True) for size in bounds.values()}
    subs = {size: i + 1 + rests[size] for i, size in bounds.items()}

    def keep(pw: sp.Piecewise) -> sp.Expr:
        e, cond = pw.args[0]
        cond = cond.subs(subs)
        if cond is not sp.true:
            cond = sp.simplify(cond)
        return e if cond is sp.true else pw

    def delta_first(s: sp.Sum) -> sp.Sum:
        # Sum.doit() collapses a KroneckerDelta only over the innermost limit:
        # move the limits whose variable sits in a KroneckerDelta there.
        deltas = set().union(*(kd.free_symbols for kd in s.function.atoms(sp.KroneckerDelta)))
        for pos in range(1, len(s.limits)):
            if s.limits[pos][0] in deltas:
                s = s.reorder_limit(0, pos)
                break
        return s

    for _ in range(5):  # a Sum over a KroneckerDelta may expose a new Piecewise
        new = expr.replace(lambda e: isinstance(e, sp.Sum), delta_first)
        new = new.replace(lambda e: isinstance(e, sp.Piecewise), keep).doit()
        if new == expr:
            break
        expr = new
    return sp.simplify(expr)
