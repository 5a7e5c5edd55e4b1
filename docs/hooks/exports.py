"""MkDocs hook: pull formulas, facts and source code into pages from the repo.

Pages never type a gradient formula by hand (see DESIGN.md). They write a
placeholder instead, and this hook replaces it with Markdown at build time:

``{{ formula("toy_net", "valid_3x3_k2", "dL/dk[0,0]") }}``
    The exported equation ``lhs = rhs`` as a display-math block.
    ``inline=True`` gives ``$lhs = rhs$`` for use inside a sentence.
``{{ formulas("toy_net", "valid_3x3_k2", "dL/dk") }}``
    Every formula of the case whose name starts with the prefix, in natural
    name order (``[2]`` before ``[10]``), one display block each.
``{{ fact("toy_net", "gradient_is_convolution") }}``
    An admonition: "Proven for every size" (with the assumptions the proof
    makes), "Checked on the listed sizes (not proven for every size)" (with the sizes), or "Proven"
    (a fact about no array sizes) if the fact holds, "Refuted" (failure) if
    not; with the statement, its LaTeX, the derivation step by step if the
    fact has ``steps`` (each a displayed equation and its justification), the
    check that was run and, folded, the rest of its data.
``{{ chain("toy_net", "kernel_gradient") }}``
    A derivation step by step (:mod:`derivations.steps`): each step's
    justification in words and its equation, the first ``lhs = ...``, the
    others ``= ...``, in an "abstract" admonition that ends saying how every
    step was proven equal to the one before.
``{{ exercise("toy_net", "predict_kernel_gradient") }}``
    An exercise from ``docs/exercises/toy_net.py`` (see that package): the
    question in a "question" admonition, the answer, computed at build time
    by the project's code, folded inside it.
``{{ source("cnn/toy_net.py", "gradients") }}``
    The exact source of a top-level function, class or ``NAME = ...``
    assignment (``"Class.method"`` for a method), decorators included, as a Python block titled with the
    path and line numbers; ``{{ source("path") }}`` includes the whole file.
    Paths are relative to the repository root (where mkdocs.yml is).
``{{ figure("toy_graph") }}``
    A figure drawn at build time by ``docs/figures/`` from the exports and
    ``cnn``: its inline SVG and caption in ``<figure class="cnn-figure">``.
``{{ test_counts() }}``
    A table of the test suite: per file under ``tests/``, the test functions
    and the tests pytest collects (parametrizations counted), with a total;
    ``{{ test_counts("tests/test_toy_net.py") }}`` is that file's number of
    collected tests, inline. Counted at build time by
    ``python -m pytest --collect-only -q`` in a subprocess, once per build;
    if collection fails (e.g. pytest is not installed), a warning is logged
    (an error under ``--strict``) and the page says so.

Arguments are Python literals, parsed with ``ast`` (never ``eval``). A
placeholder whose name, subject, case, formula, fact, file or function does
not exist fails the build with an error naming the page. Placeholders inside
fenced code blocks or inline code are left alone, so a page can show the
syntax. Block placeholders must stand on a line of their own; their output is
indented like that line, so they work inside admonitions and tabs.

The rendering is :func:`render_placeholders`, a plain function the tests call.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    # Fallback for a checkout where the project is not pip-installed (-e).
    sys.path.insert(0, str(ROOT))

import derivations  # noqa: E402  (needs the sys.path fallback above)
from docs.locale import Domain, reset_warnings, source_language, speaking  # noqa: E402

_ = Domain("site")   # this hook's own words; the exports' are Domain("derivations/<subject>")

Loader = Callable[[str], Any]
_log = logging.getLogger("mkdocs.hooks.exports")  # under "mkdocs": --strict counts its warnings

# `{{ name(` starts a placeholder; the closing `}}` is found by the parser so
# that `}}` inside a string argument does not end it early.
_OPENING = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\(")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")


class _Renderer:
    """Renders one page's placeholders; holds the page name for error messages."""

    def __init__(self, page: str, root: Path, loader: Loader):
        self.page = page
        self.root = Path(root)
        self.loader = loader
        self._exports: dict[str, Any] = {}

    # -- helpers ------------------------------------------------------------
    def fail(self, placeholder: str, message: str) -> PluginError:
        return PluginError(f"{self.page}: {placeholder}: {message}")

    def export(self, subject: str, where: str):
        """The export of ``subject`` (loaded once per page)."""
        if subject not in self._exports:
            try:
                self._exports[subject] = self.loader(subject)
            except (derivations.ExportError, OSError, KeyError) as exc:
                raise self.fail(where, f"cannot load subject {subject!r}: {_message(exc)}") from exc
        return self._exports[subject]

    # -- placeholders -------------------------------------------------------
    def formula(self, where: str, subject: str, case: str, name: str, *, inline: bool = False) -> str:
        try:
            f = self.export(subject, where).formula(case, name)
        except KeyError as exc:
            raise self.fail(where, _message(exc)) from exc
        if inline:
            return f"${f.equation}$"
        return _display(f.equation)

    def formulas(self, where: str, subject: str, case: str, prefix: str) -> str:
        try:
            found = self.export(subject, where).case(case).formulas
        except KeyError as exc:
            raise self.fail(where, _message(exc)) from exc
        chosen = sorted((n for n in found if n.startswith(prefix)), key=_natural)
        if not chosen:
            raise self.fail(where, f"{subject}/{case} has no formula starting with "
                                   f"{prefix!r}; it has {sorted(found, key=_natural)}")
        return "\n\n".join(_display(found[n].equation) for n in chosen)

    def fact(self, where: str, subject: str, name: str) -> str:
        facts = self.export(subject, where).facts
        if name not in facts:
            raise self.fail(where, f"{subject} has no fact {name!r}; it has {sorted(facts)}")
        fact = facts[name]
        tr = Domain(f"derivations/{subject}")
        data = dict(fact.get("data") or {})
        sizes = data.pop("sizes", "none")
        assumptions = data.pop("assumptions", [])
        listed = data.pop("listed_sizes", [])
        steps = data.pop("steps", [])
        kind, title = fact_title(fact["holds"], sizes)
        body = [tr(fact["statement"])]
        if fact.get("latex"):
            body.append(_display(fact["latex"]))
        if sizes == "all":
            body.append(_("**For every size**, assuming:") + "\n\n"
                        + "\n".join(f"- {_escape(tr(a))}" for a in assumptions))
        elif sizes == "listed":
            shown = _("; ").join(_escape(tr(s)) for s in listed[:3])
            if len(listed) > 3:
                body.append(_("**Checked on these sizes:** %(sizes)s and %(more)s more (see Sizes).",
                              sizes=shown, more=len(listed) - 3))
                body.append(f'??? note "{_("Sizes")}"\n\n' + _indent(
                    "\n".join(f"- {_escape(tr(s))}" for s in listed), "    "))
            else:
                body.append(_("**Checked on these sizes:** %(sizes)s.", sizes=shown))
        body += [_step(number, tr(step["justification"]), step["latex"])
                 for number, step in enumerate(steps, 1)]
        body.append(_("Checked by: %(check)s", check=_inline_code(fact["check"])))
        if data:
            text = json.dumps(data, indent=1, sort_keys=True)
            body.append(f'??? note "{_("Data")}"\n\n' + _indent(_fence(text, "json"), "    "))
        return f'!!! {kind} "{title}"\n\n' + _indent("\n\n".join(body), "    ")

    def chain(self, where: str, subject: str, name: str) -> str:
        try:
            c = self.export(subject, where).chain(name)
        except KeyError as exc:
            raise self.fail(where, _message(exc)) from exc
        tr = Domain(f"derivations/{subject}")
        body = [tr(c.description)] if c.description else []
        body += [_step(number, tr(step.justification),
                       f"{c.lhs} = {step.latex}" if number == 1 else f"= {step.latex}")
                 for number, step in enumerate(c.steps, 1)]
        body.append(_("Every step is proven equal to the one before it when the derivation "
                      "runs (%(command)s), which refuses to export a step that does not follow.",
                      command=f"`python -m derivations.{subject}`"))
        body.append(f'??? note "{_("How the steps are proven")}"\n\n'
                    + _indent(_("%(how)s.", how=_escape(tr(c.proven))), "    "))
        return f'!!! abstract "{_("Step by step")}"\n\n' + _indent("\n\n".join(body), "    ")

    def exercise(self, where: str, page: str, name: str) -> str:
        module = self.root / "docs" / "exercises" / f"{page}.py"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", page) or not module.is_file():
            raise self.fail(where, f"no exercises module docs/exercises/{page}.py")
        _repository_on_path()               # exercise modules import docs.exercises
        functions = _exercise_module(module)
        if name not in functions:
            raise self.fail(where, f"docs/exercises/{page}.py has no exercise {name!r}; it has "
                                   f"{sorted(functions)}")
        try:
            ex = functions[name]()
        except Exception as exc:       # the answer is computed: a failure fails the build
            raise self.fail(where, f"computing the exercise failed: {type(exc).__name__}: "
                                   f"{exc}") from exc
        answer = f'??? success "{_("Answer")}"\n\n' + _indent(ex.answer, "    ")
        title = _("Exercise: %(title)s", title=_escape(ex.title))
        return f'!!! question "{title}"\n\n' + _indent(ex.question + "\n\n" + answer, "    ")

    def source(self, where: str, path: str, name: str | None = None) -> str:
        file = (self.root / path).resolve()
        if not file.is_relative_to(self.root.resolve()) or not file.is_file():
            raise self.fail(where, f"no file {path!r} in the repository ({self.root})")
        text = file.read_text(encoding="utf-8")
        if name is None:
            language = {".py": "python", ".json": "json", ".toml": "toml",
                        ".yml": "yaml", ".yaml": "yaml", ".md": "markdown"}.get(file.suffix, "text")
            return _fence(text.rstrip("\n"), language, title=path, first_line=1)
        if file.suffix != ".py":
            raise self.fail(where, f"{path!r} is not a Python file: cannot take {name!r} from it")
        first, last = _definition_lines(text, name, lambda msg: self.fail(where, msg))
        lines = text.splitlines()[first - 1:last]
        return _fence("\n".join(lines), "python",
                      title=f"{path}, lines {first}-{last}", first_line=first)

    def test_counts(self, where: str, path: str | None = None) -> str:
        try:
            collected = collect_tests(self.root)
        except RuntimeError as exc:
            # A warning, not an error: `mkdocs serve` with only the docs extra
            # installed (no pytest, no Hypothesis) still shows the site, while
            # `mkdocs build --strict` (the tests, CI) fails on it.
            _log.warning(f"{self.page}: {where}: the tests could not be counted: {exc}")
            if path is not None:
                return "(not counted)"
            reason = _fence(str(exc).strip(), "text")
            return ('!!! failure "The tests could not be counted when this page was built"\n\n'
                    + _indent('Install the test dependencies (`pip install -e ".[test]"`) '
                              "and build again. What pytest said:\n\n" + reason, "    "))
        if path is not None:
            if path not in collected:
                raise self.fail(where, f"no test file {path!r}; test files: {sorted(collected)}")
            if not collected[path]:
                raise self.fail(where, f"{path} collected no tests (skipped at collection?)")
            return str(len(collected[path]))
        rows = ["| Test file | Test functions | Tests collected |", "|---|---:|---:|"]
        total_functions = total_tests = 0
        for file, ids in collected.items():
            if not ids:
                rows.append(f"| `{file}` | skipped at collection | 0 |")
                continue
            functions = len({i.split("[", 1)[0] for i in ids})
            total_functions += functions
            total_tests += len(ids)
            rows.append(f"| `{file}` | {functions} | {len(ids)} |")
        rows.append(f"| **Total** | **{total_functions}** | **{total_tests}** |")
        return "\n".join(rows) + "\n"

    def figure(self, where: str, name: str) -> str:
        _repository_on_path()
        from docs.figures import FIGURES   # imports cnn: only when a page has a figure
        if name not in FIGURES:
            raise self.fail(where, f"no figure {name!r}; known: {sorted(FIGURES)}")
        try:
            fig = FIGURES[name]()           # drawn afresh: `mkdocs serve` sees new exports
        except Exception as exc:
            raise self.fail(where, f"figure {name!r} could not be drawn: "
                                   f"{type(exc).__name__}: {_message(exc)}") from exc
        # Raw HTML for Markdown: one block, so no blank line inside it.
        body = "\n".join(line for line in fig.svg.splitlines() if line.strip())
        caption = fig.caption.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return (f'<figure class="cnn-figure" id="figure-{name}" data-figure="{name}">\n'
                f"{body}\n<figcaption>{caption}</figcaption>\n</figure>")

    HANDLERS = ("formula", "formulas", "fact", "chain", "exercise", "source", "test_counts", "figure")

    def render(self, call: str) -> str:
        name, args, kwargs = _parse_call(call, lambda msg: self.fail(call, msg))
        if name not in self.HANDLERS:
            raise self.fail(call, f"unknown placeholder {name!r}; known: {list(self.HANDLERS)}")
        handler = getattr(self, name)
        try:
            inspect.signature(handler).bind(call, *args, **kwargs)
        except TypeError as exc:
            raise self.fail(call, f"bad arguments ({exc}); expected {name}"
                                  f"{_public_signature(handler)}") from exc
        for value in args:
            if not isinstance(value, str):
                raise self.fail(call, f"arguments must be strings, got {value!r}")
        for key, value in kwargs.items():
            if not isinstance(value, bool):
                raise self.fail(call, f"{key}= must be True or False, got {value!r}")
        return handler(call, *args, **kwargs)


def render_placeholders(markdown: str, *, page: str = "<markdown>", root: Path = ROOT,
                        loader: Loader = derivations.load) -> str:
    """Replace every ``{{ name(args) }}`` placeholder in ``markdown``.

    Parameters
    ----------
    markdown : str
        The page source.
    page : str
        Name used in error messages (the page's source path).
    root : Path
        Repository root; ``source()`` paths are relative to it.
    loader : callable
        ``loader(subject) -> derivations.Export``; tests pass one that reads a
        temporary export directory.

    Raises
    ------
    mkdocs.exceptions.PluginError
        For an unknown placeholder, subject, case, formula, fact, file or
        definition, for arguments that are not literals, or for a block
        placeholder that does not stand on its own line.
    """
    renderer = _Renderer(page, root, loader)
    out = []
    for is_code, chunk in _split_code(markdown):
        out.append(chunk if is_code else _render_text(chunk, renderer))
    return "".join(out)


# ---------------------------------------------------------------------------
# Finding placeholders outside code
# ---------------------------------------------------------------------------
def _split_code(markdown: str) -> list[tuple[bool, str]]:
    """Split into (is_code, text) chunks: fenced blocks and inline code spans are code."""
    chunks: list[tuple[bool, str]] = []
    text: list[str] = []
    lines = markdown.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            text.append(lines[i])
            i += 1
            continue
        fence = opening["fence"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = i + 1
        while end < len(lines) and not closing.match(lines[end].rstrip("\r\n")):
            end += 1
        chunks.extend(_split_inline_code("".join(text)))
        text = []
        chunks.append((True, "".join(lines[i:end + 1])))  # an unclosed fence runs to the end
        i = end + 1
    chunks.extend(_split_inline_code("".join(text)))
    return chunks


def _split_inline_code(text: str) -> list[tuple[bool, str]]:
    """Inline code is a run of n backticks up to the next run of exactly n."""
    chunks, start, pos = [], 0, 0
    while (run := _BACKTICKS.search(text, pos)) is not None:
        closing = re.compile(rf"(?<!`){run.group()}(?!`)")
        end = closing.search(text, run.end())
        if end is None:  # a lone backtick run is literal text
            pos = run.end()
            continue
        chunks.append((False, text[start:run.start()]))
        chunks.append((True, text[run.start():end.end()]))
        start = pos = end.end()
    chunks.append((False, text[start:]))
    return [c for c in chunks if c[1]]


def _render_text(text: str, renderer: _Renderer) -> str:
    out, pos = [], 0
    while (opening := _OPENING.search(text, pos)) is not None:
        end = _closing_braces(text, opening.end())
        call = text[opening.start() + 2:end].strip() if end is not None else None
        if call is None:
            snippet = text[opening.start():opening.start() + 60].splitlines()[0]
            raise renderer.fail(snippet, "placeholder is not closed with ')}}'")
        line_start = text.rfind("\n", 0, opening.start()) + 1
        before = text[line_start:opening.start()]
        after_end = text.find("\n", end + 2)
        after = text[end + 2:] if after_end == -1 else text[end + 2:after_end]
        rendered = renderer.render(call)
        if "\n" in rendered:
            if before.strip() or after.strip():
                raise renderer.fail(call, "a block placeholder must stand on a line of its own")
            # Blank lines make it a block of its own; indent it like its line.
            rendered = "\n" + _indent(rendered, before) + "\n"
        out.append(text[pos:opening.start()])
        out.append(rendered)
        pos = end + 2
    out.append(text[pos:])
    return "".join(out)


def _closing_braces(text: str, start: int) -> int | None:
    """Index of the ``}}`` that ends the placeholder opened before ``start``.

    Scans with Python's tokenizer rules for strings, so ``")}}"`` inside a
    string argument is not mistaken for the end.
    """
    depth, i, quote = 1, start, None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                rest = re.match(r"\s*\}\}", text[i + 1:])
                return i + 1 + rest.end() - 2 if rest else None
        elif c == "\n" and text[i + 1:i + 2] == "\n":
            return None  # a placeholder never spans a blank line
        i += 1
    return None


def _parse_call(call: str, fail) -> tuple[str, list[Any], dict[str, Any]]:
    """``name(args)`` -> (name, args, kwargs); arguments must be literals."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError as exc:
        raise fail(f"not a valid call ({exc.msg})") from exc
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise fail("expected name(arguments)")
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    except ValueError as exc:
        raise fail("arguments must be literals (strings, numbers, True/False)") from exc
    if None in kwargs:
        raise fail("**kwargs is not allowed")
    return node.func.id, args, kwargs


# ---------------------------------------------------------------------------
# Markdown builders
# ---------------------------------------------------------------------------
def _repository_on_path() -> None:
    """Put the checkout on sys.path (mkdocs restores sys.path after loading hooks), so
    that ``docs.figures`` and ``docs.exercises`` import while pages are rendered."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


_EXERCISE_MODULES: dict[Path, dict[str, Callable]] = {}


def _exercise_module(path: Path) -> dict[str, Callable]:
    """The public functions of ``docs/exercises/<page>.py``, imported once per build."""
    if path not in _EXERCISE_MODULES:
        import importlib.util
        spec = importlib.util.spec_from_file_location(f"docs_exercises_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _EXERCISE_MODULES[path] = {n: f for n, f in vars(module).items()
                                   if inspect.isfunction(f) and f.__module__ == module.__name__
                                   and not n.startswith("_")}
    return _EXERCISE_MODULES[path]


def fact_title(holds: bool, sizes: str) -> tuple[str, str]:
    """(admonition kind, title) of a fact's box: refuted, or proven for every size
    (``sizes`` "all"), checked on listed sizes ("listed"), proven (no sizes)."""
    if not holds:
        return "failure", _("Refuted")
    if sizes == "all":
        return "success", _("Proven for every size")
    if sizes == "listed":
        return "success", _("Checked on the listed sizes (not proven for every size)")
    return "success", _("Proven")


def _step(number: int, justification: str, latex: str) -> str:
    """One step of a derivation: its number and justification, then its equation."""
    return (f"**{_('Step %(number)s.', number=number)}** {_escape(justification)}\n\n"
            + _display(latex))


def _display(latex: str) -> str:
    """A display-math block that pymdownx.arithmatex recognises."""
    return f"$$\n{latex}\n$$"


def _fence(code: str, language: str, *, title: str = "", first_line: int | None = None) -> str:
    # Longer than any backtick run in the code, so the code cannot close it.
    ticks = "`" * max(3, 1 + max((len(r) for r in _BACKTICKS.findall(code)), default=0))
    options = []
    if title:
        options.append(f'title="{title}"')
    if first_line is not None:
        options.append(f'linenums="{first_line}"')
    return f"{ticks}{' '.join([language, *options])}\n{code}\n{ticks}"


def _escape(text: str) -> str:
    """Plain text (a fact's assumptions, a step's justification) safe inside Markdown."""
    text = re.sub(r"([\\`*_{}\[\]#|])", r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _inline_code(text: str) -> str:
    ticks = "`" * (1 + max((len(r) for r in _BACKTICKS.findall(text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


def _natural(name: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name)]


def _public_signature(handler) -> str:
    params = list(inspect.signature(handler).parameters.values())[1:]  # drop `where`
    return str(inspect.Signature(params))


def _message(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else repr(exc)


def _defined_name(node: ast.stmt) -> str | None:
    """The name a function, a class or a ``NAME = ...`` statement (e.g. a registry entry) defines."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 \
            and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def _definition_lines(text: str, dotted: str, fail) -> tuple[int, int]:
    """First (decorator) and last line of the definition ``dotted`` ("f", "Class.method"
    or a top-level ``NAME = ...``)."""
    scope: list[ast.stmt] = ast.parse(text).body
    node = None
    for part in dotted.split("."):
        matches = [n for n in scope if _defined_name(n) == part]
        if not matches:
            known = sorted(filter(None, map(_defined_name, scope)))
            raise fail(f"no function, class or assignment {dotted!r}; defined there: {known}")
        node = matches[-1]  # a redefinition wins, as at run time
        scope = getattr(node, "body", [])
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return first, node.end_lineno


# ---------------------------------------------------------------------------
# Test counts ({{ test_counts() }})
# ---------------------------------------------------------------------------
_COLLECTED: dict[Path, dict[str, list[str]]] = {}   # per build: cleared by on_pre_build


def collect_tests(root: Path) -> dict[str, list[str]]:
    """``{"tests/test_x.py": [node ids]}`` for every ``tests/test_*.py`` under ``root``.

    Runs ``python -m pytest --collect-only -q`` in ``root`` (nothing is
    executed), once per root and build. A file whose tests were all skipped at
    collection (e.g. ``pytest.importorskip`` of a missing package) maps to
    ``[]``. Raises RuntimeError, with pytest's output, if collection fails.
    """
    root = Path(root).resolve()
    if root in _COLLECTED:
        return _COLLECTED[root]
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q",
               "-p", "no:cacheprovider", "tests"]
    try:
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"`{' '.join(command[2:])}` took longer than {exc.timeout} s") from exc
    output = result.stdout + result.stderr
    # 0: collected; 5: no tests at all. Anything else (2: a file failed to
    # import) would make the counts wrong, so it fails the build.
    if result.returncode not in (0, 5):
        raise RuntimeError(f"`{' '.join(command[2:])}` in {root} failed with exit code "
                           f"{result.returncode}:\n{output[-3000:]}")
    collected = {f"tests/{p.name}": [] for p in sorted((root / "tests").glob("test_*.py"))}
    for line in result.stdout.splitlines():
        match = re.match(r"(tests/[^:\s]+\.py)::(\S.*)$", line.strip())
        if match:
            collected.setdefault(match[1], []).append(match[2])
    _COLLECTED[root] = dict(sorted(collected.items()))
    return _COLLECTED[root]


# ---------------------------------------------------------------------------
# MkDocs events
# ---------------------------------------------------------------------------
def on_pre_build(*, config) -> None:
    _COLLECTED.clear()   # `mkdocs serve` rebuilds: count the tests again
    reset_warnings()     # and say again which translations are missing


def on_page_markdown(markdown: str, *, page, config, files) -> str:
    if not page.file.src_uri.endswith(".md"):
        return markdown  # notebooks (mkdocs-jupyter) render their own source
    root = Path(config.config_file_path).resolve().parent
    # A page's language is its file's: X.zh.md is Chinese; a page the Chinese
    # site shows in English (no X.zh.md) keeps English boxes under its note.
    language = source_language(page.file.src_uri)
    with speaking(language):
        return render_placeholders(markdown, page=page.file.src_uri, root=root)


# nbconvert's template, as used by mkdocs-jupyter, adds a MathJax 2 loader
# (with an empty URL, since custom_mathjax_url is empty, and an inert v2
# config) and a module that imports Mermaid from a CDN when a notebook has a
# diagram. MathJax 3 comes from extra_javascript and no notebook here draws
# Mermaid diagrams, so both are removed: nothing on a page refers to a CDN.
_NB_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_NB_MERMAID = re.compile(r'<script type="module">(?:(?!</script>).)*?\bmermaid\b.*?</script>', re.S)


def strip_notebook_cdn_scripts(html: str, page: str = "<notebook>") -> str:
    """Remove nbconvert's MathJax 2 loader and CDN Mermaid module from notebook HTML."""
    if re.search(r'class="[^"]*\bjp-Mermaid\b', html):
        raise PluginError(f"{page}: Mermaid diagrams in notebooks need a CDN; "
                          f"draw the figure with matplotlib instead")
    html = _NB_MATHJAX.sub("", html)
    return _NB_MERMAID.sub("", html)


def on_page_content(html: str, *, page, config, files) -> str:
    if page.file.src_uri.endswith((".py", ".ipynb")):
        return strip_notebook_cdn_scripts(html, page.file.src_uri)
    return html


def on_serve(server, *, config, builder):
    # `mkdocs serve` rebuilds when an export or the code it shows changes.
    root = Path(config.config_file_path).resolve().parent
    for watched in ("derivations/exported", "cnn"):
        if (root / watched).is_dir():
            server.watch(str(root / watched))
    return server
