r"""Fully connected (dense) layer, row layout: one example per row.

$$y = x W + b,\qquad y[n,o] = b[o] + \sum_i x[n,i]\, W[i,o].$$

With $\delta = \partial L/\partial y$ (shape (N, D_out)):

$$\frac{\partial L}{\partial x} = \delta W^\top,\qquad
\frac{\partial L}{\partial W} = x^\top \delta,\qquad
\frac{\partial L}{\partial b} = \sum_n \delta[n, :].$$

The seed 003 network writes the same layer in column layout (features x
batch, $z = W_1 x + B_0$); its formulas are the transposes of these. The
derivation in ``derivations/`` proves the two equal.
"""

from __future__ import annotations

from ._validate import as_float, checked, common_dtype

__all__ = ["dense", "dense_backward"]


def _check(x, w):
    x = as_float(x, "x", ndim=2, axes="(N, D_in)")
    w = as_float(w, "w", ndim=2, axes="(D_in, D_out)")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"w: got shape {w.shape} but x has {x.shape[1]} features "
                         f"(x.shape = {x.shape}); expected w.shape[0] == x.shape[1]")
    return x, w


@checked("dense", ("y",), widen=("x", "w", "b"))
def dense(x, w, b):
    r"""Dense layer forward: $y = x W + b$.

    Parameters
    ----------
    x : array_like, shape (N, D_in)
    w : array_like, shape (D_in, D_out)
    b : array_like, shape (D_out,)

    Returns
    -------
    y : ndarray, shape (N, D_out)
        In the common float dtype of the inputs (float32 stays float32).
    """
    x, w = _check(x, w)
    b = as_float(b, "b", ndim=1, axes="(D_out,)")
    if b.shape != (w.shape[1],):
        raise ValueError(f"b: got shape {b.shape}; expected ({w.shape[1]},), one bias "
                         f"per output of w (w.shape = {w.shape})")
    dtype = common_dtype(x, w, b)
    return _forward(*(a.astype(dtype, copy=False) for a in (x, w, b)))


@checked("dense_backward", ("dx", "dw", "db"), widen=("dy", "x", "w"))
def dense_backward(dy, x, w):
    r"""Dense layer backward.

    $\partial L/\partial x = \delta W^\top$, $\partial L/\partial W = x^\top \delta$,
    $\partial L/\partial b = \sum_n \delta[n,:]$, with $\delta$ = ``dy``.

    Parameters
    ----------
    dy : array_like, shape (N, D_out)
        Upstream gradient $\partial L/\partial y$.
    x : array_like, shape (N, D_in)
        The forward input.
    w : array_like, shape (D_in, D_out)

    Returns
    -------
    dx : ndarray, shape (N, D_in)
    dw : ndarray, shape (D_in, D_out)
    db : ndarray, shape (D_out,)
        All in the common float dtype of ``dy``, ``x`` and ``w``.
    """
    x, w = _check(x, w)
    dy = as_float(dy, "dy", ndim=2, axes="(N, D_out)")
    expected = (x.shape[0], w.shape[1])
    if dy.shape != expected:
        raise ValueError(f"dy: got shape {dy.shape}; expected {expected}, the shape of "
                         f"dense's output for x.shape = {x.shape}, w.shape = {w.shape}")
    dtype = common_dtype(dy, x, w)
    return _backward(*(a.astype(dtype, copy=False) for a in (dy, x, w)))


# Unchecked kernels: arrays of one float dtype and matching shapes. The public
# functions above validate once and call these; so do the networks.

def _forward(x, w, b):
    """$y = x W + b$."""
    y = x @ w
    y += b
    return y


def _backward(dy, x, w, need_dx=True):
    r"""$(\delta W^\top$ or None$,\ x^\top \delta,\ \sum_n \delta[n, :])$."""
    return (dy @ w.T if need_dx else None), x.T @ dy, dy.sum(axis=0)
