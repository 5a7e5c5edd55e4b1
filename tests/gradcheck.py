"""Central-difference gradients: the independent check of every backward function.

A backward function is checked through a scalar loss built from its forward
function. For a layer ``y = f(x)`` the loss is ``L(x) = sum(f(x) * dy)`` with a
fixed random ``dy``, so that ``dL/dy = dy`` and the analytic gradient is
``f_backward(dy, x)``; the numeric one perturbs ``x`` one entry at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Step of the central differences. Layers that are linear in the perturbed
#: argument (conv, dense, max pooling away from ties) have no truncation error,
#: so only rounding matters (~eps * |L| / h); for smooth ones the truncation
#: error is O(h^2) ~ 1e-10.
STEP = 1e-5


def numerical_gradient(loss: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = STEP) -> np.ndarray:
    """$(L(x + h e_k) - L(x - h e_k)) / 2h$ for every entry $k$ of ``x`` (float64)."""
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.empty_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + h
        up = loss(x)
        x[k] = old - h
        down = loss(x)
        x[k] = old
        grad[k] = (up - down) / (2 * h)
    return grad


def elementwise_derivative(f: Callable[[np.ndarray], np.ndarray], z: np.ndarray,
                           h: float = STEP) -> np.ndarray:
    """Central differences of an elementwise function, all entries at once."""
    z = np.asarray(z, dtype=np.float64)
    return (f(z + h) - f(z - h)) / (2 * h)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``max|analytic - numeric| / max(max|analytic|, max|numeric|)``; 0 if both are 0.

    Norm-wise rather than entry by entry: an entry whose gradient is tiny (or
    exactly 0, e.g. a pixel no pooling window picked) would otherwise turn
    rounding noise into a huge "relative" error.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    assert analytic.shape == numeric.shape, (analytic.shape, numeric.shape)
    scale = max(np.abs(analytic).max(), np.abs(numeric).max())
    return 0.0 if scale == 0 else float(np.abs(analytic - numeric).max() / scale)
