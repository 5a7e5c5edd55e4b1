"""Exercises for the average pooling page (docs/layers/avg_pool.md).

Every answer is computed when the site is built, by :mod:`cnn` (the verified
layer) and from the ``avg_pool`` export; the buggy snippet is the function
below, shown with :func:`inspect.getsource`.
"""

from __future__ import annotations


import numpy as np

import cnn
import derivations
from docs.exercises import Exercise, _, array_md, code_md, statement


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
        _("What does each entry receive?"),
        _("Pool this 4x4 input with 2x2 windows and stride 2 (average pooling); the upstream "
          "gradient is $G$. What is `dx`? Do the values of $x$ matter?\n\n$x$ =\n\n%(x)s\n\n"
          "$G$ =\n\n%(g)s", x=array_md(x[0, 0], 0), g=array_md(g[0, 0], 0)),
        _("Each window splits its $G$ into 4 equal shares: the top-left window sends "
          "**%(top_left)s** to each of its four entries, the top-right **%(top_right)s**, the "
          "bottom-left **%(bottom_left)s**, the bottom-right **%(bottom_right)s**. The values of "
          "$x$ do not matter at all: the layer is linear in $x$, so its derivative is a "
          "constant. From `cnn.avg_pool2d_backward`:\n\n%(dx)s\n\nThe rule: %(rule)s",
          top_left=f"{dx[0, 0]:g}", top_right=f"{dx[0, 2]:g}", bottom_left=f"{dx[2, 0]:g}",
          bottom_right=f"{dx[2, 2]:g}", dx=array_md(dx, 2),
          rule=statement("avg_pool", "routing_spreads_evenly")))


def overlapping_windows() -> Exercise:
    x = np.array([[[[1., 2., 0.],
                    [3., 9., 4.],
                    [0., 5., 1.]]]])
    g = np.ones((1, 1, 2, 2))
    dx = cnn.avg_pool2d_backward(g, x, size=2, stride=1)[0, 0]
    counts = _fact("routing_spreads_evenly")["data"]["size2_stride1"]["windows_containing_each_entry"]
    return Exercise(
        _("Overlapping windows"),
        _("Pool this 3x3 input with 2x2 windows and stride 1 (four windows that overlap), "
          "with $G$ = 1 for every window. How much gradient does the centre entry receive? "
          "A corner? An edge?\n\n$x$ =\n\n%(x)s", x=array_md(x[0, 0], 0)),
        _("An entry receives the share $G/k^2$ = **%(share)s** (what a corner, in one window, "
          "gets) from every window that contains it. The centre is in **%(centre_windows)s** "
          "windows (the export counts them), so it receives **%(centre)s**; a corner is in "
          "%(corner_windows)s; an edge entry is in %(edge_windows)s and receives **%(edge)s**. "
          "From `cnn.avg_pool2d_backward`:\n\n%(dx)s\n\nThe sum of `dx` is the sum of $G$, "
          "**%(sum)s**: each window passes its gradient back exactly once, however the windows "
          "overlap.", share=f"{dx[0, 0]:g}", centre_windows=counts["1,1"],
          centre=f"{dx[1, 1]:g}", corner_windows=counts["0,0"], edge_windows=counts["0,1"],
          edge=f"{dx[0, 1]:g}", dx=array_md(dx, 2), sum=f"{dx.sum():g}"))


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
        _("Find the bug: overlapping windows"),
        _("This backward pass is right for the usual 2x2 pool with stride 2. Run it with "
          "size 2 and stride 1 on a 3x3 input, with $G$ below. What goes wrong?\n\n$G$ =\n\n"
          "%(g)s", g=array_md(g[0, 0], 0))
        + "\n\n" + code_md(backward_assigns_shares),
        _("It **assigns** each window's share instead of adding it, so where windows overlap "
          "the last window overwrites the others. It returns\n\n%(buggy)s\n\nwhose sum is "
          "**%(buggy_sum)s** for a total upstream gradient of **%(total)s**; "
          "`cnn.avg_pool2d_backward` adds the shares:\n\n%(right)s\n\nsum **%(right_sum)s**. "
          "With stride 2 no entry is in two windows, so the two agree there (equal: "
          "**%(same)s**), which is why a test on the usual pool alone does not see the bug.",
          buggy=array_md(buggy, 2), buggy_sum=f"{buggy.sum():g}", total=f"{g.sum():g}",
          right=array_md(right, 2), right_sum=f"{right.sum():g}", same=same))
