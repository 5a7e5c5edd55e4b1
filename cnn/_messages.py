"""The error messages of :mod:`cnn._validate`: what was received, what was expected.

Split from it to keep each file readable; nothing here decides what is
accepted except :func:`_check_exact_in_float64`, which raises with its message.
"""

from __future__ import annotations

import numbers

import numpy as np


def _check_exact_in_float64(arr: np.ndarray, name: str) -> None:
    """Refuse 64-bit integers that float64 would round (only where |value| > 2**53)."""
    if arr.dtype.itemsize < 8 or arr.size == 0:
        return                                   # int32 and narrower always fit exactly
    if -2 ** 53 <= int(arr.min()) and int(arr.max()) <= 2 ** 53:
        return
    as_f = arr.astype(np.float64)
    with np.errstate(invalid="ignore"):          # 2**63 does not fit int64: cast garbage, != arr
        back = as_f.astype(arr.dtype)
    bad = back != arr
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: got the integer {int(arr[first])} at index {first} (dtype "
                         f"{arr.dtype}), which float64 cannot represent exactly (it would become "
                         f"{float(as_f[first])!r}); expected integers that float64 holds exactly "
                         f"(every one of magnitude up to 2**53). To accept the rounding, convert "
                         f"explicitly with {name}.astype(np.float64)")


def _dtype_message(arr: np.ndarray, value, name: str) -> str:
    dtype, kind = arr.dtype, arr.dtype.kind
    if kind == "f":
        if dtype.type is np.float16:
            return (f"{name}: got dtype {dtype}; expected float32 or float64 (half precision is "
                    f"not supported: use {name}.astype(np.float32))")
        return (f"{name}: got dtype {dtype}; expected float32 or float64 (extended precision "
                f"is not supported: {name}.astype(np.float64) converts it, rounding)")
    if kind == "c":
        return (f"{name}: got dtype {dtype}; expected real numbers (float32, float64, or "
                f"integers, which are promoted to float64)")
    if kind == "O":
        if arr.ndim == 0 and not isinstance(value, np.ndarray):
            return (f"{name}: got a {type(value).__name__} {_short(value)}; expected an array "
                    f"of real numbers")
        source = "dtype object" if isinstance(value, np.ndarray) else \
            f"a {type(value).__name__} that converts to dtype object"
        where, item = _first_non_number(arr)
        if where is None:
            return (f"{name}: got {source}; expected real numbers (an array of Python objects "
                    f"is not converted, even of numbers: np.asarray({name}, dtype=np.float64) "
                    f"converts it explicitly)")
        what = "None" if item is None else f"{_short(item)} of type {type(item).__name__}"
        real = isinstance(item, numbers.Real) or (isinstance(item, numbers.Number)
                                                  and not isinstance(item, numbers.Complex))
        hint = (f"; to accept rounding it to float64, convert explicitly with "
                f"np.asarray({name}, dtype=np.float64)" if real else "")
        return (f"{name}: got {source}; expected real numbers (the element at index {where} "
                f"is {what}){hint}")
    if kind in "US":
        first = _short(arr.flat[0].item()) if arr.size else "''"
        return (f"{name}: got dtype {dtype}; expected real numbers (strings such as {first} "
                f"are not parsed: convert them explicitly if they are numbers)")
    if kind == "V":
        if dtype.names:
            return (f"{name}: got the structured dtype {dtype}; expected real numbers (select a "
                    f"field, e.g. {name}[{dtype.names[0]!r}], or use numpy.lib.recfunctions."
                    f"structured_to_unstructured)")
        return f"{name}: got dtype {dtype} (raw bytes, np.void); expected real numbers"
    if kind in "mM":
        return (f"{name}: got dtype {dtype} (dates or durations); expected real numbers "
                f"(convert deliberately, e.g. divide by np.timedelta64(1, 's'))")
    return f"{name}: got dtype {dtype}; expected real numbers"


def _first_non_number(arr: np.ndarray):
    """Index and value of the first element of an object array that is not a float64 or an
    integer float64 holds exactly; ``(None, None)`` if there is none."""
    for i, item in enumerate(arr.flat):
        if isinstance(item, (bool, np.bool_)):
            continue
        if isinstance(item, (float, np.float64, np.float32)):
            continue
        if isinstance(item, (int, np.integer)) and -2 ** 53 <= item <= 2 ** 53:
            continue
        return tuple(int(k) for k in np.unravel_index(i, arr.shape)), item
    return None, None


def _masked_message(name: str, what: str) -> str:
    where = "" if what == name else f" as {what}"
    return (f"{name}: got a masked array (numpy.ma.MaskedArray){where}; its mask would be "
            f"silently dropped. Expected a plain array: fill the masked entries "
            f"({what}.filled(value)) or, if the mask is meant to be ignored, pass "
            f"np.asarray({what})")


def _ragged_where(value, name: str) -> str:
    """Where the lengths of a nested sequence first differ, e.g. ' (x[1] has length 1 ...)'."""
    def is_seq(v):
        return isinstance(v, (list, tuple)) or (isinstance(v, np.ndarray) and v.ndim > 0)

    def at(index):
        return name + "".join(f"[{i}]" for i in index)

    level = [((), value)]
    for _ in range(64):
        seqs = [(i, v) for i, v in level if is_seq(v)]
        if not seqs:
            return ""
        if len(seqs) != len(level):
            i_n, v_n = next((i, v) for i, v in level if not is_seq(v))
            i_s, v_s = seqs[0]
            return (f" ({at(i_n)} is {_short(v_n)}, not a sequence, but {at(i_s)} is a "
                    f"sequence of length {len(v_s)})")
        i0, v0 = seqs[0]
        for i, v in seqs[1:]:
            if len(v) != len(v0):
                return f" ({at(i)} has length {len(v)} but {at(i0)} has length {len(v0)})"
        if sum(len(v) for _, v in seqs) > 100_000:
            return ""                            # too big to search on an error path
        level = [(i + (k,), item) for i, v in seqs for k, item in enumerate(v)]
    return ""


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _scalar_note(arr: np.ndarray, value) -> str:
    if arr.ndim == 0 and not isinstance(value, np.ndarray):
        return f" (the scalar {_short(value)} of type {type(value).__name__})"
    return ""
