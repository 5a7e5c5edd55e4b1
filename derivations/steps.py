"""Derivations a reader can follow: ordered chains of equalities, each step proven.

A *chain* is what a reader writes by hand to reach a result::

    dL/dk[0,0] = sum_ij dL/dz[i,j] dz[i,j]/dk[0,0]      (chain rule)
               = sum_ij delta[i,j] x[i+1, j+1]          (dz/dk is a pixel)
               = ...                                    (collect into a correlation)

Each step is a SymPy expression (unevaluated ``Sum``, ``Derivative`` and
``Matrix`` objects are welcome: they are what the reader sees) with its
justification in words. :func:`chain` proves every step equal to the one
before it, and the first step equal to the ``truth`` (typically the full
``sympy.diff`` of the loss), and refuses to export a chain with a step that
does not follow (:class:`StepDoesNotFollow`). The default proof of
``previous == step`` is :func:`derivations.proof.is_zero` of the difference
after ``.doit()`` (which writes out finite sums and derivatives) and after
substituting ``definitions`` (symbols such as the deltas, standing for
sub-expressions of the loss); matrices are compared entry by entry. A step
whose equality needs another argument (a sum over symbolic sizes, say) passes
its own ``prove(previous, step) -> bool``.

The exported record (``document["chains"][name]``)::

    {"lhs": "<LaTeX>", "description": "...",
     "steps": [{"latex": "<LaTeX>", "srepr": "<srepr>", "justification": "..."}],
     "proven": "how each step was proven equal to the previous one"}

The site renders it with ``{{ chain("subject", "name") }}``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy as sp

from .proof import is_zero

__all__ = ["StepDoesNotFollow", "Step", "chain", "equal_after_doit"]


class StepDoesNotFollow(AssertionError):
    """A chain has a step that is not proven equal to the one before it."""


class Step:
    """One step: ``= expr`` because ``why``; ``prove`` overrides the default proof."""

    __slots__ = ("expr", "why", "prove")

    def __init__(self, expr, why: str, prove: Callable[[sp.Basic, sp.Basic], bool] | None = None):
        if not why or not why.strip():
            raise ValueError("a step needs its justification in words")
        self.expr, self.why, self.prove = expr, why, prove


def equal_after_doit(definitions: dict | None = None) -> Callable[[sp.Basic, sp.Basic], bool]:
    """The default proof: ``is_zero(a.doit() - b.doit())`` after ``definitions``, per entry."""
    defs = dict(definitions or {})

    def expand(e):
        e = sp.sympify(e).doit()
        # Definitions may refer to each other (a delta defined through the next layer's).
        for _ in range(len(defs) + 1):
            new = e.xreplace(defs).doit() if defs else e
            if new == e:
                break
            e = new
        return e

    def scalar(e):
        return e[0, 0] if isinstance(e, sp.MatrixBase) and e.shape == (1, 1) else e

    def prove(a, b) -> bool:
        a, b = scalar(expand(a)), scalar(expand(b))      # a row times a column is a number
        if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
            if not (isinstance(a, sp.MatrixBase) and isinstance(b, sp.MatrixBase)) \
                    or a.shape != b.shape:
                return False
            return all(is_zero(x - y) for x, y in zip(a, b))
        return is_zero(a - b)
    return prove


def chain(lhs: str, truth, steps: Sequence[Step], *, description: str = "",
          definitions: dict | None = None, proven: str = "") -> dict:
    """A chain of steps ``lhs = steps[0] = steps[1] = ...``, each proven, as an export record.

    Parameters
    ----------
    lhs : str
        LaTeX of the left-hand side, e.g. ``\\frac{\\partial L}{\\partial k_{0,0}}``.
    truth : SymPy expression or Matrix
        What ``lhs`` is by definition (e.g. ``sympy.diff(L, k00)``); the first
        step must be proven equal to it.
    steps : sequence of Step
        The right-hand sides in order, each with its justification.
    definitions : dict, optional
        Symbol -> expression, substituted before comparing (e.g. each delta
        symbol -> its expression in the network's inputs and weights).
    proven : str, optional
        How the steps were proven, when not the default.

    Raises
    ------
    StepDoesNotFollow
        If a step is not proven equal to the one before (or the first to ``truth``).
    """
    if not steps:
        raise ValueError(f"chain {lhs!r}: needs at least one step")
    default = equal_after_doit(definitions)
    previous, previous_name = truth, "the definition"
    for k, step in enumerate(steps, start=1):
        if not isinstance(step, Step):
            raise TypeError(f"chain {lhs!r}: step {k} is a {type(step).__name__}; expected a Step")
        ok = (step.prove or default)(previous, step.expr)
        if ok is not True:
            raise StepDoesNotFollow(f"chain {lhs!r}: step {k} ({step.why!r}) is not proven equal "
                                    f"to {previous_name}")
        previous, previous_name = step.expr, f"step {k}"
    return {
        "lhs": lhs,
        "description": description,
        "steps": [{"latex": sp.latex(s.expr), "srepr": sp.srepr(s.expr), "justification": s.why}
                  for s in steps],
        "proven": proven or ("each step equals the one before (the first equals the "
                             "definition): sympy .doit() writes out the sums and "
                             "derivatives, the definitions are substituted, and "
                             "derivations.proof.is_zero proves the difference is 0"
                             + (", entry by entry" if isinstance(sp.sympify(truth), sp.MatrixBase)
                                else "")),
    }
