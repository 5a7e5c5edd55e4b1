"""MkDocs hook: ship only what a page uses.

* **MathJax only on pages with math.** MathJax (``tex-chtml.js``, 1.1 MB, and
  its fonts) is in ``extra_javascript``, so the theme puts it on every page.
  After a page is rendered, :func:`has_math` decides from its HTML whether
  anything there is for MathJax to typeset - an ``.arithmatex`` element
  (Markdown and docstring math), or TeX delimiters in the prose of a notebook
  (``.jupyter-wrapper``: Markdown cells, SymPy's ``$\\displaystyle ...$``
  outputs) - and if not, removes the two MathJax ``<script>`` tags and marks
  ``<html data-mathjax-done="none">`` (docs/javascripts/mathjax.js sets
  ``"true"`` when it has typeset a page; the browser tests wait for either).
  Each page carries its own decision: instant navigation is off, so every
  page is loaded by its own HTML.
* **Nothing no page uses** (:func:`prune`, after the build): the source maps
  of Material's bundles (``*.map``, only ever fetched by an open developer
  console; the ``sourceMappingURL`` comment pointing at each goes too), and
  Material's lunr language packs (``assets/javascripts/lunr/``, 950 KB) but
  those the search worker imports for the configured languages
  (:func:`lunr_files`: for ``[en, zh]`` three files, 16 KB).
  Both search indexes stay: ``search_index.json`` is what search reads on a
  served site, ``search_index.js`` (written by the ``offline`` plugin) what it
  reads from ``file://``.
* **A 404 page that works from ``file://``** (:func:`relocatable_404`): MkDocs
  writes ``404.html`` with root-absolute URLs (``/assets/...``) so that a server
  can return it for a missing page at any depth; opened from disk those point
  at the root of the file system and the page has no style. Its URLs become
  relative to the site root (where 404.html is), and an inline script restores
  the root as the base URL when the page comes from a server.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

# The two extra_javascript entries of mkdocs.yml that make up MathJax.
_MATHJAX_SCRIPT = re.compile(
    r'[ \t]*<script src="[^"]*(?:javascripts/mathjax\.js|assets/vendor/mathjax/tex-chtml\.js)"'
    r'[^>]*></script>\n?')
_ARITHMATEX = re.compile(r'class="[^"]*\barithmatex\b')
# The delimiters docs/javascripts/mathjax.js enables, as tests/test_browser.py finds them.
_DELIMITED = re.compile(r"\$\$.+?\$\$|\$[^\s$](?:[^$]*?[^\s$\\])?\$|\\\(.+?\\\)|\\\[.+?\\\]"
                        r"|\\begin\{", re.S)
# What MathJax never typesets (it skips code) or what is not text at all.
_NOT_PROSE = re.compile(r"<(script|style|pre|code|textarea)\b.*?</\1\s*>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def has_math(page_html: str) -> bool:
    """Whether MathJax, as docs/javascripts/mathjax.js runs it, has anything to typeset."""
    if _ARITHMATEX.search(page_html):
        return True
    start = page_html.find("jupyter-wrapper")
    if start < 0:
        return False
    text = html.unescape(_TAG.sub(" ", _NOT_PROSE.sub(" ", page_html[start:])))
    return _DELIMITED.search(text) is not None


def without_mathjax(page_html: str, page: str = "<page>") -> str:
    """The page without MathJax's two scripts, marked ``data-mathjax-done="none"``."""
    stripped, count = _MATHJAX_SCRIPT.subn("", page_html)
    if count != 2:
        raise PluginError(f"{page}: expected MathJax's config and tex-chtml.js <script> tags "
                          f"to remove, found {count}: has extra_javascript changed?")
    marked, count = re.subn(r"<html\b", '<html data-mathjax-done="none"', stripped, count=1)
    if count != 1:
        raise PluginError(f"{page}: no <html> tag to mark")
    return marked


# ---------------------------------------------------------------------------
# After the build
# ---------------------------------------------------------------------------
def prune(site: Path) -> list[str]:
    """Remove from the built site what no page uses; return what was removed."""
    removed = []
    for source_map in sorted(site.glob("assets/**/*.map")):
        bundle = source_map.with_suffix("")          # bundle.x.min.js.map -> bundle.x.min.js
        if bundle.is_file():
            text = bundle.read_text(encoding="utf-8")
            text = re.sub(r"\n?(?://# sourceMappingURL=|/\*# sourceMappingURL=)"
                          + re.escape(source_map.name) + r"(?: \*/)?[ \t]*\n?$", "\n", text)
            bundle.write_text(text, encoding="utf-8")
        source_map.unlink()
        removed.append(source_map.relative_to(site).as_posix())
    lunr = site / "assets" / "javascripts" / "lunr"
    index = site / "search" / "search_index.json"
    if lunr.is_dir() and index.is_file():
        languages = json.loads(index.read_text(encoding="utf-8"))["config"]["lang"]
        keep = lunr_files(languages)
        for path in sorted(p for p in lunr.rglob("*") if p.is_file()):
            if path.relative_to(lunr).as_posix() not in keep:
                removed.append(path.relative_to(site).as_posix())
                path.unlink()
        if not keep:
            _rmtree(lunr)
    return removed


def lunr_files(languages: list[str]) -> set[str]:
    """The files of ``assets/javascripts/lunr/`` Material's search worker imports.

    As its worker does (``setupSearchLanguages``): nothing for English alone;
    otherwise the stemmer support, one pack per language other than English,
    the multi-language pack for more than one language, and the segmenters of
    Japanese (``tinyseg.js``) and Hindi/Thai (``wordcut.js``). Chinese needs
    only ``lunr.zh`` and the rest: its text is cut into words at build time (jieba).
    """
    if languages == ["en"]:
        return set()
    files = {"min/lunr.stemmer.support.min.js"}
    files |= {f"min/lunr.{lang}.min.js" for lang in languages if lang != "en"}
    if len(languages) > 1:
        files.add("min/lunr.multi.min.js")
    if "ja" in languages:
        files.add("tinyseg.js")
    if {"hi", "th"} & set(languages):
        files.add("wordcut.js")
    return files


def _rmtree(directory: Path) -> None:
    for path in sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    directory.rmdir()


# Runs first in <head>: served, the page may stand for a missing page at any
# depth, so its (now relative) URLs resolve from the site root, as MkDocs'
# absolute ones did; from file:// it is site/404.html itself, and relative
# URLs are right as they are. The price: served for a missing page below the
# root (e.g. /layers/x.html), Chromium's preload scanner, which reads ahead of
# this script, also requests the stylesheets and scripts relative to that
# page; those speculative requests get 404s (visible in the developer
# console), then the real ones load from the root and the page is styled.
_BASE_SCRIPT = ('<script>if(location.protocol!=="file:"){var b=document.createElement("base");'
                'b.href="/";document.head.appendChild(b)}</script>')
# Runs before Material's bundle reads its configuration: the base and the
# search worker, relative from file://.
_CONFIG_SCRIPT = ('<script>if(location.protocol==="file:"){var c=document.getElementById("__config"),'
                  'j=JSON.parse(c.textContent);j.base=".";j.search=j.search.replace(/^\\//,"");'
                  'c.textContent=JSON.stringify(j)}</script>\n')


def relocatable_404(page_html: str) -> str:
    """404.html with site-root-relative URLs that also work opened from disk."""
    out = re.sub(r'\b(href|src)="/(?!/)', r'\1="', page_html)
    out, heads = re.subn(r"<head>", "<head>\n    " + _BASE_SCRIPT, out, count=1)
    bundle = re.search(r'[ \t]*<script src="assets/javascripts/bundle\.[^"]*"></script>', out)
    if heads != 1 or bundle is None:
        raise PluginError("404.html: no <head> or no Material bundle <script> found")
    return out[:bundle.start()] + _CONFIG_SCRIPT + out[bundle.start():]


# ---------------------------------------------------------------------------
# MkDocs events
# ---------------------------------------------------------------------------
def on_post_page(output: str, *, page, config) -> str:
    if has_math(output):
        return output
    return without_mathjax(output, page.file.src_uri)


def on_post_build(*, config) -> None:
    site = Path(config.site_dir)
    prune(site)
    not_found = site / "404.html"
    if not_found.is_file():          # rendered from a template: no on_post_page for it
        text = not_found.read_text(encoding="utf-8")
        if _BASE_SCRIPT in text:     # done: the Chinese build writes no 404 (docs/hooks/i18n.py)
            return
        if not has_math(text):
            text = without_mathjax(text, "404.html")
        not_found.write_text(relocatable_404(text), encoding="utf-8")
