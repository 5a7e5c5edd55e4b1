r"""2-D average pooling and its gradient.

Layout NCHW, no padding, windows of ``size`` x ``size`` every ``stride``
pixels, floor mode (as PyTorch's ``avg_pool2d`` without padding: a remainder
too small for a window is left out):

$$y[n,c,i,j] = \frac{1}{k^2} \sum_{0 \le a,e < k} x[n, c, s i + a, s j + e],\qquad
O_H = \lfloor (H - k)/s \rfloor + 1.$$

The output is linear in $x$, so the gradient does not depend on $x$ at all:
each window spreads its upstream gradient evenly over its $k^2$ entries,

$$\frac{\partial L}{\partial x[n,c,u,v]} = \frac{1}{k^2}
\sum_{(i,j):\ (u,v) \in \text{window}(i,j)} \delta[n,c,i,j].$$

With overlapping windows (``stride < size``) an entry collects a share from
every window that contains it; an entry no window reaches (floor mode) gets 0.
Unlike max pooling there are no ties and no choice to make: the derivative
exists everywhere.

How it is vectorised: as :mod:`cnn.pooling`, a loop over the $k^2$ window
offsets, each step one whole-array operation on the strided slice
``x[:, :, a::s, e::s]`` (forward: add it to the window sums; backward: add
$\delta / k^2$ back onto it).
"""

from __future__ import annotations

import numpy as np

from ._validate import checked
from .pooling import _check, _check_dy, _window_slice

__all__ = ["avg_pool2d", "avg_pool2d_backward"]


@checked("avg_pool2d", ("y",), widen=("x",))
def avg_pool2d(x, *, size=2, stride=2):
    r"""Average pooling forward.

    $y[n,c,i,j] = \frac{1}{k^2} \sum_{0 \le a,e < k} x[n,c,s i + a, s j + e]$.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        The input maps (integers are promoted to float64).
    size, stride : int, keyword-only
        The window side $k$ (from 1 to H and W) and the step $s \ge 1$ between
        windows, as in :func:`cnn.max_pool2d`; ``stride < size`` overlaps them.

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW)
        The window means, $O_H = \lfloor (H - k)/s \rfloor + 1$ (likewise $O_W$), in
        the dtype of ``x``.
    """
    x, size, stride, OH, OW = _check(x, size, stride)
    y = x[_window_slice(0, 0, OH, OW, stride)].copy()
    for a in range(size):
        for e in range(size):
            if a or e:
                y += x[_window_slice(a, e, OH, OW, stride)]
    # Sum first, divide once: k^2 divisions would round k^2 times. A sum that
    # overflows float32 although the mean fits is redone in float64 by @checked.
    y /= size * size
    return y


@checked("avg_pool2d_backward", ("dx",), widen=("dy",))
def avg_pool2d_backward(dy, x, *, size=2, stride=2):
    r"""Average pooling backward: spread each window's gradient evenly over it.

    $\partial L/\partial x[n,c,u,v] = \frac{1}{k^2} \sum_{i,j}
    \delta[n,c,i,j]\, [\,(u, v) \in \text{window}(i, j)\,]$.

    Parameters
    ----------
    dy : array_like, shape (N, C, OH, OW)
        The upstream gradient $\delta = \partial L/\partial y$.
    x : array_like, shape (N, C, H, W)
        The forward input. Only its shape matters (the layer is linear), but it
        is validated all the same: it fixes H and W, which floor mode does not
        let ``dy`` tell.
    size, stride : int, keyword-only
        As in :func:`avg_pool2d`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        In the common float dtype of ``dy`` and ``x``.
    """
    x, size, stride, OH, OW = _check(x, size, stride)
    dy = _check_dy(dy, x, size, stride, OH, OW, "avg_pool2d")     # in the common dtype
    share = dy / (size * size)                         # what each entry of a window gets
    dx = np.zeros(x.shape, share.dtype)
    for a in range(size):
        for e in range(size):
            # Windows overlap when stride < size, so add rather than assign.
            dx[_window_slice(a, e, OH, OW, stride)] += share
    return dx
