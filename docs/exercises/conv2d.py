"""Exercises for the multi-channel convolution page (docs/layers/conv2d.md).

Every answer is computed when the site is built: by :mod:`cnn` (the verified
layer) and from the ``conv2d`` export. The buggy snippets the questions show
are the functions below, printed with :func:`inspect.getsource`, so the code a
reader sees is the code that ran.
"""

from __future__ import annotations

import inspect

import numpy as np
from scipy.signal import convolve2d

import cnn
import derivations
from docs.exercises import Exercise, array_md


def _fact_md(name: str) -> str:
    """An exported fact's statement and its LaTeX (not typed here)."""
    fact = derivations.load("conv2d").facts[name]
    return f"{fact['statement']}\n\n$$\n{fact['latex']}\n$$"


def _values_at(a) -> str:
    return " and ".join(f"**{a[i, j]:g}** to pixel ({i}, {j})" for i, j in zip(*np.nonzero(a)))


def _code(function) -> str:
    return "```python\n" + inspect.getsource(function).rstrip() + "\n```"


def predict_weight_gradient() -> Exercise:
    x = np.array([[[[1., 2., 0.], [0., 1., 3.], [2., 1., 1.]]]])       # (1, 1, 3, 3)
    w = np.zeros((1, 1, 2, 2))                                         # values do not matter
    g = np.array([[[[1., 0.], [2., -1.]]]])                            # (1, 1, 2, 2)
    dx, dw, db = cnn.conv2d_backward(g, x, w, stride=1, padding=0)
    a, e = 0, 1
    window = x[0, 0, a:a + 2, e:e + 2]
    products = " + ".join(f"({gv:g})({xv:g})" for gv, xv in zip(g[0, 0].ravel(), window.ravel()))
    return Exercise(
        "Predict the weight gradient",
        "One image, one input and one output channel: a 3x3 input $x$, a 2x2 kernel, stride 1, "
        "no padding, so the output and its upstream gradient $G$ are 2x2. Predict the kernel "
        "gradient `dw` (2x2) and the bias gradient `db` without running anything.\n\n"
        "$x$ =\n\n" + array_md(x[0, 0], 0) + "\n\n$G$ =\n\n" + array_md(g[0, 0], 0),
        "Slide $G$ over $x$ as if it were the kernel (a 'valid' cross-correlation, no flip). "
        f"Entry ({a}, {e}) puts $G$ on the window of $x$ starting at row {a}, column {e}: "
        f"{products} = **{dw[0, 0, a, e]:g}**. All of them, from `cnn.conv2d_backward`:\n\n"
        "`dw[0, 0]` =\n\n" + array_md(dw[0, 0], 0)
        + f"\n\n`db` = **{db[0]:g}**, the sum of $G$. The rule, as the derivation proved it:\n\n"
        + _fact_md("dw_is_correlation_of_input_with_upstream"))


def dx_forgets_to_dilate(g, w, stride, padding):
    """dL/dx for one input and one output channel. One line is missing."""
    full = convolve2d(g, w, mode="full")      # true convolution: the kernel is flipped once
    return full[padding:full.shape[0] - padding, padding:full.shape[1] - padding]


def _dx_right(g, w, stride, padding, size):
    """The same with G dilated (and the rows no window reaches padded back)."""
    k = w.shape[0]
    d = np.zeros((size + 2 * padding - k + 1, size + 2 * padding - k + 1))
    d[::stride, ::stride] = g
    full = convolve2d(d, w, mode="full")
    return full[padding:full.shape[0] - padding, padding:full.shape[1] - padding]


def find_the_missing_dilation() -> Exercise:
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, (1, 1, 5, 5)).astype(float)
    w = rng.integers(-2, 3, (1, 1, 3, 3)).astype(float)
    y1 = cnn.conv2d(x, w, np.zeros(1), stride=1, padding=1)
    g1 = np.arange(1.0, 1.0 + y1.size).reshape(y1.shape)
    same_at_1 = np.allclose(dx_forgets_to_dilate(g1[0, 0], w[0, 0], 1, 1),
                            cnn.conv2d_backward(g1, x, w, stride=1, padding=1)[0][0, 0])
    y2 = cnn.conv2d(x, w, np.zeros(1), stride=2, padding=1)
    g2 = np.arange(1.0, 1.0 + y2.size).reshape(y2.shape)
    buggy = dx_forgets_to_dilate(g2[0, 0], w[0, 0], 2, 1)
    right = cnn.conv2d_backward(g2, x, w, stride=2, padding=1)[0][0, 0]
    fixed = _dx_right(g2[0, 0], w[0, 0], 2, 1, 5)
    assert np.allclose(fixed, right) and same_at_1
    return Exercise(
        "Find the bug: stride 2",
        "This function is meant to compute the input gradient of a convolution layer (the "
        "library's cross-correlation) for one channel. It passes every test at stride 1. "
        "What goes wrong at stride 2, on a 5x5 input with a 3x3 kernel and padding 1 (so $G$ "
        "is 3x3)?\n\n" + _code(dx_forgets_to_dilate),
        f"At stride 1 it agrees with `cnn.conv2d_backward`: **{same_at_1}**. At stride 2 "
        f"it returns an array of shape **{buggy.shape}** instead of **{right.shape}**, the "
        "shape of the input: it never spreads $G$ out. Each entry of $G$ belongs to a window "
        "that starts 2 pixels after the previous one, so $G$ must be dilated first (one zero "
        "between neighbours) before the full convolution. With `G = 1..9` the function "
        "returns\n\n" + array_md(buggy, 0) + "\n\nwhile the library returns\n\n"
        + array_md(right, 0) + "\n\nThe fix, checked against the library when this page was "
        "built:\n\n" + _code(_dx_right) + "\n\n"
        + _fact_md("dx_is_full_convolution_with_kernels"))


def dx_flips_twice(g, w, padding):
    """dL/dx at stride 1 for one input and one output channel."""
    full = convolve2d(g, np.rot90(w, 2), mode="full")    # "the gradient needs the rotated kernel"
    return full[padding:full.shape[0] - padding, padding:full.shape[1] - padding]


def find_the_double_flip() -> Exercise:
    rng = np.random.default_rng(5)
    x = rng.integers(-2, 3, (1, 1, 4, 4)).astype(float)
    w = np.array([[[[1., 2., 0.], [0., 0., 0.], [0., 0., 0.]]]])      # asymmetric on purpose
    y = cnn.conv2d(x, w, np.zeros(1), stride=1, padding=1)
    g = np.zeros(y.shape)
    g[0, 0, 1, 1] = 1.0                                                # one output only
    buggy = dx_flips_twice(g[0, 0], w[0, 0], 1)
    right = cnn.conv2d_backward(g, x, w, stride=1, padding=1)[0][0, 0]
    return Exercise(
        "Find the bug: the rotated kernel",
        "A text says 'the input gradient is a full convolution with the rotated kernel', and "
        "this function does exactly that for the library's layer (cross-correlation, stride 1). "
        f"Take a {x.shape[2]}x{x.shape[3]} input, padding 1, and a {w.shape[2]}x{w.shape[3]} "
        "kernel with $w_{0,0} = 1$, $w_{0,1} = 2$ and zeros elsewhere, and an upstream "
        "gradient that is 1 at output (1, 1) and 0 elsewhere. Which input pixels should "
        "receive 1 and 2, and which does the function give them to?\n\n" + _code(dx_flips_twice),
        "Output (1, 1) read the padded input window whose top-left pixel is input (0, 0): "
        "$w_{0,0}$ met input (0, 0) and $w_{0,1}$ met input (0, 1). So the library gives "
        f"{_values_at(right)}:\n\n"
        + array_md(right, 0) + f"\n\nThe function gives {_values_at(buggy)}:\n\n"
        + array_md(buggy, 0)
        + "\n\nthe same numbers on the wrong pixels, mirrored through the centre of the "
        "window (input pixel (1, 1)): `scipy.signal.convolve2d` flips its kernel already, "
        "and `np.rot90(w, 2)` flips it back, so each weight's gradient goes to the pixel a "
        "true-convolution layer would have multiplied it with. Either a "
        "true convolution with the kernel as it is, or a cross-correlation with the rotated "
        "kernel; not both. As the derivation refuted it:\n\n"
        + _fact_md("dx_true_convolution_with_rotated_kernels_is_wrong"))
