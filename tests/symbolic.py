"""Evaluate exported SymPy formulas on NumPy arrays (the test side of the loop)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from derivations import Case


def bind(case: Case, arrays: dict[str, np.ndarray]) -> tuple[list[sp.Symbol], list[np.ndarray]]:
    """Line up the symbols of ``case.variables`` with the entries of ``arrays``.

    ``arrays[name]`` has a leading axis of evaluation points followed by the
    shape of the variable (a scalar variable is just the points axis).
    Returns the symbols and, for each, its values across the points.
    """
    symbols, values = [], []
    for name, array in arrays.items():
        names = np.array(case.variables[name], dtype=object)
        array = np.asarray(array, dtype=np.float64)
        if array.shape[1:] != names.shape:
            raise ValueError(f"variable {name!r}: array shape {array.shape[1:]} per point, "
                             f"export has {names.shape}")
        for index in np.ndindex(names.shape):
            symbols.append(sp.Symbol(names[index], real=True))
            values.append(array[(slice(None),) + index])
    return symbols, values


def evaluate(case: Case, formula_name: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Value of one exported formula at every point, shape (points,)."""
    expr = case.formulas[formula_name].expr
    symbols, values = bind(case, arrays)
    missing = expr.free_symbols - set(symbols)
    if missing:
        raise ValueError(f"formula {formula_name!r} needs {sorted(map(str, missing))}, "
                         f"not given in {sorted(arrays)}")
    # Symbols such as x_{0,1} are not Python identifiers; lambdify would
    # "dummify" them itself, which is ~30x slower on large expressions.
    safe = [sp.Symbol(f"v{i}", real=True) for i in range(len(symbols))]
    fn = sp.lambdify(safe, expr.xreplace(dict(zip(symbols, safe))), modules="numpy")
    points = len(values[0])
    return np.broadcast_to(np.asarray(fn(*values), dtype=np.float64), (points,))


def relative_error(actual: np.ndarray, expected: np.ndarray, axis=None) -> float:
    """Largest norm-wise relative error ``max|actual - expected| / max|expected|``.

    With ``axis`` (e.g. the entries of one gradient at one point), the norms
    are taken over those axes and the worst point is returned. A gradient is a
    vector: one entry that is a near-cancelling sum can be tiny next to the
    others, and measuring it elementwise would measure float64's cancellation
    error, not a mistake in either formula. 0/0 counts as 0.
    """
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    diff = np.max(np.abs(actual - expected), axis=axis)
    scale = np.max(np.abs(expected), axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(diff == 0, 0.0, diff / scale)
    return float(np.max(err))
