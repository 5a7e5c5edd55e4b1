"""Exercises for the site's pages, with answers computed by the project's own code.

Each module here (one per page, e.g. ``toy_net.py``) defines functions that
return an :class:`Exercise`: the question (Markdown) and its answer
(Markdown), where every number, array or formula in the answer is computed
at build time from :mod:`cnn` and the exports (:func:`derivations.load`), so
an answer cannot disagree with the verified code. Pages include one with
``{{ exercise("toy_net", "predict_kernel_gradient") }}``, which renders the
question in a "question" admonition and the answer folded inside it.

Answers may show exported formulas with :func:`formula_md` (never a
gradient formula typed by hand) and arrays with :func:`array_md`.

The words are translated (the Chinese site shows the same exercises): every
title, question and answer is built from messages of the ``exercises``
catalogue, ``_("...")`` below (``docs/locale/zh/exercises.po``), called when
the exercise is computed, with the computed numbers, arrays and code as
``%(name)s`` fields; an exported fact's statement is the derivation's own
message (:func:`statement`). ``python -m docs.locale update --domain
exercises`` collects the messages.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from docs.locale import Domain

__all__ = ["Exercise", "_", "array_md", "code_md", "formula_md", "listing", "statement"]

#: The exercises' messages: ``_("The cost is **%(loss)s**.", loss=...)`` (see docs.locale).
_ = Domain("exercises")


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``title``, ``question`` and ``answer`` (Markdown)."""

    title: str
    question: str
    answer: str


def array_md(a, digits: int = 4) -> str:
    """A small array as a fenced text block (rounded), for questions and answers."""
    text = np.array2string(np.asarray(a, dtype=float), precision=digits, suppress_small=True,
                           max_line_width=60)
    return f"```text\n{text}\n```"


def code_md(function) -> str:
    """A function's source as a fenced Python block (a buggy backward pass to find the bug in)."""
    return "```python\n" + inspect.getsource(function).rstrip() + "\n```"


def formula_md(subject: str, case: str, name: str) -> str:
    """An exported formula as a display-math block (the equation ``lhs = rhs``)."""
    import derivations
    f = derivations.load(subject).formula(case, name)
    return f"$$\n{f.equation}\n$$"


def statement(subject: str, fact: str) -> str:
    """The statement of an exported fact, in the language being rendered (the
    derivation's catalogue, ``derivations/<subject>``, translates it)."""
    import derivations
    return Domain(f"derivations/{subject}")(derivations.load(subject).facts[fact]["statement"])


def listing(items) -> str:
    """Items named in a sentence, one after the other: "a, b, c" ("a、b、c" in Chinese)."""
    return _(", ").join(items)
