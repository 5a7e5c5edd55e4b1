"""Exercises for the average pooling page (docs/layers/avg_pool.md).

Every answer is computed when the site is built, by :mod:`cnn` (the verified
layer) and from the ``avg_pool`` export; the buggy snippet is the function
below, shown with :func:`inspect.getsource`.
"""

from __future__ import annotations

import inspect

import numpy as np

import cnn
import derivations
from docs.exercises import Exercise, array_md


def _fact(name: str) -> dict:
    return derivations.load("avg_pool").facts[name]


def what_each_entry_receives() -> Exercise:
    x = np.array([[[[4., 1., 0., 2.],
                    [4., 3., 2., 2.],
                    [1., 5., 6., 0.],
                    [5., 0., 1., 6.]]]])
    g = np.array([[[[4., 8.], [-4., 2.]]]])
    dx = cnn.avg_pool2d_backward(g, x, size=2, stride=2)[0, 0]
    return Exercise(
        "What does each entry receive?",
        "Pool this 4x4 input with 2x2 windows and stride 2 (average pooling); the upstream "
        "gradient is $G$. What is `dx`? Do the values of $x$ matter?\n\n$x$ =\n\n"
        + array_md(x[0, 0], 0) + "\n\n$G$ =\n\n" + array_md(g[0, 0], 0),
        f"Each window splits its $G$ into 4 equal shares: the top-left window sends "
        f"**{dx[0, 0]:g}** to each of its four entries, the top-right **{dx[0, 2]:g}**, the "
        f"bottom-left **{dx[2, 0]:g}**, the bottom-right **{dx[2, 2]:g}**. The values of $x$ "
        "do not matter at all: the layer is linear in $x$, so its derivative is a constant. "
        "From `cnn.avg_pool2d_backward`:\n\n" + array_md(dx, 2)
        + "\n\nThe rule: " + _fact("routing_spreads_evenly")["statement"])


def overlapping_windows() -> Exercise:
    x = np.array([[[[1., 2., 0.],
                    [3., 9., 4.],
                    [0., 5., 1.]]]])
    g = np.ones((1, 1, 2, 2))
    dx = cnn.avg_pool2d_backward(g, x, size=2, stride=1)[0, 0]
    counts = _fact("routing_spreads_evenly")["data"]["size2_stride1"]["windows_containing_each_entry"]
    return Exercise(
        "Overlapping windows",
        "Pool this 3x3 input with 2x2 windows and stride 1 (four windows that overlap), "
        "with $G$ = 1 for every window. How much gradient does the centre entry receive? "
        "A corner? An edge?\n\n$x$ =\n\n" + array_md(x[0, 0], 0),
        f"An entry receives the share $G/k^2$ = **{dx[0, 0]:g}** (what a corner, in one "
        "window, gets) from every window that contains it. The centre is in "
        f"**{counts['1,1']}** windows (the export counts them), so it receives "
        f"**{dx[1, 1]:g}**; a corner is in {counts['0,0']}; "
        f"an edge entry is in {counts['0,1']} and receives **{dx[0, 1]:g}**. From "
        "`cnn.avg_pool2d_backward`:\n\n" + array_md(dx, 2) + "\n\nThe sum of `dx` is the "
        f"sum of $G$, **{dx.sum():g}**: each window passes its gradient back exactly once, "
        "however the windows overlap.")


def backward_assigns_shares(dy, x, size=2, stride=2):
    """Average pooling backward (one image, one channel)."""
    dx = np.zeros_like(x)
    for i in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            rows = slice(i * stride, i * stride + size)
            cols = slice(j * stride, j * stride + size)
            dx[rows, cols] = dy[i, j] / size ** 2         # this window's share
    return dx


def find_the_overlap_bug() -> Exercise:
    x = np.zeros((1, 1, 3, 3))
    g = np.array([[[[1., 2.], [3., 4.]]]])
    buggy = backward_assigns_shares(g[0, 0], x[0, 0], size=2, stride=1)
    right = cnn.avg_pool2d_backward(g, x, size=2, stride=1)[0, 0]
    same = np.array_equal(backward_assigns_shares(g[0, 0], np.zeros((4, 4)), size=2, stride=2),
                          cnn.avg_pool2d_backward(g, np.zeros((1, 1, 4, 4)))[0, 0])
    return Exercise(
        "Find the bug: overlapping windows",
        "This backward pass is right for the usual 2x2 pool with stride 2. Run it with "
        "size 2 and stride 1 on a 3x3 input, with $G$ below. What goes wrong?\n\n$G$ =\n\n"
        + array_md(g[0, 0], 0) + "\n\n```python\n"
        + inspect.getsource(backward_assigns_shares).rstrip() + "\n```",
        "It **assigns** each window's share instead of adding it, so where windows overlap "
        "the last window overwrites the others. It returns\n\n" + array_md(buggy, 2)
        + f"\n\nwhose sum is **{buggy.sum():g}** for a total upstream gradient of "
        f"**{g.sum():g}**; `cnn.avg_pool2d_backward` adds the shares:\n\n{array_md(right, 2)}"
        f"\n\nsum **{right.sum():g}**. With stride 2 no entry is in two windows, so the two "
        f"agree there (equal: **{same}**), which is why a test on the usual pool alone "
        "does not see the bug.")
