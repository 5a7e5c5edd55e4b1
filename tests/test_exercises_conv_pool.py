"""Exercises of the conventions, convolution and pooling pages: computed, and on the pages."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import cnn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from docs.exercises import Exercise  # noqa: E402

PAGES = {"conventions": "docs/conventions.md", "conv2d": "docs/layers/conv2d.md",
         "max_pool": "docs/layers/max_pool.md", "avg_pool": "docs/layers/avg_pool.md"}


def module(page):
    spec = importlib.util.spec_from_file_location(f"ex_{page}", ROOT / "docs/exercises" / f"{page}.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def exercises(page):
    m = module(page)
    return {n: f for n, f in vars(m).items() if inspect.isfunction(f) and f.__module__ == m.__name__
            and not n.startswith("_") and inspect.signature(f).return_annotation in (Exercise, "Exercise")}


@pytest.mark.parametrize("page", PAGES)
def test_every_exercise_computes_and_is_on_its_page(page):
    found = exercises(page)
    text = (ROOT / PAGES[page]).read_text(encoding="utf-8")
    placed = re.findall(rf'\{{\{{ exercise\("{page}", "(\w+)"\) \}}\}}', text)
    assert len(placed) >= 2 and set(placed) <= set(found)
    tail = text[text.rindex("\n## "):]
    assert tail.startswith("\n## Exercises") and all(f'"{n}"' in tail for n in placed)
    for name, function in found.items():
        ex = function()
        assert isinstance(ex, Exercise) and ex.title and ex.question and ex.answer, name
        assert "**" in ex.answer, name            # the computed result is shown in bold


def test_predict_weight_gradient_shows_the_library_numbers():
    ex = exercises("conv2d")["predict_weight_gradient"]()
    x = np.array([[[[1., 2., 0.], [0., 1., 3.], [2., 1., 1.]]]])
    g = np.array([[[[1., 0.], [2., -1.]]]])
    _, dw, db = cnn.conv2d_backward(g, x, np.zeros((1, 1, 2, 2)), stride=1, padding=0)
    assert f"**{db[0]:g}**" in ex.answer and f"**{dw[0, 0, 0, 1]:g}**" in ex.answer
    for row in dw[0, 0]:
        assert " ".join(f"{v:.0f}." for v in row) in ex.answer


def test_missing_dilation_answer_has_both_shapes():
    ex = exercises("conv2d")["find_the_missing_dilation"]()
    assert "**(3, 3)**" in ex.answer and "**(5, 5)**" in ex.answer and "**True**" in ex.answer


def test_tie_bug_answer_has_both_sums():
    ex = exercises("max_pool")["find_the_tie_bug"]()
    assert "**11**" in ex.answer and "**4**" in ex.answer


def test_routing_answer_matches_the_library():
    ex = exercises("max_pool")["which_entries_receive"]()
    assert "**(0, 0), (0, 3), (2, 1), (2, 2)**" in ex.answer


def test_sum_or_mean_finds_the_batch_size():
    assert "**N = 4**" in exercises("conventions")["sum_or_mean"]().answer


def test_which_convention_reads_the_export():
    assert "true convolution" in exercises("conventions")["which_convention"]().answer


def test_overlap_bug_answer_has_both_sums():
    ex = exercises("avg_pool")["find_the_overlap_bug"]()
    assert "**6.75**" in ex.answer and "**10**" in ex.answer and "**True**" in ex.answer


def test_overlapping_average_answer_matches_the_library():
    ex = exercises("avg_pool")["overlapping_windows"]()
    dx = cnn.avg_pool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), size=2, stride=1)
    assert f"receives **{dx[0, 0, 1, 1]:g}**" in ex.answer and "**4** windows" in ex.answer


def test_the_helpers_list_in_each_language_and_take_statements_from_the_export():
    import derivations
    from docs.exercises import listing, statement
    from docs.locale import Domain, speaking
    english = derivations.load("max_pool").facts["ties_first_maximum_wins"]["statement"]
    assert statement("max_pool", "ties_first_maximum_wins") == english
    assert listing(["(0, 0)", "(1, 1)", "(2, 2)"]) == "(0, 0), (1, 1), (2, 2)"
    with speaking("zh", strict=True):
        assert listing(["`dx`", "`dw`"]) == "`dx`、`dw`"
    with speaking("zh"):      # the derivation's own catalogue translates a fact's statement
        assert (statement("max_pool", "ties_first_maximum_wins")
                == Domain("derivations/max_pool")(english))
