"""``python -m docs.locale update [LANGUAGE]``: bring the catalogues up to date with the code.

Renders, in the language (default: zh), everything the site generates from
code: every fact and chain of every export and every exercise through the
hook that pages use (``docs/hooks/exports.py``), every figure, and reads every
``t("...")`` in the explorers' scripts and every ``_("...")`` in the notebooks
(their plots' labels). Each message asked for is then an
entry of its catalogue: a new message is added with an empty translation for
the translator (the build warns about it until it is translated), a message
nothing asks for any more is kept as obsolete (``#~``, for the translator to
reuse), and existing translations are untouched. ``python -m docs.locale
check`` says what is missing or stale and exits 1 if anything is.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import inspect
import io
import json
import logging
import re
from pathlib import Path

from docs.locale import (ENGLISH, LANGUAGES, LOCALE, Domain, export_messages, read, recording,
                         requested, speaking)

ROOT = LOCALE.parents[1]
SCRIPTS = ROOT / "docs" / "javascripts" / "explorers"
NOTEBOOKS = ROOT / "docs" / "notebooks"
#: A message in the explorers' scripts: ``t("...")`` with one double-quoted literal.
_SCRIPT_MESSAGE = re.compile(r'\bt\(\s*"((?:[^"\\\n]|\\.)*)"')
#: A message in the notebooks (their plots' labels): ``_("...")`` with one double-quoted literal.
_NOTEBOOK_MESSAGE = re.compile(r'\b_\(\s*"((?:[^"\\\n]|\\.)*)"')


def _literals(files, pattern: re.Pattern) -> list[str]:
    """The string literal of every ``pattern`` match in ``files``, unescaped, in file
    order, each once. The JavaScript and Python literals used here (double quotes, the
    escapes ``\\"``, ``\\\\``, ``\\n``, ``\\uXXXX``) unescape alike, as JSON strings."""
    found: list[str] = []
    for path in sorted(files):
        for literal in pattern.findall(path.read_text(encoding="utf-8")):
            try:
                found.append(json.loads(f'"{literal}"'))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.relative_to(ROOT)}: the message \"{literal}\" has an "
                                 f"escape other than \\\", \\\\, \\n or \\uXXXX ({exc})") from exc
    return list(dict.fromkeys(found))


def script_messages() -> list[str]:
    """Every ``t("...")`` message of ``docs/javascripts/explorers/*.js``, in file order."""
    return _literals(SCRIPTS.glob("*.js"), _SCRIPT_MESSAGE)


def notebook_messages() -> list[str]:
    """Every ``_("...")`` message of ``docs/notebooks/*.py``, in file order (the notebooks
    are not run to find them: the build runs them, in each language)."""
    return _literals(NOTEBOOKS.glob("*.py"), _NOTEBOOK_MESSAGE)


@functools.cache
def _hook(name: str = "exports"):
    """A hook of docs/hooks/ as a module (MkDocs loads them by path, not as a package),
    loaded once per process."""
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", ROOT / f"docs/hooks/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep_markdown() -> str:
    """One page of placeholders asking for every fact, chain and exercise the site has."""
    import derivations
    calls = []
    for subject in derivations.SUBJECTS:
        export = derivations.load(subject)
        calls += [f'{{{{ fact("{subject}", "{name}") }}}}' for name in export.facts]
        calls += [f'{{{{ chain("{subject}", "{name}") }}}}' for name in export.chains]
    hook = _hook()
    for module in sorted((ROOT / "docs" / "exercises").glob("*.py")):
        if module.stem != "__init__":
            calls += [f'{{{{ exercise("{module.stem}", "{name}") }}}}'
                      for name, function in hook._exercise_module(module).items()
                      if _takes_no_arguments(function)]
    return "\n\n".join(calls) + "\n"


def _takes_no_arguments(function) -> bool:
    """An exercise (the modules' other public functions are helpers that take arguments)."""
    try:
        inspect.signature(function).bind()
    except TypeError:
        return False
    return True


def sweep(lang: str, *, strict: bool = False) -> dict[str, list[str]]:
    """Every message the site asks for in ``lang``, by domain (rendering everything once;
    with ``strict``, :class:`~docs.locale.MissingTranslation` for the first one missing)."""
    if not strict:   # every missing message is reported by the caller: no warning each
        logging.getLogger("mkdocs.translations").setLevel(logging.ERROR)
    import derivations
    hook = _hook()
    from docs.figures import FIGURES
    with recording(), speaking(lang, strict=strict):
        hook.render_placeholders(sweep_markdown(), page="<every placeholder>", root=ROOT)
        for holds in (True, False):      # every title, also of a box no export needs now
            for sizes in ("all", "listed", "none"):
                hook.fact_title(holds, sizes)
        for make in FIGURES.values():
            make()
        _hook("notebooks").downloads_html("notebook")
        asked = requested()
    messages = {domain: sorted(found) for domain, found in asked.items()}
    for subject in derivations.SUBJECTS:   # an export's texts in its own order, every one
        messages[f"derivations/{subject}"] = export_messages(derivations.load(subject))
    messages["explorers"] = script_messages()
    messages["notebooks"] = notebook_messages()
    return messages


HEADER = """\
# The Chinese of the text the site's code writes into its pages: see docs/locale/__init__.py.
# `python -m docs.locale update` keeps this file in step with the code; translate each msgstr.
#"""


def catalogue_text(path: Path, messages: list[str], lang: str) -> bytes:
    """The catalogue at ``path`` as ``update`` writes it: ``messages`` in this order, each
    with the translation (and flags) it has there or had as an obsolete entry, or empty;
    translations of other messages kept as obsolete (``#~``)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    old = Catalog(locale=lang)
    if path.is_file():
        with open(path, "rb") as f:
            old = read_po(f)
    new = Catalog(locale=lang, header_comment=HEADER, project="cnn-backprop", fuzzy=False,
                  creation_date=old.creation_date, revision_date=old.revision_date)
    for message in messages:
        kept = old.get(message) or old.obsolete.get(message)
        flags = set(kept.flags if kept else ()) - {"python-format"}
        if re.search(r"%\(\w+\)s", message):
            flags.add("python-format")
        new.add(message, kept.string if kept else "", flags=sorted(flags))
    for entry in [*old, *old.obsolete.values()]:
        if entry.id and entry.id not in new and entry.string:
            new.obsolete[entry.id] = entry
    buffer = io.BytesIO()
    write_po(buffer, new, width=0, sort_output=False)
    return buffer.getvalue()


def update(lang: str, domains: list[str] | None = None) -> list[Path]:
    """Write each domain's catalogue in ``lang`` (or only those of ``domains``) with exactly
    the messages asked for (:func:`catalogue_text`); the paths written."""
    asked = sweep(lang)
    unknown = sorted(set(domains or ()) - set(asked))
    if unknown:
        raise SystemExit(f"--domain: no code asks for messages of {unknown}; domains: {sorted(asked)}")
    written = []
    for domain, messages in sorted(asked.items()):
        if domains and domain not in domains:
            continue
        path = Domain(domain).path(lang)
        text = catalogue_text(path, messages, lang)
        if not path.is_file() or path.read_bytes() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text)
            written.append(path)
    return written


def check(lang: str) -> list[str]:
    """What the catalogues in ``lang`` lack (messages with no translation) or hold in
    excess (translations of messages nothing asks for)."""
    problems = []
    asked = sweep(lang)
    for domain, messages in sorted(asked.items()):
        path = Domain(domain).path(lang)
        have = read(path) if path.is_file() else {}
        where = path.relative_to(ROOT)
        problems += [f"{where}: no translation of {m!r}" for m in messages if m not in have]
        problems += [f"{where}: {m!r} is translated but nothing asks for it" for m in have
                     if m not in messages]
    for path in sorted((LOCALE / lang).rglob("*.po")):
        domain = path.relative_to(LOCALE / lang).with_suffix("").as_posix()
        if domain not in asked:
            problems.append(f"{path.relative_to(ROOT)}: no code uses the domain {domain!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docs.locale", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["update", "check"],
                        help="update: add new messages to the catalogues; check: list what is "
                             "missing or stale")
    parser.add_argument("language", nargs="?", default="zh",
                        choices=[lang for lang in LANGUAGES if lang != ENGLISH])
    parser.add_argument("--domain", action="append", metavar="DOMAIN",
                        help="update only this catalogue (e.g. figures, derivations/conv2d); "
                             "repeatable; default: all")
    args = parser.parse_args(argv)
    if args.command == "update":
        for path in update(args.language, args.domain):
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    problems = check(args.language)
    print("\n".join(problems) or f"every message has its {args.language} translation")
    return 1 if problems else 0


