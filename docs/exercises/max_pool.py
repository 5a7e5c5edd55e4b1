"""Exercises for the max pooling page (docs/layers/max_pool.md).

Every answer is computed when the site is built, by :mod:`cnn` (the verified
layer) and from the ``max_pool`` export; the buggy snippet is the function
below, shown with :func:`inspect.getsource`.
"""

from __future__ import annotations

import inspect

import numpy as np

import cnn
import derivations
from docs.exercises import Exercise, array_md


def _statement(name: str) -> str:
    return derivations.load("max_pool").facts[name]["statement"]


def _positions(a) -> str:
    return ", ".join(f"({i}, {j})" for i, j in zip(*np.nonzero(a)))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _windows(x, size=2, stride=2):
    """(name, tied positions in row-major order) of each window of a 2-D array."""
    names = {(0, 0): "top-left", (0, 1): "top-right", (1, 0): "bottom-left", (1, 1): "bottom-right"}
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
    return Exercise(
        "Where does the gradient go?",
        "Pool this 4x4 input with 2x2 windows and stride 2; the upstream gradient is $G$. "
        "Which entries of `dx` are non-zero, and what "
        "are they?\n\n$x$ =\n\n" + array_md(x[0, 0], 0) + "\n\n$G$ =\n\n" + array_md(g[0, 0], 0),
        f"Only **{_positions(dx)}** receive anything, one entry per window, each the $G$ of "
        "its window. " + _capital("; ".join(
            f"the {name} window's maximum {top:g} is at {', '.join(map(str, tied))}, and "
            f"{tied[0]} wins" for name, top, tied in _windows(x[0, 0])))
        + " (the first in row-major order). From `cnn.max_pool2d_backward`:\n\n"
        + array_md(dx, 0) + "\n\nThe rule: " + _statement("ties_first_maximum_wins"))


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
        "Overlapping windows",
        "Pool this 3x3 input with 2x2 windows and stride 1 (four windows that overlap), "
        "with $G$ = 1 for every window. How much gradient does the centre entry, the 9, "
        "receive? And the 5?\n\n$x$ =\n\n" + array_md(x[0, 0], 0),
        f"The centre is in **{counts['1,1']}** windows (the export counts them) and wins "
        f"every one, so it receives **{dx[1, 1]:g}**; the 5 is in {counts['2,1']} windows "
        f"and wins none, so it receives **{dx[2, 1]:g}**. An entry collects the $G$ of every "
        "window it wins, once per window. From `cnn.max_pool2d_backward`:\n\n"
        + array_md(dx, 0) + "\n\nThe sum of `dx` is the sum of $G$, "
        f"{dx.sum():g}: each window passes its gradient back exactly once.")


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
    return Exercise(
        "Find the bug: ties",
        "This backward pass gives the right answer on random inputs. On which inputs is it "
        "wrong, and by how much? Try it on this one, with $G$ = 1 everywhere.\n\n"
        "$x$ =\n\n" + array_md(x[0, 0], 0) + "\n\n```python\n"
        + inspect.getsource(backward_every_tied_max).rstrip() + "\n```",
        "At a tie the mask is 1 on every tied entry, so the window passes its gradient back "
        f"several times: the function returns\n\n{array_md(buggy, 0)}\n\nwhose sum is "
        f"**{buggy.sum():g}** for a total upstream gradient of **{g.sum():g}** ("
        + ", ".join(f"the {name} window sends {len(tied)}" for name, _, tied in _windows(x[0, 0]))
        + "). `cnn.max_pool2d_backward` "
        f"gives each window's gradient to one entry:\n\n{array_md(right, 0)}\n\nsum "
        f"**{right.sum():g}**. On random floating-point inputs ties almost never happen, so a gradient check "
        "does not see the bug; ReLU outputs (many exact zeros) and integer images do tie. "
        + _statement("sympy_half_at_ties_is_not_a_subgradient"))
