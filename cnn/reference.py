r"""Slow, plain-loop versions of the layers, kept for readers and as a test oracle.

Each function has the same signature, checks and dtypes as its fast
counterpart in :mod:`cnn`, but is written as the textbook definition: one
Python loop per index, one window at a time. They are hundreds of times
slower (see :mod:`cnn.conv` for timings) and exist so that a reader can check
the vectorised code line by line against something obviously right, and so
that the tests can check it against them.
"""

from __future__ import annotations

import math

import numpy as np

# Import from the submodules: the attribute ``cnn.dense`` is the function.
from ._validate import as_float, common_dtype
from .conv import _check as _conv_check
from .dense import _check as _dense_check
from .pooling import _check as _pool_check

__all__ = ["conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward",
           "avg_pool2d", "avg_pool2d_backward", "dense", "dense_backward",
           "softmax_cross_entropy"]


def _pad(x, p):
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * p, W + 2 * p), x.dtype)
    xp[:, :, p:p + H, p:p + W] = x
    return xp


def conv2d(x, w, b=None, *, stride=1, padding=0):
    """Loop version of :func:`cnn.conv2d`: ``y[n,f,i,j] = b[f] + sum(window * w[f])``."""
    x, w, s, p, (N, C, H, W, F, KH, KW, OH, OW) = _conv_check(x, w, stride, padding)
    arrays = [x, w] if b is None else [x, w, as_float(b, "b", ndim=1)]
    if b is not None and arrays[2].shape != (F,):
        raise ValueError(f"b: got shape {arrays[2].shape}; expected ({F},)")
    dtype = common_dtype(*arrays)
    xp = _pad(x, p)
    y = np.zeros((N, F, OH, OW), dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = xp[n, :, s * i:s * i + KH, s * j:s * j + KW]  # (C, KH, KW)
                    y[n, f, i, j] = np.sum(window * w[f]) + (0 if b is None else arrays[2][f])
    return y


def conv2d_backward(dy, x, w, *, stride=1, padding=0):
    """Loop version of :func:`cnn.conv2d_backward`: every output pixel of the
    forward pass hands its gradient back to the window and kernel it came from."""
    x, w, s, p, (N, C, H, W, F, KH, KW, OH, OW) = _conv_check(x, w, stride, padding)
    dy = as_float(dy, "dy", ndim=4)
    if dy.shape != (N, F, OH, OW):
        raise ValueError(f"dy: got shape {dy.shape}; expected {(N, F, OH, OW)}")
    dtype = common_dtype(dy, x, w)
    xp = _pad(x, p)
    dxp = np.zeros(xp.shape, dtype)
    dw = np.zeros(w.shape, dtype)
    db = np.zeros(F, dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    g = dy[n, f, i, j]
                    rows, cols = slice(s * i, s * i + KH), slice(s * j, s * j + KW)
                    db[f] += g                                  # y = ... + b[f]
                    dw[f] += g * xp[n, :, rows, cols]           # y = ... + w[f] * window
                    dxp[n, :, rows, cols] += g * w[f]           # window's share of y
    return dxp[:, :, p:p + H, p:p + W].copy(), dw, db


def max_pool2d(x, *, size=2, stride=2):
    """Loop version of :func:`cnn.max_pool2d`."""
    x, k, s, OH, OW = _pool_check(x, size, stride)
    N, C = x.shape[:2]
    y = np.zeros((N, C, OH, OW), x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    y[n, c, i, j] = x[n, c, s * i:s * i + k, s * j:s * j + k].max()
    return y


def _pool_backward_check(dy, x, size, stride):
    """The checked ``x`` and ``dy``, a zero ``dx``, the output shape, k and s of a pool."""
    x, k, s, OH, OW = _pool_check(x, size, stride)
    dy = as_float(dy, "dy", ndim=4)
    N, C = x.shape[:2]
    if dy.shape != (N, C, OH, OW):
        raise ValueError(f"dy: got shape {dy.shape}; expected {(N, C, OH, OW)}")
    return x, dy, np.zeros(x.shape, common_dtype(dy, x)), (N, C, OH, OW), k, s


def max_pool2d_backward(dy, x, *, size=2, stride=2):
    """Loop version of :func:`cnn.max_pool2d_backward`.

    Scans each window in row-major order and keeps the first strict maximum:
    on ties the first one wins, the documented tie rule.
    """
    x, dy, dx, (N, C, OH, OW), k, s = _pool_backward_check(dy, x, size, stride)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    best = (s * i, s * j)
                    for a in range(k):
                        for e in range(k):
                            u, v = s * i + a, s * j + e
                            if x[n, c, u, v] > x[n, c, best[0], best[1]]:
                                best = (u, v)
                    dx[n, c, best[0], best[1]] += dy[n, c, i, j]
    return dx


def avg_pool2d(x, *, size=2, stride=2):
    """Loop version of :func:`cnn.avg_pool2d`: each window's sum over its k * k entries."""
    x, k, s, OH, OW = _pool_check(x, size, stride)
    N, C = x.shape[:2]
    y = np.zeros((N, C, OH, OW), x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    total = x.dtype.type(0)
                    for a in range(k):
                        for e in range(k):
                            total += x[n, c, s * i + a, s * j + e]
                    y[n, c, i, j] = total / (k * k)
    return y


def avg_pool2d_backward(dy, x, *, size=2, stride=2):
    """Loop version of :func:`cnn.avg_pool2d_backward`: every window hands each of its
    k * k entries the share dy / k^2."""
    x, dy, dx, (N, C, OH, OW), k, s = _pool_backward_check(dy, x, size, stride)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    for a in range(k):
                        for e in range(k):
                            dx[n, c, s * i + a, s * j + e] += dy[n, c, i, j] / (k * k)
    return dx


def dense(x, w, b):
    """Loop version of :func:`cnn.dense`: ``y[n,o] = b[o] + sum_i x[n,i] w[i,o]``."""
    x, w = _dense_check(x, w)
    b = as_float(b, "b", ndim=1)
    if b.shape != (w.shape[1],):
        raise ValueError(f"b: got shape {b.shape}; expected ({w.shape[1]},)")
    N, (D_in, D_out) = x.shape[0], w.shape
    y = np.zeros((N, D_out), common_dtype(x, w, b))
    for n in range(N):
        for o in range(D_out):
            total = b[o]
            for i in range(D_in):
                total += x[n, i] * w[i, o]
            y[n, o] = total
    return y


def dense_backward(dy, x, w):
    """Loop version of :func:`cnn.dense_backward`."""
    x, w = _dense_check(x, w)
    dy = as_float(dy, "dy", ndim=2)
    N, (D_in, D_out) = x.shape[0], w.shape
    if dy.shape != (N, D_out):
        raise ValueError(f"dy: got shape {dy.shape}; expected {(N, D_out)}")
    dtype = common_dtype(dy, x, w)
    dx, dw, db = np.zeros(x.shape, dtype), np.zeros(w.shape, dtype), np.zeros(D_out, dtype)
    for n in range(N):
        for o in range(D_out):
            db[o] += dy[n, o]
            for i in range(D_in):
                dx[n, i] += dy[n, o] * w[i, o]
                dw[i, o] += dy[n, o] * x[n, i]
    return dx, dw, db


def softmax_cross_entropy(logits, labels):
    """Loop version of :func:`cnn.softmax_cross_entropy`, one row at a time.

    Each row uses the log-sum-exp shift by its maximum, written out with
    ``math.exp``/``math.log``.
    """
    z = as_float(logits, "logits", ndim=2)
    N, K = z.shape
    t = np.asarray(labels)
    if t.dtype.kind not in "iu" or t.shape != (N,) or t.min() < 0 or t.max() >= K:
        raise ValueError(f"labels: got {t!r}; expected {N} integer class indices in 0..{K - 1}")
    loss = 0.0
    dlogits = np.zeros(z.shape, z.dtype)
    for n in range(N):
        m = max(z[n])
        log_total = math.log(sum(math.exp(z[n, k] - m) for k in range(K)))
        loss -= (z[n, t[n]] - m - log_total) / N
        for k in range(K):
            p = math.exp(z[n, k] - m - log_total)
            dlogits[n, k] = (p - (1.0 if k == t[n] else 0.0)) / N
    return z.dtype.type(loss), dlogits
