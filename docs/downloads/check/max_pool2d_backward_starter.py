"""Starter file: write the backward pass of 2-D max pooling, then check it.

    cnn check max_pool2d_backward max_pool2d_backward_starter.py:max_pool2d_backward

Forward (layout NCHW, no padding, windows of size x size every `stride` pixels):

    y[n, c, i, j] = max over a, e < size of x[n, c, stride*i + a, stride*j + e]

Backward: each window's upstream gradient dy[n, c, i, j] goes to the element
that won the max. On a tie, give it to the first maximum in row-major order
(as the library and PyTorch do). Windows overlap when stride < size.
"""

import numpy as np


def max_pool2d_backward(dy, x, *, size=2, stride=2):
    """dy (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W), float64."""
    dx = np.zeros_like(x)
    # TODO: for every window (n, c, i, j): find the first maximum of
    #   x[n, c, stride*i : stride*i + size, stride*j : stride*j + size]
    #   and add dy[n, c, i, j] to dx at that position.
    raise NotImplementedError("fill in max_pool2d_backward, then run: cnn check "
                              "max_pool2d_backward max_pool2d_backward_starter.py:max_pool2d_backward")
