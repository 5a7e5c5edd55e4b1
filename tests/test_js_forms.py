"""The JavaScript forms of the exported formulas, run by node, against SymPy.

Every formula of every export carries ``js``, printed by :mod:`derivations.js`.
Two things are checked:

* the stored string is exactly what the printer prints from the expression the
  safe loader rebuilds from ``srepr`` (so the site, which prints its own at
  build time, shows what is stored, and the stored string is never trusted);
* each formula's JavaScript, evaluated by node at >= 20 random points, equals
  the SymPy expression evaluated in float64 (``lambdify``; for the index forms,
  SymPy's own evaluation after the sums are expanded) to 1e-12 relative. The
  points include ReLU at z = 0 (ReLU'(0) = 0) and max-pool windows with ties
  (the first maximum in row-major order wins), so the printed conventions are
  the ones the exports state.

node is /usr/bin/node (Debian's ``nodejs``). Without it the node test skips and
says so; with CNN_REQUIRE_NODE=1 (CI) it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp

import derivations
from derivations.export import EXPORT_DIR
from derivations.js import js

RTOL = 1e-12
POINTS = 20
NODE = shutil.which("node")


def _require_node():
    if NODE is None:
        message = "node not found (apt-get install nodejs)"
        if os.environ.get("CNN_REQUIRE_NODE") == "1":
            pytest.fail(f"{message} (CNN_REQUIRE_NODE=1: the JavaScript forms must be run)")
        pytest.skip(message)


def _formulas(subject):
    """(case, name, expr, stored js) of every formula of ``subject``."""
    stored = json.loads((EXPORT_DIR / f"{subject}.json").read_text(encoding="utf-8"))
    export = derivations.load(subject)
    for case_name, case in export.cases.items():
        for name, f in case.formulas.items():
            yield case_name, name, f.expr, stored["cases"][case_name]["formulas"][name]["js"]


@pytest.mark.parametrize("subject", derivations.SUBJECTS)
def test_stored_js_is_what_the_printer_prints_from_the_parsed_expression(subject):
    wrong = [f"{case}/{name}" for case, name, expr, stored in _formulas(subject)
             if stored != js(expr)]
    assert not wrong, f"{subject}: stored js differs from derivations.js.js(expr) in {wrong[:5]}"


def test_printer_refuses_sympys_heaviside_half_and_floats():
    z = sp.Symbol("z", real=True)
    with pytest.raises(ValueError, match="Heaviside"):
        js(sp.Heaviside(z))             # SymPy's H(0) = 1/2: not what the code does
    with pytest.raises(ValueError, match="Float"):
        js(sp.Float(0.1) * z)
    with pytest.raises(ValueError, match="final"):
        js(sp.Piecewise((z, z > 0)))    # no value where z <= 0
    assert js(sp.Heaviside(z, 0)) == '(v["z"] > 0 ? 1 : 0)'


# --------------------------------------------------------------------------- points
def _is_index_form(expr) -> bool:
    return bool(expr.atoms(sp.Indexed))


def _tie_values(rng, n):
    return rng.integers(0, 3, n).astype(float)


def _concrete_points(subject, symbols, rng):
    """POINTS dicts {symbol name: float}; ties and z = 0 where the convention matters."""
    points = []
    for k in range(POINTS):
        values = rng.uniform(-1.5, 1.5, len(symbols))
        if subject == "max_pool" and k % 2:
            values = _tie_values(rng, len(symbols))      # every other point has ties
        if subject == "activations" and k < 3:
            values[[s.name for s in symbols].index("z")] = 0.0   # ReLU'(0) = 0
        points.append({s.name: float(v) for s, v in zip(symbols, values)})
    return points


def _sympy_concrete(expr, symbols, points):
    dummies = [sp.Dummy() for _ in symbols]
    f = sp.lambdify(dummies, expr.xreplace(dict(zip(symbols, dummies))), "numpy")
    return [np.asarray(f(*(p[s.name] for s in symbols)), dtype=np.float64) for p in points]


AXIS = 4   # every array of an index form is AXIS long on each axis


def _index_point(expr, rng, ties):
    """Sizes, free indices and arrays for one evaluation of an index form."""
    bound = {lim[0] for s in expr.atoms(sp.Sum) for lim in s.limits}
    point, arrays = {}, {}
    for s in expr.free_symbols:
        if isinstance(s, sp.Symbol) and s.is_integer and s not in bound:
            point[s.name] = int(rng.integers(1, 3) if s.is_positive else rng.integers(0, 2))
    for base in {i.base for i in expr.atoms(sp.Indexed)}:
        rank = next(len(i.indices) for i in expr.atoms(sp.Indexed) if i.base == base)
        shape = (AXIS,) * rank
        values = (rng.integers(0, 3, shape).astype(float) if ties
                  else rng.uniform(-1.5, 1.5, shape))
        arrays[base.label.name] = values
    return point, arrays


def _sympy_index(expr, point, arrays):
    """SymPy's value (sums expanded, the entries substituted exactly, evaluated to 30
    digits), or None if an entry is read outside the arrays (that point is drawn again)."""
    by_name = {s.name: s for s in expr.free_symbols if isinstance(s, sp.Symbol)}
    concrete = expr.xreplace({by_name[n]: sp.Integer(v) for n, v in point.items()}).doit()
    entries = {}
    for e in concrete.atoms(sp.Indexed):
        index = [int(i) if i.is_Integer else -1 for i in e.indices]
        if min(index) < 0 or max(index) >= AXIS:
            return None
        # Exact: the float64 entry as a rational, so that a value that is exactly 0
        # (a tie cancelling, p - y with p = 1) is 0, not SymPy's rounding noise.
        entries[e] = sp.Rational(float(arrays[e.base.label.name][tuple(index)]))
    value = concrete.xreplace(entries)
    return float(sp.N(value, 30)) if value.is_number else None


def _group(case, name):
    """Entries of one gradient share a group: ``dL/dk[0,1]`` is in ``case/dL/dk``."""
    return f"{case}/{name.split('[')[0]}"


def _cases(subject, rng):
    """(group, label, js code, point given to node, point number, SymPy's float64 value)."""
    out = []
    formulas = list(_formulas(subject))
    concrete = {}
    for case, name, expr, _ in formulas:
        if not _is_index_form(expr):
            concrete.setdefault(case, set()).update(expr.free_symbols)
    points = {case: _concrete_points(subject, sorted(symbols, key=str), rng)
              for case, symbols in concrete.items()}   # one set of points per case
    for case, name, expr, _ in formulas:
        code, label = js(expr), f"{subject}/{case}/{name}"
        if not _is_index_form(expr):
            symbols = sorted(expr.free_symbols, key=str)
            for k, (p, expected) in enumerate(zip(points[case],
                                                  _sympy_concrete(expr, symbols, points[case]))):
                out.append((_group(case, name), label, code, p, k, expected))
            continue
        found = 0
        for attempt in range(40 * POINTS):
            point, arrays = _index_point(expr, rng, ties=attempt % 2 == 1)
            expected = _sympy_index(expr, point, arrays)
            if expected is None:
                continue
            out.append((label, label, code, {**point, **{k: a.tolist() for k, a in arrays.items()}},
                        found, np.float64(expected)))
            found += 1
            if found == POINTS:
                break
        assert found == POINTS, f"{label}: only {found} evaluable points"
    return out


# The runner: the code strings are this test's own printer output, never the
# export's stored strings (which the test above only compares).
_RUNNER = r"""
const jobs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = jobs.map(([code, v]) => {
  try { return new Function("v", "return " + code)(v); } catch (e) { return String(e); }
});
process.stdout.write(JSON.stringify(out));
"""


def _run_node(jobs):
    result = subprocess.run([NODE, "-e", _RUNNER], input=json.dumps(jobs), text=True,
                            capture_output=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("subject", derivations.SUBJECTS)
def test_js_forms_equal_sympy_at_random_points(subject):
    """Relative error in the max-norm over one gradient's entries at one point (as
    tests/symbolic.relative_error measures: one near-cancelling entry of dL/dk is
    tiny next to the others, and elementwise would measure float64's cancellation)."""
    _require_node()
    rng = np.random.default_rng(sum(map(ord, subject)))
    cases = _cases(subject, rng)
    got = _run_node([[code, point] for _, _, code, point, _, _ in cases])
    counts, diff, scale = {}, {}, {}
    for (group, label, _, point, k, expected), value in zip(cases, got):
        counts[label] = counts.get(label, 0) + 1
        assert not isinstance(value, str), f"{label}: node raised {value} at {point}"
        actual = np.asarray(value, dtype=np.float64)
        assert actual.shape == expected.shape, f"{label}: shape {actual.shape} != {expected.shape}"
        assert np.all(np.isfinite(actual)) and np.all(np.isfinite(expected)), (label, point)
        diff[group, k] = max(diff.get((group, k), 0.0), float(np.max(np.abs(actual - expected))))
        scale[group, k] = max(scale.get((group, k), 0.0), float(np.max(np.abs(expected))))
    assert min(counts.values()) >= POINTS
    errors = {}
    for key, d in diff.items():
        error = d / scale[key] if scale[key] else d    # 0/0 counts as 0
        errors[key[0]] = max(errors.get(key[0], 0.0), error)
    bad = {group: e for group, e in errors.items() if not e <= RTOL}
    assert not bad, f"{subject}: JavaScript differs from SymPy beyond {RTOL}: {bad}"
