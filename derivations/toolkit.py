"""What every derivation shares: symbol arrays, 2-D operations, LaTeX, and a subject's ``main``.

* **Symbol arrays**: every entry of an input, a weight or an upstream gradient
  is a real symbol named ``name_{i,j,...}`` (LaTeX subscripts, zero-based), so
  that an exported formula reads like the math and a test can line a NumPy
  array up with it (:func:`derivations.export.names`).
* **2-D operations on SymPy matrices**, written out so that nothing is hidden:
  :func:`pad`, :func:`dilate`, :func:`rot180`, :func:`crop`, the 'valid'
  :func:`correlate` (no flip, as PyTorch's conv2d) and :func:`convolve` (kernel
  flipped, as ``scipy.signal.convolve2d``), and their 'full' forms.
* **LaTeX**: :func:`partial` (``\\frac{\\partial L}{\\partial x}``),
  :func:`aligned` (a long equation on several lines), :func:`reprinted` (a
  chain's steps printed with :func:`derivations.index_sums.tex`).
* **The entry point** of a subject module, ``main = subject_main(__name__)``:
  ``main(directory)`` derives the subject and writes its export.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Callable

import sympy as sp

__all__ = ["symbol", "symbol_array", "symbol_matrix", "pad", "dilate", "rot180", "crop",
           "correlate", "convolve", "full_correlate", "full_convolve", "partial", "aligned",
           "reprinted", "subject_main"]


# --------------------------------------------------------------------------
# Symbol arrays
# --------------------------------------------------------------------------
def symbol(name: str, *index: int) -> sp.Symbol:
    """The real symbol ``name_{i,j,...}`` of one entry."""
    return sp.Symbol(f"{name}_{{{','.join(map(str, index))}}}", real=True)


def symbol_array(name: str, *shape: int) -> list:
    """Nested lists of ``shape`` holding ``name_{i,j,...}``: ``symbol_array("x", 1, 1, 4, 4)``
    is one image of one channel, ``x[0][0][i][j]`` the symbol ``x_{0,0,i,j}``."""
    def build(index: tuple[int, ...]):
        if len(index) == len(shape):
            return symbol(name, *index)
        return [build(index + (k,)) for k in range(shape[len(index)])]
    return build(())


def symbol_matrix(name: str, rows: int, cols: int, *prefix: int) -> sp.Matrix:
    """A (rows, cols) Matrix of ``name_{prefix...,i,j}``: ``symbol_matrix("w", 3, 3, f, c)``
    is the kernel of output channel f and input channel c."""
    return sp.Matrix(rows, cols, lambda i, j: symbol(name, *prefix, i, j))


# --------------------------------------------------------------------------
# 2-D operations on SymPy matrices
# --------------------------------------------------------------------------
def pad(m: sp.Matrix, top: int, bottom: int | None = None, left: int | None = None,
        right: int | None = None) -> sp.Matrix:
    """Zeros around ``m``: ``pad(m, p)`` on every side, or ``pad(m, top, bottom, left, right)``."""
    if bottom is None and left is None and right is None:
        bottom = left = right = top
    out = sp.zeros(m.rows + top + bottom, m.cols + left + right)
    out[top:top + m.rows, left:left + m.cols] = m
    return out


def dilate(m: sp.Matrix, s: int) -> sp.Matrix:
    """Insert s - 1 zeros between neighbouring entries (s = 1: unchanged)."""
    out = sp.zeros(s * (m.rows - 1) + 1, s * (m.cols - 1) + 1)
    for i, j in itertools.product(range(m.rows), range(m.cols)):
        out[s * i, s * j] = m[i, j]
    return out


def rot180(m: sp.Matrix) -> sp.Matrix:
    """``m`` turned by 180 degrees: ``out[i,j] = m[rows-1-i, cols-1-j]``."""
    return sp.Matrix(m.rows, m.cols, lambda i, j: m[m.rows - 1 - i, m.cols - 1 - j])


def crop(m: sp.Matrix, top: int, left: int, rows: int, cols: int) -> sp.Matrix:
    """The (rows, cols) block of ``m`` whose top-left entry is (top, left)."""
    return m[top:top + rows, left:left + cols]


def correlate(x: sp.Matrix, k: sp.Matrix, stride: int = 1) -> sp.Matrix:
    """'valid' cross-correlation: ``out[i,j] = sum_ab x[s i + a, s j + b] k[a,b]`` (no flip)."""
    oh = (x.rows - k.rows) // stride + 1
    ow = (x.cols - k.cols) // stride + 1
    return sp.Matrix(oh, ow, lambda i, j: sp.Add(*(
        x[stride * i + a, stride * j + b] * k[a, b]
        for a in range(k.rows) for b in range(k.cols))))


def convolve(x: sp.Matrix, k: sp.Matrix) -> sp.Matrix:
    """'valid' TRUE convolution (``scipy.signal.convolve2d(x, k, 'valid')``): k is flipped."""
    return correlate(x, rot180(k))


def full_correlate(g: sp.Matrix, k: sp.Matrix) -> sp.Matrix:
    """'full' cross-correlation: ``g`` padded by the kernel size - 1 on every side."""
    return correlate(pad(g, k.rows - 1, k.rows - 1, k.cols - 1, k.cols - 1), k)


def full_convolve(g: sp.Matrix, k: sp.Matrix) -> sp.Matrix:
    """'full' TRUE convolution (``scipy.signal.convolve2d(g, k, 'full')``): k flipped."""
    return full_correlate(g, rot180(k))


# --------------------------------------------------------------------------
# LaTeX
# --------------------------------------------------------------------------
def partial(var, of: str = "L", printer: Callable[[sp.Basic], str] = sp.latex) -> str:
    """``\\frac{\\partial L}{\\partial <var>}``, ``var`` printed by ``printer``."""
    return rf"\frac{{\partial {of}}}{{\partial {printer(var)}}}"


def aligned(lhs: str, *lines: str) -> str:
    """``lhs = line_1`` continued on further lines, for displays narrower than ~700 px."""
    return (r"\begin{aligned}" + lhs + " &= " + r" \\ &\qquad ".join(lines)
            + r"\end{aligned}")


def reprinted(record: dict) -> dict:
    """A chain's LaTeX re-printed from each step's srepr with index_sums.tex: the same
    expression, one sum sign per index and ``i + 2 - a`` rather than ``- a + i + 2``."""
    from .index_sums import tex
    from .safe_srepr import parse_srepr
    for step in record["steps"]:
        step["latex"] = tex(parse_srepr(step["srepr"]))
    return record


# --------------------------------------------------------------------------
# The entry point of a subject
# --------------------------------------------------------------------------
def subject_main(module: str) -> Callable[..., Path]:
    """``main(directory)`` for the subject module named ``module`` (pass ``__name__``).

    ``main`` calls the module's ``derive()`` and writes the document as
    ``<directory>/<SUBJECT>.json`` (by default the committed exports). It looks
    the module up when called, so a test that replaces one of the module's
    functions derives with the replacement.
    """
    def main(directory: Path | None = None) -> Path:
        from . import export
        subject = sys.modules[module]
        return export.write(subject.SUBJECT, subject.derive(),
                            export.EXPORT_DIR if directory is None else Path(directory))
    main.__doc__ = f"Derive ``{module}`` and write its export; return the file's path."
    return main
