"""Exercises for the L2 page: answers computed by cnn.l2_loss."""

from __future__ import annotations

import numpy as np

import cnn
from docs.exercises import Exercise, _, array_md

OUT = np.array([[0.5, 2.0], [1.0, -1.0], [0.0, 0.0]])
TARGET = np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 0.0]])


def predict_gradient() -> Exercise:
    loss, grad = cnn.l2_loss(OUT, TARGET)
    return Exercise(
        _("Predict the gradient"),
        _("A batch of N = 3 samples with 2 outputs each:\n\noutput\n\n%(output)s\n\ntarget"
          "\n\n%(target)s\n\nWhat are the batch-mean L2 cost and its gradient with respect to "
          "the output?", output=array_md(OUT), target=array_md(TARGET)),
        _("The cost is **%(loss)s** and the gradient (o − t)/N, N = %(n)s, is\n\n%(grad)s\n\n"
          "(both from `cnn.l2_loss(output, target)`).",
          loss=f"{float(loss):g}", n=len(OUT), grad=array_md(grad)))


def find_the_bug() -> Exercise:
    loss_sum = lambda o: 0.5 * np.sum((o - TARGET) ** 2)  # noqa: E731
    snippet = (OUT - TARGET) / len(OUT)
    h = 1e-6
    numeric = np.zeros_like(OUT)
    for idx in np.ndindex(OUT.shape):
        plus, minus = OUT.copy(), OUT.copy()
        plus[idx] += h
        minus[idx] -= h
        numeric[idx] = (loss_sum(plus) - loss_sum(minus)) / (2 * h)
    assert np.allclose(numeric, snippet * len(OUT), atol=1e-6)
    code = "```python\nloss = 0.5 * np.sum((o - t) ** 2)\ngrad = (o - t) / len(o)\n```"
    return Exercise(
        _("Find the bug"),
        _("A training loop reports this cost and uses this gradient:\n\n%(code)s\n\nWith the "
          "batch of the previous exercise, is `grad` the gradient of `loss`?", code=code),
        _("No: `loss` is the batch **sum**, whose gradient is o − t; `grad` is the gradient of "
          "the batch **mean**, 3 times smaller. Central differences of `loss` give\n\n"
          "%(numeric)s\n\nwhile `grad` is\n\n%(grad)s\n\nEither report the mean (`np.mean` "
          "over the samples) or drop the `/ len(o)`.",
          numeric=array_md(numeric), grad=array_md(snippet)))
