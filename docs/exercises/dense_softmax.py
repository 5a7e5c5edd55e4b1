"""Exercises for the dense / softmax / cross-entropy page: answers from cnn and the export."""

from __future__ import annotations

import numpy as np

import cnn
import derivations
from docs.exercises import Exercise, _, array_md, formula_md

LOGITS = np.array([[2.0, 1.0, 0.0]])
LABEL = np.array([0])


def predict_logit_gradient() -> Exercise:
    loss, dz = cnn.softmax_cross_entropy(LOGITS, LABEL)
    p = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    assert np.allclose(dz, p - np.eye(3)[LABEL])
    return Exercise(
        _("Predict the gradient at the logits"),
        _("One sample (N = 1), three classes, logits\n\n%(logits)s\n\nand the true class 0. "
          "What is the gradient of the cross-entropy with respect to the logits? (First the "
          "softmax, then use the last step above.)", logits=array_md(LOGITS)),
        _("The softmax is\n\n%(p)s\n\nso the gradient is p minus the one-hot label "
          "[1, 0, 0]:\n\n%(dz)s\n\n(computed by `cnn.softmax_cross_entropy`; the loss is "
          "%(loss)s). The true class gets a negative gradient (gradient descent raises its "
          "logit), the others positive.",
          p=array_md(p), dz=array_md(dz), loss=f"{float(loss):.4f}"))


def find_the_bug() -> Exercise:
    rng = np.random.default_rng(3)
    x, w, b = rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (2, 3)), np.zeros(3)
    labels = np.array([0, 2, 1, 2])
    z = cnn.dense(x, w, b)
    loss, dz = cnn.softmax_cross_entropy(z, labels)
    dw = cnn.dense_backward(dz, x, w)[1]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    buggy = x.T @ (p - np.eye(3)[labels])
    ratio = buggy / dw
    assert np.allclose(ratio, len(x))
    code = ("```python\np = softmax(x @ w + b)          # (N, K)\n"
            "dw = x.T @ (p - y_onehot)       # (D, K)\n```")
    return Exercise(
        _("Find the bug"),
        _("The loss is the batch **mean** of the cross-entropy, over a batch of N = 4 "
          "samples. This snippet computes the dense layer's weight gradient:\n\n%(code)s\n\n"
          "What is wrong with it?", code=code),
        _("It is the gradient of the batch **sum**, N = 4 times too large for the mean. The "
          "snippet gives\n\n%(buggy)s\n\nwhile `cnn.dense_backward` (with the gradient of "
          "`cnn.softmax_cross_entropy`) gives\n\n%(dw)s\n\nThe ratio is %(ratio)s in every "
          "entry. The fix: `dw = x.T @ (p - y_onehot) / len(x)`. With the same learning rate, "
          "the snippet would take steps N times larger.",
          buggy=array_md(buggy), dw=array_md(dw), ratio=f"{float(ratio.mean()):g}"))


def which_convention() -> Exercise:
    fact = derivations.load("dense_softmax").facts["seed003_deltas_are_batch_sum_gradients"]
    assert fact["holds"]
    N = derivations.load("dense_softmax").case("seed003_column").parameters["N"]
    return Exercise(
        _("Sum or mean over the batch?"),
        _("Seed 003 computes this weight gradient (here one entry, on a batch of N = %(n)s, as "
          "exported):\n\n%(formula)s\n\nIs it the gradient of the batch sum or of the batch "
          "mean of the cross-entropy?",
          n=N, formula=formula_md("dense_softmax", "seed003_column", "dW2[0,0]")),
        _("Of the batch **sum**: it adds one term per sample and never divides by N. The "
          "derivation proves that it is exactly the derivative of the summed loss (the fact on "
          "this page's seed 003 section, checked again when this answer was built). For the "
          "mean, divide by N."))
