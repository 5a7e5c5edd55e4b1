r"""Multi-channel 2-D convolution (cross-correlation, as PyTorch) and its gradients.

Layout NCHW. With the input zero-padded by $p$ on every side to $x_p$,
stride $s$, kernels $w$ of shape $(F, C, K_H, K_W)$ and bias $b$:

$$y[n,f,i,j] = b[f] + \sum_{c,a,e} w[f,c,a,e]\; x_p[n,\, c,\, s i + a,\, s j + e],$$

$O_H = \lfloor (H + 2p - K_H)/s \rfloor + 1$ and likewise $O_W$. This is a
cross-correlation: the kernel is not flipped (PyTorch's ``conv2d``), unlike
``scipy.signal.convolve2d`` and the toy net of :mod:`cnn.toy_net`.

How it is vectorised: two algorithms, chosen by shape (:func:`_use_banded`),
equal up to the order of float additions (``tests/test_fast_paths.py``).

*Banded GEMM* (one input channel at stride 1: the first layer of an image
network; :mod:`cnn._conv_banded`). Each output row $(n, i)$ takes the $K_H$
padded input rows $s i .. s i + K_H - 1$ side by side (a copy of $K_H$ rows,
where im2col copies $K_H K_W$ numbers per output pixel) and multiplies them
by a matrix that holds the kernels on its diagonals,
``band[a W_b + s j + e, (f, j)] = w[f, 0, a, e]``, and the biases in its last
row (against a column of ones). The output columns are cut into blocks of 8,
each reading $W_b = s \cdot 7 + K_W$ input columns, so that the band is mostly
but not overwhelmingly zeros; every block uses the same band. One
well-shaped matrix product beats both a 2-row product (a slow path in
OpenBLAS, F = 2) and im2col's copy (memory-bound).
$\partial L/\partial w$ and $\partial L/\partial b$ are the transposed
product ``rows^T delta``, read back along the same diagonals and the bias
row; $\partial L/\partial x$ is ``delta band^T``, whose row blocks are added
back onto the input rows they were copied from.

*im2col* (everything else). Every window of $x_p$ becomes one column of a
matrix ``cols`` of shape $(C K_H K_W,\ N O_H O_W)$, so the layer is a single
matrix product ``w.reshape(F, -1) @ cols``. The columns come from one copy of
``sliding_window_view`` laid out as (C, KH, KW, N, OH, OW), which measured as
fast as copying the KH*KW strided slices one by one and ~2x faster than
``tensordot``/``einsum`` straight on the window view (the conv of the MNIST
net, float32, one thread: 0.55 ms against 1.2-1.3 ms).

The backward pass, with $\delta = \partial L/\partial y$:

* $\partial L/\partial b[f] = \sum_{n,i,j} \delta[n,f,i,j]$;
* $\partial L/\partial w[f,c,a,e] = \sum_{n,i,j} \delta[n,f,i,j]\, x_p[n,c,si+a,sj+e]$,
  a correlation of the input with $\delta$: ``cols @ delta``;
* $\partial L/\partial x_p[n,c,u,v] = \sum_{f,i,j,\ si+a=u,\ sj+e=v} \delta[n,f,i,j]\, w[f,c,a,e]$,
  a full cross-correlation (sliding window, no flip) of the stride-dilated
  $\delta$ with the 180-degree rotated kernels, summed over $f$; equivalently a
  full true convolution (kernel flipped, as ``scipy.signal.convolve2d``) with
  the kernels as they are. Rotating the kernels *and* using a true convolution
  would flip twice, which is wrong. Computed as the transpose of im2col
  (*col2im*): for each kernel offset $(a, e)$, the slice
  $w[:, :, a, e]^\top \delta$ of ``dcols = w.T @ delta`` is added back onto
  the strided positions $x_p[s i + a, s j + e]$ it was read from. That is a
  loop over the $K_H K_W$ offsets (25 for a 5x5 kernel), each step one small
  matrix product and one whole-array add. Measured at the MNIST shape
  (float32, one thread, one run): 1.6 ms for the whole backward pass this
  way; 3.8 ms when all of ``dcols`` is formed first (most of it page faults
  on the freshly allocated multi-MB array); the full convolution run through
  im2col is as fast at stride 1 but 1.6-2.3x slower at stride 2 or larger
  batches; ``np.add.at`` is far slower. Finally the padding is cropped off:
  $\partial L/\partial x$ is the interior.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._conv_banded import _backward_banded, _forward_banded, _pad
from ._validate import as_float, as_int, cache_get, cache_put, checked, common_dtype

__all__ = ["conv2d", "conv2d_backward", "output_size"]


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """$\\lfloor (size + 2\\,padding - kernel) / stride \\rfloor + 1$ (may be <= 0)."""
    return (size + 2 * padding - kernel) // stride + 1


class _Geometry(NamedTuple):
    """Sizes of one convolution: x (N, C, H, W), w (F, C, KH, KW), y (N, F, OH, OW)."""
    N: int
    C: int
    H: int
    W: int
    F: int
    KH: int
    KW: int
    OH: int
    OW: int
    stride: int
    padding: int


def _check(x, w, stride, padding):
    """:func:`_validated` as ``x, w, stride, padding, (N, C, H, W, F, KH, KW, OH, OW)``
    (the form :mod:`cnn.reference` unpacks)."""
    x, w, g = _validated(x, w, stride, padding)
    return x, w, g.stride, g.padding, tuple(g)[:9]


def _geometry(x_shape, w_shape, stride: int, padding: int) -> _Geometry:
    """The geometry of arrays already validated (no checks, no scans)."""
    N, C, H, W = x_shape
    F, _, KH, KW = w_shape
    return _Geometry(N, C, H, W, F, KH, KW, output_size(H, KH, stride, padding),
                     output_size(W, KW, stride, padding), stride, padding)


def _validated(x, w, stride, padding):
    """Validate the shared arguments; return the arrays and the geometry."""
    stride = as_int(stride, "stride", minimum=1)
    padding = as_int(padding, "padding", minimum=0)
    x = as_float(x, "x", ndim=4, axes="(N, C, H, W)")
    w = as_float(w, "w", ndim=4, axes="(F, C, KH, KW)")
    N, C, H, W = x.shape
    F, Cw, KH, KW = w.shape
    if Cw != C:
        raise ValueError(f"w: got {Cw} input channel(s) (w.shape = {w.shape}) but x has "
                         f"{C} (x.shape = {x.shape}); expected w.shape[1] == x.shape[1]")
    Hp, Wp = H + 2 * padding, W + 2 * padding
    if KH > Hp or KW > Wp:
        raise ValueError(f"w: got a {KH}x{KW} kernel but the padded input is {Hp}x{Wp} "
                         f"(x is {H}x{W}, padding={padding}); expected a kernel no larger "
                         f"than the padded input")
    return x, w, _geometry(x.shape, w.shape, stride, padding)


def _use_banded(g: _Geometry) -> bool:
    """Whether the banded GEMM is the faster algorithm: one input channel, stride 1.

    Measured (float32, one thread, forward + backward without dx): 0.51 against
    0.88 ms for im2col at the MNIST conv (64, 1, 28, 28) * (2, 1, 5, 5); with
    several channels or stride 2 the band's zeros cost more than im2col's
    copy saves (e.g. (32, 8, 16, 16) * (16, 8, 3, 3), stride 2: 1.3 against
    0.7 ms with dx).
    """
    return g.C == 1 and g.stride == 1


@checked("conv2d", ("y",), widen=("x", "w", "b"))
def conv2d(x, w, b=None, *, stride=1, padding=0, cache=None):
    r"""Convolution layer forward: cross-correlation of ``x`` with ``w``, plus ``b``.

    $y[n,f,i,j] = b[f] + \sum_{c,a,e} w[f,c,a,e]\, x_p[n, c, s i + a, s j + e]$,
    with $x_p$ the input zero-padded by ``padding`` on all four sides.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        Input images. Integer arrays are promoted to float64.
    w : array_like, shape (F, C, KH, KW)
        One kernel per output channel, spanning every input channel.
    b : array_like, shape (F,), optional
        Bias per output channel; ``None`` for no bias.
    stride : int, keyword-only
        Step between windows, >= 1.
    padding : int, keyword-only
        Zeros added on each side of H and W, >= 0.
    cache : dict, keyword-only, optional
        Filled with what the forward pass computed from ``x`` (its columns or
        rows, see the module docstring); pass the same dict to
        :func:`conv2d_backward` with the same ``x`` (not modified in between)
        and it is reused instead of recomputed (a cache filled for another
        ``x`` or geometry is ignored). Each forward call replaces its content.

    Returns
    -------
    y : ndarray, shape (N, F, OH, OW)
        $O_H = \lfloor (H + 2p - K_H)/s \rfloor + 1$, likewise $O_W$. The dtype is
        the common float dtype of the inputs (float32 stays float32).

    Raises
    ------
    TypeError, ValueError
        For a wrong ndim, mismatched channels, a kernel larger than the padded
        input, bad stride/padding, non-real dtypes or non-finite values.
    FloatingPointError
        (:class:`cnn._validate.NonFiniteResultError`) when finite inputs give
        a result too large for the dtype.
    """
    x, w, g = _validated(x, w, stride, padding)
    arrays = [x, w]
    if b is not None:
        b = as_float(b, "b", ndim=1, axes="(F,)")
        if b.shape != (g.F,):
            raise ValueError(f"b: got shape {b.shape}; expected ({g.F},), one bias per "
                             f"output channel of w (w.shape = {w.shape})")
        arrays.append(b)
    dtype = common_dtype(*arrays)
    return _forward(*(a if a is None else a.astype(dtype, copy=False) for a in (x, w, b)),
                    g, cache)


@checked("conv2d_backward", ("dx", "dw", "db"), widen=("dy", "x", "w"))
def conv2d_backward(dy, x, w, *, stride=1, padding=0, need_dx=True, cache=None):
    r"""Convolution layer backward: gradients of the loss w.r.t. x, w and b.

    With $\delta$ = ``dy`` $= \partial L / \partial y$:

    * $\partial L/\partial b[f] = \sum_{n,i,j} \delta[n,f,i,j]$
    * $\partial L/\partial w[f,c,a,e] = \sum_{n,i,j} \delta[n,f,i,j]\, x_p[n,c,si+a,sj+e]$
      (the input correlated with $\delta$)
    * $\partial L/\partial x_p[n,c,u,v] = \sum_{f}\sum_{(i,a):\,si+a=u}\sum_{(j,e):\,sj+e=v}
      \delta[n,f,i,j]\, w[f,c,a,e]$ (a full convolution of the stride-dilated
      $\delta$ with the rotated kernels), and ``dx`` is its interior without the
      padding. Input pixels no window reaches (when $(H + 2p - K_H)$ is not a
      multiple of $s$) get gradient 0.

    Parameters
    ----------
    dy : array_like, shape (N, F, OH, OW)
        Upstream gradient $\partial L / \partial y$.
    x : array_like, shape (N, C, H, W)
        The forward input.
    w : array_like, shape (F, C, KH, KW)
        The kernels.
    stride, padding : int, keyword-only
        As in :func:`conv2d`.
    need_dx : bool, keyword-only
        ``False`` skips $\partial L/\partial x$ (returned as ``None``): the
        first layer of a network has no use for it, and it is most of the
        backward pass's cost.
    cache : dict, keyword-only, optional
        The dict the forward call on this ``x`` filled (see :func:`conv2d`).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), or None when ``need_dx`` is false
    dw : ndarray, shape (F, C, KH, KW)
    db : ndarray, shape (F,)
        All in the common float dtype of ``dy``, ``x`` and ``w``. ``db`` is
        returned whether or not the forward pass had a bias.
    """
    x, w, g = _validated(x, w, stride, padding)
    dy = as_float(dy, "dy", ndim=4, axes="(N, F, OH, OW)")
    if dy.shape != (g.N, g.F, g.OH, g.OW):
        raise ValueError(f"dy: got shape {dy.shape}; expected {(g.N, g.F, g.OH, g.OW)}, the "
                         f"shape of conv2d's output for x.shape = {x.shape}, w.shape = "
                         f"{w.shape}, stride={g.stride}, padding={g.padding}")
    dtype = common_dtype(dy, x, w)
    return _backward(*(a.astype(dtype, copy=False) for a in (dy, x, w)), g, need_dx, cache)


# ----------------------------------------------------------------------------- kernels
# Unchecked: arrays C-contiguous, of one float dtype and of the geometry g. The
# public functions above validate once and call these; so do the networks.

def _forward(x, w, b, g: _Geometry, cache=None) -> np.ndarray:
    """$y$ (N, F, OH, OW) by the algorithm :func:`_use_banded` picks; fills ``cache``."""
    if _use_banded(g):
        return _forward_banded(x, w, b, g, cache)
    cols = _im2col(_pad(x, g.padding), g.KH, g.KW, g.stride)
    cache_put(cache, x, (g, x.dtype), cols=cols)
    y = w.reshape(g.F, -1) @ cols                      # (F, N*OH*OW)
    if b is not None:
        y += b[:, None]
    return np.ascontiguousarray(y.reshape(g.F, g.N, g.OH, g.OW).transpose(1, 0, 2, 3))


def _backward(dy, x, w, g: _Geometry, need_dx=True, cache=None):
    """``(dx or None, dw, db)``; reuses what the forward call on ``x`` put in ``cache``."""
    if _use_banded(g):
        return _backward_banded(dy, x, w, g, need_dx, cache)
    cols = cache_get(cache, "cols", x, (g, x.dtype))
    if cols is None:
        cols = _im2col(_pad(x, g.padding), g.KH, g.KW, g.stride)   # (C*KH*KW, N*OH*OW)
    delta = dy.transpose(1, 0, 2, 3).reshape(g.F, -1)   # (F, N*OH*OW), a copy
    db = delta.sum(axis=1)
    # cols @ delta.T reads both operands along their long rows; delta @ cols.T
    # measured ~1.5-2x slower with OpenBLAS for F = 2.
    dw = np.ascontiguousarray((cols @ delta.T).T.reshape(w.shape))
    del cols                                           # free it before dx needs memory
    if not need_dx:
        return None, dw, db
    return _col2im(dy, delta, w, g), dw, db


def _im2col(xp: np.ndarray, KH: int, KW: int, stride: int) -> np.ndarray:
    """Windows of ``xp`` (N, C, Hp, Wp) as columns: (C*KH*KW, N*OH*OW).

    Row ``(c, a, e)`` holds $x_p[n, c, s i + a, s j + e]$ for every
    ``(n, i, j)`` in row-major order.
    """
    C = xp.shape[1]
    windows = sliding_window_view(xp, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    # (N, C, OH, OW, KH, KW) -> (C, KH, KW, N, OH, OW): the copy moves runs of OW
    # elements rather than KW, and the matrix product then reads long rows.
    cols = np.ascontiguousarray(windows.transpose(1, 4, 5, 0, 2, 3))
    return cols.reshape(C * KH * KW, -1)


def _col2im(dy, delta, w, g: _Geometry) -> np.ndarray:
    """$\\partial L/\\partial x$ from ``dy``: the transpose of :func:`_im2col`.

    Window element (a, e) of output (i, j) was read from x_p[s i + a, s j + e];
    add w[:, :, a, e]^T delta back there, one offset at a time. Forming each
    offset's slice of dcols = w^T delta just before adding it avoids
    allocating all of dcols (KH*KW times larger), which measured 2.3x faster
    at the MNIST shape. At stride 1 the adds run along contiguous rows of
    x_p, laid out (C, N, Hp, Wp), with ``delta`` = ``dy`` as (F, N*OH*OW); at a
    larger stride x_p is laid out (Hp, Wp, N, C) instead, so that each add
    moves runs of N*C numbers rather than strided rows (3x3, stride 2 on
    (32, 8, 16, 16): 0.24 against 0.29 ms).
    """
    s, p = g.stride, g.padding
    rows, cols = s * (g.OH - 1) + 1, s * (g.OW - 1) + 1
    if s == 1:
        dxp = np.zeros((g.C, g.N, g.H + 2 * p, g.W + 2 * p), delta.dtype)
        for a in range(g.KH):
            for e in range(g.KW):
                dcols_ae = (w[:, :, a, e].T @ delta).reshape(g.C, g.N, g.OH, g.OW)
                dxp[:, :, a:a + rows, e:e + cols] += dcols_ae
        return np.ascontiguousarray(dxp[:, :, p:p + g.H, p:p + g.W].transpose(1, 0, 2, 3))
    by_pixel = np.ascontiguousarray(dy.transpose(2, 3, 0, 1)).reshape(-1, g.F)
    dxp = np.zeros((g.H + 2 * p, g.W + 2 * p, g.N, g.C), delta.dtype)
    for a in range(g.KH):
        for e in range(g.KW):
            dcols_ae = (by_pixel @ w[:, :, a, e]).reshape(g.OH, g.OW, g.N, g.C)
            dxp[a:a + rows:s, e:e + cols:s] += dcols_ae
    return np.ascontiguousarray(dxp[p:p + g.H, p:p + g.W].transpose(2, 3, 0, 1))
