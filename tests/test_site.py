"""The documentation site: a strict offline build, and the formula placeholders.

* ``built_site`` builds the real site once per session with
  ``mkdocs build --strict`` (notebooks executed, their cache off) into a
  temporary directory; the build test asserts it succeeds and later tests
  inspect the HTML it produced.
* Nothing in the built pages may make the browser fetch anything from outside
  the site: no CDN, no web fonts, no GitHub API.
* The vendored MathJax / iframe-worker files are present and unmodified.
* ``render_placeholders`` (docs/hooks/exports.py) is tested directly against a
  throw-away export written to a temporary directory.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sympy as sp
from mkdocs.exceptions import PluginError

from conftest import ROOT, mkdocs_build as _mkdocs_build
from derivations import export
from derivations.proof import Proof

HOOK = ROOT / "docs" / "hooks" / "exports.py"

_spec = importlib.util.spec_from_file_location("docs_exports_hook", HOOK)
hook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hook)


def test_mkdocs_build_strict_succeeds(site_build):
    """`mkdocs build --strict` of the real site, notebooks executed: no warning, no error."""
    result, seconds, site_dir = site_build
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert (site_dir / "index.html").is_file()
    print(f"site built in {seconds:.1f} s")


def _html_pages(site: Path) -> list[Path]:
    pages = sorted(site.rglob("*.html"))
    assert pages, f"no HTML in {site}"
    return pages


class _Resources(HTMLParser):
    """URLs an HTML page makes the browser load, and the inline script/style text."""

    LOADING = {"script": ("src",), "link": ("href",), "img": ("src", "srcset"),
               "iframe": ("src",), "source": ("src", "srcset"), "video": ("src", "poster"),
               "audio": ("src",), "embed": ("src",), "object": ("data",), "track": ("src",),
               "input": ("src",)}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []  # contents of <script>/<style>, style="" attributes
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in self.LOADING.get(tag, ()):
            value = attrs.get(name)
            if value is None:
                continue
            if name == "srcset":  # "a.png 1x, b.png 2x"
                self.urls.extend(part.strip().split(" ")[0] for part in value.split(","))
            else:
                self.urls.append(value)
        if attrs.get("style"):
            self.inline.append(attrs["style"])
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.inline.append(data)


_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.I)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""", re.I)
_ANY_URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s'"<>)]*""", re.I)
_FORBIDDEN_HOSTS = re.compile(r"cdn|googleapis|gstatic|jsdelivr|unpkg|github", re.I)
# XML namespaces and DTDs are identifiers, never fetched.
_IDENTIFIERS = re.compile(r"^(?:https?:)?//www\.w3\.org/")


def _external(url: str) -> bool:
    return bool(_EXTERNAL.match(url)) and not url.strip().lower().startswith(("data:", "blob:"))


def test_built_pages_load_nothing_from_outside_the_site(built_site):
    """No src/href of a loading tag, CSS url()/@import, or URL in inline code points outside.

    Plain <a href> links to other sites are navigation, not requests, and are allowed.
    """
    problems = []
    for page in _html_pages(built_site):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        rel = page.relative_to(built_site)
        # data: URIs (inlined plot images) hold base64, where "cdn" can occur by chance.
        problems += [f"{rel}: loads {url[:120]}" for url in parser.urls
                     if not url.strip().lower().startswith("data:")
                     and (_external(url) or _FORBIDDEN_HOSTS.search(url))]
        for text in parser.inline:
            problems += [f"{rel}: inline CSS imports {u or i}"
                         for u, i in _CSS_URL.findall(text) if _external(u or i)]
            problems += [f"{rel}: inline script/style mentions {url}"
                         for url in _ANY_URL.findall(text) if not _IDENTIFIERS.match(url)]
    for css in sorted(built_site.rglob("*.css")):
        text = css.read_text(encoding="utf-8")
        problems += [f"{css.relative_to(built_site)}: url {u or i}"
                     for u, i in _CSS_URL.findall(text) if _external(u or i)]
    # Our own scripts (the theme's and MathJax's bundles hold URLs they only
    # use on demand, e.g. polyfills for old browsers; the browser test records
    # what is actually requested).
    for js in sorted((built_site / "javascripts").rglob("*.js")):
        problems += [f"{js.relative_to(built_site)}: mentions {url}"
                     for url in _ANY_URL.findall(js.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def test_every_local_resource_a_page_loads_exists(built_site):
    missing = []
    for page in _html_pages(built_site):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        for url in parser.urls:
            if url.strip().lower().startswith(("data:", "blob:")):
                continue  # inline content, nothing to fetch
            path = url.split("#")[0].split("?")[0]
            # 404.html uses root-relative URLs: it is served for any missing path.
            base = built_site if path.startswith("/") else page.parent
            if path and not _external(url) and not (base / path.lstrip("/")).resolve().is_file():
                missing.append(f"{page.relative_to(built_site)}: {url}")
    assert not missing, "\n".join(missing)


def test_no_theme_widget_calls_an_api(built_site):
    """Material's repository widget (from repo_url) fetches stars and forks from the GitHub API."""
    for page in _html_pages(built_site):
        assert 'data-md-component="source"' not in page.read_text(encoding="utf-8"), page


def test_every_page_loads_the_local_mathjax_after_its_config(built_site):
    for page in _html_pages(built_site):
        if page.name == "404.html":
            continue
        parser = _Resources()
        html = page.read_text(encoding="utf-8")
        parser.feed(html)
        scripts = [u for u in parser.urls if u.endswith(".js")]
        names = [u.rsplit("/", 1)[-1] for u in scripts]
        assert any("iframe-worker" in u for u in scripts), f"{page}: no local iframe-worker shim"
        if 'data-mathjax-done="none"' in html:   # no math: docs/hooks/light_pages.py
            assert "mathjax.js" not in names and "tex-chtml.js" not in names, (page, scripts)
            continue
        assert "mathjax.js" in names and "tex-chtml.js" in names, (page, scripts)
        assert names.index("mathjax.js") < names.index("tex-chtml.js"), (page, scripts)
        target = (page.parent / scripts[names.index("tex-chtml.js")]).resolve()
        assert target.is_file(), f"{page} loads {target}, which is not in the site"


def test_no_placeholder_is_left_unrendered(built_site):
    code = re.compile(r"<(pre|code)\b.*?</\1>", re.S)
    for page in _html_pages(built_site):
        html = code.sub("", page.read_text(encoding="utf-8"))
        assert not re.search(r"\{\{\s*\w+\(", html), f"{page} still holds a {{{{ placeholder }}}}"


def test_markdown_math_is_marked_for_mathjax(built_site):
    """The conventions page has inline math: arithmatex wraps it for MathJax."""
    html = (built_site / "conventions.html").read_text(encoding="utf-8")
    assert re.search(r'<span class="arithmatex">\\\(.*?\\partial L.*?\\\)</span>', html)


def test_notebook_pages_are_executed_without_errors(built_site):
    """Executed notebooks show their outputs, and no traceback.

    (With mkdocs-jupyter's default allow_errors: true a raising cell would be
    published as a traceback and the strict build would still pass.)
    """
    pages = sorted((built_site / "notebooks").glob("*.html"))
    assert pages, "no notebook pages were built"
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert re.search(r'<div class="[^"]*\bjp-OutputArea-output\b', html), \
            f"{page.name} has no outputs: was it executed?"
        assert "Traceback (most recent call last)" not in html, f"{page.name} shows a traceback"
        assert (page.parent / page.with_suffix(".py").name).is_file(), \
            f"{page.name}: the notebook source is not offered for download"


def test_vendored_assets_are_present_and_unmodified(built_site):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "vendor_assets.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    mathjax = built_site / "assets" / "vendor" / "mathjax"
    assert (mathjax / "tex-chtml.js").is_file()
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (mathjax / "LICENSE").is_file()


# ---------------------------------------------------------------------------
# Strictness: a broken link or placeholder fails the build
# ---------------------------------------------------------------------------
def _small_site(tmp_path: Path, page: str) -> Path:
    """A one-page site that inherits the real mkdocs.yml (validation, extensions, hook)."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\n## Section\n", encoding="utf-8")
    (tmp_path / "docs" / "page.md").write_text(page, encoding="utf-8")
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent(f"""\
        INHERIT: {ROOT / 'mkdocs.yml'}
        docs_dir: docs
        hooks: [{HOOK}]
        plugins: [search]
        nav: [index.md, page.md]
        """), encoding="utf-8")
    return config


@pytest.mark.parametrize("page, message", [
    ("# Page\n\n[fine](index.md#section)\n", None),
    ("# Page\n\n[gone](missing.md)\n", "missing.md"),
    ("# Page\n\n[gone](index.md#no-such-heading)\n", "no-such-heading"),
    ('# Page\n\n{{ formula("toy_net", "valid_3x3_k2", "no such formula") }}\n', "no such formula"),
    ('# Page\n\n{{ macro("toy_net") }}\n', "unknown placeholder 'macro'"),
], ids=["control", "missing-page", "missing-anchor", "unknown-formula", "unknown-placeholder"])
def test_strict_build_fails_on_broken_links_and_placeholders(tmp_path, page, message):
    result, _ = _mkdocs_build(_small_site(tmp_path, page), tmp_path / "site")
    output = result.stdout + result.stderr
    if message is None:  # the control: the same small site builds when nothing is broken
        assert result.returncode == 0, output
    else:
        assert result.returncode != 0, f"built despite {message!r}:\n{output}"
        assert message in output and "page.md" in output, output


# ---------------------------------------------------------------------------
# The placeholder renderer, on a throw-away export
# ---------------------------------------------------------------------------
@pytest.fixture
def demo(tmp_path):
    """A loader for subject 'demo', written with the real export writer, and a repo root."""
    x, y = sp.symbols("x y", real=True)
    formulas = {name: export.formula(expr, lhs) for name, expr, lhs in [
        ("dL/dk[0,0]", x**2 + y, r"\frac{\partial L}{\partial k_{0,0}}"),
        ("dL/dk[0,1]", sp.tanh(x), r"\frac{\partial L}{\partial k_{0,1}}"),
        ("dL/dk[10,0]", x * y, r"\frac{\partial L}{\partial k_{10,0}}"),
        ("dL/dk[2,0]", sp.exp(y), r"\frac{\partial L}{\partial k_{2,0}}"),
        ("chain:dL/dk[0,0]", x, r"\frac{\partial L}{\partial k_{0,0}}"),
    ]}
    facts = {
        "true_one": export.fact("Convolution it is.", proof=Proof.of(a_is_b=True), sizes=None,
                                check="sympy.expand(a - b) == 0", latex=r"a = b", data={"n": 3}),
        "false_one": export.fact("The transpose is right.", proof=Proof.of(transpose=False),
                                 sizes=None, expected=False, check="a `tricky` check"),
    }
    export.write("demo", {"title": "Demo", "source": "none", "facts": facts, "cases": {
        "c": {"parameters": {"n": 3}, "variables": {"x": "x"}, "formulas": formulas}}},
        directory=tmp_path / "exported")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(textwrap.dedent('''\
        """Module."""
        import functools


        @functools.lru_cache
        def decorated(a):
            """Doc with ``` fence."""
            return a + 1


        class Thing:
            def method(self):
                return 2
        '''), encoding="utf-8")

    def render(markdown):
        return hook.render_placeholders(markdown, page="demo.md", root=tmp_path,
                                        loader=lambda s: export.read(s, tmp_path / "exported"))
    return render


def test_formula_renders_its_exported_latex_as_display_math(demo):
    out = demo('Before.\n{{ formula("demo", "c", "dL/dk[0,0]") }}\nAfter.\n')
    expected = r"\frac{\partial L}{\partial k_{0,0}} = " + sp.latex(sp.Symbol("x", real=True)**2
                                                                     + sp.Symbol("y", real=True))
    assert f"\n\n$$\n{expected}\n$$\n\n" in out
    assert out.startswith("Before.\n") and out.endswith("After.\n")


def test_formula_inline(demo):
    assert demo('a {{ formula("demo", "c", "dL/dk[0,1]", inline=True) }} b') == \
        r"a $\frac{\partial L}{\partial k_{0,1}} = \tanh{\left(x \right)}$ b"


def test_formulas_takes_the_prefix_in_natural_order(demo):
    out = demo('{{ formulas("demo", "c", "dL/dk") }}')
    order = [m for m in re.findall(r"k_\{(\d+,\d+)\}", out)]
    assert order == ["0,0", "0,1", "2,0", "10,0"]  # not chain:..., and 2 before 10
    assert out.count("$$") == 8


def test_fact_admonitions(demo):
    proven = demo('{{ fact("demo", "true_one") }}')
    assert '!!! success "Proven"' in proven
    assert "    Convolution it is." in proven and "    $$\n    a = b\n    $$" in proven
    assert "`sympy.expand(a - b) == 0`" in proven and '??? note "Data"' in proven
    refuted = demo('{{ fact("demo", "false_one") }}')
    assert '!!! failure "Refuted"' in refuted and "``a `tricky` check``" in refuted


def test_source_of_a_function_with_its_decorator_and_line_numbers(demo):
    out = demo('{{ source("pkg/mod.py", "decorated") }}')
    assert '````python title="pkg/mod.py, lines 5-8" linenums="5"' in out  # longer than ```
    assert "@functools.lru_cache\ndef decorated(a):" in out and "return a + 1\n````" in out
    assert "class Thing" not in out
    assert "return 2" in demo('{{ source("pkg/mod.py", "Thing.method") }}')
    assert '"""Module."""' in demo('{{ source("pkg/mod.py") }}')


def test_block_placeholder_keeps_the_indentation_of_its_line(demo):
    out = demo('!!! note\n    {{ formula("demo", "c", "dL/dk[2,0]") }}\n')
    assert "\n    $$\n    \\frac" in out and "\n    $$\n" in out


@pytest.mark.parametrize("markdown, message", [
    ('{{ formula("nope", "c", "dL/dk[0,0]") }}', "'nope'"),
    ('{{ formula("demo", "nope", "dL/dk[0,0]") }}', "'nope'"),
    ('{{ formula("demo", "c", "dL/dk[9,9]") }}', "'dL/dk[9,9]'"),
    ('{{ formulas("demo", "c", "dL/dw") }}', "'dL/dw'"),
    ('{{ fact("demo", "nope") }}', "'nope'"),
    ('{{ source("pkg/nope.py") }}', "'pkg/nope.py'"),
    ('{{ source("../outside.py") }}', "'../outside.py'"),
    ('{{ source("pkg/mod.py", "nope") }}', "'nope'"),
    ('{{ source("pkg/mod.py", "Thing.nope") }}', "'Thing.nope'"),
    ('{{ unknown("demo") }}', "unknown placeholder 'unknown'"),
    ('{{ formula("demo", "c") }}', "bad arguments"),
    ('{{ formula("demo", "c", 1) }}', "must be strings"),
    ('{{ formula(__import__("os").getcwd()) }}', "literals"),
    ('{{ formula("demo", "c", "dL/dk[0,0]" }}', "not closed"),
    ('Inline {{ formula("demo", "c", "dL/dk[0,0]") }} text', "line of its own"),
])
def test_unknown_names_and_bad_placeholders_fail_naming_the_page(demo, markdown, message):
    with pytest.raises(PluginError) as info:
        demo(markdown)
    assert message in str(info.value) and "demo.md" in str(info.value)


def test_placeholders_in_code_are_left_alone(demo):
    markdown = textwrap.dedent('''\
        Use `{{ formula("demo", "c", "dL/dk[0,0]") }}` or ``{{ nope() }}``.

        ```markdown
        {{ formula("nope", "nope", "nope") }}
        ```

        ~~~
        {{ unknown() }}
        ~~~

        !!! note
            ````text
            ```
            {{ unknown() }}
            ````
        ''')
    assert demo(markdown) == markdown


def test_closing_braces_inside_a_string_argument(demo, tmp_path):
    with pytest.raises(PluginError, match=r"'\)\}\}'"):
        demo('{{ formula("demo", "c", ")}}") }}')


def test_notebook_cdn_scripts_are_stripped():
    html = ('<p>x</p><!-- Load mathjax -->\n<script src=""> </script>\n'
            '<script type="text/x-mathjax-config">MathJax.Hub.Config({})</script>\n'
            '<!-- End of mathjax configuration --><script type="module">\n'
            'const mermaid = await import("https://cdnjs.cloudflare.com/mermaid.mjs");\n'
            '</script><script>keep()</script>')
    assert hook.strip_notebook_cdn_scripts(html) == "<p>x</p><script>keep()</script>"
    with pytest.raises(PluginError, match="Mermaid"):
        hook.strip_notebook_cdn_scripts('<div class="jp-Mermaid"><pre class="mermaid">')


# ---------------------------------------------------------------------------
# {{ test_counts() }}, and what the Verification and Seeds pages cite
# ---------------------------------------------------------------------------
def _tests_root(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "tests").mkdir()
    for name, text in files.items():
        (tmp_path / "tests" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def test_test_counts_table_counts_functions_parametrizations_and_skipped_files(tmp_path):
    root = _tests_root(tmp_path, {
        "test_a.py": '''\
            import pytest

            def test_one():
                pass

            @pytest.mark.parametrize("n", [1, 2, 3])
            def test_three(n):
                pass

            class TestGroup:
                def test_method(self):
                    pass
            ''',
        "test_b.py": "def test_only():\n    pass\n",
        "test_skipped.py": '''\
            import pytest
            pytest.importorskip("no_such_package_anywhere")

            def test_never():
                pass
            ''',
        "helper.py": "def test_not_collected():\n    pass\n",
    })
    out = hook.render_placeholders("{{ test_counts() }}\n", page="v.md", root=root)
    rows = re.findall(r"^\| `(tests/\S+)` \| (.+?) \| (\d+) \|$", out, re.M)
    assert rows == [("tests/test_a.py", "3", "5"), ("tests/test_b.py", "1", "1"),
                    ("tests/test_skipped.py", "skipped at collection", "0")], out
    assert "| **Total** | **4** | **6** |" in out
    inline = hook.render_placeholders('A has {{ test_counts("tests/test_a.py") }} tests.',
                                      page="v.md", root=root)
    assert inline == "A has 5 tests."
    for markdown, message in [('{{ test_counts("tests/test_nope.py") }}', "no test file"),
                              ('{{ test_counts("tests/test_skipped.py") }}', "collected no tests")]:
        with pytest.raises(PluginError, match=message):
            hook.render_placeholders(markdown, page="v.md", root=root)


def test_test_counts_warns_when_collection_fails_and_the_strict_build_fails(tmp_path, caplog):
    """Counts that leave out a file that does not import would be wrong: the page
    says the tests could not be counted, and the warning fails a --strict build."""
    root = _tests_root(tmp_path, {"test_broken.py": "import no_such_module_anywhere\n"})
    with caplog.at_level("WARNING", logger="mkdocs"):
        out = hook.render_placeholders("{{ test_counts() }}\n", page="v.md", root=root)
        inline = hook.render_placeholders('{{ test_counts("tests/test_broken.py") }}',
                                          page="v.md", root=root)
    assert '!!! failure "The tests could not be counted' in out
    assert "no_such_module_anywhere" in out and "| **Total**" not in out
    assert inline == "(not counted)"
    warnings = [r for r in caplog.records if r.name.startswith("mkdocs.")
                and r.levelname == "WARNING"]
    assert len(warnings) == 2 and "v.md" in warnings[0].getMessage()
    assert "exit code 2" in warnings[0].getMessage()

    result, _ = _mkdocs_build(_small_site(tmp_path, "# Page\n\n{{ test_counts() }}\n"),
                              tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "tests could not be counted" in output, output


def _cited_pages() -> list[Path]:
    return [p for p in sorted((ROOT / "docs").rglob("*.md")) if "hooks" not in p.parts]


def _top_level_constants(path: Path) -> dict[str, object]:
    values = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return values


def test_tolerances_stated_on_pages_are_the_test_constants():
    """A page writes a tolerance as "1e-12 (`RTOL` in `tests/test_toy_net.py`)";
    the number must be that constant's current value."""
    cited = re.compile(r"(\d+(?:\.\d+)?(?:e-?\d+)?)\s+\(`(\w+)` in `(tests/[\w/]+\.py)`\)")
    checked, wrong = 0, []
    for page in _cited_pages():
        text = page.read_text(encoding="utf-8")
        for number, name, file in cited.findall(re.sub(r"\s+", " ", text)):
            constants = _top_level_constants(ROOT / file)
            checked += 1
            if name not in constants or float(number) != constants[name]:
                wrong.append(f"{page.relative_to(ROOT)}: says {number} for {name} in {file}, "
                             f"which is {constants.get(name, 'not defined there')}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 5, f"only {checked} cited tolerances found: has the page format changed?"


def test_tests_cited_on_pages_exist():
    """Every `tests/<file>.py::<name>` a page cites is a test function (or class) there."""
    cited = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
    found, missing = 0, []
    for page in _cited_pages():
        for file, name in cited.findall(page.read_text(encoding="utf-8")):
            found += 1
            path = ROOT / file
            names = set() if not path.is_file() else {
                n.name for n in ast.parse(path.read_text(encoding="utf-8")).body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            if name not in names:
                missing.append(f"{page.relative_to(ROOT)}: {file}::{name}")
    assert not missing, "cited tests that do not exist:\n" + "\n".join(missing)
    assert found >= 10, f"only {found} cited tests found"
