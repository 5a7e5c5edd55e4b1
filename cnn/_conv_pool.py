r"""Convolution, then ReLU and max pooling, fused: the first block of an image network.

$p = \mathrm{maxpool}(\mathrm{ReLU}(\mathrm{conv}(x, w) + b))$ with
non-overlapping $s \times s$ windows (pool size = stride), computed as
:func:`cnn.conv2d` followed by :func:`cnn.max_pool2d_relu`, and its backward
pass as theirs (without $\partial L/\partial x$): the same functions on the
same numbers, so the same bits (``tests/test_fast_paths.py``). Only the
layout of the conv output $z$ between the two changes.

When the conv takes the banded GEMM (:func:`cnn.conv._use_banded`) and its
column blocks hold whole windows (``Bj`` a multiple of $s$), the product's
output, rows $(n, i, \text{block})$ by columns $(f, j)$, is copied once not
into NCHW but into the window-offset layout ``z[a, e, n, f, I, J]`` $=
z[n, f, s I + a, s J + e]$ (:func:`cnn.pooling._window_major`). Element
$(a, e)$ of every window is then one contiguous block, and pooling, the
tie-rule routing and ReLU' are a few whole-block operations, where on NCHW
each is one NumPy inner loop per 12-number strided row. The backward pass
copies $\partial L/\partial z$ from that layout straight into the product's
(the copy the conv's backward makes from NCHW anyway). The band's columns
are ordered (e, f, J') for that (:func:`cnn._conv_banded._columns`), so both
copies move runs of $F \cdot B_j / s$ numbers. Measured at the MNIST shape,
(64, 1, 28, 28) * (2, 1, 5, 5) and 2x2 pooling, float32, one thread: pool
forward 53 -> 17 us, backward 131 -> 59 us; the copy into the layout 47 us
and the pooled result back to NCHW 23 us, against 44 us for the conv's NCHW
copy; in all, conv + pool forward 319 -> 319 us, backward 350 -> 305 us. Rows and columns of $z$ outside every window (an odd last
one) are not pooled and get gradient 0; window columns past the conv's
last block (when ``Bj`` blocks overhang the output) are pooled from the
zero padding and dropped.

Other shapes take the composition itself, on NCHW. Arrays are validated,
C-contiguous, of one dtype (the unchecked-kernel convention of :mod:`cnn.conv`).
"""

from __future__ import annotations

import numpy as np

from ._conv_banded import _backward_product, _band_rows, _blocks, _product
from ._validate import cache_get
from .conv import _backward as _conv_backward
from .conv import _forward as _conv_forward
from .conv import _use_banded
from .pooling import _pool_relu, _pool_relu_backward, _window_major


def _window_layout(g, size: int) -> bool:
    """Whether the banded product can be laid out by window offset."""
    return _use_banded(g) and _blocks(g._replace(N=0)).Bj % size == 0


def conv_pool_relu(x, w, b, g, size: int, cache: dict):
    r"""``(p, state)``: $p$ (N, F, OH // s, OW // s), C-contiguous, and what
    :func:`conv_pool_relu_backward` needs (``cache`` is the conv's, see
    :func:`cnn.conv2d`). ``g`` is the conv's :class:`cnn.conv._Geometry`, ``size``
    the pool window and stride $s$."""
    s, PH, PW = size, g.OH // size, g.OW // size
    if not _window_layout(g, s):
        z = _conv_forward(x, w, b, g, cache)
        pooled, m = _pool_relu(z, s, s, PH, PW)
        return pooled, (z, m)
    B = _blocks(g._replace(N=0))
    J = B.Bj // s                                         # windows per column block
    y = _product(x, w, b, g, cache, s).reshape(g.N, g.OH, B.nb, s, g.F, J)[:, :s * PH]
    # y as (n, I, a, block, e, f, J') with i = s I + a, j = Bj block + s J' + e; z by
    # offset (a, e), then (n, I, block, f, J'): one copy with runs of F J numbers.
    z = np.empty((s, s, g.N, PH, B.nb, g.F, J), x.dtype)
    z[...] = y.reshape(g.N, PH, s, B.nb, s, g.F, J).transpose(2, 4, 0, 1, 3, 5, 6)
    pooled, m = _pool_relu(z, s, s, PH, B.nb * J, _window_major)
    # (n, I, block, f, J') -> NCHW, dropping windows past the output's edge.
    pooled = pooled.transpose(0, 3, 1, 2, 4).reshape(g.N, g.F, PH, B.nb * J)
    return np.ascontiguousarray(pooled[..., :PW]), (z, m)


def conv_pool_relu_backward(dp, x, w, g, size: int, cache: dict, state):
    r"""``(dw, db)`` from $\partial L/\partial p$ (N, F, OH // s, OW // s), given the
    ``state`` and ``cache`` of the forward call on ``x``."""
    s, (z, m) = size, state
    if z.ndim == 4:                                       # the NCHW composition
        dz = _pool_relu_backward(dp, z, m, s, s)
        return _conv_backward(dz, x, w, g, False, cache)[1:]
    B = _blocks(g._replace(N=0))
    J = B.Bj // s
    PH, PWp = z.shape[3], B.nb * J
    if dp.shape[-1] != PWp:
        dp = np.pad(dp, ((0, 0), (0, 0), (0, 0), (0, PWp - dp.shape[-1])))
    # NCHW -> the layout of m, (n, I, block, f, J') (a view: the product below copies).
    dp = dp.reshape(g.N, g.F, PH, B.nb, J).transpose(0, 2, 3, 1, 4)
    dz = _pool_relu_backward(dp, z, m, s, s, _window_major)
    # dL/dy in the product's layout, (n, I, a, block, e, f, J'): 0 in rows no window reaches.
    delta = (np.empty if g.OH == s * PH else np.zeros)((g.N, g.OH, B.nb, s, g.F, J), x.dtype)
    delta[:, :s * PH].reshape(g.N, PH, s, B.nb, s, g.F, J)[...] = \
        dz.transpose(2, 3, 0, 4, 1, 5, 6)
    rows = cache_get(cache, "rows", x, (g, x.dtype))
    if rows is None:
        rows = _band_rows(x, g)
    return _backward_product(delta.reshape(-1, g.F * B.Bj), rows, x, w, g, False, s)[1:]
