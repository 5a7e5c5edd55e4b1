r"""2-D max pooling and its gradient, with a stated tie rule.

Layout NCHW, no padding, windows of ``size`` x ``size`` every ``stride``
pixels (floor mode, as PyTorch: a remainder too small for a window is left
out):

$$y[n,c,i,j] = \max_{0 \le a,e < k} x[n, c, s i + a, s j + e],\qquad
O_H = \lfloor (H - k)/s \rfloor + 1.$$

The gradient of a max is routed to the element that won:
$\partial L/\partial x[n,c,u,v] = \sum_{(i,j):\ (u,v) = \text{winner}(i,j)} \delta[n,c,i,j]$.
When windows overlap (``stride < size``) one pixel can win several windows
and its gradients add up. A pixel that wins nothing gets 0.

**Tie rule.** When several elements of a window share the maximum, the
whole gradient of that window goes to the *first* of them in row-major
window order (smallest row offset, then smallest column offset); the others
get 0. This is what PyTorch does for a contiguous NCHW tensor (a
channels-last tensor can break ties differently). Any choice that gives the
window's gradient to exactly one of the tied elements is a valid
subgradient; splitting it among them would be one too, but would not match
PyTorch.

How it is vectorised: a loop over the $k^2$ window offsets (4 for a 2x2
pool), each step one whole-array operation on the strided slice
``x[:, :, a::s, e::s]``. Measured at (64, 2, 24, 24), float32, size 2: the
forward pass takes 0.04 ms this way against 1.26 ms for ``reshape(...).max(axis=(3, 5))``
and 1.28 ms for ``sliding_window_view(...).max(axis=(4, 5))`` (NumPy reduces
over short, non-contiguous axes slowly), so there is no separate reshape fast
path. The backward pass walks the offsets in row-major order and gives each
window's gradient to the first offset that reaches the maximum: it carries
the gradient not yet routed, ``remaining``, which the first maximum takes
whole (``remaining * (x == y)``, then ``remaining - routed`` is exactly 0).
That measured ~1.5x faster at this shape than tracking a boolean "claimed"
mask with ``np.where`` (0.24 against 0.38 ms, one run), and an ``argmax``
over copied windows was slower than either; all three give the same bits.
The offsets (a, e) with a, e < stride are the first to reach their pixels
(with overlap, any other offset reaching them comes later in row-major
order), so their routed gradient is assigned rather than added: a strided
write instead of a read-modify-write (backward at that shape 0.17 -> 0.12 ms;
without overlap every offset is such).

What these operations cost is mostly one NumPy inner loop per row of a
strided view (OW numbers), not the arithmetic: 3x3 windows at stride 2 on
(32, 16, 16, 16) take 0.19 ms forward and 0.59 ms backward (36 passes over
7-number rows). Routing separably (window rows, then columns) and copying
to a channels-last layout first (long inner loops, but two transposes of
0.1-0.3 ms) were both measured slower. A ``cache`` handed from
:func:`max_pool2d` to :func:`max_pool2d_backward` saves pooling again.

The kernels reach element (a, e) of every window through an accessor, so the
same code also runs on an array laid out by window offset, where each element
is one contiguous block: :mod:`cnn._conv_pool` has the conv write its output
that way (at (64, 2, 24, 24), size 2: forward 53 -> 17 us, backward 131 -> 59 us).
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float, as_int, cache_get, cache_put, checked
from .activations import relu_derivative_kernel, relu_kernel

__all__ = ["max_pool2d", "max_pool2d_backward", "max_pool2d_relu", "max_pool2d_relu_backward"]


def _check(x, size, stride):
    size = as_int(size, "size", minimum=1)
    stride = as_int(stride, "stride", minimum=1)
    x = as_float(x, "x", ndim=4, axes="(N, C, H, W)")
    N, C, H, W = x.shape
    if size > H or size > W:
        raise ValueError(f"size: got {size} but x is {H}x{W} (x.shape = {x.shape}); "
                         f"expected a window no larger than the input, so that there "
                         f"is at least one output")
    OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
    return x, size, stride, OH, OW


def _window_slice(a: int, e: int, OH: int, OW: int, stride: int):
    """Index of element (a, e) of every window: x[..., s i + a, s j + e] for all (i, j)."""
    return (slice(None), slice(None),
            slice(a, a + stride * (OH - 1) + 1, stride),
            slice(e, e + stride * (OW - 1) + 1, stride))


def _nchw(OH: int, OW: int, stride: int):
    """The element accessor of an NCHW array: ``element(arr, a, e)`` is element (a, e)
    of every window, the strided view x[..., s i + a, s j + e] (OH x OW of them)."""
    return lambda arr, a, e: arr[_window_slice(a, e, OH, OW, stride)]


def _window_major(arr, a: int, e: int):
    """The element accessor of an array laid out by window offset, ``arr[a, e, ...]``
    holding element (a, e) of every window (non-overlapping windows, in the order of
    :mod:`cnn._conv_pool`): each element is one contiguous block, so every operation
    below runs over it at once instead of one short strided row per (n, c, i)."""
    return arr[a, e]


def _pool_max(x: np.ndarray, size: int, stride: int, OH: int, OW: int,
              element=None) -> np.ndarray:
    """Unchecked kernel of :func:`max_pool2d`; ``element`` the layout's accessor
    (default :func:`_nchw`). Returns the maxima, C-contiguous, in the shape of one
    element: (N, C, OH, OW) for NCHW."""
    element = element or _nchw(OH, OW, stride)
    y = element(x, 0, 0).copy()
    for a in range(size):
        for e in range(size):
            if a or e:
                np.maximum(y, element(x, a, e), out=y)
    return y


def _route(dy, x, y, size: int, stride: int, element=None) -> np.ndarray:
    """Unchecked kernel of :func:`max_pool2d_backward`, given the pooled ``y`` of ``x``:
    ``dx`` of ``x``'s shape and layout (``element`` as in :func:`_pool_max`)."""
    element = element or _nchw(*y.shape[2:], stride)
    dx = np.zeros(x.shape, dy.dtype)
    # The gradient of each window whose winner is not found yet: the first
    # maximum takes all of it, leaving exactly 0 (dy - dy) for a later tie.
    remaining = dy.copy()
    hit, routed = np.empty(y.shape, bool), np.empty_like(remaining)
    last = (size - 1, size - 1)
    for a in range(size):                            # row-major order: the tie rule
        for e in range(size):
            np.multiply(remaining, np.equal(element(x, a, e), y, out=hit), out=routed)
            # Windows overlap when stride < size: add up. But the offsets (a, e) with
            # a, e < stride are the first to reach their pixels (any other reaching
            # them has a or e larger by a multiple of the stride, so comes later in
            # row-major order): a strided write, 2x cheaper than +=.
            if a < stride and e < stride:
                element(dx, a, e)[...] = routed
            else:
                element(dx, a, e)[...] += routed
            if (a, e) != last:                       # nothing comes after the last
                remaining -= routed
    return dx


def _check_dy(dy, x, size, stride, OH, OW, name):
    dy = as_float(dy, "dy", ndim=4, axes="(N, C, OH, OW)")
    if dy.shape != x.shape[:2] + (OH, OW):
        raise ValueError(f"dy: got shape {dy.shape}; expected {x.shape[:2] + (OH, OW)}, the "
                         f"shape of {name}'s output for x.shape = {x.shape}, "
                         f"size={size}, stride={stride}")
    dtype = np.result_type(dy, x)
    return dy.astype(dtype, copy=False)


@checked("max_pool2d", ("y",), widen=("x",))
def max_pool2d(x, *, size=2, stride=2, cache=None):
    r"""Max pooling forward.

    $y[n,c,i,j] = \max_{0 \le a,e < k} x[n,c,s i + a, s j + e]$.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        Input maps. Integer arrays are promoted to float64.
    size : int, keyword-only
        Window side $k$, >= 1 and <= H, W.
    stride : int, keyword-only
        Step between windows $s$, >= 1. ``stride < size`` gives overlapping windows.
    cache : dict, keyword-only, optional
        Filled with a copy of ``y``; :func:`max_pool2d_backward` given the same
        dict and the same ``x`` (not modified in between) reuses it instead of
        pooling again.

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW)
        $O_H = \lfloor (H - k)/s \rfloor + 1$, likewise $O_W$; same dtype as ``x``.
    """
    x, size, stride, OH, OW = _check(x, size, stride)
    y = _pool_max(x, size, stride, OH, OW)
    cache_put(cache, x, (size, stride, x.dtype), y=y.copy() if cache is not None else None)
    return y


@checked("max_pool2d_backward", ("dx",), widen=("dy",))
def max_pool2d_backward(dy, x, *, size=2, stride=2, cache=None):
    r"""Max pooling backward: route each window's gradient to its maximum.

    $\partial L/\partial x[n,c,u,v] = \sum_{i,j} \delta[n,c,i,j]\,
    [\,(u, v) \text{ is the first maximum of window } (i, j)\,]$,

    where "first" is in row-major window order (the tie rule: on equal
    values the whole gradient goes to the first maximum, as PyTorch does on a
    contiguous NCHW tensor). With overlapping windows (``stride < size``) the
    contributions of all windows a pixel wins are added.

    Parameters
    ----------
    dy : array_like, shape (N, C, OH, OW)
        Upstream gradient $\delta = \partial L/\partial y$.
    x : array_like, shape (N, C, H, W)
        The forward input.
    size, stride : int, keyword-only
        As in :func:`max_pool2d`.
    cache : dict, keyword-only, optional
        The dict the forward call on this ``x`` filled (see :func:`max_pool2d`).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        In the common float dtype of ``dy`` and ``x``.
    """
    x, size, stride, OH, OW = _check(x, size, stride)
    dy = _check_dy(dy, x, size, stride, OH, OW, "max_pool2d")
    y = cache_get(cache, "y", x, (size, stride, x.dtype))
    if y is None:
        y = _pool_max(x, size, stride, OH, OW)
    return _route(dy, x, y, size, stride)


@checked("max_pool2d_relu", ("y",), widen=("x",))
def max_pool2d_relu(x, *, size=2, stride=2):
    r"""$\mathrm{ReLU}(\mathrm{maxpool}(x))$, equal to $\mathrm{maxpool}(\mathrm{ReLU}(x))$.

    ReLU is non-decreasing, so $\max_w \mathrm{ReLU}(x_w) = \mathrm{ReLU}(\max_w x_w)$,
    exactly (also in floating point: no rounding is involved). Pooling first
    applies ReLU to the $k^2$ times smaller pooled array: the fused step of a
    conv -> ReLU -> pool network (:class:`cnn.MnistNet`). Built from
    :func:`max_pool2d` and :data:`cnn.relu`'s rule; arguments as :func:`max_pool2d`.

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW)
    """
    x, size, stride, OH, OW = _check(x, size, stride)
    return _pool_relu(x, size, stride, OH, OW)[0]


@checked("max_pool2d_relu_backward", ("dx",), widen=("dy",))
def max_pool2d_relu_backward(dy, x, *, size=2, stride=2):
    r"""Backward of :func:`max_pool2d_relu`: the same gradient as ReLU's backward
    after :func:`max_pool2d_backward` of the composition, ties included.

    $\partial L/\partial x = \mathrm{route}(\delta \odot [m > 0])$ with $m$ the
    window maxima of ``x`` and route the first-maximum rule of
    :func:`max_pool2d_backward`. Why it equals the composition
    $\mathrm{ReLU}'(x) \odot \mathrm{route}_{\mathrm{ReLU}(x)}(\delta)$: if
    $m > 0$, the elements of the window where $\mathrm{ReLU}(x)$ reaches its
    maximum are exactly those where $x = m$, in the same row-major order, so
    both pick the same winner, where $\mathrm{ReLU}' = 1$; if $m \le 0$,
    every candidate has $\mathrm{ReLU}' = 0$ and the window passes no gradient
    either way.

    Parameters
    ----------
    dy : array_like, shape (N, C, OH, OW)
    x : array_like, shape (N, C, H, W)
        The forward input (before ReLU).
    size, stride : int, keyword-only

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    x, size, stride, OH, OW = _check(x, size, stride)
    dy = _check_dy(dy, x, size, stride, OH, OW, "max_pool2d_relu")
    return _pool_relu_backward(dy, x, _pool_max(x, size, stride, OH, OW), size, stride)


def _pool_relu(x, size: int, stride: int, OH: int, OW: int, element=None):
    """Unchecked kernel of :func:`max_pool2d_relu`: ``(ReLU(m), m)``, m the window maxima."""
    m = _pool_max(x, size, stride, OH, OW, element)
    return relu_kernel(m), m


def _pool_relu_backward(dy, x, m, size: int, stride: int, element=None) -> np.ndarray:
    """Unchecked kernel of :func:`max_pool2d_relu_backward`, given the window maxima ``m``."""
    return _route(dy * relu_derivative_kernel(m), x, m, size, stride, element)
