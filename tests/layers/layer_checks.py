"""Helpers shared by the layer tests: the registry, the exports, comparisons.

``LAYERS`` is :data:`cnn.registry.LAYERS`; the functions here turn an entry
into the calls a test makes (a seeded generator per layer and purpose, the
exported formulas of a case against the layer's outputs, index-form formulas
at every index).
"""

from __future__ import annotations

import functools
import re
import zlib

import numpy as np
import pytest
import sympy as sp

import derivations
from cnn.registry import LAYERS, Layer
from symbolic import evaluate, relative_error

#: Evaluation points per exported case, and the tolerance against the export.
POINTS = 50
RTOL = 1e-10

__all__ = ["LAYERS", "Layer", "POINTS", "RTOL", "rng_for", "export", "export_cases",
           "split_name", "compare_case", "stack", "one_hot", "compare_index_case",
           "TORCH_DTYPES", "check_torch", "import_torch", "bad_input_test", "with_value"]


def rng_for(layer: str, purpose: str) -> np.random.Generator:
    """A generator seeded by the layer and the purpose: stable across runs and orders."""
    return np.random.default_rng(zlib.crc32(f"{layer}/{purpose}".encode()))


@functools.lru_cache(maxsize=None)
def export(subject: str):
    return derivations.load(subject)


def export_cases(layer: Layer) -> list[str]:
    """The cases of the layer's subject that its ``from_export`` adapter evaluates."""
    if layer.subject is None:                # a fused helper: its parts are checked
        return []
    cases = export(layer.subject).cases
    return list(layer.export_cases) if layer.export_cases is not None else \
        [name for name in sorted(cases) if name != "index_form"]


def split_name(name: str) -> tuple[str, tuple]:
    """``"dL/dw[0,1,2,0]"`` -> ``("dL/dw", (0, 1, 2, 0))``; ``"L"`` -> ``("L", ())``."""
    m = re.fullmatch(r"(.+?)(?:\[([^\]]*)\])?", name)
    base, index = m.group(1), m.group(2)
    return base, tuple(int(i) for i in index.split(",")) if index else ()


def compare_case(subject: str, case: str, points: dict, numpy_values: dict,
                 *, complete: bool = True) -> set[str]:
    """Every formula of the case whose base name is in ``numpy_values`` against
    ``numpy_values[base][:, index]``, at every point; returns the names compared.

    With ``complete`` a formula with no NumPy counterpart fails: nothing
    exported goes unchecked. (An activation checks only its own formulas of
    the shared case; :func:`test_all_layers.test_every_exported_formula_is_checked`
    checks that together they cover it.)
    """
    c = export(subject).case(case)
    assert c.formulas, f"{subject}/{case} exports no formulas"
    compared = set()
    for name in c.formulas:
        base, index = split_name(name)
        if base not in numpy_values:
            assert not complete, (f"{subject}/{case}: formula {name!r} has no NumPy "
                                  f"counterpart (known: {sorted(numpy_values)})")
            continue
        expected = np.asarray(numpy_values[base], dtype=np.float64)[(slice(None),) + index]
        got = evaluate(c, name, points)
        err = relative_error(got, expected)
        assert err <= RTOL, f"{subject}/{case} {name}: relative error {err:.3g} > {RTOL}"
        compared.add(name)
    return compared


def stack(rows: list[tuple]) -> list[np.ndarray]:
    """Per-point results (tuples of arrays) -> one array per component, points first."""
    return [np.array(col, dtype=np.float64) for col in zip(*rows)]


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


def index_function(expr: sp.Expr, arrays: dict, scalars: dict, free: list[str]):
    """Lambdify an index-form expression: IndexedBase -> array, size -> int,
    free index (given when called) -> int."""
    bases = {b.label.name: b for b in expr.atoms(sp.IndexedBase)}
    syms = {s.name: s for s in expr.free_symbols if isinstance(s, sp.Symbol)}
    names = sorted(set(bases) | set(syms))
    unknown = [n for n in names if n not in arrays and n not in scalars and n not in free]
    assert not unknown, f"no value for {unknown} in {expr}"
    fn = sp.lambdify([bases.get(n, syms.get(n)) for n in names], expr, modules="numpy")
    return lambda **extra: fn(*({**arrays, **scalars, **extra}[n] for n in names))


def compare_index_case(subject: str, arrays: dict, sizes: dict, numpy_values: dict) -> None:
    """Each index-form formula at every index of the matching NumPy array."""
    case = export(subject).case("index_form")
    for name, formula in case.formulas.items():
        base, _, idx = name.partition("[")
        idx_names = idx.rstrip("]").split(",") if idx else []
        expected = np.asarray(numpy_values[base], dtype=np.float64)
        assert expected.ndim == len(idx_names), (name, expected.shape)
        fn = index_function(formula.expr, arrays, sizes, idx_names)
        for index in np.ndindex(expected.shape):
            got = float(fn(**dict(zip(idx_names, index))))
            err = relative_error(got, expected[index])
            assert err <= RTOL, f"{subject}/index_form {name} at {index} with sizes " \
                                f"{sizes}: relative error {err:.3g} > {RTOL}"


# ----------------------------------------------------------------------------- PyTorch

#: dtype -> (NumPy dtype, tolerance against PyTorch): float64 tight, float32 its rounding.
TORCH_DTYPES = {"float64": (np.float64, 1e-12), "float32": (np.float32, 1e-5)}


def check_torch(ours, theirs, rtol: float, what: str) -> None:
    """``ours`` (NumPy) equals the tensor ``theirs`` in dtype, shape and to ``rtol``."""
    theirs = theirs.detach().numpy()
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} vs torch {theirs.dtype}"
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    scale = max(float(np.abs(theirs).max()), 1e-30)
    err = float(np.abs(ours - theirs).max()) / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol}"


# ----------------------------------------------------------------------------- bad input

def bad_input_test(table: dict):
    """A test over ``table``: name -> (call, exception type, regex for its message)."""

    @pytest.mark.filterwarnings("error")   # a bad input gets an error, not a warning and a wrong answer
    @pytest.mark.parametrize("case", sorted(table))
    def test_bad_input_gets_a_clear_error(case):
        call, error, message = table[case]
        with pytest.raises(error, match=message):
            call()
    return test_bad_input_gets_a_clear_error


def with_value(array, index, value):
    """A float64 copy of ``array`` with ``array[index] = value``."""
    out = np.array(array, dtype=float)
    out[index] = value
    return out


def import_torch():
    """PyTorch; the calling test is skipped, with the reason shown by ``pytest -ra``,
    when it is not installed."""
    return pytest.importorskip(
        "torch", reason="PyTorch is not installed: the comparison with torch.nn.functional "
                        "needs `pip install torch==2.13.0` (CPU build)")
