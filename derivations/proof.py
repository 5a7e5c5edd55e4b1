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


def expands_to_zero(entries) -> bool:
    """Every entry (of a Matrix or an iterable) is 0 after ``sympy.expand``.

    Decides the identity for polynomials (a linear layer's gradients, say):
    the expanded form of a polynomial is unique.
    """
    return all(sp.expand(e) == 0 for e in entries)


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


class Proof:
    """The outcome of a proof: each named check that ran and whether it passed.

    :func:`derivations.export.fact` takes one of these, never a bare bool, so
    that an exported fact's ``holds`` is what its checks computed. Build one with
    :meth:`of` from the checks' results (``{"dw": is_zero(lhs - rhs), ...}``).
    """

    __slots__ = ("checks",)

    def __init__(self, checks: tuple[tuple[str, bool], ...]):
        self.checks = tuple((str(name), ok) for name, ok in checks)
        for name, ok in self.checks:
            if not isinstance(ok, bool):
                raise TypeError(f"check {name!r} gave {ok!r}, not a bool: a proof's "
                                f"checks must be decided (True or False)")

    @classmethod
    def of(cls, checks: dict[str, bool] | None = None, **named: bool) -> "Proof":
        """A proof from named check results; it holds if there is one and all passed."""
        items = {**(checks or {}), **named}
        return cls(tuple((name, _decided(ok)) for name, ok in items.items()))

    @property
    def holds(self) -> bool:
        return bool(self.checks) and all(ok for _, ok in self.checks)

    @property
    def failed(self) -> list[str]:
        return [name for name, ok in self.checks if not ok]

    def __and__(self, other: "Proof") -> "Proof":
        return Proof(self.checks + other.checks)

    def __bool__(self):
        raise TypeError("a Proof is not a bool: pass it to export.fact(proof=...), "
                        "or read .holds")

    def __repr__(self) -> str:
        return f"Proof(holds={self.holds}, checks={len(self.checks)}, failed={self.failed})"


def _decided(ok):
    """True/False from a check's result (bool, SymPy true/false, NumPy bool); else as is."""
    if ok is sp.true or ok is sp.false or type(ok).__name__ == "bool_":
        return bool(ok)
    return ok


class Checks:
    """Named check results, recorded as a derivation runs, to build its facts' proofs.

    ``checks(name, ok)`` records ``ok`` (and-ed with an earlier result of the same
    name) and returns it; ``checks.require(ok, name)`` records it and stops the
    derivation if it failed; ``checks.proof(prefix, ...)`` is the :class:`Proof` of
    every recorded check whose name starts with one of the prefixes.
    """

    def __init__(self, subject: str = ""):
        self.subject = subject
        self._results: dict[str, bool] = {}

    def clear(self) -> None:
        self._results.clear()

    def __call__(self, name: str, ok) -> bool:
        ok = _decided(ok)
        if not isinstance(ok, bool):
            raise TypeError(f"check {name!r} gave {ok!r}, not a bool")
        self._results[name] = self._results.get(name, True) and ok
        return ok

    def require(self, ok, name: str) -> None:
        """Record ``ok`` under ``name`` and stop the derivation (AssertionError) if it is False."""
        if not self(name, ok):
            raise AssertionError(f"{self.subject or 'derivation'}: {name} does not hold")

    def proof(self, *prefixes: str) -> Proof:
        chosen = [(n, ok) for n, ok in self._results.items() if n.startswith(prefixes)]
        if not chosen:
            raise LookupError(f"no check recorded under {prefixes}: the proof did not run")
        return Proof(tuple(chosen))
