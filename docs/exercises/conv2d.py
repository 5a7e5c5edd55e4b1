"""Exercises for the multi-channel convolution page (docs/layers/conv2d.md).

Every answer is computed when the site is built: by :mod:`cnn` (the verified
layer) and from the ``conv2d`` export. The buggy snippets the questions show
are the functions below, printed with :func:`inspect.getsource`, so the code a
reader sees is the code that ran.
"""

from __future__ import annotations


import numpy as np
from scipy.signal import convolve2d

import cnn
import derivations
from docs.exercises import Exercise, _, array_md, code_md, statement


def _fact_md(name: str) -> str:
    """An exported fact's statement and its LaTeX (not typed here)."""
    fact = derivations.load("conv2d").facts[name]
    return f"{statement('conv2d', name)}\n\n$$\n{fact['latex']}\n$$"


def _values_at(a) -> str:
    return _(" and ").join(_("**%(value)s** to pixel (%(i)s, %(j)s)",
                             value=f"{a[i, j]:g}", i=i, j=j) for i, j in zip(*np.nonzero(a)))


def predict_weight_gradient() -> Exercise:
    x = np.array([[[[1., 2., 0.], [0., 1., 3.], [2., 1., 1.]]]])       # (1, 1, 3, 3)
    w = np.zeros((1, 1, 2, 2))                                         # values do not matter
    g = np.array([[[[1., 0.], [2., -1.]]]])                            # (1, 1, 2, 2)
    dx, dw, db = cnn.conv2d_backward(g, x, w, stride=1, padding=0)
    a, e = 0, 1
    window = x[0, 0, a:a + 2, e:e + 2]
    products = " + ".join(f"({gv:g})({xv:g})" for gv, xv in zip(g[0, 0].ravel(), window.ravel()))
    return Exercise(
        _("Predict the weight gradient"),
        _("One image, one input and one output channel: a 3x3 input $x$, a 2x2 kernel, stride 1, "
          "no padding, so the output and its upstream gradient $G$ are 2x2. Predict the kernel "
          "gradient `dw` (2x2) and the bias gradient `db` without running anything.\n\n"
          "$x$ =\n\n%(x)s\n\n$G$ =\n\n%(g)s", x=array_md(x[0, 0], 0), g=array_md(g[0, 0], 0)),
        _("Slide $G$ over $x$ as if it were the kernel (a 'valid' cross-correlation, no flip). "
          "Entry (%(row)s, %(column)s) puts $G$ on the window of $x$ starting at row %(row)s, "
          "column %(column)s: %(products)s = **%(entry)s**. All of them, from "
          "`cnn.conv2d_backward`:\n\n`dw[0, 0]` =\n\n%(dw)s\n\n`db` = **%(db)s**, the sum of "
          "$G$. The rule, as the derivation proved it:\n\n%(rule)s",
          row=a, column=e, products=products, entry=f"{dw[0, 0, a, e]:g}",
          dw=array_md(dw[0, 0], 0), db=f"{db[0]:g}",
          rule=_fact_md("dw_is_correlation_of_input_with_upstream")))


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
        _("Find the bug: stride 2"),
        _("This function is meant to compute the input gradient of a convolution layer (the "
          "library's cross-correlation) for one channel. It passes every test at stride 1. "
          "What goes wrong at stride 2, on a 5x5 input with a 3x3 kernel and padding 1 (so $G$ "
          "is 3x3)?") + "\n\n" + code_md(dx_forgets_to_dilate),
        _("At stride 1 it agrees with `cnn.conv2d_backward`: **%(same)s**. At stride 2 it "
          "returns an array of shape **%(shape)s** instead of **%(input_shape)s**, the shape of "
          "the input: it never spreads $G$ out. Each entry of $G$ belongs to a window that "
          "starts 2 pixels after the previous one, so $G$ must be dilated first (one zero "
          "between neighbours) before the full convolution. With `G = 1..9` the function "
          "returns\n\n%(buggy)s\n\nwhile the library returns\n\n%(right)s\n\nThe fix, "
          "checked against the library when this page was built:",
          same=same_at_1, shape=buggy.shape, input_shape=right.shape, buggy=array_md(buggy, 0),
          right=array_md(right, 0))
        + "\n\n" + code_md(_dx_right) + "\n\n" + _fact_md("dx_is_full_convolution_with_kernels"))


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
        _("Find the bug: the rotated kernel"),
        _("A text says 'the input gradient is a full convolution with the rotated kernel', and "
          "this function does exactly that for the library's layer (cross-correlation, stride "
          "1). Take a %(input)s input, padding 1, and a %(kernel)s kernel with $w_{0,0} = 1$, "
          "$w_{0,1} = 2$ and zeros elsewhere, and an upstream gradient that is 1 at output "
          "(1, 1) and 0 elsewhere. Which input pixels should receive 1 and 2, and which does "
          "the function give them to?", input=f"{x.shape[2]}x{x.shape[3]}",
          kernel=f"{w.shape[2]}x{w.shape[3]}") + "\n\n" + code_md(dx_flips_twice),
        _("Output (1, 1) read the padded input window whose top-left pixel is input (0, 0): "
          "$w_{0,0}$ met input (0, 0) and $w_{0,1}$ met input (0, 1). So the library gives "
          "%(right_pixels)s:\n\n%(right)s\n\nThe function gives %(buggy_pixels)s:\n\n"
          "%(buggy)s\n\nthe same numbers on the wrong pixels, mirrored through the centre of "
          "the window (input pixel (1, 1)): `scipy.signal.convolve2d` flips its kernel "
          "already, and `np.rot90(w, 2)` flips it back, so each weight's gradient goes to the "
          "pixel a true-convolution layer would have multiplied it with. Either a true "
          "convolution with the kernel as it is, or a cross-correlation with the rotated "
          "kernel; not both. As the derivation refuted it:",
          right_pixels=_values_at(right), right=array_md(right, 0),
          buggy_pixels=_values_at(buggy), buggy=array_md(buggy, 0))
        + "\n\n" + _fact_md("dx_true_convolution_with_rotated_kernels_is_wrong"))
