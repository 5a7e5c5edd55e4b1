"""Exercises for the conventions page (docs/conventions.md).

Every answer is computed when the site is built: from the exports
(``toy_net``, ``dense_softmax``) and by :mod:`cnn`.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import cnn
import derivations
from docs.exercises import Exercise, array_md


def which_convention() -> Exercise:
    case = derivations.load("toy_net").case("valid_3x3_k2")
    z = case.formulas["z1[0,0]"]
    x00 = sp.Symbol(case.variables["image"][0][0], real=True)
    weight = sp.diff(z.expr, x00)
    kernel = np.array(case.variables["kernel"], dtype=object)
    where = [(a, b) for a in range(kernel.shape[0]) for b in range(kernel.shape[1])
             if sp.Symbol(kernel[a, b], real=True) == weight]
    a, b = where[0]
    corner = (kernel.shape[0] - 1, kernel.shape[1] - 1)
    kind = ("a true convolution (the kernel is flipped)" if (a, b) == corner
            else "a cross-correlation (no flip)")
    return Exercise(
        "Which convention?",
        "The toy net's first layer, as the derivation exported it, for the top-left output "
        "of a 3x3 image and a 2x2 kernel:\n\n"
        f"$$\n{z.equation}\n$$\n\n"
        "Is it a true convolution or a cross-correlation? Look at one product only.",
        f"The top-left pixel of the window, ${sp.latex(x00)}$, is multiplied by "
        f"${sp.latex(weight)}$, the kernel's entry ({a}, {b}), its bottom-right corner. "
        f"So it is **{kind}**, as `scipy.signal.convolve2d` computes it; a cross-correlation "
        "would multiply the top-left pixel by the top-left weight.")


def sum_or_mean() -> Exercise:
    rng = np.random.default_rng(1)
    n, d, k = 4, 3, 2
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, k))
    labels = np.array([0, 1, 1, 0])
    loss, dlogits = cnn.softmax_cross_entropy(x @ w, labels)
    _, dw, _ = cnn.dense_backward(dlogits, x, w)
    p = np.exp(x @ w - (x @ w).max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta_2 = (p - np.eye(k)[labels]).T              # seed 003: features x batch
    dW2 = delta_2 @ x                                # fc1 = x.T, so fc1.T = x
    ratio = dW2.T / dw
    fact = derivations.load("dense_softmax").facts["seed003_equals_library_row_layout"]
    return Exercise(
        "Sum or mean?",
        f"A batch of N = {n} rows goes through a dense layer and softmax + cross-entropy. "
        "Seed 003 computes its weight gradient as `dW2 = delta_2 @ fc1.T` with "
        "`delta_2 = softmax - one_hot`, in its column layout. The library returns `dw` from "
        "`cnn.dense_backward`. Do they agree? If not, by what factor, and in which layout?",
        f"`dW2.T / dw` is, entry by entry,\n\n{array_md(ratio, 6)}\n\n"
        f"so the seed's gradient is the library's transposed and multiplied by **N = {n}**. "
        "Both are right: the seed's is the gradient of the batch *sum* of the losses, the "
        "library's of the batch *mean* (the exported fact below). Mixing them multiplies "
        f"the learning rate by N.\n\n{fact['statement']}")


def output_shapes() -> Exercise:
    x = np.zeros((2, 3, 7, 7))
    w = np.zeros((4, 3, 3, 3))
    y = cnn.conv2d(x, w, np.zeros(4), stride=2, padding=1)
    dx, dw, db = cnn.conv2d_backward(np.ones_like(y), x, w, stride=2, padding=1)
    p = cnn.max_pool2d(y, size=2, stride=2)
    return Exercise(
        "Shapes",
        "A batch `x` of shape (2, 3, 7, 7) in NCHW goes through `cnn.conv2d` with weights of "
        "shape (4, 3, 3, 3), stride 2 and padding 1, then through 2x2 max pooling with "
        "stride 2. What are the shapes of the convolution's output, of its three gradients, "
        "and of the pooled output?",
        f"`y`: **{y.shape}**: $O_H = \\lfloor (7 + 2 - 3)/2 \\rfloor + 1 = {y.shape[2]}$. "
        f"`dx`: **{dx.shape}**, `dw`: **{dw.shape}**, `db`: **{db.shape}**: every gradient "
        f"has the shape of the array it belongs to. Pooled: **{p.shape}**.")
