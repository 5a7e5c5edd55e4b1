"""Translations of the text the site generates, from gettext catalogues.

The pages are translated by hand (``docs/X.zh.md`` beside ``docs/X.md``), but
some text reaches a page from code: the titles of the hook's boxes ("Proven
for every size", "Step 2."), the statements, assumptions and step
justifications the derivations export, the exercises' questions and answers
(``docs/exercises/``), the figures' labels and captions (``docs/figures/``),
the live explorers' buttons (``docs/javascripts/explorers/``) and the
notebooks' plots and answers (``docs/notebooks/``). Each such
text is an English *message*, and its translation is an entry of a gettext
catalogue, ``docs/locale/<language>/<domain>.po`` (read with Babel, which
MkDocs Material already depends on):

==========================  ===============================================
domain                      messages
==========================  ===============================================
``site``                    the hook's titles and sentences (docs/hooks/exports.py)
``derivations/<subject>``   the texts of ``derivations/exported/<subject>.json``
                            (:func:`export_messages`: every one, no more)
``exercises``               ``docs/exercises/*.py``
``figures``                 ``docs/figures/*.py``
``explorers``               every ``t("...")`` in ``docs/javascripts/explorers/*.js``
``notebooks``               every ``_("...")`` in ``docs/notebooks/*.py`` (plots, answers)
==========================  ===============================================

The exports stay language-independent: a derivation writes English, and the
Chinese text is the catalogue's. When an English message changes, its old
translation no longer matches, the Chinese build warns (an error under
``mkdocs build --strict``) and shows the English until the catalogue has the
new message (``python -m docs.locale update`` adds it, empty, for the
translator). ``tests/test_translations.py`` holds every catalogue to the code:
nothing missing, nothing stale, the same math, code and fields in a
translation as in its message.

Code marks a message with a :class:`Domain`::

    _ = Domain("figures")
    _("input x")                              # "输入 x" in a Chinese build
    _("the cost is %(loss)s", loss=f"{c:g}")  # fields: %(name)s, filled after translating

The language is the build's, set around rendering with :func:`speaking`;
English is the message itself.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

__all__ = ["Domain", "ENGLISH", "LANGUAGES", "MissingTranslation", "export_messages",
           "language", "recording", "requested", "source_language", "speaking"]

LOCALE = Path(__file__).resolve().parent
ENGLISH = "en"
#: The languages the site is built in (mkdocs.yml's i18n plugin).
LANGUAGES = (ENGLISH, "zh")
_log = logging.getLogger("mkdocs.translations")   # under "mkdocs": --strict counts it

#: The language of code run outside a :func:`speaking` block: a notebook's kernel, which
#: the Chinese build starts with this variable set (docs/hooks/i18n.py).
ENVIRONMENT = "CNN_DOCS_LANGUAGE"
_language: ContextVar[str | None] = ContextVar("language", default=None)
_strict: ContextVar[bool] = ContextVar("strict", default=False)
_warned: set[tuple[str, str, str]] = set()
#: Every (domain, message) asked for in a language other than English, this process.
_requested: dict[str, set[str]] = {}


class MissingTranslation(LookupError):
    """A message has no translation in its catalogue (raised in strict mode only)."""


def language() -> str:
    """The language being rendered: the innermost :func:`speaking`'s, else the
    environment's ``CNN_DOCS_LANGUAGE``, else English."""
    lang = _language.get() or os.environ.get(ENVIRONMENT) or ENGLISH
    if lang not in LANGUAGES:
        raise ValueError(f"{ENVIRONMENT}: got {lang!r}; expected one of {list(LANGUAGES)}")
    return lang


@contextmanager
def speaking(lang: str, *, strict: bool = False):
    """Render in ``lang`` inside the ``with`` block.

    ``strict=True`` raises :class:`MissingTranslation` for a message with no
    translation (the tests); otherwise it is logged once as a warning and the
    English is used (``mkdocs serve`` keeps working while a translator catches up).
    """
    if lang not in LANGUAGES:
        raise ValueError(f"language: got {lang!r}; expected one of {list(LANGUAGES)}")
    token, strict_token = _language.set(lang), _strict.set(strict)
    try:
        yield
    finally:
        _language.reset(token)
        _strict.reset(strict_token)


def source_language(src_uri: str) -> str:
    """The language of a page's source file: ``layers/conv2d.zh.md`` -> "zh", any other
    (``layers/conv2d.md``, ``api/index.md``) -> "en"."""
    suffixes = Path(src_uri).suffixes
    lang = suffixes[-2].lstrip(".") if len(suffixes) >= 2 else ENGLISH
    return lang if lang in LANGUAGES else ENGLISH


def requested() -> dict[str, set[str]]:
    """The messages asked for outside English so far, by domain (for ``update`` and the tests)."""
    return {domain: set(messages) for domain, messages in _requested.items()}


@contextmanager
def recording():
    """Inside the block, :func:`requested` holds only what the block asks for."""
    saved = {domain: set(messages) for domain, messages in _requested.items()}
    _requested.clear()
    try:
        yield
    finally:
        for domain, messages in saved.items():
            _requested.setdefault(domain, set()).update(messages)


def reset_warnings() -> None:
    """Warn again about every missing translation (each build of ``mkdocs serve``)."""
    _warned.clear()


class Domain:
    """The messages of one catalogue: ``Domain("figures")("input x")`` is its translation.

    Parameters
    ----------
    name : str
        The catalogue, ``docs/locale/<language>/<name>.po`` ("site", "figures",
        "exercises", "explorers" or "derivations/<subject>").
    """

    def __init__(self, name: str):
        if not re.fullmatch(r"[a-z0-9_]+(/[a-z0-9_]+)?", name):
            raise ValueError(f"domain: got {name!r}; expected a name like 'figures' or "
                             f"'derivations/conv2d'")
        self.name = name

    def path(self, lang: str) -> Path:
        """The catalogue file of this domain in ``lang``."""
        return LOCALE / lang / f"{self.name}.po"

    def __call__(self, message: str, **fields) -> str:
        """``message`` in the current language, with ``%(name)s`` fields filled from ``fields``."""
        lang = language()
        text = message
        if lang != ENGLISH:
            _requested.setdefault(self.name, set()).add(message)
            text = _catalogue(self.path(lang)).get(message)
            if text is None:
                text = message
                self._missing(lang, message)
        return text % fields if fields else text

    def _missing(self, lang: str, message: str) -> None:
        where = self.path(lang).relative_to(LOCALE.parents[1])
        if _strict.get():
            raise MissingTranslation(f"{where} has no translation of {message!r}")
        if (lang, self.name, message) not in _warned:
            _warned.add((lang, self.name, message))
            _log.warning(f"{where} has no translation of {message!r} (shown in English); "
                         f"run `python -m docs.locale update` and translate it")


_CATALOGUES: dict[Path, tuple[float, dict[str, str]]] = {}


def _catalogue(path: Path) -> dict[str, str]:
    """``{message: translation}`` of a .po file (fuzzy and empty entries left out), re-read
    when the file changes."""
    stamp = path.stat().st_mtime if path.is_file() else -1.0
    cached = _CATALOGUES.get(path)
    if cached is None or cached[0] != stamp:
        _CATALOGUES[path] = (stamp, read(path) if stamp >= 0 else {})
    return _CATALOGUES[path][1]


def read(path: Path) -> dict[str, str]:
    """The translated entries of the catalogue at ``path``."""
    from babel.messages.pofile import read_po
    with open(path, "rb") as f:
        catalog = read_po(f, abort_invalid=True)
    return {m.id: m.string for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


# ---------------------------------------------------------------------------
# The texts of an export
# ---------------------------------------------------------------------------
def export_messages(export) -> list[str]:
    """The texts of an export that a page shows as prose, in order, each once: every
    fact's statement, assumptions, listed sizes and step justifications, every
    chain's description, step justifications and how its steps are proven.

    ``export`` is a :class:`derivations.Export` (``derivations.load(subject)``).
    The formulas, the LaTeX and a fact's ``check`` (a record of what was run,
    shown as code) are not prose and stay as they are.
    """
    texts: list[str] = []
    for fact in export.facts.values():
        data = fact.get("data") or {}
        texts += [fact["statement"], *data.get("assumptions", []), *data.get("listed_sizes", []),
                  *(step["justification"] for step in data.get("steps", []))]
    for name in export.chains:
        chain = export.chain(name)
        texts += [chain.description, *(s.justification for s in chain.steps), chain.proven]
    return list(dict.fromkeys(t for t in texts if t))
