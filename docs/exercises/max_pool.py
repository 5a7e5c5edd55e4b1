"""Exercises for the max pooling page (docs/layers/max_pool.md).

Every answer is computed when the site is built, by :mod:`cnn` (the verified
layer) and from the ``max_pool`` export; the buggy snippet is the function
below, shown with :func:`inspect.getsource`.
"""

from __future__ import annotations


import numpy as np

import cnn
import derivations
from docs.exercises import Exercise, _, array_md, code_md, listing, statement


def _statement(name: str) -> str:
    return statement("max_pool", name)


def _positions(a) -> str:
    return listing(f"({i}, {j})" for i, j in zip(*np.nonzero(a)))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _windows(x, size=2, stride=2):
    """(name, tied positions in row-major order) of each window of a 2-D array."""
    names = {(0, 0): _("top-left"), (0, 1): _("top-right"), (1, 0): _("bottom-left"),
             (1, 1): _("bottom-right")}
    out = []
    for i in range((x.shape[0] - size) // stride + 1):
        for j in range((x.shape[1] - size) // stride + 1):
            win = x[i * stride:i * stride + size, j * stride:j * stride + size]
            tied = [(i * stride + a, j * stride + b) for a in range(size) for b in range(size)
                    if win[a, b] == win.max()]
            out.append((names.get((i, j), f"({i}, {j})"), win.max(), tied))
    return out


def which_entries_receive() -> Exercise:
    x = np.array([[[[4., 1., 0., 2.],
                    [4., 3., 2., 2.],
                    [1., 5., 6., 0.],
                    [5., 0., 1., 6.]]]])
    g = np.array([[[[1., 2.], [3., 4.]]]])
    dx = cnn.max_pool2d_backward(g, x, size=2, stride=2)[0, 0]
    windows = _capital(_("; ").join(
        _("the %(window)s window's maximum %(top)s is at %(tied)s, and %(first)s wins",
          window=name, top=f"{top:g}", tied=listing(map(str, tied)), first=tied[0])
        for name, top, tied in _windows(x[0, 0])))
    return Exercise(
        _("Where does the gradient go?"),
        _("Pool this 4x4 input with 2x2 windows and stride 2; the upstream gradient is $G$. "
          "Which entries of `dx` are non-zero, and what are they?\n\n$x$ =\n\n%(x)s\n\n"
          "$G$ =\n\n%(g)s", x=array_md(x[0, 0], 0), g=array_md(g[0, 0], 0)),
        _("Only **%(positions)s** receive anything, one entry per window, each the $G$ of its "
          "window. %(windows)s (the first in row-major order). From "
          "`cnn.max_pool2d_backward`:\n\n%(dx)s\n\nThe rule: %(rule)s",
          positions=_positions(dx), windows=windows, dx=array_md(dx, 0),
          rule=_statement("ties_first_maximum_wins")))


def overlapping_windows() -> Exercise:
    x = np.array([[[[1., 2., 0.],
                    [3., 9., 4.],
                    [0., 5., 1.]]]])
    y = cnn.max_pool2d(x, size=2, stride=1)
    g = np.ones_like(y)
    dx = cnn.max_pool2d_backward(g, x, size=2, stride=1)[0, 0]
    counts = derivations.load("max_pool").facts["routing_is_derivative_of_max"]["data"][
        "size2_stride1"]["windows_containing_each_entry"]
    return Exercise(
        _("Overlapping windows"),
        _("Pool this 3x3 input with 2x2 windows and stride 1 (four windows that overlap), "
          "with $G$ = 1 for every window. How much gradient does the centre entry, the 9, "
          "receive? And the 5?\n\n$x$ =\n\n%(x)s", x=array_md(x[0, 0], 0)),
        _("The centre is in **%(centre_windows)s** windows (the export counts them) and wins "
          "every one, so it receives **%(centre)s**; the 5 is in %(five_windows)s windows and "
          "wins none, so it receives **%(five)s**. An entry collects the $G$ of every window it "
          "wins, once per window. From `cnn.max_pool2d_backward`:\n\n%(dx)s\n\nThe sum of "
          "`dx` is the sum of $G$, %(sum)s: each window passes its gradient back exactly once.",
          centre_windows=counts["1,1"], centre=f"{dx[1, 1]:g}", five_windows=counts["2,1"],
          five=f"{dx[2, 1]:g}", dx=array_md(dx, 0), sum=f"{dx.sum():g}"))


def backward_every_tied_max(dy, x):
    """Max pooling backward, 2x2 windows, stride 2 (one image, one channel)."""
    dx = np.zeros_like(x)
    for i in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            window = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            mask = window == window.max()                  # where the max is
            dx[2 * i:2 * i + 2, 2 * j:2 * j + 2] += mask * dy[i, j]
    return dx


def find_the_tie_bug() -> Exercise:
    x = np.array([[[[2., 2., 0., 1.],
                    [2., 1., 3., 0.],
                    [0., 1., 5., 5.],
                    [1., 1., 5., 5.]]]])
    g = np.array([[[[1., 1.], [1., 1.]]]])
    buggy = backward_every_tied_max(g[0, 0], x[0, 0])
    right = cnn.max_pool2d_backward(g, x, size=2, stride=2)[0, 0]
    sends = listing(_("the %(window)s window sends %(count)s", window=name, count=len(tied))
                    for name, _top, tied in _windows(x[0, 0]))
    return Exercise(
        _("Find the bug: ties"),
        _("This backward pass gives the right answer on random inputs. On which inputs is it "
          "wrong, and by how much? Try it on this one, with $G$ = 1 everywhere.\n\n"
          "$x$ =\n\n%(x)s", x=array_md(x[0, 0], 0))
        + "\n\n" + code_md(backward_every_tied_max),
        _("At a tie the mask is 1 on every tied entry, so the window passes its gradient back "
          "several times: the function returns\n\n%(buggy)s\n\nwhose sum is "
          "**%(buggy_sum)s** for a total upstream gradient of **%(total)s** (%(sends)s). "
          "`cnn.max_pool2d_backward` gives each window's gradient to one entry:\n\n%(right)s"
          "\n\nsum **%(right_sum)s**. On random floating-point inputs ties almost never "
          "happen, so a gradient check does not see the bug; ReLU outputs (many exact zeros) "
          "and integer images do tie. %(sympy)s", buggy=array_md(buggy, 0),
          buggy_sum=f"{buggy.sum():g}", total=f"{g.sum():g}", sends=sends,
          right=array_md(right, 0), right_sum=f"{right.sum():g}",
          sympy=_statement("sympy_half_at_ties_is_not_a_subgradient")))
