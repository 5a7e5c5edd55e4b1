"""Parameters that are views of one flat array: how an optimiser finds and uses that.

:meth:`cnn.optim.Optimizer.step` updates all parameters with one set of NumPy
calls when they (and the gradients) are consecutive views of one flat array,
as :class:`cnn.MnistNet` packs them: the same elementwise operations on the
same elements, so the same numbers, without a Python loop over parameters.
"""

from __future__ import annotations

import math

import numpy as np

#: The key of "every parameter at once" when they are views of one flat array.
FLAT = "*"


def tiling(arrays: dict, names: list) -> np.ndarray | None:
    """The 1-D array of which ``arrays[n]`` for ``n`` in ``names`` are consecutive
    C-contiguous views, in that order, covering it exactly; None if there is none."""
    base = arrays[names[0]].base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    address, end = base.__array_interface__["data"][0], 0
    for n in names:
        a = arrays[n]
        if a.base is not base or not a.flags.c_contiguous or \
                a.__array_interface__["data"][0] != address + end * base.itemsize:
            return None
        end += a.size
    return base if end == base.size else None


def views(flat: np.ndarray, like: dict, names: list) -> dict:
    """``{n: view of flat}`` in the shapes of ``like[n]``, consecutive in ``names`` order."""
    out, start = {}, 0
    for n in names:
        size = like[n].size
        out[n] = flat[start:start + size].reshape(like[n].shape)
        start += size
    return out


def finite(a: np.ndarray) -> bool:
    """Every entry finite: one dot product (NaN and inf propagate; a finite sum of
    squares proves it), the elementwise test only when that overflows. Call it with
    NumPy's overflow warnings off."""
    flat = a.reshape(-1)
    return math.isfinite(flat @ flat) or bool(np.isfinite(flat).all())


def owner(flat: np.ndarray, params: dict, names: list) -> str:
    """The parameter of the first non-finite element of a flat update."""
    first = int(np.argmax(~np.isfinite(flat)))
    for n in names:
        if first < params[n].size:
            return n
        first -= params[n].size
    return names[-1]
