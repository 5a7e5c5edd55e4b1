"""No gradient formula on the site is typed by hand.

Gradient formulas enter the pages only through the placeholders of
``docs/hooks/exports.py`` (``{{ formula(...) }}``, ``{{ formulas(...) }}``,
``{{ fact(...) }}``), which render what the derivations exported. This test
reads the page sources - Markdown pages and the Markdown cells of the
notebooks - with code and placeholders removed, and fails on any math that
states an equation involving a derivative ($\\partial$, $\\nabla$ or a
``d.../d...`` fraction). Naming a derivative is allowed, alone
(``$\\partial L/\\partial K$``) or as a definition of one symbol
(``$\\delta = \\partial L/\\partial z$``).

The API reference (``docs/api/``) is generated from the code's docstrings,
which state the formula each function implements; it is outside this rule,
and the tests tie that code to the exports instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT

DOCS = ROOT / "docs"

_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,}).*?^\1\2[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`+[^`\n]*`+")
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$([^$\n]+?)\$", re.S)
_DERIVATIVE = re.compile(r"\\partial|\\nabla|\\frac\{d[^}]*\}\{d")
# "<one symbol> = <one derivative>" (a definition), e.g. \delta_{i,j} = \partial L/\partial z_{i,j}
_SYMBOL = r"[\\\w{},^' ]+"
_ONE_DERIVATIVE = (r"(?:\\partial\s*" + _SYMBOL + r"\s*/\s*\\partial\s*" + _SYMBOL
                   + r"|\\frac\{\\partial\s*" + _SYMBOL + r"\}\{\\partial\s*" + _SYMBOL + r"\})")
_DEFINITION = re.compile(r"^\s*(?:" + _SYMBOL + r"=\s*)?" + _ONE_DERIVATIVE + r"\s*[.,]?\s*$")


def page_sources() -> list[Path]:
    pages = [p for p in DOCS.rglob("*.md") if "api" not in p.relative_to(DOCS).parts]
    return sorted(pages + list((DOCS / "notebooks").glob("*.py")))


def prose(path: Path) -> str:
    """The text of a page a reader sees as prose and math (no code, no placeholders)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":  # jupytext percent format: keep the Markdown cells only
        cells = re.split(r"^# %%", text, flags=re.M)
        text = "\n".join(re.sub(r"^# ?", "", c, flags=re.M)
                         for c in cells if c.startswith(" [markdown]"))
    text = _FENCE.sub("", text)
    text = _PLACEHOLDER.sub("", text)
    return _INLINE_CODE.sub("", text)


def hand_typed_gradients(text: str) -> list[str]:
    found = []
    for match in _MATH.finditer(text):
        math = next(g for g in match.groups() if g is not None)
        if _DERIVATIVE.search(math) and "=" in math and not _DEFINITION.match(math):
            found.append(math.strip())
    return found


@pytest.mark.parametrize("path", page_sources(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_types_no_gradient_formula(path):
    found = hand_typed_gradients(prose(path))
    assert not found, (f"docs/{path.relative_to(DOCS)} types gradient formulas by hand; "
                       f"use {{{{ formula(...) }}}} or {{{{ fact(...) }}}} from an export: {found}")


@pytest.mark.parametrize("text, flagged", [
    (r"so $\frac{\partial L}{\partial w} = x^T \delta$ here", True),
    (r"$$\nabla_W L = X^\top G$$", True),
    (r"\(\partial L/\partial b = \sum_n G_n\)", True),
    (r"the deltas $\delta_{i,j} = \partial L/\partial z_{i,j}$ are", False),
    (r"the gradient $\partial L / \partial K$ of the kernel", False),
    (r"$\sigma(z) = 1/(1+e^{-z})$", False),
    ("```\n$\\partial L/\\partial w = x$\n```", False),
    (r"`$\partial L/\partial w = x$`", False),
    ('{{ formula("toy_net", "valid_3x3_k2", "dL/dk[0,0]") }}', False),
])
def test_detector(text, flagged, tmp_path):
    page = tmp_path / "page.md"
    page.write_text(text)
    assert bool(hand_typed_gradients(prose(page))) is flagged
