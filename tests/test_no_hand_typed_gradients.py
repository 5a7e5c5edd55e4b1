"""No gradient formula on the site is typed by hand.

Gradient formulas enter the pages only through the placeholders of
``docs/hooks/exports.py`` (``{{ formula(...) }}``, ``{{ formulas(...) }}``,
``{{ fact(...) }}``), which render what the derivations exported. This test
reads the page sources - Markdown pages and the Markdown cells of the
notebooks - with code and placeholders removed, and fails on any math that
states an equation involving a derivative ($\\partial$, $\\nabla$, a
``\\frac{d...}{d...}`` fraction or a plain-letter ``dL/dW``). Math means
``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]`` and bare
``\\begin{align}...\\end{align}``-style environments (arithmatex and MathJax
typeset those too). Naming a derivative is allowed, alone
(``$\\partial L/\\partial K$``) or as a definition of one symbol, either way
round (``$\\delta = \\partial L/\\partial z$``, ``$\\partial L/\\partial z = \\delta$``);
an expression on either side (``$x^\\top\\delta = \\partial L/\\partial W$``) is a
formula.

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
# Bare environments first: \begin{align}...\end{align} is display math without delimiters.
_MATH = re.compile(r"\\begin\{(?P<env>[A-Za-z]+\*?)\}(?P<body>.+?)\\end\{(?P=env)\}"
                   r"|\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$([^$\n]+?)\$", re.S)
_DIFFERENTIAL = r"(?:d|\\mathrm\{d\}|\\operatorname\{d\})"
_DERIVATIVE = re.compile(r"\\partial|\\nabla|\\frac\{\s*" + _DIFFERENTIAL + r"[^}]*\}\{\s*" + _DIFFERENTIAL
                         + r"|(?<![A-Za-z\\])" + _DIFFERENTIAL + r"\s*[A-Za-z]\w*\s*/\s*"
                         + _DIFFERENTIAL + r"\s*[A-Za-z\\]")
# A definition names ONE symbol: a letter or a macro (with its argument), with
# sub/superscripts and primes, e.g. \delta_{i,j}, g^{(2)}, \mathbf{W}; not
# x^\top\delta (two symbols: a product). A derivative is d(one symbol) over
# d(one symbol), in any of the notations above.
_SCRIPT = r"(?:\s*[_^]\s*(?:\{[^{}]*\}|\\[A-Za-z]+|\w))"
_ONE_SYMBOL = r"\s*(?:\\[A-Za-z]+(?:\{[^{}]*\})?|[A-Za-z])" + _SCRIPT + r"*'*\s*"
_PART = r"(?:\\partial|" + _DIFFERENTIAL + r")"
_ONE_DERIVATIVE = (r"(?:" + _PART + _ONE_SYMBOL + r"/\s*" + _PART + _ONE_SYMBOL
                   + r"|\\frac\{\s*" + _PART + _ONE_SYMBOL + r"\}\{\s*" + _PART + _ONE_SYMBOL + r"\})")
_DEFINITION = re.compile(r"^\s*(?:(?:" + _ONE_SYMBOL + r"=\s*)?" + _ONE_DERIVATIVE
                         + r"|" + _ONE_DERIVATIVE + r"\s*=" + _ONE_SYMBOL + r")\s*[.,]?\s*$")


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
        math = match["body"] if match["env"] else next(
            g for g in match.groups()[2:] if g is not None)
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
    # The three forms that used to slip through, all typeset as math:
    (r"so $x^\top\delta = \partial L/\partial W$ here", True),               # reversed
    (r"$$x^\top \delta = \frac{\partial L}{\partial W}$$", True),
    ("\\begin{align}\n\\frac{\\partial L}{\\partial W} &= x^\\top \\delta\n\\end{align}", True),
    ("\\begin{align*}\nG &= \\partial L/\\partial W \\\\\n  &= x^\\top\\delta\n\\end{align*}", True),
    ("$$\n\\begin{aligned}\n\\partial L/\\partial b &= \\sum_n \\delta_n\n\\end{aligned}\n$$", True),
    (r"the step $dL/dW = x^T \delta$ is", True),                            # plain letters
    (r"$dL/dW = x^T\delta$", True),
    (r"$\frac{dL}{dW} = x^T \delta$", True),
    (r"$\mathrm{d}L/\mathrm{d}W = x^T \delta$", True),
    (r"$\partial L/\partial b = 0$", True),
    # Legitimate math the pages use:
    (r"the gradient $\partial L/\partial y$ flows back", False),
    (r"a batch of shape $(N, C, H, W)$", False),
    (r"$\partial L/\partial z_{i,j} = \delta_{i,j}$", False),               # a definition, reversed
    (r"$g^{(2)} = \partial L/\partial a^{(2)}$", False),
    (r"the plain $dL/dW$ names it", False),
    (r"$y = W x + b$ and $d = 2$, $\mathrm{dil}_s(k)$", False),
    (r"$\delta = \partial L/\partial z \cdot x$", True),                  # not one symbol
    (r"$\frac{\partial L}{\partial \mathbf{W}}$ and $G = \partial L/\partial \mathbf{W}$", False),
    ("\\begin{align}\ny &= Wx + b\n\\end{align}", False),
    ('{{ chain("toy_net", "dL/dk") }}', False),
    ("```\n$\\partial L/\\partial w = x$\n```", False),
    (r"`$\partial L/\partial w = x$`", False),
    ('{{ formula("toy_net", "valid_3x3_k2", "dL/dk[0,0]") }}', False),
])
def test_detector(text, flagged, tmp_path):
    page = tmp_path / "page.md"
    page.write_text(text)
    assert bool(hand_typed_gradients(prose(page))) is flagged
