"""Reading the exported derivations (``derivations/exported/*.json``), and their format.

The derivations write them with :mod:`derivations.export`. One JSON file per subject. The format is deliberately plain so that a diff of
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
                       "srepr": "<sympy.srepr>", "description": "...",
                       "js": "<JavaScript over v, derivations.js>"}
          }
        }
      },
      "facts": {
        "<name>": {"statement": "...", "holds": true, "expected": true,
                   "check": "...", "checks": ["<name of each check run>", ...],
                   "latex": "<LaTeX>",
                   "data": {"sizes": "all" | "listed" | "none",
                            "assumptions": [...] | "listed_sizes": [...],
                            "steps": [{"latex", "justification"}, ...], ...}}
      },
      "chains": {                              # optional: derivations step by step
        "<name>": {"lhs": "<LaTeX>", "description": "...", "proven": "...",
                   "steps": [{"latex", "srepr", "justification"}, ...]}
      }
    }

A fact is written from a :class:`derivations.export.Fact`, whose ``holds`` is
its proof's outcome; a chain by :func:`derivations.steps.chain`, which proves
every step equal to the one before it and refuses to export one that does not
follow.

``srepr`` is SymPy's exact, re-parsable representation: :attr:`Formula.expr`
turns it back into the expression without re-deriving, with
:func:`derivations.safe_srepr.parse_srepr` (never ``eval``, which ``sympify``
would use). ``latex`` is what the site shows. ``variables`` maps each array of
the network to the symbol names of its entries, nested like the array, so a
test can line NumPy arrays up with symbols. Keys are sorted and floats never
appear unformatted, so the same derivation gives the same bytes on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

SCHEMA_VERSION = 1
EXPORT_DIR = Path(__file__).resolve().parent / "exported"


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def content_digest(document: dict[str, Any]) -> str:
    """SHA-256 of the document without its own ``content_sha256`` entry."""
    body = {k: v for k, v in document.items() if k != "content_sha256"}
    return hashlib.sha256(_dumps(body).encode("utf-8")).hexdigest()



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
        """The SymPy expression, rebuilt from its ``srepr`` (no re-derivation).

        Parsed by :func:`derivations.safe_srepr.parse_srepr`, never ``eval``-ed
        (``sympify`` would run whatever code a crafted file holds); anything but
        the allowed SymPy constructors raises :class:`ExportError`.
        """
        from .safe_srepr import parse_srepr   # here: safe_srepr imports ExportError from us
        return parse_srepr(self.srepr, formula=self.name)

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
class ChainStep:
    """One step of a :class:`Chain`: ``= latex`` because ``justification``."""

    latex: str
    srepr: str
    justification: str

    @property
    def expr(self) -> sp.Expr:
        """The step's SymPy expression (parsed like :attr:`Formula.expr`, never evaluated)."""
        from .safe_srepr import parse_srepr
        return parse_srepr(self.srepr, formula=self.latex[:40])


@dataclass(frozen=True)
class Chain:
    """A derivation step by step (:mod:`derivations.steps`): ``lhs = steps[0] = ...``."""

    name: str
    lhs: str
    description: str
    steps: tuple[ChainStep, ...]
    proven: str


@dataclass(frozen=True)
class Export:
    """A loaded export: ``cases`` of formulas, proven ``facts`` and step-by-step ``chains``."""

    subject: str
    title: str
    source: str
    cases: dict[str, Case]
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    chains: dict[str, Chain] = field(default_factory=dict)

    def chain(self, name: str) -> Chain:
        return _lookup(self.chains, name, f"{self.subject} has no chain")

    def case(self, name: str) -> Case:
        return _lookup(self.cases, name, f"{self.subject} has no case")

    def formula(self, case: str, name: str) -> Formula:
        return _lookup(self.case(case).formulas, name, f"{self.subject}/{case} has no formula")


def _lookup(mapping: dict[str, Any], name: str, missing: str) -> Any:
    """``mapping[name]``, or a KeyError that lists what there is."""
    try:
        return mapping[name]
    except KeyError:
        raise KeyError(f"{missing} {name!r}; it has {sorted(mapping)}") from None


def _require(mapping: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ExportError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, kind):
        raise ExportError(f"{where}: {key!r} should be {kind.__name__}, "
                          f"got {type(value).__name__}")
    return value


#: Largest export file :func:`read` opens (the committed ones are below 1 MB).
MAX_EXPORT_BYTES = 50 * 1024 * 1024
_SUBJECT_START = frozenset("abcdefghijklmnopqrstuvwxyz")
_SUBJECT_CHARS = _SUBJECT_START | frozenset("0123456789_")
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def _export_path(subject: Any, directory: Path) -> Path:
    """``<directory>/<subject>.json`` for a plain subject name, never outside ``directory``."""
    if not isinstance(subject, str):
        raise ExportError(f"subject should be a str, got {type(subject).__name__} {subject!r}")
    if not (subject and subject[0] in _SUBJECT_START and set(subject) <= _SUBJECT_CHARS):
        raise ExportError(f"subject {subject!r} is not a plain name (lowercase letters, digits "
                          f"and '_', starting with a letter): an export is read by its "
                          f"subject's name, never by a path")
    path = Path(directory) / f"{subject}.json"
    root, resolved = Path(directory).resolve(), path.resolve()
    if not resolved.is_relative_to(root):
        raise ExportError(f"{path} resolves to {resolved}, outside {root}: refusing to read it")
    return path


def _file_kind(mode: int) -> str:
    return next((kind for test, kind in _FILE_KINDS if test(mode)), "not a regular file")


def _read_text(path: Path, info: os.stat_result) -> str:
    """The text of ``path``, which ``info`` says is a regular file of at most MAX_EXPORT_BYTES.

    Opened without blocking and checked again once open, so a file swapped for a
    FIFO or a device after the check cannot hang or flood the reader.
    """
    if not stat.S_ISREG(info.st_mode):
        raise ExportError(f"{path} is {_file_kind(info.st_mode)}, not a regular file: "
                          f"refusing to read it")
    too_large = (f"{path} is larger than {MAX_EXPORT_BYTES:,} bytes "
                 f"(derivations.loader.MAX_EXPORT_BYTES): refusing to read it")
    if info.st_size > MAX_EXPORT_BYTES:
        raise ExportError(too_large)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ExportError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ExportError(f"{path} is {_file_kind(mode)}, not a regular file: "
                              f"refusing to read it")
        raw = file.read(MAX_EXPORT_BYTES + 1)
    if len(raw) > MAX_EXPORT_BYTES:
        raise ExportError(too_large)
    return raw.decode("utf-8")


def read(subject: str, directory: Path = EXPORT_DIR) -> Export:
    """Load ``<directory>/<subject>.json`` and check its structure.

    ``subject`` must be a plain name (``[a-z][a-z0-9_]*``) and the file a regular
    file inside ``directory`` of at most :data:`MAX_EXPORT_BYTES`; formulas are
    parsed without ``eval`` (see :attr:`Formula.expr`).
    """
    path = _export_path(subject, directory)
    try:
        info = path.stat()
    except FileNotFoundError:
        available = sorted(p.stem for p in Path(directory).glob("*.json"))
        raise ExportError(f"no export for subject {subject!r} at {path}; "
                          f"available: {available}. Run `python -m derivations`.") from None
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(_read_text(path, info))
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
    chains = {}
    for chain_name, c in data.get("chains", {}).items():
        cw = f"{where}: chain {chain_name!r}"
        steps = tuple(ChainStep(latex=_require(st, "latex", str, cw), srepr=_require(st, "srepr", str, cw),
                                justification=_require(st, "justification", str, cw))
                      for st in _require(c, "steps", list, cw))
        chains[chain_name] = Chain(name=chain_name, lhs=_require(c, "lhs", str, cw),
                                   description=c.get("description", ""), steps=steps,
                                   proven=c.get("proven", ""))
    return Export(
        subject=_require(data, "subject", str, where),
        title=data.get("title", subject),
        source=data.get("source", ""),
        cases=cases,
        facts=data.get("facts", {}),
        chains=chains,
    )
