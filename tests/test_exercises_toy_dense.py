"""Chains and exercises of the toy-net, dense/softmax, L2 and activations pages.

Every chain of these subjects is refused when one of its steps is broken, and
every exercise's answer carries the numbers the project's code computes.
"""

from __future__ import annotations

import importlib
import re
import sys

import numpy as np
import pytest
import sympy as sp

import cnn
import derivations
from cnn import toy_net as cnn_toy
from conftest import ROOT
from derivations import activations, dense_softmax, l2_loss, toy_net
from derivations.steps import Step, StepDoesNotFollow

sys.path.insert(0, str(ROOT))
PAGES = {"toy_net": ROOT / "docs" / "toy_net.md",
         "dense_softmax": ROOT / "docs" / "layers" / "dense_softmax.md",
         "l2_loss": ROOT / "docs" / "layers" / "l2_loss.md",
         "activations": ROOT / "docs" / "layers" / "activations.md"}


# ---------------------------------------------------------------- chains
def test_the_chains_are_exported_with_their_justifications():
    expected = {"toy_net": {"delta", "kernel_weight", "kernel_gradient"},
                "dense_softmax": {"softmax_jacobian", "ce_gradient", "dense_weight_gradient"},
                "l2_loss": {"gradient"}, "activations": {"tanh", "logistic", "arctan", "relu"}}
    for subject, names in expected.items():
        chains = derivations.load(subject).chains
        assert set(chains) >= names, subject
        for name in names:
            assert all(s.justification.strip() and s.expr is not None
                       for s in chains[name].steps), (subject, name)


def broken(builder, monkeypatch, module, change):
    """Run ``builder`` with ``module.Step`` replaced so that ``change`` alters one step."""
    real = Step
    seen = {"n": 0}

    def step(expr, why, prove=None):
        seen["n"] += 1
        return real(change(seen["n"], expr), why, prove)
    monkeypatch.setattr(module, "Step", step)
    with pytest.raises(StepDoesNotFollow):
        builder()


def transpose_last(target):
    def change(n, expr):
        if n == target and isinstance(expr, sp.MatrixBase):
            return expr.T
        return expr
    return change


def times_two(target):
    return lambda n, expr: 2 * expr if n == target else expr


@pytest.mark.parametrize("target", [1, 2, 3, 4])
def test_a_wrong_step_of_the_kernel_weight_chain_is_refused(monkeypatch, target):
    net = toy_net.ToyNet(3, 2, 0)
    broken(lambda: toy_net.kernel_weight_chain(net), monkeypatch, toy_net, times_two(target))


def test_a_transposed_kernel_gradient_is_refused(monkeypatch):
    """The seed's update text: transpose. Transposing the matrix step must not pass."""
    net = toy_net.ToyNet(3, 2, 0)
    broken(lambda: toy_net.kernel_gradient_chain(net), monkeypatch, toy_net, transpose_last(1))


def test_a_kernel_gradient_with_the_deltas_rotated_is_refused(monkeypatch):
    """The seed's first code: conv(x, rot180(delta)) in place of conv(rot180(x), delta)."""
    net = toy_net.ToyNet(3, 2, 0)
    # convolve2d(rot180(x), delta) would become convolve2d(x, rot180(delta))
    real = toy_net.convolve2d
    monkeypatch.setattr(toy_net, "convolve2d",
                        lambda x, k: real(toy_net.rot180(x), toy_net.rot180(k)))
    with pytest.raises(StepDoesNotFollow):
        toy_net.kernel_gradient_chain(net)


def test_a_wrong_delta_step_is_refused(monkeypatch):
    net = toy_net.ToyNet(3, 2, 0)
    broken(lambda: toy_net.delta_chain(net), monkeypatch, toy_net, times_two(2))


@pytest.mark.parametrize("builder, target", [
    (dense_softmax.softmax_jacobian_chain, 1), (dense_softmax.softmax_jacobian_chain, 2),
    (dense_softmax.softmax_jacobian_chain, 3), (dense_softmax.ce_gradient_chain, 2),
    (dense_softmax.ce_gradient_chain, 3), (dense_softmax.dense_weight_chain, 1),
    (dense_softmax.dense_weight_chain, 3)])
def test_a_wrong_softmax_step_is_refused(monkeypatch, builder, target):
    # (a transposed Jacobian would pass: it is symmetric, p_i p_j = p_j p_i)
    broken(builder, monkeypatch, dense_softmax, times_two(target))


def test_the_one_hot_step_needs_one_hot_labels(monkeypatch):
    """p - y without the one-hot prover: the plain comparison refuses it."""
    real = Step
    monkeypatch.setattr(dense_softmax, "Step",
                        lambda expr, why, prove=None: real(expr, why, None if "one-hot" in why
                                                           else prove))
    with pytest.raises(StepDoesNotFollow):
        dense_softmax.ce_gradient_chain()


def test_a_wrong_l2_step_is_refused(monkeypatch):
    broken(l2_loss.index_case, monkeypatch, l2_loss, times_two(2))


@pytest.mark.parametrize("target", [1, 2, 3])
def test_a_wrong_activation_step_is_refused(monkeypatch, target):
    broken(activations.chains, monkeypatch, activations, times_two(target))


def test_the_arctan_box_proves_what_it_says():
    fact = derivations.load("activations").facts["arctan_derivative"]
    assert fact["holds"] and "cos^2(a)" in fact["statement"]
    assert "cos" in " ".join(fact["checks"]) or "cos" in fact["check"]


def test_the_matrix_formulas_are_their_entries():
    case = derivations.load("toy_net").case("valid_3x3_k2")
    m = case.formulas["matrix:chain:dL/dk"].expr
    assert m.shape == (2, 2)
    assert all(m[a, b] == case.formulas[f"chain:dL/dk[{a},{b}]"].expr
               for a in range(2) for b in range(2))


# ---------------------------------------------------------------- exercises
def exercise_functions(page):
    module = importlib.import_module(f"docs.exercises.{page}")
    return {name: f for name, f in vars(module).items()
            if callable(f) and getattr(f, "__module__", "") == module.__name__
            and not name.startswith("_")}


def numbers_in(text):
    return text.replace("−", "-")


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_exercise_computes_its_answer(page):
    functions = exercise_functions(page)
    assert len(functions) >= 2
    for name, f in functions.items():
        ex = f()
        assert ex.title and ex.question and ex.answer, (page, name)
        # a derivative appears only inside an exported formula (formula_md's $$ blocks)
        typed = re.sub(r"\$\$\n.*?\n\$\$", "", ex.question + ex.answer, flags=re.S)
        assert "\\partial" not in typed, (page, name)


def array_text(a):
    return np.array2string(np.asarray(a, dtype=float), precision=4, suppress_small=True,
                           max_line_width=60)


def test_the_answers_hold_the_computed_numbers():
    from docs.exercises import toy_net as ex_toy, dense_softmax as ex_ds
    from docs.exercises import l2_loss as ex_l2, activations as ex_act
    grad = cnn_toy.kernel_gradient(ex_toy.IMAGE, ex_toy.DELTAS)
    assert array_text(grad) in ex_toy.predict_kernel_gradient().answer
    assert array_text(cnn_toy.rot180(grad)) in ex_toy.find_the_bug().answer
    assert "x_{1,1}" in ex_toy.which_convention().answer
    _, dz = cnn.softmax_cross_entropy(ex_ds.LOGITS, ex_ds.LABEL)
    assert array_text(dz) in ex_ds.predict_logit_gradient().answer
    assert "ratio is 4" in ex_ds.find_the_bug().answer
    assert "**sum**" in ex_ds.which_convention().answer
    loss, g = cnn.l2_loss(ex_l2.OUT, ex_l2.TARGET)
    answer = ex_l2.predict_gradient().answer
    assert f"{float(loss):g}" in answer and array_text(g) in answer
    assert array_text(ex_l2.OUT - ex_l2.TARGET) in ex_l2.find_the_bug().answer
    assert array_text(cnn.relu.derivative(ex_act.Z)) in ex_act.find_the_bug().answer
    assert "**0**" in ex_act.relu_at_zero().answer


@pytest.mark.parametrize("page", sorted(PAGES))
def test_each_page_ends_with_two_or_more_exercises(page):
    text = PAGES[page].read_text(encoding="utf-8")
    found = re.findall(r'\{\{ exercise\("' + page + r'", "(\w+)"\) \}\}', text)
    assert len(found) >= 2, page
    assert set(found) <= set(exercise_functions(page))
    assert "## Exercises" in text and text.index("## Exercises") < text.index("{{ exercise(")
