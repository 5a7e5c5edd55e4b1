"""Every exported fact holds, with a proof behind it; the all-sizes proofs rerun.

A fact's ``holds`` is the result of its proof at derive time (never a
literal); here each is read back from the committed exports, and the symbolic
proofs for every size (``conv2d_index``, ``max_pool_index``) are run again.
"""

from __future__ import annotations

import pytest
import sympy as sp

import derivations
from derivations import conv2d_index, export, max_pool_index, toy_flip_index
from derivations.index_sums import same
from derivations.proof import Checks

EXPECTED_FACTS = {
    "activations": {"relu_not_differentiable_at_0", "relu_derivative_convention",
                    "tanh_derivative_in_output", "logistic_derivative_in_output",
                    "arctan_derivative"},
    "l2_loss": {"gradient_index_form", "sum_vs_mean"},
    "dense_softmax": {"dense_backward_index_form", "softmax_ce_gradient_index_form",
                      "seed003_deltas_are_batch_sum_gradients",
                      "seed003_batch_mean_is_one_over_n", "seed003_equals_library_row_layout"},
    "max_pool": {"routing_is_derivative_of_max", "ties_first_maximum_wins",
                 "sympy_half_at_ties_is_not_a_subgradient"},
    "conv2d": {"dw_is_correlation_of_input_with_upstream", "db_is_sum_of_upstream",
               "dx_is_full_convolution_with_kernels",
               "dx_is_full_correlation_with_rotated_kernels",
               "dx_true_convolution_with_rotated_kernels_is_wrong"},
}
EXPECTED_FACTS.update({
    "conv2d_index": {"dw_all_sizes", "db_all_sizes", "dx_p_is_sum_over_covering_windows",
                     "dx_p_is_full_convolution_of_dilated_G", "toy_flip_all_sizes",
                     "dx_double_flip_and_undilated_G_are_wrong"},
    "max_pool_index": {"routing_all_sizes", "non_overlapping_windows_all_sizes"},
})


@pytest.mark.parametrize("subject", derivations.SUBJECTS)
def test_every_fact_holds(subject):
    facts = derivations.load(subject).facts
    expected = EXPECTED_FACTS.get(subject, set())
    assert expected <= set(facts), sorted(expected - set(facts))
    for name, fact in facts.items():
        # export.fact records holds = proof.holds and refuses anything but the expected
        # outcome, so a fact that does not hold appears only as a declared refutation
        assert fact["holds"] is fact.get("expected", True) is True, \
            f"{subject}: fact {name!r} does not hold"
        assert fact["check"] and fact["statement"], f"{subject}: fact {name!r} says no check"
        assert fact["checks"], f"{subject}: fact {name!r} names no check: holds from no proof"
        data = fact["data"]
        assert data["sizes"] in export.SIZES, (subject, name, data.get("sizes"))
        if data["sizes"] == "all":
            assert data["assumptions"], f"{subject}: {name!r} holds for all sizes, assuming?"
        if data["sizes"] == "listed":
            assert data["listed_sizes"], f"{subject}: {name!r} lists no sizes"


@pytest.mark.parametrize("module", [conv2d_index, max_pool_index], ids=lambda m: m.SUBJECT)
def test_all_sizes_proofs_rerun(module):
    """The symbolic (all-sizes) proofs, run again here: each check passes, as exported."""
    checks = Checks()
    if module is conv2d_index:
        module.prove(checks)
        toy_flip_index.prove_toy(checks)
    else:
        checks("routing: diff(L) = G of each covering window, masked", same(
            sp.diff(module.loss(), module.x[module.n_, module.c_, module.u, module.v]),
            module.routing_claim(), module.BOX))
        checks("non-overlap: s >= k puts an entry in at most one window",
               module.non_overlap_lemma())
    exported = {c for fact in derivations.load(module.SUBJECT).facts.values()
                for c in fact["checks"]}
    rerun = checks.proof("")
    assert rerun.holds, rerun.failed
    assert {name for name, _ in rerun.checks} <= exported


def test_subjects_are_registered():
    assert set(EXPECTED_FACTS) <= set(derivations.SUBJECTS)
