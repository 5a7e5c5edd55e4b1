"""Writing and reading the exported derivations (``derivations/exported/*.json``).

One JSON file per subject. The format is deliberately plain so that a diff of
two exports reads like a diff of formulas::

    {
      "schema_version": 1,
      "subject": "toy_net",
      "title": "...",
      "source": "derivations/toy_net.py",
      "cases": {
        "<case>": {
          "parameters": {...},                 # e.g. image_size, kernel_size
          "variables": {"kernel": [["k_{0,0}", ...]], "label": "y", ...},
          "formulas": {
            "<name>": {"lhs": "<LaTeX>", "latex": "<LaTeX>",
                       "srepr": "<sympy.srepr>", "description": "..."}
          }
        }
      },
      "facts": {
        "<name>": {"statement": "...", "holds": true, "check": "...",
                   "latex": "<LaTeX>", "data": {...}}
      }
    }

``srepr`` is SymPy's exact, re-parsable representation (``sympy.sympify``
turns it back into the expression without re-deriving); ``latex`` is what the
site shows. ``variables`` maps each array of the network to the symbol names
of its entries, nested like the array, so a test can line NumPy arrays up with
symbols. Keys are sorted and floats never appear unformatted, so the same
derivation gives the same bytes on every run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

SCHEMA_VERSION = 1
EXPORT_DIR = Path(__file__).resolve().parent / "exported"


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------
def formula(expr: sp.Basic, lhs: str, description: str = "") -> dict[str, str]:
    """One exported formula: ``lhs = expr``, with ``lhs`` given as LaTeX."""
    return {
        "lhs": lhs,
        "latex": sp.latex(expr),
        "srepr": sp.srepr(expr),
        "description": description,
    }


def fact(statement: str, *, holds: bool, check: str, latex: str = "",
         data: dict[str, Any] | None = None) -> dict[str, Any]:
    """One proven (or refuted) fact, with how it was checked."""
    return {
        "statement": statement,
        "holds": bool(holds),
        "check": check,
        "latex": latex,
        "data": data or {},
    }


def names(array) -> Any:
    """Nested lists of symbol names, shaped like ``array`` (a nested list or Matrix)."""
    if isinstance(array, sp.MatrixBase):
        return [[str(s) for s in array.row(i)] for i in range(array.rows)]
    if isinstance(array, (list, tuple)):
        return [names(a) for a in array]
    return str(array)


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def content_digest(document: dict[str, Any]) -> str:
    """SHA-256 of the document without its own ``content_sha256`` entry."""
    body = {k: v for k, v in document.items() if k != "content_sha256"}
    return hashlib.sha256(_dumps(body).encode("utf-8")).hexdigest()


def write(subject: str, document: dict[str, Any], directory: Path = EXPORT_DIR) -> Path:
    """Write ``document`` as ``<directory>/<subject>.json`` deterministically.

    The file carries the SHA-256 of its own content, so that :func:`read` can
    tell a derived export from one edited by hand.
    """
    document = {"schema_version": SCHEMA_VERSION, "subject": subject, **document}
    document["content_sha256"] = content_digest(document)
    text = _dumps(document)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{subject}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # never leave a half-written export behind
    return path


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
class ExportError(ValueError):
    """An export file is missing, unreadable, or not in the expected schema."""


@dataclass(frozen=True)
class Formula:
    """One exported formula, ``lhs = expr``."""

    name: str
    srepr: str
    latex: str
    lhs: str
    description: str

    @property
    def expr(self) -> sp.Expr:
        """The SymPy expression, rebuilt from its ``srepr`` (no re-derivation)."""
        try:
            return sp.sympify(self.srepr)
        except (sp.SympifyError, SyntaxError, TypeError, ValueError) as exc:
            raise ExportError(f"formula {self.name!r}: its srepr does not parse back into "
                              f"a SymPy expression ({exc})") from exc

    @property
    def equation(self) -> str:
        """LaTeX of the whole equation ``lhs = rhs``."""
        return f"{self.lhs} = {self.latex}"


@dataclass(frozen=True)
class Case:
    """One instance of a subject (e.g. one image/kernel size)."""

    name: str
    parameters: dict[str, Any]
    variables: dict[str, Any]
    formulas: dict[str, Formula]

    def symbols(self, variable: str):
        """The symbols of ``variable`` as a nested list shaped like its array."""
        def build(item):
            if isinstance(item, list):
                return [build(i) for i in item]
            return sp.Symbol(item, real=True)
        if variable not in self.variables:
            raise KeyError(f"case {self.name!r} has no variable {variable!r}; "
                           f"it has {sorted(self.variables)}")
        return build(self.variables[variable])


@dataclass(frozen=True)
class Export:
    """A loaded export: ``cases`` of formulas and proven ``facts``."""

    subject: str
    title: str
    source: str
    cases: dict[str, Case]
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def case(self, name: str) -> Case:
        try:
            return self.cases[name]
        except KeyError:
            raise KeyError(f"{self.subject} has no case {name!r}; "
                           f"it has {sorted(self.cases)}") from None

    def formula(self, case: str, name: str) -> Formula:
        formulas = self.case(case).formulas
        try:
            return formulas[name]
        except KeyError:
            raise KeyError(f"{self.subject}/{case} has no formula {name!r}; "
                           f"it has {sorted(formulas)}") from None


def _require(mapping: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ExportError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, kind):
        raise ExportError(f"{where}: {key!r} should be {kind.__name__}, "
                          f"got {type(value).__name__}")
    return value


def read(subject: str, directory: Path = EXPORT_DIR) -> Export:
    """Load ``<directory>/<subject>.json`` and check its structure."""
    path = Path(directory) / f"{subject}.json"
    if not path.is_file():
        available = sorted(p.stem for p in Path(directory).glob("*.json"))
        raise ExportError(f"no export for subject {subject!r} at {path}; "
                          f"available: {available}. Run `python -m derivations`.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path} is not valid JSON ({exc}); it may be truncated "
                          f"or edited by hand. Re-create it with "
                          f"`python -m derivations.{subject}`.") from exc
    where = str(path)
    if not isinstance(data, dict):
        raise ExportError(f"{where}: expected a JSON object, got {type(data).__name__}")
    version = _require(data, "schema_version", int, where)
    if version != SCHEMA_VERSION:
        raise ExportError(f"{where}: schema_version {version}, this loader reads "
                          f"{SCHEMA_VERSION}. Re-create it with "
                          f"`python -m derivations.{subject}`.")
    digest = _require(data, "content_sha256", str, where)
    if digest != content_digest(data):
        raise ExportError(f"{where}: content does not match its content_sha256: the file "
                          f"was edited by hand or damaged. Exports are written only by the "
                          f"derivations: re-create it with `python -m derivations.{subject}`.")
    cases = {}
    for case_name, case in _require(data, "cases", dict, where).items():
        cwhere = f"{where}: case {case_name!r}"
        formulas = {}
        for fname, f in _require(case, "formulas", dict, cwhere).items():
            fwhere = f"{cwhere}, formula {fname!r}"
            formulas[fname] = Formula(
                name=fname,
                srepr=_require(f, "srepr", str, fwhere),
                latex=_require(f, "latex", str, fwhere),
                lhs=_require(f, "lhs", str, fwhere),
                description=f.get("description", ""),
            )
        cases[case_name] = Case(
            name=case_name,
            parameters=_require(case, "parameters", dict, cwhere),
            variables=_require(case, "variables", dict, cwhere),
            formulas=formulas,
        )
    return Export(
        subject=_require(data, "subject", str, where),
        title=data.get("title", subject),
        source=data.get("source", ""),
        cases=cases,
        facts=data.get("facts", {}),
    )
