"""Loading an export file never runs code, never leaves its directory, never hangs.

``Formula.expr`` rebuilds each formula with :func:`derivations.safe_srepr.parse_srepr`
(``ast`` and allow-lists, no ``eval``); ``derivations.load`` accepts only the
names in ``derivations.SUBJECTS`` and ``derivations.export.read`` only plain
names, regular files, inside its directory. Four parts, each table-driven:

* every committed formula parses, and gives exactly what ``sympify`` gives
  (this file may ``sympify`` the committed, trusted exports; the loader never does);
* hostile ``srepr`` strings are refused with a message naming the construct,
  including whole export files (with a correct digest) whose formula would
  create a marker file if it were evaluated: the marker must not appear;
* subjects that are paths, or not strings, are refused by ``load`` and ``read``;
* a FIFO, a directory or an oversized file is refused before it is read.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import signal
import threading

import pytest
import sympy as sp
from sympy.core.assumptions import _assume_defined

import derivations
from derivations import export, loader, safe_srepr
from derivations.export import EXPORT_DIR, ExportError, Formula, content_digest, read
from derivations.safe_srepr import (ASSUMPTIONS, CONSTANTS, MAX_DEPTH, MAX_SREPR_CHARS, NODES,
                                    parse_srepr)

COMMITTED = [(subject, case.name, formula)
             for subject in derivations.SUBJECTS
             for case in derivations.load(subject).cases.values()
             for formula in case.formulas.values()]


# ----------------------------------------------------------------------------- (a) committed formulas

@pytest.mark.parametrize("subject", derivations.SUBJECTS)
def test_every_committed_formula_parses_to_what_sympify_gives(subject):
    formulas = [f for s, _, f in COMMITTED if s == subject]
    assert formulas
    for formula in formulas:
        parsed = formula.expr
        assert sp.srepr(parsed) == formula.srepr, formula.name
        assert parsed == sp.sympify(formula.srepr), formula.name     # trusted, committed file


def sreprs_outside_formulas(node, where=""):
    """(where, srepr) of every ``srepr`` in an export document not under ``cases/*/formulas``
    (the chain steps of a derivation, say): they are parsed the same way."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "srepr" and isinstance(value, str):
                yield where, value
            elif not (key == "formulas" and where.count("/") == 2):
                yield from sreprs_outside_formulas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from sreprs_outside_formulas(value, f"{where}[{i}]")


@pytest.mark.parametrize("subject", derivations.SUBJECTS)
def test_every_other_srepr_in_the_committed_exports_parses_too(subject):
    document = json.loads((EXPORT_DIR / f"{subject}.json").read_text(encoding="utf-8"))
    for where, text in sreprs_outside_formulas(document):
        parsed = parse_srepr(text, formula=f"{subject}{where}")
        assert sp.srepr(parsed) == text, where
        assert parsed == sp.sympify(text), where


def test_the_committed_formulas_are_well_within_the_limits():
    """If a new derivation outgrows these, raise MAX_SREPR_CHARS / MAX_DEPTH deliberately."""
    longest = max(len(f.srepr) for _, _, f in COMMITTED)
    deepest = max(safe_srepr._bracket_depth(f.srepr) for _, _, f in COMMITTED)
    assert longest * 5 <= MAX_SREPR_CHARS, (longest, MAX_SREPR_CHARS)
    assert deepest * 5 <= MAX_DEPTH, (deepest, MAX_DEPTH)


def test_the_allow_list_covers_what_the_exports_use_and_no_more_than_sympy_knows():
    used = set()
    for _, _, formula in COMMITTED:
        used |= {n.id for n in ast.walk(ast.parse(formula.srepr, mode="eval"))
                 if isinstance(n, ast.Name)}
    assert used <= set(NODES) | set(CONSTANTS)
    assert ASSUMPTIONS <= _assume_defined
    assert not {"eval", "exec", "open", "__import__", "compile", "getattr", "sympify", "S",
                "Function", "Lambda", "parse_expr", "lambdify"} & (set(NODES) | set(CONSTANTS))


X, Y = sp.Symbol("x", real=True), sp.Symbol("y")
I, J = sp.Idx("i", 4), sp.Idx("j", (0, 4))
N = sp.Symbol("n", integer=True, nonnegative=True)
A = sp.IndexedBase("A")

RELATIVES = {   # what srepr prints for the relatives of the exported nodes, round-tripped
    "constants": sp.Tuple(sp.pi, sp.E, sp.I, sp.oo, -sp.oo, sp.zoo, sp.nan, sp.true, sp.false),
    "numbers": sp.Tuple(sp.S.Half, sp.S.One, sp.S.Zero, sp.S.NegativeOne, sp.Rational(-3, 7),
                        sp.Integer(10) ** 40, sp.Float("0.5"), sp.Float("-1.25e-30"),
                        sp.Float("1.5", 30)),
    "assumptions": sp.Tuple(sp.Symbol("z", positive=True), sp.Symbol("w", commutative=False),
                            sp.Symbol("q", finite=True, nonzero=True, negative=False)),
    "dummy": sp.Dummy("d", real=True) + 1,
    "arithmetic": (X + Y) ** -2 * sp.sqrt(X) - 3 * X / Y,
    "functions": sp.exp(X) + sp.log(Y) + sp.tanh(X) + sp.atan(X) + sp.sinh(X) * sp.cosh(Y)
    + sp.Abs(Y) + sp.sign(Y) + sp.Heaviside(X) + sp.DiracDelta(X) + sp.log(X, 2),
    "max min": sp.Max(X, Y, 0) - sp.Min(X, Y),
    "relations": sp.Tuple(sp.Eq(X, Y), sp.Ne(X, Y), sp.Lt(X, Y), sp.Le(X, Y), sp.Gt(X, Y),
                          sp.Ge(X, Y)),
    "logic": sp.Or(sp.And(X > 0, Y < 1), sp.Not(sp.Symbol("p"))),
    "piecewise": sp.Piecewise((X, X > 0), (0, True)),
    "indexed": sp.KroneckerDelta(I, J) * A[I, J] + sp.Sum(A[N], (N, 0, 3)),
    "indexed base with shape": sp.IndexedBase("B", shape=(3,))[1],
    "matrix": sp.Matrix([[X, 1], [2, Y]]),
    "immutable matrix": sp.ImmutableMatrix([[X, sp.S.Half]]),
}


@pytest.mark.parametrize("name", sorted(RELATIVES))
def test_the_relatives_of_the_exported_nodes_round_trip(name):
    text = sp.srepr(RELATIVES[name])
    parsed = parse_srepr(text, formula=name)
    assert sp.srepr(parsed) == text
    assert parsed == RELATIVES[name]


# ----------------------------------------------------------------------------- (b) hostile srepr

REFUSED = "srepr refused: "
HOSTILE = {   # srepr -> regex for the message (after "formula 'dL/dx': ")
    "os.system via __import__": ("__import__('os').system('true')",
                                 REFUSED + r"call of a computed callee \(attribute access\).*"
                                           r"`__import__\('os'\)\.system`"),
    "bare __import__": ("__import__('os')", REFUSED + r"call of `__import__`, which is not an allowed"),
    "attribute of a class": ("Symbol.__class__", REFUSED + r"attribute access `Symbol.__class__`"),
    "attribute chain from a tuple": ("().__class__.__bases__",
                                     REFUSED + r"attribute access `\(\)\.__class__\.__bases__`"),
    "attribute in an argument": ("Add(Symbol('x'), S.Half)", REFUSED + r"attribute access `S.Half`"),
    "subscript": ("Tuple(Integer(1))[0]", REFUSED + r"subscript `Tuple\(Integer\(1\)\)\[0\]`"),
    "lambda": ("(lambda: 0)()", REFUSED + r"call of a computed callee \(lambda\)"),
    "lambda argument": ("Max(lambda: 0)", REFUSED + r"lambda `lambda: 0`"),
    "list comprehension": ("Add(*[Symbol(c) for c in 'ab'])", REFUSED + r"starred argument of Add"),
    "comprehension argument": ("Tuple([Symbol(c) for c in 'ab'])", REFUSED + r"comprehension `\["),
    "generator": ("Tuple(Symbol(c) for c in 'ab')", REFUSED + r"generator expression"),
    "unknown function": ("frobnicate(Symbol('x'))", REFUSED + r"call of `frobnicate`, which is not"),
    "eval": ("eval('1')", REFUSED + r"call of `eval`, which is not an allowed SymPy node class"),
    "exec": ("exec('import os')", REFUSED + r"call of `exec`, which is not an allowed"),
    "open": ("open('/etc/passwd')", REFUSED + r"call of `open`, which is not an allowed"),
    "nested non-allowed call": ("Add(Symbol('x'), getattr(Symbol('x'), 'name'))",
                                REFUSED + r"call of `getattr`, which is not an allowed"),
    "sympify itself": ("sympify('x')", REFUSED + r"call of `sympify`"),
    "Function factory": ("Function('f')(Symbol('x'))",
                         REFUSED + r"call of a computed callee \(Call expression\)"),
    "unknown bare name": ("Add(Symbol('x'), os)", REFUSED + r"name `os`, which is not an allowed"),
    "bare class": ("Symbol", REFUSED + r"bare class name `Symbol`"),
    "string sympified by exp": ("exp(\"__import__('os').getpid()\")",
                                REFUSED + r"a string literal here .*elsewhere SymPy would sympify"),
    "string sympified by Tuple": ("Tuple('x')", REFUSED + r"a string literal here"),
    "string in a matrix": ("MutableDenseMatrix([['x']])", REFUSED + r"a string literal here"),
    "dunder symbol name": ("Symbol('__class__')", REFUSED + r"a string with a double underscore"),
    "Float of code": ("Float('1e5; import os')", REFUSED + r"a string that is not a decimal number"),
    "Symbol of a non-string": ("Symbol(Integer(1))", REFUSED + r"Symbol whose first argument is not"),
    "keyword **kwargs": ("Symbol('x', **{'real': True})", REFUSED + r"`\*\*` keyword unpacking in Symbol"),
    "starred args": ("Add(*(Integer(1), Integer(2)))", REFUSED + r"starred argument of Add"),
    "unknown keyword": ("Symbol('x', evil=True)", REFUSED + r"keyword `evil=` for Symbol"),
    "keyword on the wrong class": ("Add(Integer(1), precision=53)", REFUSED + r"keyword `precision=` for Add"),
    "keyword value a call": ("Symbol('x', real=eval('1'))",
                             REFUSED + r"Symbol\(real=\.\.\.\) that is not True, False or None"),
    "huge precision": ("Float('1.5', precision=100000)",
                       REFUSED + r"Float\(precision=\.\.\.\) that is not an integer literal"),
    "operator": ("Integer(1) + Integer(2)", REFUSED + r"operator `Integer\(1\) \+ Integer\(2\)`"),
    "walrus": ("Tuple((x := Integer(1)))", REFUSED + r"assignment `x := Integer\(1\)`"),
    "f-string": ("Symbol(f'{1}')", REFUSED + r"Symbol whose first argument is not a string literal"),
    "dict literal": ("Tuple({})", REFUSED + r"dict literal"),
    "conditional": ("Integer(1) if True else Integer(2)", REFUSED + r"conditional expression"),
    # (sizes that the limit refuses but that sympify, if the parser fell back to it,
    # would still compute in well under a second: a broken parser fails, not hangs)
    "huge power": ("Pow(Integer(10), Integer(1000000))",
                   REFUSED + r"Pow whose exact value would need about 4,000,000 bits"),
    "huge power through a Mul": ("Pow(Mul(Integer(3), Symbol('x')), Integer(1000000))",
                                 REFUSED + r"Pow whose exact value would need about 2,000,000 bits"),
    "power tower": ("Pow(Pow(Integer(10), Integer(99)), Integer(999))",
                    REFUSED + r"Pow whose exact value would need about 328,671 bits"),
    "huge integer": ("Integer(0x" + "f" * 5000 + ")", REFUSED + r"an integer of 20,000 bits"),
    "huge string": ("Add(" + ", ".join(["Symbol('x')"] * 40_000) + ")",
                    r"srepr is 520,003 characters long; the limit is 320,000"),
    "deep nesting": ("Add(" * 500 + "Integer(1)" + ")" * 500,
                     r"srepr nests brackets 501 deep; the limit is 100"),
    "deep nesting without brackets": ("-" * 100_000 + "1", r"srepr is nested too deeply for the parser"),
    "not a Python expression": ("Add(", r"its srepr does not parse back into a SymPy expression"),
    "constructor rejects": ("Idx(Symbol('i'))",
                            r"its srepr does not parse back into a SymPy expression \(Idx\(\.\.\.\) "
                            r"failed: TypeError"),
    "wrong number of arguments": ("Rational(Integer(1), Integer(0), Integer(2))",
                                  REFUSED + r"Rational with 3 positional arguments \(it takes 1 to 2\)"),
    "not an expression at the top": ("[Integer(1)]", r"srepr describes a list, not a SymPy expression"),
}


@contextlib.contextmanager
def time_limit(seconds):
    """Fail instead of hanging if the body runs longer (where SIGALRM exists)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        pytest.fail(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_srepr_is_refused_with_a_message_naming_it(case):
    text, message = HOSTILE[case]
    with time_limit(30), pytest.raises(ExportError, match=f"^formula 'dL/dx': {message}"):
        Formula("dL/dx", text, "", "", "").expr


def test_the_hostile_table_is_large():
    assert len(HOSTILE) >= 40


def marker_payloads(marker):
    """srepr strings that create ``marker`` when ``sympify`` evaluates them."""
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return {
        "direct": touch,
        "inside an allowed call": f"Add(Symbol('x'), Integer({touch} or 0))",
        "as a string an allowed function sympifies": f"exp({touch!r})",
        "as a keyword value": f"Symbol('x', real={touch})",
    }


@pytest.mark.parametrize("payload", sorted(marker_payloads("m")))
def test_the_marker_payloads_are_real(payload, tmp_path):
    """Sanity check of the next test: sympify really runs each payload."""
    marker = tmp_path / "marker"
    try:
        sp.sympify(marker_payloads(marker)[payload])
    except Exception:   # the payload has run by the time SymPy rejects the result
        pass
    assert marker.exists()


@pytest.mark.parametrize("payload", sorted(marker_payloads("m")))
def test_an_export_with_a_valid_digest_cannot_run_code(payload, tmp_path):
    marker = tmp_path / "marker"
    doc = json.loads((EXPORT_DIR / "l2_loss.json").read_text(encoding="utf-8"))
    case_name = next(iter(doc["cases"]))
    formulas = doc["cases"][case_name]["formulas"]
    name = next(iter(formulas))
    formulas[name]["srepr"] = marker_payloads(marker)[payload]
    doc["content_sha256"] = content_digest(doc)
    (tmp_path / "l2_loss.json").write_text(json.dumps(doc), encoding="utf-8")
    loaded = read("l2_loss", directory=tmp_path)          # the digest matches: it loads
    with pytest.raises(ExportError, match=f"^formula {name!r}: srepr refused: "):
        loaded.formula(case_name, name).expr
    assert not marker.exists()


# ----------------------------------------------------------------------------- (c) subjects that are paths

NOT_SUBJECTS = {   # subject -> regex for read()'s message (load() says "unknown subject")
    "parent": ("../x", r"subject '\.\./x' is not a plain name"),
    "parent of parent": ("../../etc/passwd", r"subject '\.\./\.\./etc/passwd' is not a plain name"),
    "absolute": ("/etc/passwd", r"subject '/etc/passwd' is not a plain name"),
    "slash": ("toy_net/../toy_net", r"subject 'toy_net/\.\./toy_net' is not a plain name"),
    "backslash": ("..\\x", r"is not a plain name"),
    "with extension": ("toy_net.json", r"subject 'toy_net\.json' is not a plain name"),
    "upper case": ("Toy_net", r"subject 'Toy_net' is not a plain name"),
    "trailing newline": ("toy_net\n", r"subject 'toy_net\\n' is not a plain name"),
    "leading digit": ("1toy", r"subject '1toy' is not a plain name"),
    "non-ASCII": ("toy_nét", r"is not a plain name"),
    "empty": ("", r"subject '' is not a plain name"),
    "None": (None, r"subject should be a str, got NoneType None"),
    "int": (3, r"subject should be a str, got int 3"),
    "bytes": (b"toy_net", r"subject should be a str, got bytes"),
    "path object": (EXPORT_DIR / "toy_net", r"subject should be a str, got \w*Path"),
}


@pytest.mark.parametrize("case", sorted(NOT_SUBJECTS))
def test_load_accepts_only_the_known_subjects(case):
    subject, _ = NOT_SUBJECTS[case]
    with pytest.raises(ExportError, match=r"unknown subject .*: the known subjects are \['toy_net'"):
        derivations.load(subject)


@pytest.mark.parametrize("case", sorted(NOT_SUBJECTS))
def test_read_accepts_only_plain_names(case, tmp_path):
    subject, message = NOT_SUBJECTS[case]
    inner = tmp_path / "inner"
    inner.mkdir()
    shutil.copy(EXPORT_DIR / "toy_net.json", inner / "toy_net.json")
    shutil.copy(EXPORT_DIR / "l2_loss.json", tmp_path / "x.json")    # what "../x" would reach
    with pytest.raises(ExportError, match=message):
        read(subject, inner)


def test_load_still_loads_every_known_subject_and_names_the_unknown_one():
    for subject in derivations.SUBJECTS:
        assert derivations.load(subject).subject == subject
    with pytest.raises(ExportError, match=r"unknown subject 'lenet': the known subjects are "
                                          + r"\[" + ", ".join(map(repr, derivations.SUBJECTS))):
        derivations.load("lenet")


def test_read_refuses_a_symlink_out_of_its_directory(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    shutil.copy(EXPORT_DIR / "l2_loss.json", tmp_path / "outside.json")
    try:
        (inner / "l2_loss.json").symlink_to(tmp_path / "outside.json")
    except OSError:
        pytest.skip("no symlinks here")
    with pytest.raises(ExportError, match=r"l2_loss.json resolves to .*outside.json, outside "
                                          r".*inner: refusing to read it"):
        read("l2_loss", inner)


# ----------------------------------------------------------------------------- (d) special files

def read_within(seconds, subject, directory):
    """``read(subject, directory)`` in a thread: its exception, or fail if it hangs."""
    outcome = {}

    def target():
        try:
            outcome["result"] = read(subject, directory)
        except BaseException as exc:   # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        fifo = directory / f"{subject}.json"
        if fifo.exists():   # let the blocked reader go (a writer opening, then closing)
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        pytest.fail(f"read({subject!r}) still running after {seconds} s: it blocked on "
                    f"a special file instead of refusing it")
    return outcome.get("error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "x.json")
    error = read_within(10, "x", tmp_path)
    assert isinstance(error, ExportError), error
    assert str(error) == f"{tmp_path / 'x.json'} is a FIFO (named pipe), not a regular file: " \
                         f"refusing to read it"


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "y.json").mkdir()
    error = read_within(10, "y", tmp_path)
    assert isinstance(error, ExportError), error
    assert "y.json is a directory, not a regular file: refusing to read it" in str(error)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    shutil.copy(EXPORT_DIR / "l2_loss.json", tmp_path / "l2_loss.json")
    assert read("l2_loss", tmp_path).cases
    monkeypatch.setattr(loader, "MAX_EXPORT_BYTES", 1000)
    opened = []
    monkeypatch.setattr(loader.os, "open", lambda *a, **k: opened.append(a) or 1 / 0)
    with pytest.raises(ExportError, match=r"l2_loss.json is larger than 1,000 bytes "
                                          r"\(derivations.loader.MAX_EXPORT_BYTES\)"):
        read("l2_loss", tmp_path)
    assert not opened


def test_the_default_size_limit_is_50_mb():
    assert loader.MAX_EXPORT_BYTES == export.MAX_EXPORT_BYTES == 50 * 1024 * 1024
