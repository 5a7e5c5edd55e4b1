"""Exercises for the conventions page (docs/conventions.md).

Every answer is computed when the site is built: from the exports
(``toy_net``, ``dense_softmax``) and by :mod:`cnn`.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import cnn
import derivations
from docs.exercises import Exercise, _, array_md, statement


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
    kind = (_("a true convolution (the kernel is flipped)") if (a, b) == corner
            else _("a cross-correlation (no flip)"))
    return Exercise(
        _("Which convention?"),
        _("The toy net's first layer, as the derivation exported it, for the top-left output "
          "of a 3x3 image and a 2x2 kernel:\n\n%(formula)s\n\nIs it a true convolution or a "
          "cross-correlation? Look at one product only.", formula=f"$$\n{z.equation}\n$$"),
        _("The top-left pixel of the window, %(pixel)s, is multiplied by %(weight)s, the "
          "kernel's entry (%(row)s, %(column)s), its bottom-right corner. So it is **%(kind)s**, "
          "as `scipy.signal.convolve2d` computes it; a cross-correlation would multiply the "
          "top-left pixel by the top-left weight.", pixel=f"${sp.latex(x00)}$",
          weight=f"${sp.latex(weight)}$", row=a, column=b, kind=kind))


def sum_or_mean() -> Exercise:
    rng = np.random.default_rng(1)
    n, d, k = 4, 3, 2
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, k))
    labels = np.array([0, 1, 1, 0])
    loss, dlogits = cnn.softmax_cross_entropy(x @ w, labels)
    dw = cnn.dense_backward(dlogits, x, w)[1]
    p = np.exp(x @ w - (x @ w).max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta_2 = (p - np.eye(k)[labels]).T              # seed 003: features x batch
    dW2 = delta_2 @ x                                # fc1 = x.T, so fc1.T = x
    ratio = dW2.T / dw
    return Exercise(
        _("Sum or mean?"),
        _("A batch of N = %(n)s rows goes through a dense layer and softmax + cross-entropy. "
          "Seed 003 computes its weight gradient as `dW2 = delta_2 @ fc1.T` with "
          "`delta_2 = softmax - one_hot`, in its column layout. The library returns `dw` from "
          "`cnn.dense_backward`. Do they agree? If not, by what factor, and in which layout?",
          n=n),
        _("`dW2.T / dw` is, entry by entry,\n\n%(ratio)s\n\nso the seed's gradient is the "
          "library's transposed and multiplied by **N = %(n)s**. Both are right: the seed's is "
          "the gradient of the batch *sum* of the losses, the library's of the batch *mean* "
          "(the exported fact below). Mixing them multiplies the learning rate by N.",
          ratio=array_md(ratio, 6), n=n)
        + "\n\n" + statement("dense_softmax", "seed003_equals_library_row_layout"))


def output_shapes() -> Exercise:
    x = np.zeros((2, 3, 7, 7))
    w = np.zeros((4, 3, 3, 3))
    y = cnn.conv2d(x, w, np.zeros(4), stride=2, padding=1)
    dx, dw, db = cnn.conv2d_backward(np.ones_like(y), x, w, stride=2, padding=1)
    p = cnn.max_pool2d(y, size=2, stride=2)
    return Exercise(
        _("Shapes"),
        _("A batch `x` of shape (2, 3, 7, 7) in NCHW goes through `cnn.conv2d` with weights of "
          "shape (4, 3, 3, 3), stride 2 and padding 1, then through 2x2 max pooling with "
          "stride 2. What are the shapes of the convolution's output, of its three gradients, "
          "and of the pooled output?"),
        _("`y`: **%(y)s**: %(height)s. `dx`: **%(dx)s**, `dw`: **%(dw)s**, `db`: **%(db)s**: "
          "every gradient has the shape of the array it belongs to. Pooled: **%(pooled)s**.",
          y=y.shape, height=f"$O_H = \\lfloor (7 + 2 - 3)/2 \\rfloor + 1 = {y.shape[2]}$",
          dx=dx.shape, dw=dw.shape, db=db.shape, pooled=p.shape))
