"""Chains of steps (derivations/steps.py): every step proven, a wrong one refused, rendered."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sympy as sp

from derivations import export
from derivations.steps import Step, StepDoesNotFollow, chain

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "hooks"))
from exports import render_placeholders  # noqa: E402

x0, x1, k0, k1, d0, d1 = sp.symbols("x_0 x_1 k_0 k_1 delta_0 delta_1", real=True)
z0, z1 = x0 * k0 + x1 * k1, x1 * k0            # a toy layer: z = (x0 k0 + x1 k1, x1 k0)
L = sp.tanh(z0) + z1 ** 2
DEFS = {d0: 1 - sp.tanh(z0) ** 2, d1: 2 * z1}     # delta = dL/dz of each node


def k0_chain(second=None):
    return chain(r"\frac{\partial L}{\partial k_0}", sp.diff(L, k0), [
        Step(d0 * sp.diff(z0, k0) + d1 * sp.diff(z1, k0), "chain rule over the two nodes"),
        second or Step(d0 * x0 + d1 * x1, "each dz/dk is a pixel"),
        Step(sp.MatMul(sp.ImmutableMatrix([[d0, d1]]), sp.ImmutableMatrix([x0, x1]), evaluate=False),
             "the sum as a row times a column"),
    ], definitions=DEFS, description="A two-node example.")


def test_a_chain_of_true_steps_is_exported_with_every_step():
    record = k0_chain()
    assert [s["justification"] for s in record["steps"]] == [
        "chain rule over the two nodes", "each dz/dk is a pixel", "the sum as a row times a column"]
    assert all(s["srepr"] and s["latex"] for s in record["steps"])


@pytest.mark.parametrize("wrong", [d0 * x1 + d1 * x0, d0 * x0 - d1 * x1, 2 * (d0 * x0 + d1 * x1)])
def test_a_step_that_does_not_follow_is_refused(wrong):
    with pytest.raises(StepDoesNotFollow, match=r"step 2 \('each dz/dk is a pixel'\) is not proven "
                                                r"equal to step 1"):
        k0_chain(Step(wrong, "each dz/dk is a pixel"))


def test_the_first_step_must_equal_the_definition():
    with pytest.raises(StepDoesNotFollow, match="step 1 .* the definition"):
        chain("L", sp.diff(L, k0), [Step(d0 * x0, "chain rule")], definitions=DEFS)


def test_a_chain_round_trips_through_the_export_and_renders(tmp_path):
    export.write("demo", {"title": "demo", "cases": {}, "chains": {"k0": k0_chain()}},
                 directory=tmp_path)
    loaded = export.read("demo", directory=tmp_path).chain("k0")
    assert [s.justification for s in loaded.steps][0] == "chain rule over the two nodes"
    assert loaded.steps[1].expr == d0 * x0 + d1 * x1
    page = render_placeholders('{{ chain("demo", "k0") }}',
                               loader=lambda s: export.read(s, directory=tmp_path))
    assert page.count("**Step ") == 3 and "chain rule over the two nodes" in page
    assert r"\frac{\partial L}{\partial k_0} = " in page and "$$\n    = " in page
    with pytest.raises(Exception, match="no chain 'nope'"):
        render_placeholders('{{ chain("demo", "nope") }}',
                            loader=lambda s: export.read(s, directory=tmp_path))


def test_an_exercise_renders_its_computed_answer_folded(tmp_path):
    (tmp_path / "docs" / "exercises").mkdir(parents=True)
    (tmp_path / "docs" / "exercises" / "demo.py").write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom docs.exercises import Exercise\n"
        "def double():\n    return Exercise('Double it', 'What is 2 * 21?', f'**{2 * 21}**')\n"
        % str(ROOT))
    page = render_placeholders('{{ exercise("demo", "double") }}', root=tmp_path)
    assert '!!! question "Exercise: Double it"' in page and '??? success "Answer"' in page
    assert "**42**" in page
    with pytest.raises(Exception, match="has no exercise 'triple'"):
        render_placeholders('{{ exercise("demo", "triple") }}', root=tmp_path)
    with pytest.raises(Exception, match="no exercises module"):
        render_placeholders('{{ exercise("../x", "double") }}', root=tmp_path)
