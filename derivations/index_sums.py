"""Index-form sums brought to one canonical form, so that two of them can be compared.

``sympy.diff`` of a ``Sum`` of ``Indexed`` entries with respect to an
``Indexed`` entry with fresh symbolic indices gives a ``Sum`` of products of
``KroneckerDelta``s. This module eliminates them and decides the index-range
conditions that remain. The rules, each exact for integer indices:

* **terms**: a sum of products of sums is written as a list of terms, each
  ``Sum over limits of [conditions] * factor``. The limits are rectangular
  (bounds free of the summation variables), so their order does not matter;
  ``Piecewise((e, c), (0, True))`` with a condition ``c`` made of linear
  integer (in)equalities becomes the Iverson bracket ``[c] e``.
* **delta rule**: ``Sum_{v=lo..hi} KroneckerDelta(v, t) f(v) = [lo <= t <= hi] f(t)``
  for an integer expression ``t`` free of ``v`` and a range with ``hi >= lo - 1``
  (provably: sizes >= 1): exactly one ``v`` makes the delta 1, and it counts if
  it is in range. A delta ``KroneckerDelta(p, q)``
  is summed out over a summation variable ``v`` in which ``p - q`` is linear
  with coefficient +-1, so that ``t`` is an integer expression.
* **range rule**: a condition ``g >= 0`` is dropped when it holds on the whole
  box of index ranges (the free indices' and the term's own limits): ``g`` is
  linear in the box variables, and at the box corner that minimises it
  (lower bound where the coefficient is provably >= 0, upper bound where it is
  provably <= 0) it is provably >= 0 by SymPy's assumptions on the sizes. A
  term with a condition provably < 0 on the box is 0. Anything undecided is
  kept, so the rule never drops a condition that can fail.

Two expressions are equal when their canonical term lists are (:func:`same`):
a sound test (equal lists mean equal values), possibly incomplete.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp
from sympy.printing.latex import LatexPrinter


@dataclass(frozen=True)
class Term:
    """``Sum over limits of [g >= 0 for g in conditions] * factor``."""

    limits: tuple[tuple[sp.Symbol, sp.Expr, sp.Expr], ...]
    factor: sp.Expr
    conditions: frozenset

    def key(self):
        return (tuple(sorted(self.limits, key=sp.default_sort_key)),
                tuple(sorted(self.conditions, key=sp.default_sort_key)))


def _linear_conditions(cond) -> list[sp.Expr] | None:
    """``cond`` as integer expressions ``g`` (each meaning ``g >= 0``), or None."""
    if cond is sp.true:
        return []
    out = []
    for c in (cond.args if isinstance(cond, sp.And) else (cond,)):
        if isinstance(c, sp.GreaterThan):
            gs = [c.lhs - c.rhs]
        elif isinstance(c, sp.LessThan):
            gs = [c.rhs - c.lhs]
        elif isinstance(c, sp.StrictGreaterThan):
            gs = [c.lhs - c.rhs - 1]          # integers: a > b  <=>  a - b - 1 >= 0
        elif isinstance(c, sp.StrictLessThan):
            gs = [c.rhs - c.lhs - 1]
        elif isinstance(c, sp.Equality):
            gs = [c.lhs - c.rhs, c.rhs - c.lhs]
        else:
            return None
        for g in gs:
            if not all(s.is_integer for s in g.free_symbols) or g.atoms(sp.Indexed):
                return None
        out.extend(sp.expand(g) for g in gs)
    return out


def terms(expr) -> list[Term]:
    """``expr`` (sums, products, Iverson Piecewise) as a list of :class:`Term`."""
    expr = sp.sympify(expr)
    if expr == 0:
        return []
    if isinstance(expr, sp.Add):
        return [t for a in expr.args for t in terms(a)]
    if isinstance(expr, sp.Sum):
        limits = tuple(tuple(lim) for lim in expr.limits)
        bound = {v for v, _, _ in limits}
        for v, lo, hi in limits:
            if (lo.free_symbols | hi.free_symbols) & bound:
                raise ValueError(f"limits of {expr} are not rectangular")
        out = []
        for t in terms(expr.function):
            if bound & {v for v, _, _ in t.limits}:
                raise ValueError(f"{expr} reuses a summation variable")
            out.append(Term(limits + t.limits, t.factor, t.conditions))
        return out
    if isinstance(expr, sp.Mul):
        out = []
        for combo in itertools.product(*(terms(a) for a in expr.args)):
            names = [v for t in combo for v, _, _ in t.limits]
            if len(names) != len(set(names)):
                raise ValueError(f"a product of sums over the same variable in {expr}")
            out.append(Term(sum((t.limits for t in combo), ()),
                            sp.Mul(*(t.factor for t in combo)),
                            frozenset().union(*(t.conditions for t in combo))))
        return out
    if isinstance(expr, sp.Piecewise) and len(expr.args) == 2 \
            and expr.args[1].cond is sp.true and expr.args[1].expr == 0:
        conds = _linear_conditions(expr.args[0].cond)
        if conds is not None:
            return [Term(t.limits, t.factor, t.conditions | frozenset(conds))
                    for t in terms(expr.args[0].expr)]
    return [Term((), expr, frozenset())]


def _sum_out_one_delta(t: Term) -> Term | None:
    """One application of the delta rule to ``t``, or None if none applies."""
    factors = sp.Mul.make_args(t.factor)
    deltas = sorted((f for f in factors if isinstance(f, sp.KroneckerDelta)),
                    key=sp.default_sort_key)
    for d in deltas:
        diff = sp.expand(d.args[0] - d.args[1])
        for pos in reversed(range(len(t.limits))):        # innermost first
            v, lo, hi = t.limits[pos]
            if not nonnegative(hi - lo + 1, {}):
                continue                 # SymPy's Sum over hi < lo - 1 is not empty (Karr)
            coeff = sp.diff(diff, v)
            if coeff not in (1, -1) or v in sp.diff(diff, v).free_symbols:
                continue
            target = sp.expand(v - diff / coeff)
            if v in target.free_symbols or not target.is_integer:
                continue
            rest = list(factors)
            rest.remove(d)
            sub = {v: target}
            return Term(t.limits[:pos] + t.limits[pos + 1:],
                        sp.Mul(*rest).xreplace(sub),
                        frozenset(sp.expand(g.xreplace(sub)) for g in t.conditions)
                        | {sp.expand(target - lo), sp.expand(hi - target)})
    return None


def nonnegative(g: sp.Expr, box: dict) -> bool:
    """``g >= 0`` for every point of ``box`` ({var: (lo, hi)}, integer ranges): the range rule."""
    g = sp.expand(g)
    for _ in range(len(box) + 1):
        present = [v for v in box if v in g.free_symbols]
        if not present:
            return bool(g.is_nonnegative)
        for v in present:
            c = sp.diff(g, v)
            if c.free_symbols & set(box):
                return False                          # not linear in the box
            lo, hi = box[v]
            if c.is_nonnegative:
                bound = lo
            elif c.is_nonpositive:
                bound = hi
            else:
                return False
            if bound in (sp.oo, -sp.oo):
                return False
            g = sp.expand(g.xreplace({v: bound}))
    return False


def _resolve(t: Term, box: dict) -> Term | None:
    local = {**box, **{v: (lo, hi) for v, lo, hi in t.limits}}
    kept = set()
    for g in t.conditions:
        if nonnegative(g, local):
            continue
        if nonnegative(-g - 1, local):
            return None                               # the bracket is 0 on the whole box
        kept.add(g)
    factor = sp.expand(t.factor)
    return None if factor == 0 else Term(t.limits, factor, frozenset(kept))


def collapse(expr, box: dict) -> list[Term]:
    """Canonical terms of ``expr``: deltas summed out, conditions decided on ``box``."""
    out = {}
    for t in terms(expr):
        while (nxt := _sum_out_one_delta(t)) is not None:
            t = nxt
        t = _resolve(t, box)
        if t is not None:
            k = t.key()
            out[k] = out.get(k, 0) + t.factor
    result = []
    for (limits, conds), factor in sorted(out.items(), key=lambda kv: sp.default_sort_key(
            sp.Tuple(*[sp.Tuple(*lim) for lim in kv[0][0]], *kv[0][1]))):
        factor = sp.expand(factor)
        if factor != 0:
            result.append(Term(limits, factor, frozenset(conds)))
    return result


def same(a, b, box: dict) -> bool:
    """``a == b`` for every index in ``box``, by equal canonical forms (sound)."""
    ca, cb = collapse(a, box), collapse(b, box)
    return len(ca) == len(cb) and all(
        x.key() == y.key() and sp.expand(x.factor - y.factor) == 0 for x, y in zip(ca, cb))


def expression(ts: list[Term]) -> sp.Expr:
    """The SymPy expression of canonical terms (Iverson brackets as Piecewise)."""
    out = []
    for t in ts:
        e = t.factor
        if t.conditions:
            conds = sorted(t.conditions, key=sp.default_sort_key)
            e = sp.Piecewise((e, sp.And(*(sp.GreaterThan(g, 0) for g in conds))), (0, True))
        if t.limits:
            e = sp.Sum(e, *t.limits)
        out.append(e)
    return sp.Add(*out)


# --------------------------------------------------------------------------
# Instantiation: sizes and indices substituted, sums written out
# --------------------------------------------------------------------------
def unroll(e: sp.Expr) -> sp.Expr:
    """Every Sum with concrete limits written out, outermost first.

    Not ``Sum.doit()``: SymPy's delta summation solves KroneckerDelta(u - a, 2 i)
    for i = (u - a)/2 without asking that it be an integer, so ``doit`` of an inner
    sum while the outer index is still a symbol gets entries at half indices.
    """
    if isinstance(e, sp.Sum):
        names = [lim[0] for lim in e.limits]
        ranges = [range(int(lo), int(hi) + 1) for _, lo, hi in e.limits]
        return sp.Add(*(unroll(e.function.xreplace(dict(zip(names, values))))
                        for values in itertools.product(*ranges)))
    if e.args and e.has(sp.Sum):
        return e.func(*(unroll(arg) for arg in e.args))
    return e


def instantiate(expr: sp.Expr, values: dict, arrays: dict) -> sp.Expr:
    """Sizes and free indices substituted, sums expanded, entries looked up:
    ``arrays[name](*indices)`` is the per-element symbol (or 0) of ``name[indices]``."""
    def entry(z):
        idx = [int(t) for t in z.indices]
        try:
            if min(idx) < 0:
                raise IndexError(idx)
            return arrays[z.base.label.name](*idx)
        except IndexError:
            return sp.nan       # read outside the array: the instance cannot be equal
    return unroll(expr.xreplace(values)).replace(lambda z: isinstance(z, sp.Indexed), entry)


# --------------------------------------------------------------------------
# Lemmas on window ranges (shared by convolution and pooling)
# --------------------------------------------------------------------------
def window_lemmas(s: sp.Expr, K: sp.Expr, O: sp.Expr) -> dict[str, bool]:
    """Windows i = 0..O-1 of K rows at stride s; row u is in window i iff 0 <= u - s i <= K - 1.

    Proves, for integers u, i (with the range rule, on nonnegative dummies):
    ``u - s i >= 0  <=>  i <= floor(u/s)`` and ``u - s i <= K - 1  <=>
    i >= ceil((u - K + 1)/s)``, writing ``u = s q + r`` (resp. ``u - K + 1 = s q - r``)
    with ``0 <= r <= s - 1`` - the definition of floor (resp. ceil) by division
    with remainder, so ``q`` is that floor (ceil); and that a row
    ``u >= s (O - 1) + K`` (the last (H + 2p - K) mod s rows) is in no window.
    """
    q = sp.Symbol("q", integer=True)
    r = sp.Dummy("r", integer=True, nonnegative=True)
    m = sp.Dummy("m", integer=True, nonnegative=True)
    t = sp.Dummy("t", integer=True, nonnegative=True)
    i = sp.Dummy("i", integer=True)
    rem = {r: (0, s - 1)}
    u = s * q + r                                    # q = floor(u / s)
    u2 = s * q - r + K - 1                           # q = ceil((u2 - K + 1) / s)
    u3 = s * (O - 1) + K + t                         # past the last window
    return {
        "i <= floor(u/s) gives u - s i >= 0": nonnegative(u - s * (q - m), rem),
        "i > floor(u/s) gives u - s i < 0": nonnegative(-(u - s * (q + 1 + m)) - 1, rem),
        "i >= ceil((u-K+1)/s) gives u - s i <= K - 1": nonnegative(K - 1 - (u2 - s * (q + m)), rem),
        "i < ceil((u-K+1)/s) gives u - s i > K - 1":
            nonnegative(u2 - s * (q - 1 - m) - (K - 1) - 1, rem),
        "a row u >= s (O - 1) + K is in no window": nonnegative(u3 - s * i - K, {i: (0, O - 1)}),
    }


# --------------------------------------------------------------------------
# LaTeX of canonical terms: Iverson brackets, one sum sign per index
# --------------------------------------------------------------------------
def _latex_conditions(conds, free) -> list[str]:
    """``g >= 0`` conditions, pairing ``g1 >= 0, g2 >= 0`` with constant ``g1 + g2`` as
    ``0 <= g1 <= g1 + g2``."""
    conds = sorted(conds, key=sp.default_sort_key)
    used, out = set(), []
    for a, b in itertools.combinations(conds, 2):
        if a in used or b in used:
            continue
        total = sp.expand(a + b)
        if not (total.free_symbols & free):
            lo_side = a if len(sp.Add.make_args(a)) <= len(sp.Add.make_args(b)) else b
            out.append(rf"0 \le {tex(lo_side)} \le {tex(total)}")
            used |= {a, b}
    out += [rf"{tex(g)} \ge 0" for g in conds if g not in used]
    return out


def latex_term(t: Term, free: set, order=None) -> str:
    limits = sorted(t.limits, key=(lambda lim: order.index(lim[0])) if order else
                    (lambda lim: str(lim[0])))
    sums = "".join(rf"\sum_{{{tex(v)}={tex(lo)}}}^{{{tex(hi)}}}" for v, lo, hi in limits)
    conds = _latex_conditions(t.conditions, free | {v for v, _, _ in t.limits})
    brackets = "".join(rf"\big[{c}\big]" for c in conds)
    return rf"{sums} {brackets}\, {tex(t.factor)}".strip()


class _Printer(LatexPrinter):
    """LaTeX with ``u - s i`` (positive terms first) and one sum sign per index."""

    def _print_Add(self, expr, order=None):
        parts = sorted(expr.args, key=lambda t: (t.could_extract_minus_sign(), t.is_number,
                                                 sp.default_sort_key(t)))
        out = ""
        for k, t in enumerate(parts):
            if t.could_extract_minus_sign():
                out += (" - " if k else "-") + self._print(-t)
            else:
                out += (" + " if k else "") + self._print(t)
        return out

    def _print_Sum(self, expr):
        signs = "".join(rf"\sum_{{{self._print(v)}={self._print(lo)}}}^{{{self._print(hi)}}}"
                        for v, lo, hi in reversed(expr.limits))
        body = self._print(expr.function)
        if isinstance(expr.function, sp.Add):
            body = rf"\left({body}\right)"
        return rf"{signs} {body}"


def tex(e) -> str:
    return _Printer().doprint(e)
