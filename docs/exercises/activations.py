"""Exercises for the activations page: answers computed by cnn's activations."""

from __future__ import annotations

import numpy as np

import cnn
import derivations
from docs.exercises import Exercise, _, array_md

Z = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])


def derivative_from_output() -> Exercise:
    a = cnn.tanh(Z)
    d = cnn.tanh.derivative(Z)
    assert np.allclose(d, 1 - a ** 2)
    return Exercise(
        _("Backward from the output alone"),
        _("A tanh layer kept only its outputs:\n\n%(a)s\n\nWhat is tanh' at each entry? (You "
          "do not need z.)", a=array_md(a)),
        _("1 − a², entry by entry:\n\n%(derivative)s\n\nThe library's "
          "`cnn.tanh.derivative(z)` at the z these came from gives the same:\n\n%(library)s",
          derivative=array_md(1 - a ** 2), library=array_md(d)))


def find_the_bug() -> Exercise:
    relu_then_tanh_derivative = 1 - cnn.relu(Z) ** 2
    right = cnn.relu.derivative(Z)
    code = ("```python\na = relu(z)           # forward\n"
            "grad_z = grad_a * (1 - a ** 2)   # backward\n```")
    return Exercise(
        _("Find the bug"),
        _("Seed 000's channel `l2d` does this:\n\n%(code)s\n\nAt\n\n%(z)s\n\nwhat factor does "
          "the backward pass multiply by, and what should it be?", code=code, z=array_md(Z)),
        _("It uses tanh's derivative, 1 − a², on a ReLU output:\n\n%(buggy)s\n\nThe ReLU "
          "derivative (`cnn.relu.derivative`) is\n\n%(right)s\n\nThey agree at %(agree)s of the "
          "%(size)s entries: where z ≤ 0 the buggy factor is 1 instead of 0 (the gradient leaks "
          "through a unit that is off), and where z > 0 it is 1 − z² instead of 1 (for z > 1 "
          "even negative, so the gradient points the wrong way).",
          buggy=array_md(relu_then_tanh_derivative), right=array_md(right),
          agree=int(np.sum(np.isclose(relu_then_tanh_derivative, right))), size=Z.size))


def relu_at_zero() -> Exercise:
    at0 = derivations.load("activations").case("elementwise").parameters["relu_derivative_at_0"]
    got = cnn.relu.backward(np.ones(1), np.zeros(1))
    assert float(got[0]) == at0
    return Exercise(
        _("ReLU at 0"),
        _("What does `cnn.relu.backward(np.ones(1), np.zeros(1))` return: the upstream "
          "gradient 1 passed back through ReLU at exactly z = 0?"),
        _("**%(got)s**: ReLU has no derivative at 0, and the library uses relu'(0) = %(at0)s, "
          "the convention of the derivation (exported as `relu_derivative_at_0`), seed 003's "
          "`dReLU` and PyTorch.", got=f"{float(got[0]):g}", at0=f"{at0:g}"))
