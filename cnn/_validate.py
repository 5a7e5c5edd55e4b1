"""Input checks shared by the layers: one clear error instead of a wrong answer.

Every public function in :mod:`cnn` runs its arguments through these helpers
first. The rules, in one place:

* Arrays must hold real numbers. Integer (and boolean) arrays are promoted to
  float64 explicitly, so ``conv2d(np.arange(...), ...)`` computes in float64.
  float32 and float64 are kept as they are; when a float32 and a float64
  operand meet, NumPy's rule applies and the result is float64.
* float16 is rejected (``TypeError``): its 11-bit mantissa cannot hold the
  sums of a convolution or a gradient check, and silently promoting it would
  hide that the caller asked for half precision. Convert with
  ``x.astype(np.float32)``.
* Complex, object and string arrays are rejected (``TypeError``).
* NaN and inf are rejected (``ValueError``): a non-finite input would turn
  every downstream gradient into NaN far from its cause.
* Every axis must be non-empty (an empty batch has no mean loss).

Each message names the argument, what was received and what was expected.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

__all__ = ["as_float", "common_dtype", "check_ndim", "check_finite", "as_int",
           "check_same_shape"]


def as_float(value, name: str, *, ndim: int | None = None, min_ndim: int | None = None,
             axes: str | None = None) -> np.ndarray:
    """``value`` as a float32/float64 array, checked.

    Parameters
    ----------
    value : array_like
        The argument as the caller passed it.
    name : str
        The argument's name, used in error messages.
    ndim, min_ndim : int, optional
        Exact or minimum number of dimensions expected.
    axes : str, optional
        The layout, e.g. ``"(N, C, H, W)"``, quoted in the ndim message.
    """
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind in "iub":
        # Explicit promotion: integer data (e.g. raw pixels) computes in float64.
        arr = arr.astype(np.float64)
    elif kind == "f":
        if arr.dtype == np.float16:
            raise TypeError(f"{name}: got dtype float16; expected float32 or float64 "
                            f"(half precision is not supported: use {name}.astype(np.float32))")
        if arr.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}: got dtype {arr.dtype}; expected float32 or float64")
    else:
        raise TypeError(f"{name}: got dtype {arr.dtype}; expected real numbers "
                        f"(float32, float64, or integers, which are promoted to float64)")
    if ndim is not None:
        check_ndim(arr, name, ndim, axes)
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name}: got a {arr.ndim}-D array of shape {arr.shape}; "
                         f"expected at least {min_ndim} dimensions")
    if arr.ndim and 0 in arr.shape:
        raise ValueError(f"{name}: got shape {arr.shape} with an empty axis; "
                         f"expected every axis to have length >= 1")
    check_finite(arr, name)
    return arr


def check_ndim(arr: np.ndarray, name: str, ndim: int, axes: str | None = None) -> None:
    if arr.ndim != ndim:
        layout = f" {axes}" if axes else ""
        raise ValueError(f"{name}: got a {arr.ndim}-D array of shape {arr.shape}; "
                         f"expected a {ndim}-D array{layout}")


def check_finite(arr: np.ndarray, name: str) -> None:
    """Reject NaN and inf.

    A finite sum proves every entry finite (NaN and inf both propagate through
    addition, and inf - inf is NaN), and one reduction is cheaper than the
    boolean array of ``np.isfinite``; only an overflowing sum of huge but
    finite values needs the elementwise look.
    """
    with np.errstate(over="ignore", invalid="ignore"):    # the fallback below decides
        total = np.sum(arr)
    if np.isfinite(total):
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: got {int(bad.sum())} non-finite value(s) (NaN or inf), "
                         f"first at index {first}: {arr[first]!r}; expected finite numbers")


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
