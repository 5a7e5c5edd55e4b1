"""Exercises for the toy-net page: answers computed by cnn.toy_net and the toy_net export."""

from __future__ import annotations

import numpy as np
import sympy as sp

import derivations
from cnn import toy_net
from docs.exercises import Exercise, _, array_md, formula_md

IMAGE = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 0.0, 1.0]])
DELTAS = np.array([[1.0, 2.0], [0.0, -1.0]])


def _export_kernel_gradient(image, deltas) -> np.ndarray:
    """The exported chain forms dL/dk[a,b] (in the deltas), evaluated at these numbers."""
    case = derivations.load("toy_net").case("valid_3x3_k2")
    names = {**{s: v for row_s, row_v in zip(case.variables["image"], image)
                for s, v in zip(row_s, row_v)},
             **{s: v for row_s, row_v in zip(case.variables["deltas"], deltas)
                for s, v in zip(row_s, row_v)}}
    values = {sp.Symbol(s, real=True): sp.nsimplify(v) for s, v in names.items()}
    return np.array([[float(case.formulas[f"chain:dL/dk[{a},{b}]"].expr.xreplace(values))
                      for b in range(2)] for a in range(2)])


def predict_kernel_gradient() -> Exercise:
    grad = toy_net.kernel_gradient(IMAGE, DELTAS)
    exported = _export_kernel_gradient(IMAGE, DELTAS)
    assert np.array_equal(grad, exported), (grad, exported)
    k00 = float(np.sum(DELTAS * IMAGE[1:, 1:]))
    assert k00 == grad[0, 0]
    terms = " + ".join(f"({d:g})·{x:g}" if d < 0 else f"{d:g}·{x:g}"
                       for d, x in zip(DELTAS.ravel(), IMAGE[1:, 1:].ravel()))
    return Exercise(
        _("Predict the kernel gradient"),
        _("The seed's network (3x3 image, 2x2 kernel, no padding). A forward and backward pass "
          "gave this image and these layer-1 deltas.\n\nImage x (3x3):\n\n%(image)s\n\n"
          "Deltas δ (2x2):\n\n%(deltas)s\n\nWhat is the 2x2 kernel gradient? Work out the "
          "top-left entry first: which 2x2 patch of the image does the delta map meet?",
          image=array_md(IMAGE), deltas=array_md(DELTAS)),
        _("The top-left weight meets the **bottom-right** patch (the flip): %(terms)s = "
          "**%(k00)s**. The whole gradient, from `cnn.toy_net.kernel_gradient(image, deltas)` "
          "and, equally, from the exported formulas evaluated at these numbers:\n\n%(grad)s"
          "\n\nIt is the cross-correlation of the image with the deltas, rotated by 180 "
          "degrees.", terms=terms, k00=f"{k00:g}", grad=array_md(grad)))


def find_the_bug() -> Exercise:
    wrong = toy_net.convolve2d(IMAGE, toy_net.rot180(DELTAS))
    right = toy_net.kernel_gradient(IMAGE, DELTAS)
    assert np.array_equal(wrong, toy_net.rot180(right))
    code = "```python\nd_kernel = convolve2d(x, rot180(delta), 'valid')   # true convolution\n```"
    return Exercise(
        _("Find the bug"),
        _("Seed 004's first code computed the kernel gradient like this:\n\n%(code)s\n\n"
          "With the image and deltas of the previous exercise, what does it give, and what is "
          "wrong with it?", code=code),
        _("The snippet (run with `cnn.toy_net.convolve2d` and `rot180`) gives\n\n%(wrong)s"
          "\n\nbut the kernel gradient is\n\n%(right)s\n\nThe snippet's answer is the right "
          "one **rotated by 180 degrees**: rotating the deltas turns the true convolution into "
          "a cross-correlation, x ⋆ δ, and that still has to be rotated. Correct: "
          "`rot180(correlate2d(x, delta))`, or `convolve2d(rot180(x), delta)`: rotate the "
          "image, not the deltas.", wrong=array_md(wrong), right=array_md(right)))


def which_convention() -> Exercise:
    case = derivations.load("toy_net").case("valid_3x3_k2")
    z00 = case.formulas["z1[0,0]"].expr
    k00 = sp.Symbol(case.variables["kernel"][0][0], real=True)
    pixel = sp.diff(z00, k00)
    x = case.variables["image"]
    flipped = pixel == sp.Symbol(x[1][1], real=True)
    assert flipped and pixel != sp.Symbol(x[0][0], real=True)
    return Exercise(
        _("Convolution or cross-correlation?"),
        _("This is the first layer-1 node of the toy net, as exported:\n\n%(formula)s\n\n"
          "Does the forward pass use a true convolution (kernel flipped, as "
          "`scipy.signal.convolve2d`) or a cross-correlation (no flip, what PyTorch calls "
          "convolution)? Look at the pixel that multiplies the kernel's top-left weight.",
          formula=formula_md("toy_net", "valid_3x3_k2", "z1[0,0]")),
        _("The top-left weight multiplies %(pixel)s (the derivative of the exported formula "
          "with respect to it, taken by SymPy when this page was built), the bottom-right pixel "
          "of the window, not its top-left pixel: the kernel is flipped, so this is a **true "
          "convolution**. A cross-correlation would pair the top-left weight with the top-left "
          "pixel.", pixel=f"${sp.latex(pixel)}$"))
