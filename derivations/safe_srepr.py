"""Rebuild a SymPy expression from its ``srepr`` without running any code.

``sympy.sympify`` turns an ``srepr`` string back into an expression by
``eval``-ing it, so a crafted export file could run arbitrary Python
(``__import__('os').system(...)``); the file's ``content_sha256`` only detects
accidental edits, since anyone can recompute it. :func:`parse_srepr` never
evaluates the text: it parses it with :mod:`ast` and walks the tree, accepting

* calls of a plain name from :data:`NODES` (the SymPy classes ``srepr`` prints
  for what the derivations export, and their obvious relatives);
* the bare constants in :data:`CONSTANTS` (``pi``, ``oo``, ``true``, ...);
* int / float / bool / None literals, a unary minus or plus on a number or a
  constant, lists and tuples of accepted values;
* a string literal only where ``srepr`` prints one: the name of a ``Symbol`` or
  ``Dummy`` and the digits of a ``Float``. Anywhere else SymPy itself would
  ``sympify`` (``eval``) the string: ``exp("__import__('os')...")`` runs code;
* keywords only from the node's own allow-list: the assumptions
  (:data:`ASSUMPTIONS`) for ``Symbol``/``Dummy``, ``dummy_index`` for ``Dummy``,
  ``precision`` for ``Float``, ``evaluate`` for the operators and functions.

Everything else (attribute access, subscripts, operators, lambdas,
comprehensions, unknown or computed callees, ``*args``/``**kwargs``, dunder
strings) raises :class:`~derivations.export.ExportError` naming the formula and
the construct. The input is bounded so that a hostile file cannot exhaust
memory or the stack: :data:`MAX_SREPR_CHARS`, :data:`MAX_DEPTH` of bracket
nesting, and :data:`MAX_NUMBER_BITS` for any exact number, literal or computed
(a ``Pow`` whose exact result would be larger is refused before SymPy
computes it).

The accepted nodes are called exactly as ``sympify`` would call them (int
literals become ``Integer``, float literals ``Float`` of their digits, global
``evaluate`` applies), so ``sp.srepr(parse_srepr(s)) == s`` for every
committed formula (``tests/test_export_safety.py`` checks it).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Callable

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from .loader import ExportError

#: Longest ``srepr`` accepted: about 20x the largest committed formula (15,698 characters
#: when this was written; tests/test_export_safety.py keeps a 5x margin).
MAX_SREPR_CHARS = 320_000
#: Deepest bracket nesting accepted (the committed formulas nest 13 deep at most; Python's
#: parser itself stops at 200).
MAX_DEPTH = 100
#: Largest exact number (numerator plus denominator bits) a formula may contain or compute.
MAX_NUMBER_BITS = 16_384
#: Longest ``Symbol``/``Dummy`` name and ``Float`` digit string accepted.
MAX_STRING_CHARS = 1_000
#: Largest ``Float`` precision accepted, in bits (``srepr`` prints 53 for a double).
MAX_PRECISION = 16_384

#: Assumption keywords accepted by ``Symbol`` and ``Dummy`` (values must be True/False/None).
ASSUMPTIONS = frozenset({
    "algebraic", "antihermitian", "commutative", "complex", "composite", "even",
    "extended_negative", "extended_nonnegative", "extended_nonpositive", "extended_nonzero",
    "extended_positive", "extended_real", "finite", "hermitian", "imaginary", "infinite",
    "integer", "irrational", "negative", "noninteger", "nonnegative", "nonpositive",
    "nonzero", "odd", "positive", "prime", "rational", "real", "transcendental", "zero",
})


@dataclass(frozen=True)
class Node:
    """How one allowed name may be called."""

    build: Callable[..., Any]
    #: keyword names accepted (besides none at all)
    keywords: frozenset[str] = frozenset({"evaluate"})
    #: (fewest, most) positional arguments; ``None``: any number
    arity: tuple[int, int | None] = (0, None)
    #: what the first positional argument must be a string literal for, if anything
    string_first: str = ""


_NAME = "the name of a Symbol or Dummy"
_DIGITS = "the digits of a Float"

#: Every name a formula may call: what ``sp.srepr`` prints for the exported
#: expressions (scanned from ``derivations/exported/*.json``) and their relatives.
NODES: dict[str, Node] = {
    # atoms and numbers
    "Symbol": Node(sp.Symbol, ASSUMPTIONS, (1, 1), _NAME),
    "Dummy": Node(sp.Dummy, ASSUMPTIONS | {"dummy_index"}, (1, 1), _NAME),
    "Integer": Node(sp.Integer, frozenset(), (1, 1)),
    "Rational": Node(sp.Rational, frozenset(), (1, 2)),
    "Float": Node(sp.Float, frozenset({"precision"}), (1, 1), _DIGITS),
    # arithmetic
    "Add": Node(sp.Add),
    "Mul": Node(sp.Mul),
    "Pow": Node(sp.Pow, arity=(2, 2)),
    # functions
    "exp": Node(sp.exp, arity=(1, 1)),
    "log": Node(sp.log, arity=(1, 2)),
    "tanh": Node(sp.tanh, arity=(1, 1)),
    "sinh": Node(sp.sinh, arity=(1, 1)),
    "cosh": Node(sp.cosh, arity=(1, 1)),
    "atan": Node(sp.atan, arity=(1, 1)),
    "Abs": Node(sp.Abs, arity=(1, 1)),
    "sign": Node(sp.sign, arity=(1, 1)),
    "Max": Node(sp.Max),
    "Min": Node(sp.Min),
    "Heaviside": Node(sp.Heaviside, arity=(1, 2)),
    "DiracDelta": Node(sp.DiracDelta, arity=(1, 2)),
    "KroneckerDelta": Node(sp.KroneckerDelta, arity=(2, 3)),
    "Piecewise": Node(sp.Piecewise),
    "ExprCondPair": Node(ExprCondPair, frozenset(), (2, 2)),
    # relations and logic (srepr prints Eq, Ne, Lt, Le, Gt, Ge under these names)
    "Equality": Node(sp.Equality, arity=(2, 2)),
    "Unequality": Node(sp.Unequality, arity=(2, 2)),
    "StrictLessThan": Node(sp.StrictLessThan, arity=(2, 2)),
    "LessThan": Node(sp.LessThan, arity=(2, 2)),
    "StrictGreaterThan": Node(sp.StrictGreaterThan, arity=(2, 2)),
    "GreaterThan": Node(sp.GreaterThan, arity=(2, 2)),
    "And": Node(sp.And),
    "Or": Node(sp.Or),
    "Not": Node(sp.Not, arity=(1, 1)),
    # containers, indexed objects and sums
    "Tuple": Node(sp.Tuple, frozenset()),
    "Indexed": Node(sp.Indexed, frozenset(), (1, None)),
    "IndexedBase": Node(sp.IndexedBase, frozenset(), (1, 2)),
    "Idx": Node(sp.Idx, frozenset(), (1, 2)),
    "Sum": Node(sp.Sum, frozenset(), (1, None)),
    "MutableDenseMatrix": Node(sp.MutableDenseMatrix, frozenset(), (1, 1)),
    "ImmutableDenseMatrix": Node(sp.ImmutableDenseMatrix, frozenset(), (1, 1)),
    # what the step-by-step chains (derivations.steps) print: products of
    # matrices shown unevaluated, index ranges with floor/ceiling
    "MatMul": Node(sp.MatMul),
    "MatAdd": Node(sp.MatAdd),
    "Transpose": Node(sp.Transpose, frozenset(), (1, 1)),
    "HadamardProduct": Node(sp.HadamardProduct),
    "floor": Node(sp.floor, arity=(1, 1)),
    "ceiling": Node(sp.ceiling, arity=(1, 1)),
    "Mod": Node(sp.Mod, arity=(2, 2)),
}

#: Bare names a formula may use (``srepr`` prints these singletons by name).
CONSTANTS: dict[str, sp.Basic] = {
    "pi": sp.pi, "E": sp.E, "I": sp.I, "oo": sp.oo, "zoo": sp.zoo, "nan": sp.nan,
    "true": sp.true, "false": sp.false,
}

#: Integer keywords: (lowest, highest) value accepted.
_INT_KEYWORDS = {"precision": (1, MAX_PRECISION), "dummy_index": (0, 2 ** 63)}
_NOT_A_LITERAL = object()
_STRING = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\"""")
_BRACKET = re.compile(r"[][(){}]")
_FLOAT_DIGITS = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,6})?")
_KINDS = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression", ast.BinOp: "operator", ast.BoolOp: "operator",
    ast.Compare: "comparison", ast.IfExp: "conditional expression", ast.NamedExpr: "assignment",
    ast.Starred: "starred argument", ast.Dict: "dict literal", ast.Set: "set literal",
    ast.JoinedStr: "f-string", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}


def parse_srepr(text: str, *, formula: str = "?") -> Any:
    """The SymPy object ``text`` (an ``srepr``) describes, built without ``eval``.

    ``formula`` names the formula in error messages. Raises
    :class:`~derivations.export.ExportError` for anything not on the allow-lists.
    """
    where = f"formula {formula!r}"
    if not isinstance(text, str):
        raise ExportError(f"{where}: srepr should be str, got {type(text).__name__}")
    if len(text) > MAX_SREPR_CHARS:
        raise ExportError(f"{where}: srepr is {len(text):,} characters long; the limit is "
                          f"{MAX_SREPR_CHARS:,} (derivations.safe_srepr.MAX_SREPR_CHARS)")
    depth = _bracket_depth(text)
    if depth > MAX_DEPTH:
        raise ExportError(f"{where}: srepr nests brackets {depth} deep; the limit is "
                          f"{MAX_DEPTH} (derivations.safe_srepr.MAX_DEPTH)")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise ExportError(f"{where}: its srepr does not parse back into a SymPy expression "
                          f"({exc})") from exc
    except (RecursionError, MemoryError) as exc:   # the parser's stack: nesting without brackets
        raise ExportError(f"{where}: srepr is nested too deeply for the parser; the limit is "
                          f"{MAX_DEPTH} levels") from exc
    result = _Builder(text, where).build(tree.body, 0)
    if not isinstance(result, (sp.Basic, sp.MatrixBase)):
        raise ExportError(f"{where}: srepr describes a {type(result).__name__}, "
                          f"not a SymPy expression")
    return result


def _bracket_depth(text: str) -> int:
    """Deepest nesting of ``()[]{}`` outside string literals."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("''", text)):
        if match.group() in "([{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _bits(number: sp.Rational) -> int:
    return int(number.p).bit_length() + int(number.q).bit_length()


class _Builder:
    def __init__(self, text: str, where: str):
        self.text, self.where = text, where

    def refuse(self, what: str, node: ast.AST | None = None) -> ExportError:
        if node is not None:
            snippet = ast.get_source_segment(self.text, node) or ast.dump(node)
            if len(snippet) > 80:
                snippet = snippet[:77] + "..."
            what += f" `{snippet}` (at column {node.col_offset + 1})"
        return ExportError(f"{self.where}: srepr refused: {what}. Only calls of the SymPy "
                           f"classes in derivations.safe_srepr.NODES on literals are accepted "
                           f"(an export written by the derivations holds nothing else)")

    def build(self, node: ast.AST, depth: int, string_for: str = "") -> Any:
        if depth > MAX_DEPTH:       # cannot happen after _bracket_depth; kept as a backstop
            raise ExportError(f"{self.where}: srepr nests deeper than {MAX_DEPTH}")
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Constant):
            return self.constant(node, string_for)
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in NODES:
                raise self.refuse(f"bare class name `{node.id}` (only a call of it)", node)
            raise self.refuse(f"name `{node.id}`, which is not an allowed SymPy constant", node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = node.operand
            if not (isinstance(operand, ast.Constant) and type(operand.value) in (int, float)
                    or isinstance(operand, ast.Name) and operand.id in CONSTANTS):
                raise self.refuse("unary minus or plus on something other than a number", node)
            value = self.build(operand, depth + 1)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.build(item, depth + 1) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        kind = _KINDS.get(type(node), f"{type(node).__name__} expression")
        raise self.refuse(kind, node)

    def constant(self, node: ast.Constant, string_for: str) -> Any:
        value = node.value
        if value is None or isinstance(value, bool):
            return value
        if type(value) is int:
            if value.bit_length() > MAX_NUMBER_BITS:
                raise self.refuse(f"an integer of {value.bit_length():,} bits (the limit is "
                                  f"{MAX_NUMBER_BITS:,})")
            return sp.Integer(value)
        if type(value) is float:    # as sympify's auto_number: a Float of the literal's digits
            return sp.Float(ast.get_source_segment(self.text, node) or repr(value))
        if isinstance(value, str):
            if not string_for:
                raise self.refuse(f"a string literal here (strings are accepted only as "
                                  f"{_NAME} and {_DIGITS}; elsewhere SymPy would sympify "
                                  f"them)", node)
            if len(value) > MAX_STRING_CHARS:
                raise self.refuse(f"a string of {len(value):,} characters as {string_for} "
                                  f"(the limit is {MAX_STRING_CHARS:,})")
            if "__" in value:
                raise self.refuse(f"a string with a double underscore as {string_for}", node)
            if not value.isprintable():
                raise self.refuse(f"a string with unprintable characters as {string_for}", node)
            if string_for == _DIGITS and not _FLOAT_DIGITS.fullmatch(value):
                raise self.refuse(f"a string that is not a decimal number as {string_for}", node)
            return value
        raise self.refuse(f"a {type(value).__name__} literal", node)

    def call(self, node: ast.Call, depth: int) -> Any:
        func = node.func
        if not isinstance(func, ast.Name):
            kind = _KINDS.get(type(func), f"{type(func).__name__} expression")
            raise self.refuse(f"call of a computed callee ({kind}), not of a plain name", func)
        spec = NODES.get(func.id)
        if spec is None:
            raise self.refuse(f"call of `{func.id}`, which is not an allowed SymPy node class",
                              node)
        fewest, most = spec.arity
        if not fewest <= len(node.args) <= (len(node.args) if most is None else most):
            count = (f"{fewest}" if fewest == most
                     else f"{fewest} to {'any number' if most is None else most}")
            raise self.refuse(f"{func.id} with {len(node.args)} positional arguments "
                              f"(it takes {count})", node)
        args = []
        for position, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred):
                raise self.refuse(f"starred argument of {func.id}", arg)
            wants_string = spec.string_first if position == 0 else ""
            if wants_string and not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise self.refuse(f"{func.id} whose first argument is not a string literal "
                                  f"({wants_string})", node)
            args.append(self.build(arg, depth + 1, wants_string))
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.refuse(f"`**` keyword unpacking in {func.id}", keyword.value)
            if keyword.arg not in spec.keywords:
                allowed = sorted(spec.keywords) if len(spec.keywords) < 5 else "the assumptions"
                raise self.refuse(f"keyword `{keyword.arg}=` for {func.id} (it accepts "
                                  f"{allowed or 'none'})", node)
            kwargs[keyword.arg] = self.keyword(func.id, keyword)
        self.check_size(func.id, args, node)
        try:
            result = spec.build(*args, **kwargs)
        except (RecursionError, MemoryError) as exc:
            raise ExportError(f"{self.where}: srepr is too large to build ({func.id})") from exc
        except Exception as exc:    # whatever the constructor rejects, as sympify would
            raise ExportError(f"{self.where}: its srepr does not parse back into a SymPy "
                              f"expression ({func.id}(...) failed: "
                              f"{type(exc).__name__}: {exc})") from exc
        if isinstance(result, sp.Rational) and _bits(result) > MAX_NUMBER_BITS:
            raise self.refuse(f"{func.id} giving a number of {_bits(result):,} bits (the limit "
                              f"is {MAX_NUMBER_BITS:,})", node)
        return result

    def keyword(self, func: str, keyword: ast.keyword) -> Any:
        node, name = keyword.value, keyword.arg
        value = node.value if isinstance(node, ast.Constant) else _NOT_A_LITERAL
        if name in _INT_KEYWORDS:
            low, high = _INT_KEYWORDS[name]
            if type(value) is not int or not low <= value <= high:
                raise self.refuse(f"{func}({name}=...) that is not an integer literal in "
                                  f"[{low}, {high}]", node)
            return value
        if value is not None and not isinstance(value, bool):
            raise self.refuse(f"{func}({name}=...) that is not True, False or None", node)
        return value

    def check_size(self, func: str, args: list[Any], node: ast.Call) -> None:
        """Refuse a ``Pow`` whose exact result would exceed :data:`MAX_NUMBER_BITS`.

        SymPy computes ``Integer ** Integer`` (also inside a ``Mul`` or ``Pow``
        base: ``(2*x)**n`` is ``2**n * x**n``) exactly and at once; sums and
        products only add up the sizes already in the text.
        """
        if func != "Pow" or len(args) != 2:
            return
        base, exponent = args
        if not isinstance(exponent, sp.Rational) or not isinstance(base, sp.Basic):
            return
        numbers = [base] if isinstance(base, sp.Rational) else base.atoms(sp.Rational)
        size = max((max(int(n.p).bit_length(), int(n.q).bit_length()) for n in numbers
                    if abs(n.p) > 1 or n.q > 1), default=0)
        if size and abs(int(exponent.p)) * size > MAX_NUMBER_BITS * int(exponent.q):
            need = abs(int(exponent.p)) * size // int(exponent.q)
            raise self.refuse(f"Pow whose exact value would need about {need:,} bits (the "
                              f"limit is {MAX_NUMBER_BITS:,})", node)
