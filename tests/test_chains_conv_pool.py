"""The convolution chains (derivations/conv2d_chains.py): exported, rendered, and a broken step refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy as sp

import derivations
from derivations import conv2d
from derivations.conv2d_chains import _G, _a, _e, _f, _i, _j, _w, _xp, _array
from derivations.safe_srepr import parse_srepr
from derivations.steps import Step, StepDoesNotFollow

ROOT = Path(__file__).resolve().parents[1]
CHAINS = ["dw_stride1", "dw_stride2", "dx_stride1", "dx_stride2",
          "true_convolution_is_correlation_with_rot180"]


@pytest.fixture(scope="module")
def nets():
    return {name: conv2d.Conv2d(N, C, F, H, H, K, K, p, s)
            for name, N, C, F, H, K, p, s in conv2d.CASES}


def test_every_chain_is_exported_with_justified_parseable_steps():
    exported = derivations.load("conv2d")
    for name in CHAINS:
        c = exported.chain(name)
        assert len(c.steps) >= 3 and all(st.justification.strip() for st in c.steps)
        for st in c.steps:
            assert sp.srepr(parse_srepr(st.srepr)) == st.srepr


def test_the_dx_chain_reaches_the_rotated_kernel_then_the_kernel_as_it_is():
    why = [s.justification for s in derivations.load("conv2d").chain("dx_stride2").steps]
    assert why[0].startswith("Chain rule")
    assert "rotated" in why[2] and "TRUE convolution" in why[3] and "crop" in why[4]
    assert "dilated" in why[2]


@pytest.mark.parametrize("page, names", [
    ("docs/layers/conv2d.md", ["dw_stride1", "dx_stride1", "dw_stride2", "dx_stride2"]),
    ("docs/conventions.md", ["true_convolution_is_correlation_with_rot180"]),
])
def test_the_pages_render_the_chains(page, names):
    text = (ROOT / page).read_text(encoding="utf-8")
    for name in names:
        assert f'{{{{ chain("conv2d", "{name}") }}}}' in text


def test_the_stride_comparison_comes_from_the_export():
    fact = derivations.load("conv2d").facts["stride2_fewer_terms_per_entry"]
    assert fact["holds"]
    for name, n in fact["data"]["terms"].items():
        assert n["stride2"] < n["stride1"]
        assert f"{name} has {n['stride1']} terms at stride 1 and {n['stride2']} at stride 2" \
            in fact["statement"]
    page = (ROOT / "docs/layers/conv2d.md").read_text(encoding="utf-8")
    assert '{{ fact("conv2d", "stride2_fewer_terms_per_entry") }}' in page
    assert "the same entries get fewer terms" in page


# ---------------------------------------------------------------- broken steps are refused
def test_dw_with_the_stride_dropped_is_refused(nets):
    wrong = Step(sp.Sum(_G[0, 0, _i, _j] * _xp[0, 1, _i + 2, _j], (_j, 0, 1), (_i, 0, 1)),
                 "dy/dw is a pixel (stride forgotten)")
    with pytest.raises(StepDoesNotFollow, match="step 2"):
        conv2d.dw_chain(nets["stride2"], replace={2: wrong})


def test_dx_with_the_dilation_dropped_is_refused(nets):
    """At stride 2, the weight offsets of stride 1 (G not spread out): every entry is defined,
    the value is simply wrong."""
    net = nets["stride2"]
    assert conv2d.dx_chain(net)["steps"]          # the right chain is accepted
    wrong = Step(sp.Sum(_G[0, _f, _i, _j] * _w[_f, 1, 2 - _i, 3 - _j],
                        (_j, 1, 1), (_i, 0, 1), (_f, 0, 1)), "dy/dx is a weight (no dilation)")
    with pytest.raises(StepDoesNotFollow, match="step 2"):
        conv2d.dx_chain(net, replace={2: wrong})


def test_dx_with_the_rotation_missing_is_refused(nets):
    gt = _array(r"\tilde{G}")
    wrong = Step(sp.Sum(gt[0, _f, 2 + _a, 3 + _e] * _w[_f, 1, _a, _e],
                        (_e, 0, 2), (_a, 0, 2), (_f, 0, 1)), "collect (kernel not rotated)")
    with pytest.raises(StepDoesNotFollow, match="step 3"):
        conv2d.dx_chain(nets["stride1"], replace={3: wrong})


def test_dx_off_by_one_is_refused(nets):
    wrong = Step(sp.Sum(_G[0, _f, _i, _j] * _w[_f, 1, 3 - _i, 3 - _j],
                        (_j, 1, 3), (_i, 0, 2), (_f, 0, 1)), "dy/dx is a weight (off by one)")
    with pytest.raises(StepDoesNotFollow, match="step 2"):
        conv2d.dx_chain(nets["stride1"], replace={2: wrong})


def test_the_flip_twice_is_refused():
    x, K = _array("x"), _array("K")
    i, j, a, b = sp.symbols("i j a b", integer=True)
    wrong = Step(sp.Sum(x[i + a, j + b] * K[a, b], (b, 0, 2), (a, 0, 2)),
                 "no flip at all")
    with pytest.raises(StepDoesNotFollow, match="step 2"):
        conv2d.flip_chain(replace={2: wrong})


def test_the_pages_name_no_chain_that_does_not_exist():
    exported = derivations.load("conv2d")
    for page in ("docs/layers/conv2d.md", "docs/conventions.md"):
        for name in re.findall(r'chain\("conv2d", "([^"]+)"\)', (ROOT / page).read_text()):
            exported.chain(name)


# ---------------------------------------------------------------- index form (every size)
def test_the_index_form_chains_are_exported_and_on_the_page():
    exported = derivations.load("conv2d_index")
    assert [len(exported.chain(n).steps) for n in ("dw_all_sizes", "dx_p_all_sizes")] == [2, 4]
    page = (ROOT / "docs/layers/conv2d.md").read_text(encoding="utf-8")
    assert '{{ chain("conv2d_index", "dx_p_all_sizes") }}' in page


@pytest.mark.parametrize("wrong", ["no_dilation", "double_flip"])
def test_an_index_form_step_that_does_not_follow_is_refused(wrong):
    from derivations import conv2d_index as ci
    raw = sp.diff(ci.L, ci.xp[ci.n_, ci.c_, ci.u, ci.v])
    with pytest.raises(StepDoesNotFollow, match="step 1"):
        ci.proven_chain("dL/dx_p", raw, [Step(ci.wrong_claims()[wrong], "a tempting form",
                                              prove=ci._by_engine(ci.BOX_XP))])
