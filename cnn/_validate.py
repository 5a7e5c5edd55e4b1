"""Input checks shared by the layers: one clear error instead of a wrong answer.

Every public layer function in :mod:`cnn` runs its array arguments through
:func:`as_float` (class labels through :func:`as_array`) first, and is wrapped
by :func:`checked`, which checks what it returns. The rules, in one place:

What is converted, and how (results equal those of the same call on the
C-contiguous, native-byte-order float64 copy of the input, or float32 where
the input is float32, bit for bit):

* float32 and float64 are kept as they are; when a float32 and a float64
  operand meet, NumPy's rule applies and the result is float64. Class
  labels (:func:`cnn.softmax_cross_entropy`) must be integers, in any byte
  order or layout, or a list of them.
* Integer and boolean arrays are promoted to float64, explicitly, so
  ``conv2d(np.arange(...), ...)`` computes in float64 (True is 1.0). An
  int64/uint64 value that float64 cannot hold exactly (2**53 + 1, for
  instance; only values beyond 2**53 in magnitude can be such) is rejected
  (``ValueError``) instead of being rounded silently; the check is one
  min/max over 64-bit integer arrays only.
* Non-native byte order (e.g. ``>f8`` read from a file on a little-endian
  machine) is converted to the native float32/float64 of the same precision.
* Any memory layout is accepted (Fortran order, negative or zero strides,
  slices, read-only arrays): a layout other than C-contiguous and aligned is
  copied to one, so the result never depends on the layout. A C-contiguous
  native float32/float64 array, the fast path, is used without a copy.
* Nested Python lists and tuples are converted as ``np.asarray`` does;
  ``np.matrix`` becomes the plain 2-D array of the same values; Python and
  NumPy scalars are 0-D arrays (accepted where any shape is, e.g. the
  activations; elsewhere a ``ValueError`` names the expected dimensions).

What is refused (each message names the argument, what was received and
what was expected; inputs are never modified):

* masked arrays (``np.ma.MaskedArray``), also as the items of a list:
  ``TypeError``, since ``np.asarray`` would drop the mask. Fill the masked
  entries (``x.filled(...)``) or pass ``np.asarray(x)`` if the mask is
  meant to be ignored.
* ragged nested sequences (``[[1, 2], [3]]``): ``ValueError`` saying where
  the lengths differ.
* float16: ``TypeError``. Its 11-bit mantissa cannot hold the sums of a
  convolution or a gradient check, and silently promoting it would hide
  that the caller asked for half precision. Convert with
  ``x.astype(np.float32)``. Extended precision (``np.longdouble``) likewise:
  converting it would round.
* complex, object (lists holding None, strings, Fractions, Decimals, Python
  ints too large for int64), string, bytes, structured/record, ``np.void``,
  datetime64 and timedelta64 arrays, and None: ``TypeError``. None of them
  has one obvious real value per element; convert explicitly.
* NaN and inf: ``ValueError``. A non-finite input would turn every
  downstream gradient into NaN far from its cause.
* an empty axis: ``ValueError`` (an empty batch has no mean loss).

What is returned (:func:`checked`): a public layer function never returns
NaN or inf from finite inputs. NumPy's overflow/invalid-value warnings are
silenced while it computes; if a result is not finite, the computation is
repeated once in a wider dtype (float32 in float64; float64 in the x87
80-bit ``np.longdouble`` where the platform has one), which gives the
correct finite answer when only an intermediate value overflowed (e.g. a
loss of 2e308 in a batch mean of 1e308). If the true result does not fit
the dtype either, :class:`NonFiniteResultError`, a ``FloatingPointError``,
names the function, the output and the dtype, and suggests rescaling the
input or float64. Training (:func:`cnn.train`) reports it as a divergence.

Cost: one reduction per input and per output (the dot product of the array
with itself, :func:`cnn._finite._all_finite`), and no copy on the fast path.
The finite checks and :func:`checked` are in :mod:`cnn._finite`, the
messages in :mod:`cnn._messages`.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

# Re-exported: the finite checks and checked() live in _finite (the layers, the
# networks and the optimisers import them from here).
from ._finite import _WIDE, NonFiniteResultError, _all_finite, check_finite, checked  # noqa: F401
from ._messages import (_check_exact_in_float64, _dtype_message, _masked_message,
                        _ragged_where, _scalar_note, _short)

__all__ = ["as_float", "as_array", "common_dtype", "check_ndim", "check_finite", "as_int",
           "check_same_shape", "checked", "NonFiniteResultError", "check_real", "check_fits",
           "as_real", "cache_get", "cache_put"]


# ----------------------------------------------------------------------------- conversion

def as_array(value, name: str) -> np.ndarray:
    """``value`` as a plain ndarray, refusing what ``np.asarray`` would get silently wrong.

    Masked arrays (their mask would be dropped), None, strings and ragged
    nested sequences get a ``TypeError``/``ValueError`` naming ``name``. The
    dtype is not checked here (see :func:`as_float`).
    """
    if type(value) is np.ndarray:                      # the fast path
        return value
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(_masked_message(name, name))
    if value is None:
        raise TypeError(f"{name}: got None; expected an array of real numbers")
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{name}: got the {type(value).__name__} {_short(value)}; expected an "
                        f"array of real numbers (strings are not parsed)")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, np.ma.MaskedArray):
                raise TypeError(_masked_message(name, f"{name}[{i}]"))
    try:
        return np.asarray(value)
    except ValueError as exc:
        where = _ragged_where(value, name)
        if where or "inhomogeneous" in str(exc):
            raise ValueError(f"{name}: got a ragged nested sequence{where}; expected a "
                             f"rectangular array (every row of the same length)") from None
        raise ValueError(f"{name}: got a {type(value).__name__} that NumPy cannot convert to an "
                         f"array ({exc}); expected an array of real numbers") from exc
    except Exception as exc:          # e.g. a torch tensor that requires grad: RuntimeError
        raise TypeError(f"{name}: got a {type(value).__name__} that NumPy cannot convert to an "
                        f"array ({type(exc).__name__}: {exc}); expected an array of real "
                        f"numbers") from exc


def as_float(value, name: str, *, ndim: int | None = None, min_ndim: int | None = None,
             axes: str | None = None) -> np.ndarray:
    """``value`` as a C-contiguous native float32/float64 array, checked.

    Parameters
    ----------
    value : array_like
        The argument as the caller passed it (never modified).
    name : str
        The argument's name, used in error messages.
    ndim, min_ndim : int, optional
        Exact or minimum number of dimensions expected.
    axes : str, optional
        The layout, e.g. ``"(N, C, H, W)"``, quoted in the ndim message.
    """
    arr = as_array(value, name)
    dtype = arr.dtype
    kind = dtype.kind
    finite = False
    if kind == "f" and (dtype.type is np.float64 or dtype.type is np.float32
                        or (dtype.type is np.longdouble and _WIDE.get())):
        if not dtype.isnative:
            arr = arr.astype(dtype.newbyteorder("="), order="C")
        elif not (arr.flags.c_contiguous and arr.flags.aligned):
            arr = arr.copy(order="C")
    elif kind in "iub":
        if kind != "b":
            _check_exact_in_float64(arr, name)
        # Explicit promotion: integer data (e.g. raw pixels) computes in float64.
        arr = arr.astype(np.float64, order="C")
        finite = True
    else:
        raise TypeError(_dtype_message(arr, value, name))
    if ndim is not None:
        check_ndim(arr, name, ndim, axes, value=value)
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name}: got a {arr.ndim}-D array of shape {arr.shape}"
                         f"{_scalar_note(arr, value)}; expected at least {min_ndim} dimensions")
    if arr.ndim and 0 in arr.shape:
        raise ValueError(f"{name}: got shape {arr.shape} with an empty axis; "
                         f"expected every axis to have length >= 1")
    if not finite:
        check_finite(arr, name)
    return arr


def check_ndim(arr: np.ndarray, name: str, ndim: int, axes: str | None = None, *,
               value=None) -> None:
    if arr.ndim != ndim:
        layout = f" {axes}" if axes else ""
        raise ValueError(f"{name}: got a {arr.ndim}-D array of shape {arr.shape}"
                         f"{_scalar_note(arr, value if value is not None else arr)}; "
                         f"expected a {ndim}-D array{layout}")


def common_dtype(*arrays: np.ndarray) -> np.dtype:
    """The float dtype the computation runs in (NumPy's promotion rule)."""
    return np.result_type(*arrays)


def as_int(value, name: str, *, minimum: int) -> int:
    """A hyper-parameter such as ``stride``: a plain integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: got {value!r} of type {type(value).__name__}; "
                        f"expected an integer >= {minimum}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name}: got {value}; expected an integer >= {minimum}")
    return value


def check_same_shape(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{a_name} and {b_name}: got shapes {a.shape} and {b.shape}; "
                         f"expected equal shapes")


# ----------------------------------------------------------------------------- caches

def cache_put(cache: dict | None, x: np.ndarray, spec, **values) -> None:
    """Record in a layer's ``cache`` dict (None: nothing) what forward computed from
    ``x`` under ``spec`` (geometry, hyper-parameters, dtype)."""
    if cache is not None:
        cache.clear()
        cache.update(values, x=x, spec=spec)


def cache_get(cache: dict | None, key: str, x: np.ndarray, spec):
    """``cache[key]`` if forward saw this very (validated) ``x`` under ``spec``, else None."""
    return cache.get(key) if cache is not None and cache.get("x") is x \
        and cache.get("spec") == spec else None


# ----------------------------------------------------------------------------- networks, training

def check_real(arr: np.ndarray, name: str) -> None:
    """Refuse what :func:`as_float` refuses by dtype (float16, extended precision, complex,
    object, text, ...), with its message, without converting ``arr`` or scanning it.

    For callers that convert to a dtype of their own: the networks cast
    images to theirs, so they accept exactly the dtypes the layers accept
    (float32, float64, integers, booleans) and no others.
    """
    t = arr.dtype.type
    if arr.dtype.kind in "iub" or t is np.float32 or t is np.float64:
        return
    raise TypeError(_dtype_message(arr, arr, name))


def check_fits(x: np.ndarray, dtype, name: str) -> None:
    """Refuse finite values of ``x`` that would become inf in the narrower float ``dtype``."""
    limit = float(np.finfo(dtype).max)
    big = max(abs(float(x.max())), abs(float(x.min())))    # no |x| copy of the batch
    if big > limit:
        raise ValueError(f"{name}: got values up to {big:.3g}, which {np.dtype(dtype).name} "
                         f"cannot hold (its largest is {limit:.3g}); expected data on a "
                         f"sensible scale: rescale it, or use a float64 network")


def as_real(value, name: str) -> float:
    """A real hyper-parameter such as ``lr`` as a Python float (range checks are the caller's)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: got {value!r} of type {type(value).__name__}; "
                        f"expected a real number")
    return float(value)
