"""Layer inputs: every public layer function takes any array-like right, or refuses it clearly.

The guarantees (docs/reliability.md, "Layer inputs"; the rules are listed in
``cnn/_validate.py``):

* An input in another dtype that holds the same numbers (integers, booleans,
  big-endian floats), in any memory layout (Fortran order, negative strides,
  slices, 0-stride broadcast views, read-only or unaligned memory) or as
  nested Python lists gives the same result, bit for bit, as the
  C-contiguous native float64 copy (float32 where the input is float32).
* An input whose meaning ``np.asarray`` would lose or guess (masked arrays,
  ragged lists, lists holding None or strings, float16, complex, object,
  structured, datetime arrays, integers float64 would round) gets a
  ``TypeError``/``ValueError`` whose message starts with the argument's name.
* Finite inputs never give a NaN or inf result, and no RuntimeWarning: the
  result is the correct finite answer when it fits the dtype (even if an
  intermediate value overflowed), else ``NonFiniteResultError`` (a
  ``FloatingPointError``) names the function, the output and the dtype.
* No input is ever modified, and no result shares memory with an input.

``SPECS`` has a row for every function of the layer registry
(:data:`cnn.registry.LAYERS`), so a new layer is covered by itself; a public
layer function missing from the registry fails
``test_all_layers.test_every_public_layer_function_is_registered``.
"""

from __future__ import annotations

import decimal
import fractions
import re
import warnings
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnn
from cnn._validate import NonFiniteResultError
from layer_checks import LAYERS

# ----------------------------------------------------------------------------- what is covered
# Every public layer function, from the registry: name -> ({argument: shape, or
# Labels(n, k)}, call taking a dict of arguments), on each layer's first config.

class Labels(NamedTuple):
    """``n`` integer class indices in ``0 .. k-1``."""
    n: int
    k: int


def _specs() -> dict:
    specs = {}
    for layer in LAYERS.values():
        config = layer.configs[0]
        hyper = dict(config.hyper)
        shapes = {n: config.shapes[n] for n in layer.inputs if n in config.shapes}
        for n in layer.labels:
            shapes[n] = Labels(config.shapes[n][0], config.shapes[layer.inputs[0]][-1])
        specs[layer.name] = (shapes, lambda a, layer=layer, h=hyper: layer.run(a, h))
        if layer.backward is not None:
            values = layer.values(np.random.default_rng(0), config)
            dy = np.shape(layer.run(values, hyper))
            specs[layer.backward_name] = (
                {"dy": dy, **{n: config.shapes[n] for n in layer.backward_inputs}},
                lambda a, layer=layer, h=hyper: layer.backward(
                    a["dy"], *(a[n] for n in layer.backward_inputs), **h))
        if layer.derivative is not None:
            specs[f"{layer.name}.derivative"] = (
                {"z": config.shapes["z"]}, lambda a, f=layer.derivative: f(a["z"]))
    return specs


SPECS = _specs()


def test_every_registered_function_is_covered():
    """Every function of the registry has a row (a public layer function missing
    from the registry fails ``test_all_layers.test_every_public_layer_function_is_registered``)."""
    names = {layer.name for layer in LAYERS.values()} | \
        {layer.backward_name for layer in LAYERS.values() if layer.backward is not None} | \
        {f"{n}.derivative" for n, layer in LAYERS.items() if layer.derivative is not None}
    assert names == set(SPECS)
    assert {f"{a}.{m}" for a in cnn.ACTIVATIONS for m in ("backward", "derivative")} <= set(SPECS)


# ----------------------------------------------------------------------------- hostile forms
# Each form turns float64 values into what a caller might pass. ACCEPTED forms
# hold the same numbers and must give the reference result; REJECTED forms
# must get a TypeError/ValueError naming the argument.

def _negative_strides(v):
    return np.ascontiguousarray(v[(slice(None, None, -1),) * v.ndim])[(slice(None, None, -1),) * v.ndim]


def _strided_slice(v):
    big = np.zeros(tuple(2 * n for n in v.shape), v.dtype)
    view = big[(slice(None, None, 2),) * v.ndim]
    view[...] = v
    return view


def _broadcast(v):
    return np.broadcast_to(v[(slice(0, 1),) * v.ndim], v.shape)      # 0 strides


def _read_only(v):
    v = v.copy()
    v.flags.writeable = False
    return v


def _unaligned(v):
    buf = np.zeros(v.nbytes + 1, np.uint8)
    out = np.frombuffer(buf.data, dtype=v.dtype, offset=1, count=v.size).reshape(v.shape)
    out[...] = v
    assert not out.flags.aligned
    return out


def _ragged(v):
    rows = v.tolist()
    if v.ndim == 1:
        return [rows[0], [rows[-1]]] + rows[2:]                    # a scalar next to a list
    rows[-1] = rows[-1][:-1]
    return rows


def _none_inside(v):
    rows = v.tolist()
    inner = rows
    while isinstance(inner[0], list):
        inner = inner[0]
    inner[0] = None
    return rows


def _small_ints(v):
    return np.clip(np.round(v), -100, 100)


def _matrix_or_plain(v):
    if v.ndim != 2:
        return v
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(v)


ACCEPTED = {
    "float64": lambda v: v,
    "float32": lambda v: v.astype(np.float32),
    ">f8": lambda v: v.astype(">f8"),
    ">f4": lambda v: v.astype(">f4"),
    "int64": lambda v: _small_ints(v).astype(np.int64),
    "int32": lambda v: _small_ints(v).astype(np.int32),
    ">i8": lambda v: _small_ints(v).astype(">i8"),
    "uint8": lambda v: np.abs(_small_ints(v)).astype(np.uint8),
    "int64 2**60": lambda v: np.sign(_small_ints(v)).astype(np.int64) * 2 ** 60,   # exact in float64
    "bool": lambda v: v > 0,
    "fortran": np.asfortranarray,
    "fortran float32": lambda v: np.asfortranarray(v.astype(np.float32)),
    "negative strides": _negative_strides,
    "strided slice": _strided_slice,
    "strided slice >f4": lambda v: _strided_slice(v.astype(">f4")),
    "broadcast": _broadcast,
    "read-only": _read_only,
    "unaligned": _unaligned,
    "list": lambda v: v.tolist(),
    "tuple": lambda v: tuple(v.tolist()),
    "list of float32 rows": lambda v: list(v.astype(np.float32)),
    "matrix": _matrix_or_plain,
}
REJECTED = {
    "float16": lambda v: v.astype(np.float16),
    ">f2": lambda v: v.astype(">f2"),
    "complex": lambda v: v.astype(np.complex128),
    "object": lambda v: v.astype(object),
    "longdouble": lambda v: v.astype(np.longdouble),
    "masked": lambda v: np.ma.masked_array(v, mask=v > 0),
    "list of masked rows": lambda v: [np.ma.masked_array(row) for row in v],
    "ragged list": _ragged,
    "list holding None": _none_inside,
    "strings": lambda v: v.astype(str),
    "datetime64": lambda v: _small_ints(v).astype("int64").astype("M8[s]"),
    "timedelta64": lambda v: _small_ints(v).astype("int64").astype("m8[s]"),
    "structured": lambda v: np.zeros(v.shape, [("a", "f8"), ("b", "f8")]),
    "int64 2**53 + 1": lambda v: np.full(v.shape, 2 ** 53 + 1, np.int64),
    "uint64 2**64 - 1": lambda v: np.full(v.shape, 2 ** 64 - 1, np.uint64),
}
LABEL_ACCEPTED = {
    "int64": lambda t: t,
    "int32": lambda t: t.astype(np.int32),
    "uint8": lambda t: t.astype(np.uint8),
    ">i8": lambda t: t.astype(">i8"),
    "negative strides": _negative_strides,
    "strided slice": _strided_slice,
    "broadcast": _broadcast,
    "read-only": _read_only,
    "list": lambda t: t.tolist(),
    "tuple": lambda t: tuple(t.tolist()),
}
LABEL_REJECTED = {
    "float64": lambda t: t.astype(np.float64),
    "bool": lambda t: t > 0,
    "object": lambda t: t.astype(object),
    "masked": lambda t: np.ma.masked_array(t, mask=t > 1),
    "ragged list": _ragged,
    "strings": lambda t: t.astype(str),
}
SCALES = [1.0, 1e3, 1e19, 1e38, 1e154, 1e300]
FUNCTION_ERRORS = (TypeError, ValueError, FloatingPointError)


def _reference(value):
    """The C-contiguous native float64 copy of an accepted float input (float32 if it is)."""
    a = np.asarray(value)
    dtype = np.float32 if a.dtype.type is np.float32 else np.float64
    return np.array(a, dtype=dtype, order="C")


def _snapshot(value):
    if isinstance(value, np.ma.MaskedArray):
        return ("masked", value.data.copy(), np.ma.getmaskarray(value).copy())
    if isinstance(value, np.ndarray):
        return ("array", value.dtype, value.shape, value.strides, value.tobytes())
    return ("other", repr(value))


def _call(call, args):
    """``(results, None)`` or ``(None, exception)``; a RuntimeWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = call(args)
        except FUNCTION_ERRORS as exc:
            return None, exc
    return (out if isinstance(out, tuple) else (out,)), None


def _is_finite(value) -> bool:
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.isfinite(np.asarray(value, dtype=float))))


@st.composite
def hostile_arguments(draw, spec):
    """``(hostile args, reference args or None, {argument: form})`` for one call."""
    shapes, _ = spec
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    # Half the calls have only accepted forms (the result is compared); the
    # others give one argument a form drawn from all of them.
    hostile_arg = draw(st.none() | st.sampled_from(sorted(shapes)))
    hostile, reference, forms = {}, {}, {}
    for arg, shape in shapes.items():
        labels = isinstance(shape, Labels)
        accepted, refused = (LABEL_ACCEPTED, LABEL_REJECTED) if labels else (ACCEPTED, REJECTED)
        table = {**accepted, **refused} if arg == hostile_arg else accepted
        form = draw(st.sampled_from(sorted(table)))
        if labels:
            values = rng.integers(0, shape.k, shape.n)
        else:
            values = rng.standard_normal(shape) * draw(st.sampled_from(SCALES))
        with np.errstate(over="ignore"):                     # 1e300 in float32 is inf
            hostile[arg] = table[form](values)
        if form in accepted:
            reference[arg] = (np.array(np.asarray(hostile[arg]), dtype=np.int64) if labels
                              else _reference(hostile[arg]))
        forms[arg] = form
    return hostile, (reference if len(reference) == len(shapes) else None), forms


def _check_one_call(fname, hostile, reference, forms):
    shapes, call = SPECS[fname]
    before = {arg: _snapshot(v) for arg, v in hostile.items()}
    out, exc = _call(call, hostile)
    after = {arg: _snapshot(v) for arg, v in hostile.items()}
    for arg in hostile:                                  # inputs are never modified
        if before[arg][0] == "masked":
            assert np.array_equal(before[arg][1], after[arg][1], equal_nan=True), arg
            assert np.array_equal(before[arg][2], after[arg][2]), arg
        else:
            assert before[arg] == after[arg], f"{fname} modified {arg} ({forms[arg]})"

    if reference is None:                                # a rejected form: a clear error
        assert out is None, f"{fname} accepted {forms}"
        assert isinstance(exc, (TypeError, ValueError)), repr(exc)
        names = [re.escape(a) for a in shapes]
        assert re.match(rf"({'|'.join(names)}): got ", str(exc)), str(exc)
        return

    ref_out, ref_exc = _call(call, reference)
    if ref_exc is not None:                              # the native copy fails: so must this
        assert exc is not None, f"{fname} {forms}: the reference raised {ref_exc!r}"
        assert type(exc) is type(ref_exc) and str(exc) == str(ref_exc)
        if isinstance(exc, NonFiniteResultError):
            assert str(exc).startswith(f"{fname}: the result "), str(exc)
            assert all(_is_finite(v) for v in reference.values())
        else:                                            # only a non-finite input may fail
            assert isinstance(exc, ValueError) and "non-finite" in str(exc), str(exc)
            assert str(exc).split(":")[0] in shapes
            assert not all(_is_finite(v) for v in reference.values())
        return

    assert exc is None, f"{fname} {forms}: {exc!r}, but the native copy works"
    assert len(out) == len(ref_out)
    inputs = [v for v in hostile.values() if isinstance(v, np.ndarray)]
    for i, (got, want) in enumerate(zip(out, ref_out)):
        got_a, want_a = np.asarray(got), np.asarray(want)
        assert got_a.dtype == want_a.dtype and got_a.shape == want_a.shape, (fname, i)
        np.testing.assert_array_equal(got_a, want_a, err_msg=f"{fname} output {i} {forms}",
                                      strict=True)
        assert _is_finite(got_a), (fname, i)             # finite inputs, finite results
        if isinstance(got, np.ndarray):
            assert not any(np.may_share_memory(got, v) for v in inputs), (fname, i)


@pytest.mark.parametrize("fname", sorted(SPECS))
@settings(max_examples=50, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hostile_inputs_give_the_native_result_or_a_clear_error(fname, data):
    hostile, reference, forms = data.draw(hostile_arguments(SPECS[fname]))
    _check_one_call(fname, hostile, reference, forms)


# ----------------------------------------------------------------------------- table: refused
RNG = np.random.default_rng(0)
X4 = RNG.standard_normal((2, 3, 6, 6))
W4 = RNG.standard_normal((4, 3, 3, 3))
XD, WD, BD = RNG.standard_normal((5, 7)), RNG.standard_normal((7, 4)), np.zeros(4)
LOGITS = RNG.standard_normal((3, 10))
F32_MAX = float(np.finfo(np.float32).max)


class _Unconvertible:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("call detach() first")


def _nested(depth):
    value = 1.0
    for _ in range(depth):
        value = [value]
    return value

BIG_DY, BIG_X, BIG_W = (RNG.standard_normal(s) for s in ((256, 60), (256, 288), (288, 60)))
BIG_LABELS = RNG.integers(0, 10, 256)
BIG_F32 = RNG.standard_normal((512, 300)).astype(np.float32)

REFUSED = {
    # masked arrays: the mask would be dropped
    "conv2d x masked": (lambda: cnn.conv2d(np.ma.masked_array(X4, mask=X4 > 1), W4), TypeError,
                        r"^x: got a masked array \(numpy\.ma\.MaskedArray\); its mask would be "
                        r"silently dropped\. .*x\.filled\(value\).*np\.asarray\(x\)"),
    "dense w masked, nothing masked": (lambda: cnn.dense(XD, np.ma.masked_array(WD), BD), TypeError,
                                       r"^w: got a masked array"),
    "relu z list of masked arrays": (lambda: cnn.relu([np.ma.masked_array([1.0, 2.0])]), TypeError,
                                     r"^z: got a masked array \(numpy\.ma\.MaskedArray\) as z\[0\]"),
    "softmax_ce labels masked": (lambda: cnn.softmax_cross_entropy(
        LOGITS, np.ma.masked_array([0, 1, 2], mask=[0, 1, 0])), TypeError, r"^labels: got a masked array"),
    # ragged and non-numeric nested lists
    "conv2d x ragged": (lambda: cnn.conv2d([[[[1.0, 2.0], [3.0]]]], W4), ValueError,
                        r"^x: got a ragged nested sequence \(x\[0\]\[0\]\[1\] has length 1 but "
                        r"x\[0\]\[0\]\[0\] has length 2\); expected a rectangular array"),
    "dense x ragged rows": (lambda: cnn.dense([[1, 2], [3]], WD, BD), ValueError,
                            r"^x: got a ragged nested sequence \(x\[1\] has length 1 but x\[0\] has "
                            r"length 2\)"),
    "tanh z scalar next to a list": (lambda: cnn.tanh([[1.0, 2.0], 3.0]), ValueError,
                                     r"^z: got a ragged nested sequence \(z\[1\] is 3\.0, not a "
                                     r"sequence, but z\[0\] is a sequence of length 2\)"),
    "softmax_ce labels ragged": (lambda: cnn.softmax_cross_entropy(LOGITS, [[0, 1], [2]]), ValueError,
                                 r"^labels: got a ragged nested sequence"),
    "dense b list holding None": (lambda: cnn.dense(XD, WD, [0.0, None, 0.0, 0.0]), TypeError,
                                  r"^b: got a list that converts to dtype object; expected real "
                                  r"numbers \(the element at index \(1,\) is None\)"),
    "relu z list of strings": (lambda: cnn.relu(["1", "2"]), TypeError,
                               r"^z: got dtype <U1; expected real numbers \(strings such as '1' are "
                               r"not parsed"),
    "relu z a string": (lambda: cnn.relu("1.5"), TypeError, r"^z: got the str '1\.5'; expected an "
                                                           r"array of real numbers"),
    "logistic z None": (lambda: cnn.logistic(None), TypeError,
                        r"^z: got None; expected an array of real numbers"),
    "arctan z a set": (lambda: cnn.arctan({1.0, 2.0}), TypeError,
                       r"^z: got a set \{1\.0, 2\.0\}; expected an array of real numbers"),
    "relu z a generator": (lambda: cnn.relu(v for v in [1.0]), TypeError, r"^z: got a generator "),
    "relu z a bytearray (bytes are not numbers)": (lambda: cnn.relu(bytearray(b"ab")), TypeError,
                                                   r"^z: got the bytearray bytearray\(b'ab'\)"),
    "relu z whose __array__ fails (a tensor that requires grad)": (
        lambda: cnn.relu(_Unconvertible()), TypeError,
        r"^z: got a _Unconvertible that NumPy cannot convert to an array \(RuntimeError: "
        r"call detach\(\) first\)"),
    "relu z nested 70 deep": (lambda: cnn.relu(_nested(70)), ValueError,
                              r"^z: got a list that NumPy cannot convert to an array \(.*maximum"),
    "relu z list of Fractions": (lambda: cnn.relu([fractions.Fraction(1, 3)]), TypeError,
                                 r"^z: got a list that converts to dtype object; expected real numbers "
                                 r"\(the element at index \(0,\) is Fraction\(1, 3\) of type Fraction\); "
                                 r"to accept rounding it to float64, convert explicitly"),
    "relu z list of Decimals": (lambda: cnn.relu([decimal.Decimal("0.1")]), TypeError,
                                r"^z: got a list .*Decimal\('0\.1'\) of type Decimal\); to accept"),
    "relu z a Python int beyond int64": (lambda: cnn.relu([2 ** 70]), TypeError,
                                         r"^z: got a list that converts to dtype object.*"
                                         r"1180591620717411303424 of type int"),
    "conv2d x object array of floats": (lambda: cnn.conv2d(X4.astype(object), W4), TypeError,
                                        r"^x: got dtype object; expected real numbers \(an array of "
                                        r"Python objects is not converted, even of numbers"),
    # scalars where an array is needed
    "conv2d x Python float": (lambda: cnn.conv2d(3.0, W4), ValueError,
                              r"^x: got a 0-D array of shape \(\) \(the scalar 3\.0 of type float\); "
                              r"expected a 4-D array \(N, C, H, W\)"),
    "dense b NumPy scalar": (lambda: cnn.dense(XD, WD, np.float64(0.0)), ValueError,
                             r"^b: got a 0-D array of shape \(\) \(the scalar np\.float64\(0\.0\) of "
                             r"type float64\); expected a 1-D array \(D_out,\)"),
    "max_pool2d x 0-d array": (lambda: cnn.max_pool2d(np.array(1.0)), ValueError,
                               r"^x: got a 0-D array of shape \(\); expected a 4-D array"),
    "softmax_ce labels a Python int": (lambda: cnn.softmax_cross_entropy(LOGITS[:1], 0), ValueError,
                                       r"^labels: got shape \(\); expected \(1,\)"),
    # dtypes without one obvious real value per element
    "conv2d x >f2": (lambda: cnn.conv2d(X4.astype(">f2"), W4), TypeError,
                     r"^x: got dtype >f2; expected float32 or float64 \(half precision"),
    "dense x longdouble": (lambda: cnn.dense(XD.astype(np.longdouble), WD, BD), TypeError,
                           r"^x: got dtype float\d+; expected float32 or float64 \(extended precision"),
    "tanh z datetime64": (lambda: cnn.tanh(np.arange(3).astype("M8[D]")), TypeError,
                          r"^z: got dtype datetime64\[D\] \(dates or durations\); expected real numbers"),
    "tanh z timedelta64": (lambda: cnn.tanh(np.arange(3).astype("m8[s]")), TypeError,
                           r"^z: got dtype timedelta64\[s\] \(dates or durations\)"),
    "l2_loss output structured": (lambda: cnn.l2_loss(np.zeros(3, [("a", "f8")]), np.zeros(3)),
                                  TypeError, r"^output: got the structured dtype \[\('a', '<f8'\)\]; "
                                             r"expected real numbers \(select a field, e.g. output\['a'\]"),
    "l2_loss output record array": (lambda: cnn.l2_loss(np.rec.fromarrays([np.zeros(3)]), np.zeros(3)),
                                    TypeError, r"^output: got the structured dtype"),
    "relu z np.void": (lambda: cnn.relu(np.void(b"\x00" * 8)), TypeError,
                       r"^z: got dtype \|V8 \(raw bytes, np\.void\); expected real numbers"),
    "dense_backward dy complex, zero imaginary part": (
        lambda: cnn.dense_backward(np.zeros((5, 4), complex), XD, WD), TypeError,
        r"^dy: got dtype complex128; expected real numbers"),
    # integers float64 would round
    "relu z int64 2**53 + 1": (lambda: cnn.relu(np.array([1, 2 ** 53 + 1])), ValueError,
                               r"^z: got the integer 9007199254740993 at index \(1,\) \(dtype int64\), "
                               r"which float64 cannot represent exactly \(it would become "
                               r"9007199254740992\.0\).*z\.astype\(np\.float64\)"),
    "conv2d x uint64 2**64 - 1": (lambda: cnn.conv2d(np.full((1, 1, 3, 3), 2 ** 64 - 1, np.uint64),
                                                     np.ones((1, 1, 3, 3))), ValueError,
                                  r"^x: got the integer 18446744073709551615 at index \(0, 0, 0, 0\)"),
    "dense x list of big ints": (lambda: cnn.dense([[2 ** 62 + 1] * 7], WD, BD), ValueError,
                                 r"^x: got the integer 4611686018427387905 at index \(0, 0\)"),
    # the toy net converts any real input to float64, through the same front door
    "toy_net image masked": (lambda: cnn.toy_net.forward(np.ma.masked_array(np.zeros((3, 3))),
                                                         np.zeros((2, 2)), np.zeros((4, 1))),
                             TypeError, r"^image: got a masked array"),
    "toy_net image ragged": (lambda: cnn.toy_net.forward([[0, 0, 0], [0, 0]], np.zeros((2, 2)),
                                                         np.zeros((4, 1))),
                             ValueError, r"^image: got a ragged nested sequence \(image\[1\] has "
                                         r"length 2 but image\[0\] has length 3\)"),
    "toy_net kernel strings (not parsed)": (lambda: cnn.toy_net.forward(
        np.zeros((3, 3)), [["1", "0"], ["0", "1"]], np.zeros((4, 1))), TypeError,
        r"^kernel: got dtype <U1"),
}


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_inputs_get_a_clear_error(case):
    call, error, message = REFUSED[case]
    with pytest.raises(error, match=message) as exc:
        call()
    assert type(exc.value) is error


# ----------------------------------------------------------------------------- table: accepted
# (call on the hostile input, call on the native copy): equal results, bit for bit
SAME = {
    "conv2d x >f8": (lambda: cnn.conv2d(X4.astype(">f8"), W4), lambda: cnn.conv2d(X4, W4)),
    "conv2d w >f4 stays float32": (lambda: cnn.conv2d(X4.astype(np.float32), W4.astype(">f4")),
                                   lambda: cnn.conv2d(X4.astype(np.float32), W4.astype(np.float32))),
    "dense x np.matrix": (lambda: _with_matrix(lambda m: cnn.dense(m, WD, BD), XD),
                          lambda: cnn.dense(XD, WD, BD)),
    "relu z bool": (lambda: cnn.relu(np.array([True, False])), lambda: cnn.relu(np.array([1.0, 0.0]))),
    "tanh z 0-d array": (lambda: cnn.tanh(np.array(0.5)), lambda: cnn.tanh(0.5)),
    "logistic z Python scalar": (lambda: cnn.logistic(2), lambda: cnn.logistic(np.float64(2.0))),
    "relu z int64 2**60 (exact in float64)": (lambda: cnn.relu(np.array([2 ** 60, -2 ** 60])),
                                              lambda: cnn.relu(np.array([2.0 ** 60, -2.0 ** 60]))),
    "softmax_ce labels >i8 and list": (lambda: cnn.softmax_cross_entropy(LOGITS, [0, 9, 3]),
                                       lambda: cnn.softmax_cross_entropy(
                                           LOGITS, np.array([0, 9, 3], ">i8"))),
    # At these sizes a Fortran-order input changes the order of NumPy's sums (db,
    # the softmax rows): the layers copy it to C order first, so the bits agree.
    "dense_backward dy, x Fortran order, batch 256": (
        lambda: cnn.dense_backward(np.asfortranarray(BIG_DY), np.asfortranarray(BIG_X), BIG_W),
        lambda: cnn.dense_backward(BIG_DY, BIG_X, BIG_W)),
    "softmax_ce logits Fortran order, batch 256": (
        lambda: cnn.softmax_cross_entropy(np.asfortranarray(BIG_DY[:, :10]), BIG_LABELS),
        lambda: cnn.softmax_cross_entropy(BIG_DY[:, :10].copy(), BIG_LABELS)),
    "l2_loss output every other element of a float32 array": (
        lambda: cnn.l2_loss(BIG_F32[::2], BIG_F32[1::2]),
        lambda: cnn.l2_loss(BIG_F32[::2].copy(), BIG_F32[1::2].copy())),
    "max_pool2d x negative strides": (lambda: cnn.max_pool2d(X4[:, :, ::-1, ::-1]),
                                      lambda: cnn.max_pool2d(X4[:, :, ::-1, ::-1].copy())),
    "l2_loss target broadcast": (lambda: cnn.l2_loss(XD, np.broadcast_to(XD[0], XD.shape)),
                                 lambda: cnn.l2_loss(XD, np.tile(XD[0], (5, 1)))),
}


def _with_matrix(fn, a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        m = np.asmatrix(a)
    return fn(m)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("case", sorted(SAME))
def test_accepted_inputs_give_the_native_result(case):
    hostile, native = SAME[case]
    got, want = hostile(), native()
    got, want = (got if isinstance(got, tuple) else (got,)), (want if isinstance(want, tuple) else (want,))
    for g, w in zip(got, want, strict=True):
        assert type(g) is type(w)
        np.testing.assert_array_equal(g, w, strict=True)


def test_big_endian_input_is_not_modified_and_result_is_native():
    x = X4.astype(">f8")
    x.flags.writeable = False
    y = cnn.conv2d(x, W4)
    assert y.dtype == np.float64 and y.dtype.isnative
    assert x.dtype == np.dtype(">f8")


# ----------------------------------------------------------------------------- table: overflow
OVERFLOW = {
    "conv2d float32 values near 3e38": (
        lambda: cnn.conv2d(np.full((1, 1, 5, 5), 3e38, np.float32), np.ones((1, 1, 5, 5), np.float32)),
        r"^conv2d: the result y does not fit in float32 although every input is finite: 1 of its 1 "
        r"values would be inf or NaN, first at index \(0, 0, 0, 0\) \(its true value there is about "
        r"7\.500e\+39, beyond the float32 maximum 3\.403e\+38\); rescale the input .* or compute in "
        r"float64$"),
    "conv2d_backward float32 dy near 3e38": (
        lambda: cnn.conv2d_backward(np.full((1, 1, 1, 1), 3e38, np.float32),
                                    np.full((1, 1, 5, 5), 3e38, np.float32),
                                    np.ones((1, 1, 5, 5), np.float32)),
        r"^conv2d_backward: the result dw does not fit in float32 .*9\.000e\+76"),
    "dense float64 sum beyond 1.8e308": (
        lambda: cnn.dense(np.full((1, 3), 1e308), np.ones((3, 1)), np.zeros(1)),
        r"^dense: the result y does not fit in float64 .*3\.000e\+308.*rescale the input"),
    "dense_backward float64 db": (
        lambda: cnn.dense_backward(np.full((3, 1), 1e308), np.ones((3, 1)), np.ones((1, 1))),
        r"^dense_backward: the result dw does not fit in float64"),
    "max_pool2d_backward overlapping windows add up": (
        lambda: cnn.max_pool2d_backward(np.full((1, 1, 2, 2), F32_MAX, np.float32),
                                        np.pad(np.ones((1, 1, 1, 1), np.float32),
                                               ((0, 0), (0, 0), (1, 1), (1, 1))),
                                        size=2, stride=1),    # the centre wins all 4 windows
        r"^max_pool2d_backward: the result dx does not fit in float32"),
    "softmax_ce loss of 2e308": (
        lambda: cnn.softmax_cross_entropy(np.array([[1e308, -1e308]]), np.array([1])),
        r"^softmax_cross_entropy: the result loss does not fit in float64 although every input is "
        r"finite: it would be inf or NaN \(its true value is about 2\.000e\+308"),
    "softmax_ce float32 loss of 6e38": (
        lambda: cnn.softmax_cross_entropy(np.array([[3e38, -3e38]], np.float32), np.array([1])),
        r"^softmax_cross_entropy: the result loss does not fit in float32 .*6\.000e\+38.*float64$"),
    "l2_loss of 2e616": (
        lambda: cnn.l2_loss(np.array([[1e308]]), np.array([[-1e308]])),
        r"^l2_loss: the result loss does not fit in float64"),
}


@pytest.mark.filterwarnings("error")                # one clear error, no RuntimeWarning first
@pytest.mark.parametrize("case", sorted(OVERFLOW))
def test_overflow_from_finite_inputs_is_a_clear_error(case):
    call, message = OVERFLOW[case]
    with pytest.raises(NonFiniteResultError, match=message):
        call()


def test_the_overflow_error_is_a_floating_point_error():
    assert issubclass(NonFiniteResultError, FloatingPointError)
    assert not issubclass(NonFiniteResultError, ValueError)


# ----------------------------------------------------------------------------- finite after all
@pytest.mark.filterwarnings("error")
def test_softmax_cross_entropy_at_logits_of_1e308():
    """z - max z overflows to -inf here, but the answers fit: they are exact, with no warning."""
    z = np.array([[1e308, -1e308]])
    loss, d = cnn.softmax_cross_entropy(z, np.array([0]))          # the label is the top class
    assert loss == 0.0
    np.testing.assert_array_equal(d, [[0.0, 0.0]])
    # Row losses 2e308 and log 2: the batch mean, 1e308 + log(2)/2, fits float64.
    loss, d = cnn.softmax_cross_entropy(np.array([[1e308, -1e308], [0.0, 0.0]]), np.array([1, 0]))
    assert loss == pytest.approx(1e308, rel=1e-15)
    np.testing.assert_array_equal(d, [[0.5, -0.5], [-0.25, 0.25]])
    loss, d = cnn.softmax_cross_entropy(np.array([[3e38, -3e38], [0, 0]], np.float32), np.array([1, 0]))
    assert loss.dtype == np.float32 and loss == pytest.approx(3e38, rel=1e-7)
    assert d.dtype == np.float32


@pytest.mark.filterwarnings("error")
def test_an_intermediate_overflow_still_gives_the_true_result():
    """1e308 + 1e308 - 1e308 overflows on the way; the result, 1e308, fits."""
    y = cnn.dense(np.array([[1e308, 1e308, -1e308]]), np.ones((3, 1)), np.zeros(1))
    np.testing.assert_array_equal(y, [[1e308]])
    # half the squared error of 1.5e154, twice, over a batch of 2: the square overflows, the loss not
    loss, g = cnn.l2_loss(np.array([[1.5e154], [1.5e154]]), np.zeros((2, 1)))
    assert loss == pytest.approx(1.125e308, rel=1e-15)
    np.testing.assert_array_equal(g, [[7.5e153], [7.5e153]])
    y = cnn.conv2d(np.array([[[[3e38, 3e38, -3e38]]]], np.float32), np.ones((1, 1, 1, 3), np.float32))
    assert y.dtype == np.float32 and y[0, 0, 0, 0] == np.float32(3e38)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", sorted(cnn.ACTIVATIONS))
def test_activations_never_overflow(name):
    """|f'| <= 1 for all four, so backward is at most |dy|: finite at the float64 maximum."""
    big = np.finfo(np.float64).max
    act = cnn.ACTIVATIONS[name]
    z = np.array([-big, -1.0, 0.0, 1.0, big])
    for out in (act(z), act.derivative(z), act.backward(np.full(5, big), z)):
        assert np.all(np.isfinite(out))
