"""Evaluate an index-form export (``IndexedBase``, ``Sum``, ``Piecewise``, ...) with NumPy.

Every index variable - the free ones and each ``Sum``'s - gets an axis of its
own, so a whole gradient array is one broadcast computation and a ``Sum`` is a
``sum`` over its axis. An entry read outside its array is NaN, so an access
that no condition guards shows up in the result instead of wrapping around.
Sums with ``lo > hi`` are empty (the formulas here never rely on SymPy's
Karr convention). Only what the index-form exports use is supported.
"""

from __future__ import annotations

import numpy as np
import sympy as sp


class IndexEvaluator:
    def __init__(self, expr: sp.Expr, free: list[sp.Symbol]):
        self.expr = expr
        bound = [lim[0] for s in expr.atoms(sp.Sum) for lim in s.limits]
        self.axes = {v: k for k, v in enumerate(dict.fromkeys([*free, *sorted(set(bound),
                                                                              key=str)]))}
        self.free = list(free)

    def __call__(self, arrays: dict[str, np.ndarray], sizes: dict, shape: tuple) -> np.ndarray:
        """The array of ``expr`` over the free indices, of ``shape`` (one axis per free index)."""
        self.arrays, self.env = arrays, dict(sizes)
        for var, size in zip(self.free, shape):
            self.env[var] = self._along(np.arange(size), var)
        out = np.broadcast_to(self.ev(self.expr), self._full(shape))
        return out.reshape(shape).astype(float)

    def _full(self, shape):
        return tuple(shape) + (1,) * (len(self.axes) - len(shape))

    def _along(self, values, var):
        shape = [1] * len(self.axes)
        shape[self.axes[var]] = len(values)
        return np.asarray(values).reshape(shape)

    def ev(self, e):
        if isinstance(e, (sp.Integer, int)):
            return int(e)
        if e.is_Number:
            return float(e)
        if e is sp.true or e is sp.false:
            return bool(e)
        if isinstance(e, sp.Symbol):
            return self.env[e]
        if isinstance(e, sp.Add):
            return sum((self.ev(a) for a in e.args[1:]), self.ev(e.args[0]))
        if isinstance(e, sp.Mul):
            out = self.ev(e.args[0])
            for a in e.args[1:]:
                out = out * self.ev(a)
            return out
        if isinstance(e, sp.Pow):
            return self.ev(e.base) ** self.ev(e.exp)
        if isinstance(e, sp.Indexed):
            arr = self.arrays[e.base.label.name]
            idx = np.broadcast_arrays(*(np.asarray(self.ev(t)) for t in e.indices))
            ok = np.ones(idx[0].shape, bool)
            for t, size in zip(idx, arr.shape):
                ok &= (t >= 0) & (t < size)
            clipped = tuple(np.clip(t, 0, size - 1) for t, size in zip(idx, arr.shape))
            return np.where(ok, arr[clipped], np.nan)
        if isinstance(e, sp.KroneckerDelta):
            return (np.asarray(self.ev(e.args[0])) == self.ev(e.args[1])).astype(float)
        if isinstance(e, sp.Heaviside):
            z = np.asarray(self.ev(e.args[0]), float)
            return np.where(z > 0, 1.0, np.where(z == 0, float(e.args[1]), 0.0))
        if isinstance(e, sp.Piecewise):
            out = 0.0
            for branch in reversed(e.args):
                out = np.where(self.ev(branch.cond), self.ev(branch.expr), out)
            return out
        if isinstance(e, sp.And):
            out = True
            for a in e.args:
                out = np.logical_and(out, self.ev(a))
            return out
        if isinstance(e, sp.Or):
            out = False
            for a in e.args:
                out = np.logical_or(out, self.ev(a))
            return out
        if isinstance(e, sp.Not):
            return np.logical_not(self.ev(e.args[0]))
        ops = {sp.StrictLessThan: np.less, sp.LessThan: np.less_equal,
               sp.StrictGreaterThan: np.greater, sp.GreaterThan: np.greater_equal,
               sp.Equality: np.equal, sp.Unequality: np.not_equal}
        if type(e) in ops:
            return ops[type(e)](self.ev(e.lhs), self.ev(e.rhs))
        if isinstance(e, sp.Sum):
            saved = {}
            for v, lo, hi in e.limits:
                saved[v] = self.env.get(v)
                lo, hi = int(self.ev(lo)), int(self.ev(hi))
                self.env[v] = self._along(np.arange(lo, max(lo, hi + 1)), v)
            body = np.asarray(self.ev(e.function), float)
            axes = tuple(self.axes[v] for v, _, _ in e.limits)
            body = np.broadcast_to(body, np.broadcast_shapes(
                body.shape, *(np.shape(self.env[v]) for v, _, _ in e.limits)))
            out = body.sum(axis=axes, keepdims=True)
            for v, old in saved.items():
                if old is None:
                    del self.env[v]
                else:
                    self.env[v] = old
            return out
        raise TypeError(f"cannot evaluate {type(e).__name__}: {e}")
