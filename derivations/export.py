"""Writing the exported derivations: formulas, typed facts, cases and documents.

A derivation builds its export with the builders here, never by spelling out
the schema's dictionaries itself::

    export.document(title="...", source="derivations/<subject>.py",
                    cases={"<case>": export.case(parameters, variables,
                                                 {"<name>": export.formula(expr, lhs)})},
                    facts={"<name>": export.fact("...", proof=checks.proof("..."), ...)},
                    chains={"<name>": steps.chain(...)})

and :func:`write` turns it into the bytes of ``derivations/exported/<subject>.json``
(the format is described in :mod:`derivations.loader`, which reads it back; the
reader's names are re-exported here). A :class:`Fact` is typed: its ``holds``
is the outcome of the :class:`derivations.proof.Proof` it carries, never a
literal, and :func:`write` refuses a fact that is not one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

from .js import js
from .loader import (EXPORT_DIR, MAX_EXPORT_BYTES, SCHEMA_VERSION, Case, Chain, ChainStep,
                     Export, ExportError, Formula, _dumps, content_digest, read)
from .proof import Proof

__all__ = ["formula", "Fact", "FactNotProven", "fact", "case", "document", "names", "write",
           "SIZES", "SCHEMA_VERSION", "EXPORT_DIR", "MAX_EXPORT_BYTES", "content_digest",
           "read", "Export", "Case", "Formula", "Chain", "ChainStep", "ExportError"]


def formula(expr: sp.Basic, lhs: str, description: str = "") -> dict[str, str]:
    """One exported formula: ``lhs = expr``, with ``lhs`` given as LaTeX.

    ``js`` is the expression printed as JavaScript (:func:`derivations.js.js`), for
    reading and drift only: the site prints its own from the parsed ``srepr``.
    """
    return {
        "lhs": lhs,
        "latex": sp.latex(expr),
        "srepr": sp.srepr(expr),
        "js": js(expr),
        "description": description,
    }


class FactNotProven(AssertionError):
    """A derivation asserted a fact that its own proof does not establish."""


#: What a fact's ``data["sizes"]`` says: proven for every size (with
#: ``data["assumptions"]``), checked on the sizes in ``data["listed_sizes"]``
#: only, or about no array sizes at all (a scalar function, say).
SIZES = ("all", "listed", "none")


@dataclass(frozen=True)
class Fact:
    """A proven (or, with ``expected=False``, refuted) statement, with how it was checked.

    ``holds`` is ``proof.holds``: there is no other way to set it. Building a
    Fact whose proof does not come out as ``expected`` raises
    :class:`FactNotProven`, so a wrong derivation exports nothing.
    """

    statement: str
    proof: Proof
    check: str
    latex: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    expected: bool = True

    def __post_init__(self):
        if not isinstance(self.proof, Proof):
            raise TypeError(f"fact {self.statement[:60]!r}: proof= must be the Proof its checks "
                            f"returned, got {type(self.proof).__name__} {self.proof!r}; a "
                            f"fact's holds is never a literal")
        if self.proof.holds is not self.expected:
            outcome = ("checks failed: " + ", ".join(self.proof.failed) if self.proof.failed
                       else "every check passed" if self.proof.checks else "no check ran")
            raise FactNotProven(f"fact {self.statement[:80]!r}: expected to "
                                f"{'hold' if self.expected else 'be refuted'}, but {outcome}")

    @property
    def holds(self) -> bool:
        return self.proof.holds

    def to_json(self) -> dict[str, Any]:
        """The exported record (see :mod:`derivations.loader` for the schema)."""
        return {"statement": self.statement, "holds": self.holds, "expected": self.expected,
                "check": self.check, "checks": [name for name, _ in self.proof.checks],
                "latex": self.latex, "data": dict(self.data)}


def fact(statement: str, *, proof, check: str, sizes: str | list[str] | None,
         assumptions: list[str] | None = None, latex: str = "",
         data: dict[str, Any] | None = None, expected: bool = True,
         steps: list[dict[str, str]] | None = None) -> Fact:
    """A :class:`Fact`, with what it says about sizes recorded in its ``data``.

    ``proof`` is the :class:`derivations.proof.Proof` its checks returned.
    ``sizes`` is ``"all"`` (then ``assumptions`` must list what the proof
    assumes: integer ranges, s >= 1, ...), a list of the sizes it was checked
    on, or ``None`` for a fact about no array sizes. ``steps`` is a derivation
    as a chain of ``{"latex", "justification"}`` equalities.
    """
    data = dict(data or {})
    if sizes == "all":
        if not assumptions:
            raise ValueError(f"fact {statement[:60]!r}: a fact for all sizes must state "
                             f"its assumptions")
        data.update(sizes="all", assumptions=list(assumptions))
    elif sizes is None:
        data["sizes"] = "none"
    else:
        if isinstance(sizes, str) or not sizes:
            raise ValueError(f"fact {statement[:60]!r}: sizes= is 'all', None or a "
                             f"non-empty list of the sizes checked, got {sizes!r}")
        data.update(sizes="listed", listed_sizes=[str(s) for s in sizes])
        if assumptions:
            data["assumptions"] = list(assumptions)
    if steps:
        for step in steps:
            if set(step) != {"latex", "justification"}:
                raise ValueError(f"a step is {{'latex', 'justification'}}, got {sorted(step)}")
        data["steps"] = [dict(s) for s in steps]
    return Fact(statement, proof, check, latex, data, expected)


def case(parameters: dict[str, Any], variables: dict[str, Any],
         formulas: dict[str, dict[str, str]]) -> dict[str, Any]:
    """One case of a subject: its sizes, the symbol names of each array, its formulas.

    ``formulas`` maps each name to a :func:`formula` record.
    """
    for name, f in formulas.items():
        if not isinstance(f, dict) or set(f) != {"lhs", "latex", "srepr", "js", "description"}:
            raise TypeError(f"formula {name!r} is not an export.formula record: {f!r:.80}")
    return {"parameters": parameters, "variables": variables, "formulas": formulas}


def document(*, title: str, source: str, cases: dict[str, dict], facts: dict[str, Fact],
             chains: dict[str, dict] | None = None) -> dict[str, Any]:
    """A subject's export: its :func:`case` records, :class:`Fact` s and chains (if any)."""
    doc = {"title": title, "source": source, "cases": cases, "facts": facts}
    if chains:
        doc["chains"] = chains
    return doc


def names(array) -> Any:
    """Nested lists of symbol names, shaped like ``array`` (a nested list or Matrix)."""
    if isinstance(array, sp.MatrixBase):
        return [[str(s) for s in array.row(i)] for i in range(array.rows)]
    if isinstance(array, (list, tuple)):
        return [names(a) for a in array]
    return str(array)


def _facts_json(facts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    not_facts = sorted(name for name, f in facts.items() if not isinstance(f, Fact))
    if not_facts:
        raise TypeError(f"facts {not_facts} are not export.Fact (build them with export.fact): "
                        f"a fact's holds is its proof's outcome, never written by hand")
    return {name: f.to_json() for name, f in facts.items()}


def write(subject: str, document: dict[str, Any], directory: Path = EXPORT_DIR) -> Path:
    """Write ``document`` as ``<directory>/<subject>.json`` deterministically.

    The file carries the SHA-256 of its own content, so that :func:`read` can
    tell a derived export from one edited by hand. Its facts must be
    :class:`Fact` s.
    """
    document = {"schema_version": SCHEMA_VERSION, "subject": subject, **document}
    if "facts" in document:
        document["facts"] = _facts_json(document["facts"])
    document["content_sha256"] = content_digest(document)
    text = _dumps(document)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{subject}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # never leave a half-written export behind
    return path
