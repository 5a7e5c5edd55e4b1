r"""Multi-channel 2-D convolution (cross-correlation, as PyTorch) and its gradients.

Layout NCHW. With the input zero-padded by $p$ on every side to $x_p$,
stride $s$, kernels $w$ of shape $(F, C, K_H, K_W)$ and bias $b$:

$$y[n,f,i,j] = b[f] + \sum_{c,a,e} w[f,c,a,e]\; x_p[n,\, c,\, s i + a,\, s j + e],$$

$O_H = \lfloor (H + 2p - K_H)/s \rfloor + 1$ and likewise $O_W$. This is a
cross-correlation: the kernel is not flipped (PyTorch's ``conv2d``), unlike
``scipy.signal.convolve2d`` and the toy net of :mod:`cnn.toy_net`.

How it is vectorised: *im2col*. Every window of $x_p$ becomes one column of a
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

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validate import as_float, as_int, checked, common_dtype

__all__ = ["conv2d", "conv2d_backward", "output_size"]


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """$\\lfloor (size + 2\\,padding - kernel) / stride \\rfloor + 1$ (may be <= 0)."""
    return (size + 2 * padding - kernel) // stride + 1


def _check(x, w, stride, padding):
    """Validate the shared arguments; return arrays and geometry."""
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
    OH, OW = output_size(H, KH, stride, padding), output_size(W, KW, stride, padding)
    return x, w, stride, padding, (N, C, H, W, F, KH, KW, OH, OW)


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


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


@checked("conv2d", ("y",), widen=("x", "w", "b"))
def conv2d(x, w, b=None, *, stride=1, padding=0):
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
    x, w, stride, padding, (N, C, H, W, F, KH, KW, OH, OW) = _check(x, w, stride, padding)
    arrays = [x, w]
    if b is not None:
        b = as_float(b, "b", ndim=1, axes="(F,)")
        if b.shape != (F,):
            raise ValueError(f"b: got shape {b.shape}; expected ({F},), one bias per "
                             f"output channel of w (w.shape = {w.shape})")
        arrays.append(b)
    dtype = common_dtype(*arrays)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    cols = _im2col(_pad(x, padding), KH, KW, stride)
    y = w.reshape(F, -1) @ cols                        # (F, N*OH*OW)
    if b is not None:
        y += b.astype(dtype, copy=False)[:, None]
    return np.ascontiguousarray(y.reshape(F, N, OH, OW).transpose(1, 0, 2, 3))


@checked("conv2d_backward", ("dx", "dw", "db"), widen=("dy", "x", "w"))
def conv2d_backward(dy, x, w, *, stride=1, padding=0):
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

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dw : ndarray, shape (F, C, KH, KW)
    db : ndarray, shape (F,)
        All in the common float dtype of ``dy``, ``x`` and ``w``. ``db`` is
        returned whether or not the forward pass had a bias.
    """
    x, w, stride, padding, (N, C, H, W, F, KH, KW, OH, OW) = _check(x, w, stride, padding)
    dy = as_float(dy, "dy", ndim=4, axes="(N, F, OH, OW)")
    if dy.shape != (N, F, OH, OW):
        raise ValueError(f"dy: got shape {dy.shape}; expected {(N, F, OH, OW)}, the shape "
                         f"of conv2d's output for x.shape = {x.shape}, w.shape = {w.shape}, "
                         f"stride={stride}, padding={padding}")
    dtype = common_dtype(dy, x, w)
    x, w, dy = (a.astype(dtype, copy=False) for a in (x, w, dy))

    xp = _pad(x, padding)
    cols = _im2col(xp, KH, KW, stride)                 # (C*KH*KW, N*OH*OW)
    delta = dy.transpose(1, 0, 2, 3).reshape(F, -1)    # (F, N*OH*OW), a copy
    db = delta.sum(axis=1)
    # cols @ delta.T reads both operands along their long rows; delta @ cols.T
    # measured ~1.5-2x slower with OpenBLAS for F = 2.
    dw = (cols @ delta.T).T.reshape(F, C, KH, KW)
    del cols                                           # free it before dx needs memory

    # col2im: the transpose of _im2col. Window element (a, e) of output (i, j)
    # was read from x_p[s i + a, s j + e]; add w[:, :, a, e]^T delta back there,
    # one offset at a time. Forming each offset's (C, N*OH*OW) slice of
    # dcols = w^T delta just before adding it avoids allocating all of dcols
    # (KH*KW times larger), which measured 2.3x faster at the MNIST shape.
    dxp = np.zeros((C, N) + xp.shape[2:], dtype)
    rows, cols_ = stride * (OH - 1) + 1, stride * (OW - 1) + 1
    for a in range(KH):
        for e in range(KW):
            dcols_ae = (w[:, :, a, e].T @ delta).reshape(C, N, OH, OW)
            dxp[:, :, a:a + rows:stride, e:e + cols_:stride] += dcols_ae
    dx = dxp[:, :, padding:padding + H, padding:padding + W].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx), np.ascontiguousarray(dw), db
