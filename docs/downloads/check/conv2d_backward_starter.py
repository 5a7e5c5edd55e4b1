"""Starter file: write the backward pass of a 2-D convolution layer, then check it.

    cnn check conv2d_backward conv2d_backward_starter.py:conv2d_backward

The layer (cross-correlation, as PyTorch; layout NCHW), with x zero-padded by
`padding` on every side to xp:

    y[n, f, i, j] = b[f] + sum over c, a, e of w[f, c, a, e] * xp[n, c, s*i + a, s*j + e]

Return the gradients of the loss with respect to x, w and b, given the
upstream gradient dy = dL/dy. The checker tells you whether they are right,
and if not, which known mistake they make.
"""

import numpy as np


def conv2d_backward(dy, x, w, *, stride=1, padding=0):
    """dy (N, F, OH, OW), x (N, C, H, W), w (F, C, KH, KW) -> dx, dw, db (float64).

    dx has the shape of x, dw the shape of w, db the shape (F,).
    """
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = np.zeros(F)
    # TODO: for every output position (n, f, i, j), add dy[n, f, i, j] times
    #   - the window of xp it was computed from, to dw[f];
    #   - the kernel w[f], to the window of dxp it was read from;
    #   - 1, to db[f].
    # Then crop the padding off dxp.
    raise NotImplementedError("fill in conv2d_backward, then run: cnn check conv2d_backward "
                              "conv2d_backward_starter.py:conv2d_backward")
