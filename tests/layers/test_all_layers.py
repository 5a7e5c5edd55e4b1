"""Every layer of the registry (:data:`cnn.registry.LAYERS`) through the same checks.

* its export: every formula of its cases, lambdified, at 50 random generic
  float64 points, against the layer's outputs, relative error <= 1e-10;
* central differences over random shapes drawn by Hypothesis (100 per layer),
  values away from kinks and ties, relative error <= 1e-7;
* the plain-loop reference (:mod:`cnn.reference`) on fixed shapes, <= 1e-12;
* dtypes: float32 in, float32 out (float64 likewise), integers promoted;
* bad input: NaN or float16 in any float argument is refused, naming it.

A new registry entry runs through all of these by itself; a public layer
function that is not in the registry fails
:func:`test_every_public_layer_function_is_registered`. What is special to
one layer (ties, the tie rule, saturation, index-form exports, composite
cases) is in ``tests/layers/test_<layer>.py``; PyTorch in ``test_torch.py``;
hostile array-likes in ``test_inputs.py``.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnn
import derivations
from cnn.activations import Activation
from float32_trace import assert_float32_only
from gradcheck import numerical_gradient, relative_error
from layer_checks import LAYERS, POINTS, compare_case, export, export_cases, rng_for

GRAD_TOL = 1e-7
LOOP_TOL = 1e-12

#: Exported cases no registry adapter evaluates, and the test that checks them.
OTHER_CASES = {
    ("dense_softmax", "dense_softmax_N2_in2_K3"):
        "test_softmax_cross_entropy.py::test_dense_softmax_per_weight_matches_exports",
    ("dense_softmax", "seed003_column"):
        "test_softmax_cross_entropy.py::test_seed003_column_deltas_are_n_times_library_transposed",
    ("dense_softmax", "index_form"): "test_softmax_cross_entropy.py::test_dense_softmax_index_form",
    ("l2_loss", "index_form"): "test_l2_loss.py::test_l2_loss_index_form",
}


def _ids(pairs):
    return [pytest.param(*p, id="-".join(map(str, p))) for p in pairs]


def _config_params(with_reference=False):
    return [pytest.param(name, k, id=f"{name}-{c.id}") for name, layer in sorted(LAYERS.items())
            if layer.reference or not with_reference for k, c in enumerate(layer.configs)]


def _variable_shapes(case) -> dict:
    return {v: np.array(names, dtype=object).shape for v, names in case.variables.items()}


def _float_args(layer, arrays) -> list[str]:
    return [n for n in arrays if n not in layer.labels]


def _call_all(layer, arrays, hyper, *, loops=False) -> dict:
    """Every output of the forward and backward functions (and f'), by name."""
    out = layer.run(arrays, hyper, loops=loops)
    results = dict(enumerate(out if isinstance(out, tuple) else (out,)))
    if layer.backward is not None:                   # a generic upstream gradient, the same every call
        dy = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
        results.update(layer.gradients(dy, arrays, hyper, loops=loops))
    if layer.derivative is not None and not loops:
        results["derivative"] = layer.derivative(*(arrays[n] for n in layer.inputs))
    return results


# ----------------------------------------------------------------------------- the registry

def test_every_public_layer_function_is_registered():
    """Each public function that validates at the layer boundary (``@checked``), every
    function of a module a registered layer lives in, and every activation has an entry."""
    registered = {layer.name for layer in LAYERS.values()} | \
        {layer.backward_name for layer in LAYERS.values() if layer.backward_name}
    modules = {layer.forward.__module__ for layer in LAYERS.values()
               if inspect.isfunction(layer.forward)}
    public = set()
    for name in cnn.__all__:
        obj = getattr(cnn, name)
        if isinstance(obj, Activation):
            public |= {obj.name, f"{obj.name}.backward"}
        elif inspect.isfunction(obj) and (hasattr(obj, "__wrapped__") or obj.__module__ in modules):
            public.add(name)
    public |= {act.name for act in cnn.ACTIVATIONS.values()}
    assert public - registered == set(), "public layer functions without a registry entry"
    for layer in LAYERS.values():
        assert getattr(cnn, layer.name) is layer.forward, layer.name
        if layer.backward is not None and layer.backward_name.endswith("_backward"):
            assert getattr(cnn, layer.backward_name) is layer.backward, layer.backward_name


def test_every_layer_has_a_derivation_and_a_reference_or_a_reason():
    for layer in LAYERS.values():
        assert layer.configs and set(layer.wrt) <= set(layer.inputs), layer.name
        if layer.composes:                   # a fused helper: the math of its parts
            assert layer.subject is None and set(layer.composes) <= set(LAYERS), layer.name
            continue
        assert layer.subject in derivations.SUBJECTS, (layer.name, layer.subject)
        assert export_cases(layer), f"{layer.name}: no exported case to check against"
    # Loops would only restate one NumPy expression per element: the elementwise
    # activations and l2_loss are checked against the export and PyTorch instead.
    assert {n for n, layer in LAYERS.items() if layer.reference is None and not layer.composes} \
        == {"l2_loss", *cnn.ACTIVATIONS}


@pytest.mark.parametrize("name, k", [pytest.param(n, k, id=f"{n}-{c.id}")
                                     for n, layer in sorted(LAYERS.items()) if layer.composes
                                     for k, c in enumerate(layer.configs)])
@pytest.mark.parametrize("values", ["generic", "ties and negatives"])
def test_fused_helper_equals_its_composition(name, k, values):
    """Forward and backward bit for bit equal to its parts applied in turn (the
    chain rule through each part's own backward), also on ties and at 0."""
    layer = LAYERS[name]
    config = layer.configs[k]
    rng = rng_for(name, f"fused{k}")
    x = (rng.standard_normal(config.shapes["x"]) if values == "generic"
         else rng.integers(-2, 3, config.shapes["x"]).astype(np.float64))
    parts = [LAYERS[p] for p in layer.composes]
    inputs, out = [], x
    for part in parts:
        hyper = {k_: v for k_, v in config.hyper.items() if k_ in part.configs[0].hyper}
        inputs.append((part, out, hyper))
        out = part.run({part.inputs[0]: out}, hyper)
    np.testing.assert_array_equal(layer.run({"x": x}, config.hyper), out)
    dy = rng.standard_normal(out.shape)
    grad = dy
    for part, value, hyper in reversed(inputs):
        grad = part.gradients(grad, {part.inputs[0]: value}, hyper)[part.wrt[0]]
    np.testing.assert_array_equal(layer.gradients(dy, {"x": x}, config.hyper)["x"], grad)


def test_every_exported_formula_is_checked():
    """Each case of each subject a layer names is evaluated by an adapter (every one of
    its formulas by at least one layer) or by a named test of its own."""
    claimed = {}
    for layer in LAYERS.values():
        for case in export_cases(layer):
            claimed.setdefault((layer.subject, case), []).append(layer)
    for subject in {layer.subject for layer in LAYERS.values()} - {None}:
        for case in export(subject).cases:
            if (subject, case) in OTHER_CASES:
                continue
            assert (subject, case) in claimed, f"{subject}/{case}: no layer checks it"
            c = export(subject).case(case)
            rng = rng_for(subject, case)
            names = set()
            for layer in claimed[subject, case]:
                points = layer.export_points(rng, _variable_shapes(c), 1)
                names |= set(layer.from_export({k: v[0] for k, v in points.items()}, c.parameters))
            bases = {name.split("[")[0] for name in c.formulas}
            assert bases <= names, f"{subject}/{case}: {sorted(bases - names)} unchecked"


# ----------------------------------------------------------------------------- the exports

@pytest.mark.parametrize("name, case", _ids([(n, c) for n, layer in sorted(LAYERS.items())
                                             for c in export_cases(layer)]))
def test_layer_matches_its_export(name, case):
    layer = LAYERS[name]
    c = export(layer.subject).case(case)
    points = layer.export_points(rng_for(name, case), _variable_shapes(c), POINTS)
    rows = [layer.from_export({k: v[p] for k, v in points.items()}, c.parameters)
            for p in range(POINTS)]
    values = {k: np.array([row[k] for row in rows], dtype=np.float64) for k in rows[0]}
    shared = sum(case in export_cases(other) for other in LAYERS.values()
                 if other.subject == layer.subject) > 1
    compared = compare_case(layer.subject, case, points, values, complete=not shared)
    assert {n.split("[")[0] for n in compared} == set(values), f"{name}: an output unexported"


# ----------------------------------------------------------------------------- central differences

def _hypothesis_draw(data):
    def draw(lo, hi):
        return data.draw(st.integers(lo, hi) if isinstance(lo, int) else st.floats(lo, hi))
    return draw


@pytest.mark.parametrize("name", sorted(LAYERS))
@settings(max_examples=100, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_backward_matches_central_differences(name, data, seed):
    layer = LAYERS[name]
    config = layer.draw(_hypothesis_draw(data))
    rng = np.random.default_rng(seed)
    arrays = layer.values(rng, config)
    out = layer.run(arrays, config.hyper)
    dy = None if layer.backward is None else rng.standard_normal(np.shape(out))
    grads = layer.gradients(dy, arrays, config.hyper)

    def loss(arg, v):
        out = layer.run({**arrays, arg: v}, config.hyper)
        return out[0] if layer.backward is None else np.sum(out * dy)

    for arg in layer.wrt:
        numeric = numerical_gradient(lambda v: loss(arg, v), arrays[arg])
        err = relative_error(grads[arg], numeric)
        assert err <= GRAD_TOL, f"{name} d{arg} at {config.id}: relative error {err:.3g}"


# ----------------------------------------------------------------------------- the loops

@pytest.mark.parametrize("name, k", _config_params(with_reference=True))
def test_layer_matches_its_loop_reference(name, k):
    layer = LAYERS[name]
    config = layer.configs[k]
    arrays = layer.values(rng_for(name, f"loops{k}"), config)
    fast = _call_all(layer, arrays, config.hyper)
    fast.pop("derivative", None)
    loops = _call_all(layer, arrays, config.hyper, loops=True)
    assert fast.keys() == loops.keys()
    for what, value in fast.items():
        value, want = np.asarray(value), np.asarray(loops[what])
        assert value.shape == want.shape and value.dtype == want.dtype, (what, value.shape)
        err = relative_error(value, want)
        assert err <= LOOP_TOL, f"{name} {what}: relative error {err:.3g} > {LOOP_TOL}"


# ----------------------------------------------------------------------------- dtypes

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_function_keeps_the_float_dtype(name, dtype):
    layer = LAYERS[name]
    config = layer.configs[0]
    arrays = {n: v if n in layer.labels else (v * 3).astype(dtype)
              for n, v in layer.values(rng_for(name, "dtype"), config).items()}
    for loops in (False, True) if layer.reference else (False,):
        for what, out in _call_all(layer, arrays, config.hyper, loops=loops).items():
            assert np.asarray(out).dtype == dtype, (name, what, loops, np.asarray(out).dtype)


@pytest.mark.parametrize("name, loops", [
    pytest.param(n, loops, id=f"{n}-{'loops' if loops else 'fast'}") for n, layer in sorted(LAYERS.items())
    for loops in ((False, True) if layer.reference else (False,))])
def test_no_float64_anywhere_in_a_float32_call(name, loops):
    """Under the tracer of ``tests/float32_trace.py``: no local variable of any ``cnn``
    function, at any line, holds a float64 array or scalar."""
    layer = LAYERS[name]
    config = layer.configs[0]
    arrays = {n: v if n in layer.labels else v.astype(np.float32)
              for n, v in layer.values(rng_for(name, "float32"), config).items()}
    outs = assert_float32_only(_call_all, layer, arrays, config.hyper, loops=loops)
    assert all(np.asarray(v).dtype == np.float32 for v in outs.values()), outs


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_integer_inputs_are_promoted_to_float64(name):
    layer = LAYERS[name]
    config = layer.configs[0]
    values = layer.values(rng_for(name, "int"), config)
    ints = {n: v if n in layer.labels else np.round(v * 3).astype(np.int64)
            for n, v in values.items()}
    floats = {n: v if n in layer.labels else v.astype(np.float64) for n, v in ints.items()}
    got, want = _call_all(layer, ints, config.hyper), _call_all(layer, floats, config.hyper)
    for what, out in got.items():
        assert np.asarray(out).dtype == np.float64, (name, what)
        np.testing.assert_array_equal(out, want[what], err_msg=f"{name} {what}")


# ----------------------------------------------------------------------------- bad input

def _functions(layer, config, arrays):
    """(public name, {argument: array}, call) for the forward and backward functions."""
    yield layer.name, arrays, lambda a: layer.run(a, config.hyper)
    if layer.backward is not None:
        dy = np.ones_like(layer.run(arrays, config.hyper))
        args = {"dy": dy, **{n: arrays[n] for n in layer.backward_inputs}}
        yield layer.backward_name, args, lambda a: layer.backward(
            a["dy"], *(a[n] for n in layer.backward_inputs), **config.hyper)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_non_finite_and_half_precision_inputs_are_refused_by_name(name):
    layer = LAYERS[name]
    config = layer.configs[0]
    arrays = layer.values(rng_for(name, "bad"), config)
    for fname, args, call in _functions(layer, config, arrays):
        for arg in _float_args(layer, args):
            bad = np.array(args[arg], dtype=np.float64)
            bad.flat[-1] = np.nan
            with pytest.raises(ValueError, match=rf"^{arg}: got 1 non-finite value\(s\)"):
                call({**args, arg: bad})
            with pytest.raises(TypeError, match=rf"^{arg}: got dtype float16; expected float32 "
                                                rf"or float64"):
                call({**args, arg: np.asarray(args[arg]).astype(np.float16)})
        if fname == layer.backward_name:
            wrong = np.ones(np.shape(args["dy"]) + (2,))
            with pytest.raises(ValueError, match=r"^dy( and \w+)?: got "):
                call({**args, "dy": wrong})
