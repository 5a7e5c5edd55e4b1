"""Figures drawn at build time from the exports and the ``cnn`` package.

Each figure function returns a :class:`Figure`: the SVG text a page shows,
the caption, and the data the drawing depicts (pairs of symbols, frames of
numbers, shapes), computed from ``derivations.load(...)`` or from ``cnn``,
never typed by hand. ``tests/test_figures.py`` compares that data with the
exports and the library, and reads the SVG back to check that what is drawn
is that data.

Pages include a figure with ``{{ figure("toy_graph") }}`` (the hook in
``docs/hooks/exports.py``); notebooks with
``IPython.display.SVG(FIGURES["arch_mnist"]().svg)``.

Every word a reader sees (labels, titles, legends, captions) is a message of
the ``figures`` catalogue (``docs/locale/<language>/figures.po``), drawn in the
language being rendered (``docs.locale.speaking``); numbers and math-like
labels (``x``, ``dL/dw``) stay as they are. The data does not depend on the
language: a label the data keeps is a :class:`svg.Message`, put into words
only when drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from docs.locale import language


@dataclass(frozen=True)
class Figure:
    """An SVG (one ``<svg>``, or a ``<div>`` of them for a frame strip), its caption
    and the data it depicts."""

    name: str
    svg: str
    caption: str
    data: Any


from . import activations, avg_pool, conv, networks, pool, softmax, toy  # noqa: E402  (import Figure)

#: Every figure by the name pages use in ``{{ figure("...") }}``.
FIGURES: dict[str, Callable[[], Figure]] = {
    "toy_graph": toy.toy_graph,
    "toy_kernel_terms_valid_3x3_k2": lambda: toy.kernel_terms("valid_3x3_k2"),
    "toy_kernel_terms_same_3x3_k3_p1": lambda: toy.kernel_terms("same_3x3_k3_p1"),
    "conv_vs_correlation": conv.conv_vs_correlation,
    "conv_backward_dw_frames": conv.dw_frames,
    "conv_backward_dx_frames": conv.dx_frames,
    "max_pool_routing": pool.routing,
    "avg_pool_spread": avg_pool.spread,
    "activations": activations.activations,
    "softmax_jacobian": softmax.softmax_jacobian,
    "arch_digits01": networks.digits01,
    "arch_mnist": networks.mnist,
}


def build(name: str) -> Figure:
    """The figure ``name`` in the language being rendered, built once per process and
    language (KeyError if there is none)."""
    return _build(name, language())


@lru_cache(maxsize=None)
def _build(name: str, lang: str) -> Figure:
    return FIGURES[name]()     # lang: the cache key; the language is speaking()'s
