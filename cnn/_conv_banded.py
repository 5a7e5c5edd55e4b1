r"""The banded-GEMM algorithm of :mod:`cnn.conv` (see its docstring), chosen by
:func:`cnn.conv._use_banded`: each output row reads its $K_H$ input rows once,
and one matrix product with a banded matrix of the kernels does the rest.

The output columns are cut into blocks of :data:`_BLOCK`: row (n, i, block)
holds the $K_H \times W_b$ input numbers that block reads, and one band of
$(C K_H W_b + 1) \times (F B_j)$, the same for every block (the convolution
is translation invariant), serves them all. The geometry ``g`` is
:class:`cnn.conv._Geometry`; arrays are validated, C-contiguous, one dtype.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._validate import cache_get, cache_put


def _pad(x: np.ndarray, padding: int, extra: int = 0) -> np.ndarray:
    """``x`` zero-padded by ``padding`` on all four sides (and ``extra`` more columns on
    the right). Zeros plus one copy: ``np.pad`` measured 2x slower."""
    if padding == 0 and extra == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * padding, W + 2 * padding + extra), x.dtype)
    xp[:, :, padding:padding + H, padding:padding + W] = x
    return xp


class _Blocks(NamedTuple):
    """How the banded GEMM tiles the output columns: ``nb`` blocks of ``Bj`` columns,
    each reading ``Wb`` padded input columns; rows hold ``K`` numbers, then a 1,
    then zeros up to ``Kp``; ``extra`` zero columns pad the input on the right
    so that the last block is whole."""
    Bj: int
    nb: int
    Wb: int
    K: int
    Kp: int
    extra: int


#: Output columns per block. A block of 8 keeps the band's zeros (a fraction
#: 1 - KW/Wb of it) low: at the MNIST shape the two products took 118 + 130 us
#: against 222 + 231 us for one block of all 24 columns (float32, one thread).
_BLOCK = 8


@functools.lru_cache(maxsize=64)
def _blocks(g) -> _Blocks:
    """(Called with N = 0: nothing here depends on the batch.)"""
    Bj = min(_BLOCK, g.OW)
    nb = -(-g.OW // Bj)
    Wb = g.stride * (Bj - 1) + g.KW
    K = g.C * g.KH * Wb
    # The 1 of the bias, then zeros to a multiple of 16 columns (~5% faster products).
    Kp = -(-(K + 1) // 16) * 16
    extra = max(0, g.stride * Bj * (nb - 1) + Wb - (g.W + 2 * g.padding))
    return _Blocks(Bj, nb, Wb, K, Kp, extra)


@functools.lru_cache(maxsize=64)
def _columns(g, pool: int = 1) -> np.ndarray:
    """(Called with N = 0.) ``col[f, j]``, the band column of kernel f at output column j
    of a block: ``f Bj + j``; with ``pool`` = s > 1 (``Bj`` a multiple of s) grouped by
    window offset instead, (e, f, J) for j = s J + e (the layout of :mod:`cnn._conv_pool`).
    A permutation of the columns: each output is the same dot product either way."""
    B = _blocks(g)
    f, j = np.ix_(range(g.F), range(B.Bj))
    col = f * B.Bj + j if pool == 1 else \
        (j % pool) * (g.F * B.Bj // pool) + f * (B.Bj // pool) + j // pool
    col.flags.writeable = False
    return col


@functools.lru_cache(maxsize=64)
def _band_index(g, pool: int = 1) -> np.ndarray:
    """(Called with N = 0.) Flat index of ``band[(c KH + a) Wb + s j + e, col[f, j]]``
    for every (f, c, a, e, j): where kernel element w[f, c, a, e] meets output column j
    (``col`` of :func:`_columns`)."""
    B = _blocks(g)
    f, c, a, e, j = np.ix_(range(g.F), range(g.C), range(g.KH), range(g.KW), range(B.Bj))
    index = np.ravel_multi_index(((c * g.KH + a) * B.Wb + g.stride * j + e,
                                  _columns(g, pool)[f, j]), (B.Kp, g.F * B.Bj))
    index.flags.writeable = False
    return index


def _band(w, b, g, pool: int = 1) -> np.ndarray:
    """The (Kp, F*Bj) banded matrix: the kernels on diagonals, the biases in row K."""
    g0 = g._replace(N=0)
    B = _blocks(g0)
    band = np.zeros((B.Kp, g.F * B.Bj), w.dtype)
    band.reshape(-1)[_band_index(g0, pool)] = w[..., None]
    if b is not None:
        band[B.K][_columns(g0, pool)] = b[:, None]
    return band


# Per thread, the latest buffer of each kind and shape: reused when nothing else
# holds it any more. A fresh multi-MB array per call costs page faults worth more
# than the copy into it (the rows of the MNIST conv: 0.5 against 0.13 ms).
_SCRATCH = threading.local()


def _scratch(key: tuple, shape: tuple, dtype) -> tuple[np.ndarray, bool]:
    """``(buffer, fresh)``: this thread's last buffer for ``key`` if no one else refers to
    it (no cache, view or caller holds it: its reference count says so), else a new one."""
    # One pool per dtype (and no local names the others: a float32 step holds no
    # float64 array, which tests/test_float32.py's tracer checks).
    pool = vars(_SCRATCH).setdefault("pools", {}).setdefault(np.dtype(dtype), {})
    key = key + (shape,)
    buffer = pool.get(key)
    # Three references: the pool's, `buffer`'s and getrefcount's own argument.
    if buffer is not None and sys.getrefcount(buffer) == 3:
        return buffer, False
    if len(pool) >= 8:
        pool.pop(next(iter(pool)))
    buffer = pool[key] = np.zeros(shape, dtype)
    return buffer, True


def _band_rows(x, g) -> np.ndarray:
    """(N*OH*nb, Kp): row (n, i, block) holds x_p[n, c, s i + a, s Bj block + v] for
    every (c, a, v), v < Wb, then a 1 (and zeros)."""
    B = _blocks(g._replace(N=0))
    rows, fresh = _scratch(("rows", B.K), (g.N * g.OH * B.nb, B.Kp), x.dtype)
    if fresh:
        rows[:, B.K] = 1                               # the rest stays as it is: 0
    xp = _pad(x, g.padding, B.extra)
    # Two copies with long runs instead of one of KH runs of Wb per row (measured 2x
    # faster): first each block's Wb input columns, all rows; then, for each output
    # row, the KH x Wb numbers it reads, now contiguous.
    sN, sC, sH, sW = xp.strides
    strips, _ = _scratch(("strips",), (g.N, B.nb, g.C, xp.shape[2], B.Wb), x.dtype)
    strips[...] = as_strided(xp, strips.shape, (sN, g.stride * B.Bj * sW, sC, sH, sW))
    tN, tB, tC, tH, tW = strips.strides
    view = as_strided(strips, (g.N, g.OH, B.nb, g.C, g.KH * B.Wb),
                      (tN, g.stride * tH, tB, tC, tW))
    rows[:, :B.K].reshape(view.shape)[...] = view
    return rows


def _product(x, w, b, g, cache=None, pool: int = 1) -> np.ndarray:
    """The banded product, (N*OH*nb, F*Bj): row (n, i, block), column ``col[f, j]``
    (:func:`_columns`) holds y[n, f, i, Bj block + j] (past the output's last column:
    what the zero padding gives). Fills ``cache`` with the rows."""
    rows = _band_rows(x, g)
    cache_put(cache, x, (g, x.dtype), rows=rows)
    return rows @ _band(w, b, g, pool)


def _forward_banded(x, w, b, g, cache=None) -> np.ndarray:
    B = _blocks(g._replace(N=0))
    y = _product(x, w, b, g, cache)                    # (N*OH*nb, F*Bj)
    # (n, i, block, f, j) -> NCHW in one copy (and a second only if the last block
    # runs past the output's edge).
    y = np.ascontiguousarray(y.reshape(g.N, g.OH, B.nb, g.F, B.Bj).transpose(0, 3, 1, 2, 4))
    y = y.reshape(g.N, g.F, g.OH, B.nb * B.Bj)
    return y if B.nb * B.Bj == g.OW else np.ascontiguousarray(y[..., :g.OW])


def _backward_banded(dy, x, w, g, need_dx=True, cache=None):
    g0 = g._replace(N=0)
    B = _blocks(g0)
    rows = cache_get(cache, "rows", x, (g, x.dtype))
    if rows is None:
        rows = _band_rows(x, g)
    # delta[(n, i, block), (f, j)] = dy[n, f, i, Bj block + j], 0 past the last column.
    if B.nb * B.Bj > g.OW:
        dy = np.pad(dy, ((0, 0), (0, 0), (0, 0), (0, B.nb * B.Bj - g.OW)))
    delta = dy.reshape(g.N, g.F, g.OH, B.nb, B.Bj).transpose(0, 2, 3, 1, 4)
    delta = delta.reshape(g.N * g.OH * B.nb, g.F * B.Bj)                    # a copy
    return _backward_product(delta, rows, x, w, g, need_dx)


def _backward_product(delta, rows, x, w, g, need_dx=True, pool: int = 1):
    """``(dx or None, dw, db)`` from ``delta``, dL/dy in the layout of :func:`_product`
    (0 past the output's last column), and the rows of the forward pass."""
    g0 = g._replace(N=0)
    B = _blocks(g0)
    band_grad = rows.T @ delta                         # (Kp, F*Bj)
    dw = band_grad.reshape(-1)[_band_index(g0, pool)].sum(axis=-1)
    db = band_grad[B.K][_columns(g0, pool)].sum(axis=1)
    if not need_dx:
        return None, dw, db
    # delta band^T holds, for each row, the gradient of every number copied into it;
    # each goes back where it was copied from (blocks overlap when KW > s: add).
    drows = (delta @ _band(w, None, g, pool)[:B.K].T).reshape(g.N, g.OH, B.nb, g.C, g.KH, B.Wb)
    s, p = g.stride, g.padding
    dxp = np.zeros((g.N, g.C, g.H + 2 * p, g.W + 2 * p + B.extra), x.dtype)
    for a in range(g.KH):
        for k in range(B.nb):
            dxp[:, :, a:a + s * (g.OH - 1) + 1:s, s * B.Bj * k:s * B.Bj * k + B.Wb] += \
                drows[:, :, k, :, a].transpose(0, 2, 1, 3)
    return np.ascontiguousarray(dxp[:, :, p:p + g.H, p:p + g.W]), dw, db
