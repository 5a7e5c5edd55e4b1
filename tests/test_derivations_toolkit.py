"""``derivations.toolkit``: the shared 2-D operations agree with SciPy/NumPy on numbers,
the symbol arrays are named as the exports expect, and a subject's ``main`` derives
with what the module holds when it is called."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
from scipy import signal

from derivations import export, l2_loss, toolkit
from derivations.proof import Proof


def matrix(a) -> sp.Matrix:
    return sp.Matrix(np.asarray(a).tolist())


def array(m: sp.Matrix) -> np.ndarray:
    return np.array(m.tolist(), dtype=float)


@pytest.mark.parametrize("shape, kernel", [((4, 5), (2, 3)), ((3, 3), (3, 3)), ((5, 4), (1, 2))])
def test_correlate_and_convolve_are_scipys(shape, kernel):
    rng = np.random.default_rng(sum(shape) * 10 + sum(kernel))
    x, k = rng.integers(-4, 5, shape), rng.integers(-4, 5, kernel)
    X, K = matrix(x), matrix(k)
    assert np.array_equal(array(toolkit.correlate(X, K)), signal.correlate2d(x, k, "valid"))
    assert np.array_equal(array(toolkit.convolve(X, K)), signal.convolve2d(x, k, "valid"))
    assert np.array_equal(array(toolkit.full_correlate(X, K)), signal.correlate2d(x, k, "full"))
    assert np.array_equal(array(toolkit.full_convolve(X, K)), signal.convolve2d(x, k, "full"))
    for s in (2, 3):   # a strided correlation keeps every s-th window of the stride-1 one
        assert np.array_equal(array(toolkit.correlate(X, K, s)),
                              signal.correlate2d(x, k, "valid")[::s, ::s])


def test_pad_dilate_rot180_crop():
    x = np.arange(6).reshape(2, 3)
    X = matrix(x)
    assert np.array_equal(array(toolkit.pad(X, 1)), np.pad(x, 1))
    assert np.array_equal(array(toolkit.pad(X, 0, 2, 1, 0)), np.pad(x, ((0, 2), (1, 0))))
    dilated = np.zeros((3, 5))
    dilated[::2, ::2] = x
    assert np.array_equal(array(toolkit.dilate(X, 2)), dilated)
    assert toolkit.dilate(X, 1) == X
    assert np.array_equal(array(toolkit.rot180(X)), np.rot90(x, 2))
    assert np.array_equal(array(toolkit.crop(toolkit.pad(X, 2), 2, 2, 2, 3)), x)


def test_symbol_arrays_are_named_entry_by_entry():
    x = toolkit.symbol_array("x", 1, 2, 2, 3)
    assert export.names(x)[0][1][1] == ["x_{0,1,1,0}", "x_{0,1,1,1}", "x_{0,1,1,2}"]
    assert toolkit.symbol_array("b", 2) == [sp.Symbol("b_{0}", real=True),
                                           sp.Symbol("b_{1}", real=True)]
    w = toolkit.symbol_matrix("w", 2, 2, 3, 1)
    assert w.shape == (2, 2) and w[1, 0] == sp.Symbol("w_{3,1,1,0}", real=True)
    assert toolkit.partial(w[0, 0]) == r"\frac{\partial L}{\partial w_{3,1,0,0}}"
    assert toolkit.partial(w[0, 0], of="y") == r"\frac{\partial y}{\partial w_{3,1,0,0}}"


def test_a_subjects_main_derives_with_what_the_module_holds_when_called(monkeypatch, tmp_path):
    fact = export.fact("replaced", proof=Proof.of(ran=True), check="c", sizes=None)
    monkeypatch.setattr(l2_loss, "derive", lambda: export.document(
        title="replaced", source="none", cases={}, facts={"f": fact}))
    path = l2_loss.main(tmp_path)
    assert path == tmp_path / "l2_loss.json"
    written = json.loads(path.read_text())
    assert written["title"] == "replaced" and written["facts"]["f"]["holds"] is True


def test_a_case_takes_only_formula_records():
    f = export.formula(sp.Symbol("x"), "y")
    assert export.case({"n": 1}, {"x": "x"}, {"y": f})["formulas"] == {"y": f}
    with pytest.raises(TypeError, match="formula 'y' is not an export.formula record"):
        export.case({}, {}, {"y": {"latex": "x"}})
