"""MkDocs hook: what the Chinese edition needs beyond the i18n plugin's config.

mkdocs-static-i18n (mkdocs.yml, ``plugins.i18n``) builds the site twice: English
at the root, then Chinese under ``zh/``, from ``X.zh.md`` next to each ``X.md``
(suffix structure). A page without a ``.zh.md`` (the reference pages) falls
back to its English text inside the Chinese site. What code writes into the
pages (box titles, the exports' texts, exercises, figures, the explorers) is
translated through :mod:`docs.locale`.
This hook, for the Chinese build only,

* puts a note in Chinese at the top of every such fallback page, saying that
  the page is in English and linking its English original
  (:func:`fallback_note`); the note is HTML added to the page's content, so it
  also reaches the notebook pages, which mkdocs-jupyter renders without
  Markdown;
* keeps the notebooks pages (:func:`notebook_pages`): the i18n plugin
  rebuilds every file after mkdocs-jupyter has turned ``docs/notebooks/*.py``
  into pages, and as a plain ``.py`` it treats each as an asset, copied raw
  over the page's HTML (ultrabug/mkdocs-static-i18n#198, in both languages).
  After the plugin, the hook wraps them again the way mkdocs-jupyter does,
  under ``zh/`` in the Chinese build, with both languages as alternates for
  the language selector;
* translates the notebooks the way they are written: one notebook per
  subject, its prose selected by language, not a translated copy per language.
  The code cells compute, draw and check, and must exist once (a
  ``mnist.zh.py`` would be a second copy of every cell, free to drift from the
  first). Each Markdown cell of a translated notebook is tagged ``en`` or
  ``zh`` (the Chinese cell right after its English one, which
  tests/test_translations.py checks); before mkdocs-jupyter renders a
  notebook page (:func:`on_pre_page`), the hook tells it to remove the cells
  of the other language (its ``remove_tag_config``, part of its cache key),
  and sets ``CNN_DOCS_LANGUAGE`` for the kernel it starts, so that what the
  code draws with ``docs.figures`` is labelled in the page's language. Each
  language's build caches its notebooks in a directory of its own (the
  plugin evicts, after a build, what that build did not use). A notebook with
  no ``zh`` cells is English in both sites, with the note;
* drops the ``<link rel="alternate" hreflang>`` tags from every page's head
  (:func:`without_alternate_links`). Material reads each as the root of a
  language and fetches ``sitemap.xml`` next to it, to map a click into that
  language onto the same page; the plugin points them at the page itself
  (``zh/api/index.html``), so every page requested ``zh/api/sitemap.xml`` and
  got a 404. The header's language selector links the counterpart page
  directly, so the lookup has nothing to add;
* writes no ``404.html`` in the Chinese build: there is one 404 page, at the
  root, and the Chinese build would overwrite the English one;
* adds the glossary (``docs/glossary.zh.md``, no English counterpart) to the
  end of the nav (:data:`GLOSSARY`), titled through the plugin's
  ``nav_translations``; the English nav never lists it, so the English build
  stays strict and unchanged.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import jupytext
from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from docs.locale import ENGLISH, ENVIRONMENT, LANGUAGES  # noqa: E402  (needs the path above)

#: The nav entry the Chinese build appends (title translated by nav_translations).
GLOSSARY = {"Glossary": "glossary.md"}
#: The language of the Chinese edition, as mkdocs.yml's i18n plugin names it.
CHINESE = "zh"
NOTE_CLASS = "i18n-english-only"
_ALTERNATE = re.compile(r'[ \t]*<link rel="alternate" href="[^"]*" hreflang="[^"]*">\n?')


def without_alternate_links(page_html: str) -> str:
    """The page without the language alternates in its head (RSS alternates stay)."""
    return _ALTERNATE.sub("", page_html)


def current_language(config) -> str | None:
    """The language being built (None before the i18n plugin's first on_config: English)."""
    plugin = config.plugins.get("i18n")
    return getattr(plugin, "current_language", None)


def is_fallback(page) -> bool:
    """Whether a page of the Chinese build is the English text (no X.zh.md, or a
    notebook with no Markdown cell tagged zh)."""
    name = posixpath.basename(page.file.src_uri)
    if name.endswith(".py"):
        return CHINESE not in notebook_languages(page.file.abs_src_path)
    return f".{CHINESE}." not in name


def notebook_languages(source) -> set[str]:
    """The languages a notebook's prose is written in: the tags of its Markdown cells
    among the site's languages (empty for a notebook not tagged by language)."""
    notebook = jupytext.read(source)
    return {tag for cell in notebook.cells if cell.cell_type == "markdown"
            for tag in cell.metadata.get("tags", []) if tag in LANGUAGES}


def notebook_language(page, config) -> str:
    """The language a notebook page is shown in: the build's if the notebook has it."""
    build = current_language(config) or ENGLISH
    return build if build in notebook_languages(page.file.abs_src_path) else ENGLISH


def english_url(url: str) -> str:
    """The English page a ``zh/...`` page stands for: ``zh/api/index.html`` -> ``api/index.html``."""
    prefix = CHINESE + "/"
    if not url.startswith(prefix):
        raise ValueError(f"url: got {url!r}; expected a page of the Chinese site, under {prefix!r}")
    return url[len(prefix):]


def fallback_note(url: str) -> str:
    """The note (an admonition, as Markdown's ``!!! note`` renders it) for the page at ``url``."""
    here = posixpath.dirname(url) or "."
    english = posixpath.relpath(english_url(url), here)
    glossary = posixpath.relpath(f"{CHINESE}/glossary.html", here)
    return (f'<div class="admonition note {NOTE_CLASS}" lang="zh">\n'
            '<p class="admonition-title">本页只有英文版</p>\n'
            '<p>本页暂无中文翻译，下面是英文原文；公式、代码和图与英文版相同。'
            f'也可以打开<a href="{english}" hreflang="en">英文版的本页</a>。'
            f'术语的中英文对照见<a href="{glossary}">术语表</a>。</p>\n</div>\n')


# ---------------------------------------------------------------------------
# MkDocs events
# ---------------------------------------------------------------------------
#: mkdocs-jupyter's options as mkdocs.yml sets them (before this hook changes them per build).
_JUPYTER_OPTIONS: dict = {}


def on_config(config):
    # Runs before the i18n plugin's own on_config (priority -100), which for
    # the second build has already set current_language to "zh".
    chinese = current_language(config) == CHINESE
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is not None:
        options = _JUPYTER_OPTIONS.setdefault(id(jupyter), {
            "cache_dir": jupyter.config["cache_dir"],
            "remove_tag_config": dict(jupyter.config["remove_tag_config"])})
        language = current_language(config) or ENGLISH
        jupyter.config["cache_dir"] = posixpath.join(options["cache_dir"], language)
    nav = [entry for entry in (config.nav or []) if entry != GLOSSARY]
    if chinese:
        nav.append(dict(GLOSSARY))
    config.nav = nav
    try:   # the segmenter of Material's search: its "Building prefix dict" lines are noise
        import jieba
        jieba.setLogLevel(logging.WARNING)
    except ImportError:
        pass
    if chinese:
        config.theme.static_templates.discard("404.html")
    else:
        config.theme.static_templates.add("404.html")
    return config


@event_priority(-110)            # after the i18n plugin's on_files (-100)
def on_files(files, *, config):
    return notebook_pages(files, config)


def notebook_pages(files, config):
    """``files`` (changed in place: the i18n plugin's Files subclass resolves links) with
    each notebook mkdocs-jupyter includes made a page of the language being built."""
    from mkdocs_jupyter.plugin import NotebookFile

    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None:
        return files
    language = current_language(config) or "en"
    prefix = "" if language == "en" else language + "/"
    locales = [lang.locale for lang in config.plugins["i18n"].config.languages]
    for file in [f for f in files if not isinstance(f, NotebookFile) and jupyter.should_include(f)]:
        page = NotebookFile(file, **config)
        english = page.dest_path.replace(os.sep, "/")
        page.dest_path = prefix + english
        page.abs_dest_path = os.path.normpath(os.path.join(config.site_dir, page.dest_path))
        page.url = prefix + page.url
        page.alternates = {lang: SimpleNamespace(url=("" if lang == "en" else lang + "/") + english)
                           for lang in locales}
        files.remove(file)
        files.append(page)
    return files


@event_priority(100)             # before mkdocs-jupyter's on_pre_page reads its options
def on_pre_page(page, *, config, files):
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None or not jupyter.should_include(page.file):
        return page
    language = notebook_language(page, config)
    options = dict(_JUPYTER_OPTIONS[id(jupyter)]["remove_tag_config"])
    options["remove_cell_tags"] = sorted({*options.get("remove_cell_tags", ()),
                                          *(lang for lang in LANGUAGES if lang != language)})
    jupyter.config["remove_tag_config"] = options
    os.environ[ENVIRONMENT] = language        # read by the kernel mkdocs-jupyter starts
    return page


def on_page_content(html: str, *, page, config, files) -> str:
    if current_language(config) != CHINESE or not is_fallback(page):
        return html
    # Under the page's title, where a reader looks first; before the content
    # when the title is not in it (a notebook's comes from the nav).
    end = html.find("</h1>")
    at = 0 if end < 0 else end + len("</h1>")
    return html[:at] + "\n" + fallback_note(page.url) + html[at:]


def on_post_page(output: str, *, page, config) -> str:
    return without_alternate_links(output)


@event_priority(-110)            # after the i18n plugin's on_post_build, which builds zh/
def on_post_build(*, config) -> None:
    not_found = Path(config.site_dir) / "404.html"   # rendered from a template: no on_post_page
    if not_found.is_file():
        text = not_found.read_text(encoding="utf-8")
        not_found.write_text(without_alternate_links(text), encoding="utf-8")
