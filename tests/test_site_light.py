"""What the built site ships, beyond the pages: downloads, and nothing unused.

* every notebook page links to its notebook as ``.ipynb`` and ``.py``, and
  both files are in the build (docs/hooks/notebooks.py);
* MathJax is left out of the pages without math, and kept on the others
  (docs/hooks/light_pages.py, ``has_math``);
* no source maps, no lunr language pack but English's and Chinese's; the search index in its two
  forms (JSON for a served site, JS for ``file://``) and nothing more;
* 404.html uses no root-absolute URL (it must work from ``file://``);
* building prints none of the notices a newcomer reads as alarming.

The browser tests (tests/test_browser.py) check the same from the reader's
side: page weight, requests made, search, the 404 page's style from disk.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

DOCS = ROOT / "docs"
NOTEBOOKS = sorted((DOCS / "notebooks").glob("*.py"))


def _hook(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_{name}_hook",
                                                  DOCS / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


light = _hook("light_pages")


# --------------------------------------------------------------------------- downloads

@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_page_links_to_its_ipynb_and_py(built_site, source):
    page = built_site / "notebooks" / source.with_suffix(".html").name
    html = page.read_text(encoding="utf-8")
    line = re.search(r'<p class="notebook-downloads">(.*?)</p>', html, re.S)
    assert line, f"{page.name}: no 'Download this notebook' line"
    assert "Download this notebook" in line[1]
    links = re.findall(r'<a href="([^"]+)" download>', line[1])
    assert links == [f"{source.stem}.ipynb", f"{source.stem}.py"], links

    assert (page.parent / f"{source.stem}.py").read_bytes() == source.read_bytes()
    notebook = nbformat.read(page.parent / f"{source.stem}.ipynb", as_version=4)
    nbformat.validate(notebook)
    import jupytext
    expected = jupytext.read(source)
    assert [c.cell_type for c in notebook.cells] == [c.cell_type for c in expected.cells]
    assert [c.source for c in notebook.cells] == [c.source for c in expected.cells]
    assert sum(c.cell_type == "code" for c in notebook.cells) > 0
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_downloads_line_goes_under_the_title():
    notebooks = _hook("notebooks")
    out = notebooks.insert_downloads("<div><h1 id='t'>Title</h1><p>text</p></div>", "nb")
    assert out.startswith("<div><h1 id='t'>Title</h1><p class=\"notebook-downloads\">")
    assert 'href="nb.ipynb"' in out and 'href="nb.py"' in out
    assert notebooks.insert_downloads("<p>no title</p>", "nb").startswith("<p class=")


# --------------------------------------------------------------------------- MathJax

@pytest.mark.parametrize("html, math", [
    ('<span class="arithmatex">\\(x\\)</span>', True),
    ('<div class="arithmatex">\\[x\\]</div>', True),
    ('<div class="jupyter-wrapper"><div class="jp-OutputArea-output">'
     '<p>$\\displaystyle \\frac{1}{2}$</p></div></div>', True),
    ('<div class="jupyter-wrapper"><p>Let $N$ be the batch.</p></div>', True),
    ('<div class="jupyter-wrapper"><p>$$x$$</p></div>', True),
    ('<div class="jupyter-wrapper"><pre>cost = $5 and $6</pre><code>$x$</code></div>', False),
    ('<div class="jupyter-wrapper"><p>It costs $ 5.</p></div>', False),
    ("<p>A page of prose, $x$ outside any math container.</p>", False),
    ("<p>No math at all.</p>", False),
])
def test_has_math(html, math):
    assert light.has_math(html) is math


def test_pages_without_math_have_no_mathjax_and_derivation_pages_keep_it(built_site):
    marked = {p.relative_to(built_site).as_posix() for p in built_site.rglob("*.html")
              if 'data-mathjax-done="none"' in p.read_text(encoding="utf-8")}
    # 404.html never has math; which other pages have none depends on their text
    # (the home page's weight is tested in the browser).
    assert "404.html" in marked
    for page in ["conventions.html", "toy_net.html", "layers/conv2d.html",
                 "notebooks/mnist.html"]:
        html = (built_site / page).read_text(encoding="utf-8")
        assert page not in marked and "tex-chtml.js" in html, page
    for page in marked:
        html = (built_site / page).read_text(encoding="utf-8")
        assert "tex-chtml.js" not in html and "javascripts/mathjax.js" not in html, page
        assert not light.has_math(html), page


# --------------------------------------------------------------------------- pruned

def test_no_source_maps_shipped(built_site):
    maps = sorted(p.relative_to(built_site).as_posix() for p in built_site.rglob("*.map"))
    assert not maps, f"source maps no page uses: {maps}"
    pointing = [p.relative_to(built_site).as_posix()
                for p in [*built_site.glob("assets/**/*.js"), *built_site.glob("assets/**/*.css")]
                if "sourceMappingURL=" in p.read_text(encoding="utf-8", errors="replace")[-300:]]
    assert not pointing, f"files still pointing at a removed source map: {pointing}"


def test_no_unused_search_language_packs(built_site):
    """English and Chinese search (tests/test_i18n.py): the three lunr files the worker
    imports for them, each named in Material's search worker, and nothing else."""
    index = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert index["config"]["lang"] == ["en", "zh"]
    lunr = built_site / "assets" / "javascripts" / "lunr"
    shipped = sorted(p.relative_to(lunr).as_posix() for p in lunr.rglob("*") if p.is_file())
    assert shipped == ["min/lunr.multi.min.js", "min/lunr.stemmer.support.min.js",
                       "min/lunr.zh.min.js"], shipped
    worker = "".join(p.read_text(encoding="utf-8")
                     for p in built_site.glob("assets/javascripts/workers/search.*.js"))
    for name in ("lunr.multi.min.js", "lunr.stemmer.support.min.js", "lunr.${"):
        assert name in worker, f"Material's search worker no longer imports {name}"


@pytest.mark.parametrize("languages, files", [
    (["en"], set()),
    (["en", "zh"], {"min/lunr.stemmer.support.min.js", "min/lunr.zh.min.js",
                    "min/lunr.multi.min.js"}),
    (["ja"], {"min/lunr.stemmer.support.min.js", "min/lunr.ja.min.js", "tinyseg.js"}),
])
def test_lunr_files_are_what_the_worker_imports(languages, files):
    assert light.lunr_files(languages) == files


def test_search_index_shipped_once_per_way_of_reading(built_site):
    """search_index.json (a served site) and search_index.js (file://) are one index."""
    files = sorted(p.name for p in (built_site / "search").iterdir())
    assert files == ["search_index.js", "search_index.json"], files
    as_json = (built_site / "search" / "search_index.json").read_text(encoding="utf-8")
    as_js = (built_site / "search" / "search_index.js").read_text(encoding="utf-8")
    assert as_js == f"var __index = {as_json}"


def test_404_page_uses_no_root_absolute_url(built_site):
    html = (built_site / "404.html").read_text(encoding="utf-8")
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.S)   # the inline scripts' code
    absolute = re.findall(r'<[^>]*\b(?:href|src)="/(?!/)[^"]*"', markup)
    assert not absolute, f"404.html: root-absolute URLs (broken from file://): {absolute[:5]}"
    assert '"base": "/"' in html   # a server's 404 for any path: Material's base is the root


def test_relocatable_404_rewrites_urls_and_adds_the_scripts():
    html = ('<html><head><link href="/assets/a.css"><script src="/x.js"></script></head><body>'
            '<a href="/index.html">home</a><a href="//example.org/">x</a>'
            '<script id="__config" type="application/json">{"base": "/"}</script>\n'
            '  <script src="/assets/javascripts/bundle.1.min.js"></script></body></html>')
    out = light.relocatable_404(html)
    assert 'href="assets/a.css"' in out and 'src="x.js"' in out and 'href="index.html"' in out
    assert 'href="//example.org/"' in out
    assert out.index("<head>\n    <script>") < out.index("assets/a.css")
    assert out.index('j.base="."') < out.index("bundle.1.min.js")


# --------------------------------------------------------------------------- quiet build

def test_build_prints_no_alarming_notice(site_build):
    """No "[IPKernelApp] WARNING ... without encryption" per notebook (kernels run
    over IPC: docs/hooks/notebooks.py), no "requires either Black or Ruff"."""
    result, _, _ = site_build
    output = result.stdout + result.stderr
    assert "Kernel is running over TCP" not in output, output[-2000:]
    assert "Black or Ruff" not in output, output[-2000:]
    assert not re.search(r"^\S*\s*WARNING", output, re.M), output[-2000:]
