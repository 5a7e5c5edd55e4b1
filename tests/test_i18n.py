"""The Chinese edition (中文版): docs/**/X.zh.md next to each X.md, built at zh/.

mkdocs-static-i18n builds both languages in the one strict build of
``built_site`` (conftest.py); docs/hooks/i18n.py adds what the plugin does not
(the note on English-only pages, the notebooks as pages, the glossary in the
nav). What is checked:

* the build: every English page exists under ``zh/`` too, in Chinese or with
  the note; the language selector links each page to its counterpart; the
  Chinese nav is translated; every anchor of an English page exists on its
  Chinese page (links from other pages and the language switch land there);
* coverage: each English page has its ``.zh.md`` or is in :data:`ENGLISH_ONLY`
  with the reason, so a new page without a translation fails here;
* the glossary (docs/glossary.zh.md) used consistently: where an English page
  uses a term, its Chinese page uses the glossary's Chinese form;
* seed 002, the Chinese translation of seed 000, is cited on the Chinese seeds page;
* in Chromium (tests/test_browser.py's fixtures and checks): every Chinese page
  loads with no error and no request off the site, math typeset, images and
  figures present; a Chinese search for 卷积 finds the convolution page and
  池化 the pooling pages.
"""

from __future__ import annotations

import html
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import pytest
import yaml

import test_browser as browser_checks
from conftest import ROOT
# The browser test module's fixtures: one Chromium, one server, cached visits.
from test_browser import browser, server, visit  # noqa: F401

DOCS = ROOT / "docs"
ENGLISH_PAGES = browser_checks.PAGES            # site-relative, from the English sources
CHINESE = "zh"
GLOSSARY_SOURCE = DOCS / "glossary.zh.md"
ZH_PAGES = sorted([f"{CHINESE}/{p}" for p in ENGLISH_PAGES] + [f"{CHINESE}/glossary.html"])

#: English pages that stay English in the Chinese site (shown there with a note), and why.
ENGLISH_ONLY = {
    **{f"api/{p.name}": "API reference: generated from the docstrings, which are English"
       for p in sorted((DOCS / "api").glob("*.md"))},
    "performance.md": "reference: performance internals (issue 16 lets them stay English)",
    "reliability.md": "reference: reliability (issue 16 lets it stay English)",
    "verification.md": "reference: what the tests check, counted at build time",
    "notebooks/performance.py": "reference: the benchmark's records, beside performance.md",
}

_hook_spec = importlib.util.spec_from_file_location("docs_i18n_hook", DOCS / "hooks" / "i18n.py")
hook = importlib.util.module_from_spec(_hook_spec)
_hook_spec.loader.exec_module(hook)


def _source(page: str) -> Path:
    """docs/ source of an English site page: layers/conv2d.html -> docs/layers/conv2d.md."""
    md = DOCS / Path(page).with_suffix(".md")
    return md if md.is_file() else DOCS / Path(page).with_suffix(".py")


def _translation(source: Path) -> Path:
    return source.with_name(f"{source.stem}.{CHINESE}{source.suffix}")


def _is_notebook(source: Path) -> bool:
    return source.suffix == ".py"


def _is_translated(source: Path) -> bool:
    """A page with its X.zh.md, or a notebook with Markdown cells tagged zh (one
    notebook, its prose selected by language: docs/hooks/i18n.py)."""
    if _is_notebook(source):
        return CHINESE in hook.notebook_languages(source)
    return _translation(source).is_file()


def _texts(page: str) -> tuple[str, str]:
    """(English, Chinese) source text of a translated page: the two .md files, or a
    notebook's Markdown cells of each language."""
    source = _source(page)
    if not _is_notebook(source):
        return (source.read_text(encoding="utf-8"),
                _translation(source).read_text(encoding="utf-8"))
    cells = jupytext.read(source).cells
    return tuple("\n\n".join(c.source for c in cells if c.cell_type == "markdown"
                               and c.metadata.get("tags") == [lang]) for lang in ("en", CHINESE))


TRANSLATED = [p for p in ENGLISH_PAGES if _is_translated(_source(p))]
TRANSLATED_MD = [p for p in TRANSLATED if not _is_notebook(_source(p))]
TRANSLATED_NOTEBOOKS = [p for p in TRANSLATED if _is_notebook(_source(p))]


# --------------------------------------------------------------------------- coverage

def test_every_english_page_is_translated_or_marked_english_only():
    sources = [_source(p).relative_to(DOCS).as_posix() for p in ENGLISH_PAGES]
    missing = [s for s in sources if s not in ENGLISH_ONLY and not _is_translated(DOCS / s)]
    assert not missing, (
        "English pages with no Chinese counterpart (docs/X.zh.md next to docs/X.md, or for "
        f"a notebook Markdown cells tagged zh): {missing}; translate them, or add them to "
        "ENGLISH_ONLY in tests/test_i18n.py with the reason")
    stale = [s for s in ENGLISH_ONLY if s not in sources or _is_translated(DOCS / s)]
    assert not stale, f"ENGLISH_ONLY lists pages that no longer exist or are translated: {stale}"


def test_every_chinese_source_has_an_english_page():
    orphans = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob(f"*.{CHINESE}.*")
               if p != GLOSSARY_SOURCE and "hooks" not in p.parts
               and not p.with_name(p.name.replace(f".{CHINESE}.", ".")).is_file()]
    assert not orphans, f"Chinese pages without the English page they translate: {orphans}"


# --------------------------------------------------------------------------- the build

def test_both_languages_build_strict(site_build):
    result, seconds, site = site_build
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout + result.stderr}"
    built = sorted(p.relative_to(site).as_posix() for p in (site / CHINESE).rglob("*.html"))
    assert built == ZH_PAGES, (f"zh/ pages differ from the English pages + the glossary:\n"
                               f"  extra: {sorted(set(built) - set(ZH_PAGES))}\n"
                               f"  missing: {sorted(set(ZH_PAGES) - set(built))}")
    print(f"both languages built in {seconds:.1f} s")


class _Page(HTMLParser):
    """<html lang>, the language selector's links, heading ids, the fallback note."""

    def __init__(self):
        super().__init__()
        self.lang = None
        self.alternates: dict[str, str] = {}
        self.heading_ids: list[str] = []
        self.notes = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "a" and "md-select__link" in (attrs.get("class") or ""):
            self.alternates[attrs.get("hreflang")] = attrs.get("href")
        elif re.fullmatch(r"h[2-6]", tag) and attrs.get("id"):   # sections (h1: the title)
            self.heading_ids.append(attrs["id"])
        elif tag == "div" and hook.NOTE_CLASS in (attrs.get("class") or ""):
            self.notes += 1


def _parse(site: Path, page: str) -> _Page:
    parser = _Page()
    parser.feed((site / page).read_text(encoding="utf-8"))
    return parser


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


@pytest.mark.parametrize("page", ENGLISH_PAGES)
def test_language_selector_links_each_page_to_its_counterpart(built_site, page):
    english, chinese = _parse(built_site, page), _parse(built_site, f"{CHINESE}/{page}")
    assert (english.lang, chinese.lang) == ("en", CHINESE)
    assert _normalise(str(Path(page).parent / english.alternates.get(CHINESE, "?"))) \
        == f"{CHINESE}/{page}", f"{page}: the 中文 entry links {english.alternates}"
    zh_page = f"{CHINESE}/{page}"
    assert _normalise(str(Path(zh_page).parent / chinese.alternates.get("en", "?"))) == page, \
        f"{zh_page}: the English entry links {chinese.alternates}"


@pytest.mark.parametrize("page", ENGLISH_PAGES)
def test_english_only_pages_carry_the_note_and_translations_do_not(built_site, page):
    chinese = _parse(built_site, f"{CHINESE}/{page}")
    translated = page in TRANSLATED
    assert chinese.notes == (0 if translated else 1), (
        f"zh/{page}: {chinese.notes} 'English only' notes; expected "
        f"{0 if translated else 1} ({'translated' if translated else 'English-only'} page)")
    assert _parse(built_site, page).notes == 0, f"{page}: the English page carries the note"


@pytest.mark.parametrize("page", TRANSLATED_MD)
def test_translated_page_keeps_every_english_anchor(built_site, page):
    """Links into a page (from English-only pages, from the other language, from
    outside) carry English anchors: a Chinese heading keeps its English id with
    ``## 中文标题 { #english-id }``. (A notebook's headings get their ids from their
    text, with no such syntax: no page links into a notebook's sections, and a
    link that did would fail the strict build's anchor check.)"""
    english = _parse(built_site, page).heading_ids
    chinese = set(_parse(built_site, f"{CHINESE}/{page}").heading_ids)
    missing = [i for i in english if i not in chinese]
    assert not missing, (f"zh/{page} lacks the anchors of {page}: {missing}; give the "
                         f"Chinese headings of {_translation(_source(page)).relative_to(ROOT)} "
                         "their English ids ({ #id })")


def _nav_titles(entries) -> list[str]:
    titles = []
    for entry in entries:
        if isinstance(entry, dict):
            for title, target in entry.items():
                titles.append(title)
                if isinstance(target, list):
                    titles += _nav_titles(target)
    return titles


def test_every_nav_title_is_translated(built_site):
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"),
                       Loader=browser_checks._AnyTagLoader)
    i18n = next(p["i18n"] for p in config["plugins"] if isinstance(p, dict) and "i18n" in p)
    zh = next(lang for lang in i18n["languages"] if lang["locale"] == CHINESE)
    titles = _nav_titles(config["nav"]) + list(hook.GLOSSARY)
    untranslated = [t for t in titles if t not in zh["nav_translations"]]
    assert not untranslated, f"nav titles without a Chinese title (nav_translations): {untranslated}"
    sidebar = (built_site / CHINESE / "index.html").read_text(encoding="utf-8")
    for title in titles:
        assert zh["nav_translations"][title] in sidebar, f"zh/index.html: no nav entry {title!r}"
    assert re.search(r'href="glossary\.html"', sidebar), "zh/index.html: the nav has no glossary"


def test_fallback_note_links_the_english_page_and_the_glossary():
    note = hook.fallback_note("zh/api/layers.html")
    assert 'href="../../api/layers.html"' in note and 'href="../glossary.html"' in note
    assert 'href="../../notebooks/mnist.html"' in hook.fallback_note("zh/notebooks/mnist.html")
    assert 'href="../seeds.html"' in hook.fallback_note("zh/seeds.html")
    with pytest.raises(ValueError, match=r"got 'api/x\.html'; expected a page of the Chinese"):
        hook.english_url("api/x.html")


def test_pages_name_no_language_alternates_for_material_to_look_up(built_site):
    """No <link rel=alternate hreflang>: Material would fetch a sitemap.xml next to each
    (a 404 per page); the header's selector links the counterpart (docs/hooks/i18n.py)."""
    pages = ["404.html", "index.html", f"{CHINESE}/index.html", f"{CHINESE}/api/index.html"]
    linked = [p for p in pages if re.search(r'<link rel="alternate"[^>]*hreflang',
                                            (built_site / p).read_text(encoding="utf-8"))]
    assert not linked, f"pages with language alternates in <head>: {linked}"
    rss = '<link rel="alternate" type="application/rss+xml" href="feed.xml">'
    assert hook.without_alternate_links(rss) == rss


# --------------------------------------------------------------------------- line breaks

_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")   # ideographs, CJK punctuation


def _broken_sentences(markdown: str) -> list[str]:
    """Lines of a paragraph that end and start with a Chinese character: the browser
    shows the line break between them as a space (Chinese has no spaces between words)."""
    found, fence = [], False
    lines = markdown.split("\n")
    for line, following in zip(lines, lines[1:]):
        if line.strip().startswith(("```", "~~~")):
            fence = not fence
        end, start = line.rstrip()[-1:], following.strip()[:1]
        if not fence and end and start and _CJK.match(end) and _CJK.match(start) \
                and not line.lstrip().startswith("|"):
            found.append(f"...{line.rstrip()[-12:]!r} / {following.strip()[:12]!r}...")
    return found


@pytest.mark.parametrize("page", [*TRANSLATED, "glossary.html"])
def test_no_line_break_inside_a_chinese_sentence(page):
    chinese = (GLOSSARY_SOURCE.read_text(encoding="utf-8") if page == "glossary.html"
               else _texts(page)[1])
    broken = _broken_sentences(chinese)
    assert not broken, (f"{page}: the Chinese text breaks a line between two Chinese "
                        f"characters (shown as a space); join the lines:\n  " + "\n  ".join(broken))


def test_a_line_break_between_chinese_characters_is_found():
    assert _broken_sentences("中文版各页统一使用、\n源教程里用的词。") != []
    assert _broken_sentences("一句话。\n\n另一段。") == []
    assert _broken_sentences("```text\n卷积\n池化\n```") == []


# --------------------------------------------------------------------------- what code writes

def _article_text(path: Path) -> str:
    """The words of a built page's article (its HTML's text, whitespace collapsed)."""
    page = path.read_text(encoding="utf-8")
    match = re.search(r'<article class="md-content__inner[^"]*"[^>]*>(.*)</article>', page, re.S)
    assert match, f"{path}: no <article class=md-content__inner>"
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", match[1], flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


_MARKUP = re.compile(r"\]\([^)]*\)|<[^>]*>|%\(\w+\)s|\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\*\*|[_\\<>&*\[\]()]", re.S)


def _sample(text: str) -> str:
    """The longest run of plain words in a message or a Markdown line (no markup, link
    targets, HTML tags, math, code or fields), whitespace collapsed."""
    return max((" ".join(piece.split()) for piece in _MARKUP.split(text)), key=len, default="")


@pytest.mark.parametrize("page", TRANSLATED_NOTEBOOKS)
def test_a_translated_notebook_shows_each_language_its_own_prose(built_site, page):
    """The English page has the English cells and no Chinese one; the Chinese page
    the reverse (the other language's cells removed per build, docs/hooks/i18n.py)."""
    english = _article_text(built_site / page)
    chinese = _article_text(built_site / CHINESE / page)
    cells = jupytext.read(_source(page)).cells
    problems = []
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "markdown" or tags not in (["en"], [CHINESE]):
            continue
        lines = [_sample(line.lstrip("#>-0123456789. ")) for line in cell.source.splitlines()]
        sample = max(lines, key=len, default="")
        if len(sample) < 12:
            continue
        own, other = (english, chinese) if tags == ["en"] else (chinese, english)
        if sample not in own:
            problems.append(f"{tags[0]} cell not shown on its page: {sample[:60]!r}")
        if sample in other:
            problems.append(f"{tags[0]} cell shown on the other language's page: {sample[:60]!r}")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def _generated_english() -> dict[str, str]:
    """{plain words of an English message: its catalogue} for every translated message
    of docs/locale/zh/ whose words the translation does not keep."""
    from docs.locale import read
    found = {}
    for path in sorted((DOCS / "locale" / CHINESE).rglob("*.po")):
        for message, translation in read(path).items():
            sample = _sample(message)
            if len(sample) >= 16 and " " in sample and sample not in translation:
                found[sample] = path.relative_to(DOCS).as_posix()
    return found


class _Generated(HTMLParser):
    """The prose of what the hooks write into a page: the boxes of facts ("success",
    "failure"), step-by-step chains ("abstract") and exercises ("question"), and the
    figures; code inside them (a record of a check, a snippet, printed output) left out."""

    KINDS = {"success", "failure", "abstract", "question", "cnn-figure"}
    VOID = {"br", "img", "hr", "input", "meta", "link", "wbr", "path", "rect", "line",
            "circle", "polygon", "polyline", "use"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[bool, bool]] = []    # (inside a box, inside code)
        self.words: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        inside, code = self.stack[-1] if self.stack else (False, False)
        box = (tag == "div" and "admonition" in classes and classes & self.KINDS) or \
            (tag == "figure" and "cnn-figure" in classes)
        self.stack.append((inside or bool(box), code or tag in ("pre", "code")))

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == (True, False):
            self.words.append(data)


def _generated_text(path: Path) -> str:
    parser = _Generated()
    parser.feed(path.read_text(encoding="utf-8"))
    return " ".join(" ".join(parser.words).split())


@pytest.mark.parametrize("page", TRANSLATED_MD)
def test_a_chinese_page_shows_no_english_text_from_code(built_site, page):
    """Box titles, the exports' statements and steps, exercises and figures reach a
    Chinese page in Chinese (docs/locale/): no English message of a catalogue appears in
    what the hooks wrote there (the page's own text may quote English terms)."""
    text = _generated_text(built_site / CHINESE / page)
    assert len(text) > 100 or page == "index.html", f"zh/{page}: no generated text found"
    english = [f"{sample[:70]!r} ({where})" for sample, where in _generated_english().items()
               if sample in text]
    assert not english, f"zh/{page} shows English text that code wrote:\n  " + "\n  ".join(english)


# --------------------------------------------------------------------------- glossary

def _glossary() -> list[tuple[list[str], list[str]]]:
    """(English forms, Chinese forms) of each row of the glossary page's table."""
    rows = []
    for line in GLOSSARY_SOURCE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("中文", "---") or set(cells[0]) <= {"-"}:
            continue
        chinese = [re.sub(r"（[^）]*）", "", f).strip() for f in cells[0].split(" / ")]
        english = [re.sub(r"\([^)]*\)", "", f).strip() for f in cells[1].split(" / ")]
        rows.append((english, chinese))
    return rows


GLOSSARY = _glossary()

#: Glossary terms the consistency check skips, and why: the English word is also
#: everyday English in another sense on the pages, where a translation rightly
#: uses another Chinese word.
NOT_CHECKED = {
    "layer": "too general: 'layer 1', 'the layer library'; 层 is on every page anyway",
    "window": "also 'a window of the explorer' in the everyday sense",
    "flip": "'flip a sign' is everyday English",
    "tie": "'tie them to' (connect) on several pages",
    "export": "'export' as a verb (to write a file), not the noun 导出文件",
    "identity": "also 'the identity matrix / function'",
    "proof": "'proof' in prose vs 证明 the verb: both forms checked through 'proven'",
    "derivative": "inside 'partial derivative': checked through that term",
}
#: English phrases in which a glossary word has another sense: removed before matching.
OTHER_SENSES = {
    r"Kronecker deltas?": "the Kronecker delta of index sums, not the error term δ",
    r"delta (?:and range )?rules?": "the Kronecker delta's summation rule (docs/layers/conv2d.md)",
    r"\bcosts? (?:minutes|seconds|hours)": "the verb: what a run costs in time, not the loss",
}
#: Chinese does not inflect: the passive "proven" is 被证明 / 得到证明 as often as
#: the adjective 已证明, and "dilated" 膨胀 as often as 膨胀后的.
INFLECTED = {"proven": "证明", "dilated": "膨胀"}


def _prose(markdown: str) -> str:
    """Words of a page's source that a reader reads: no code, math, placeholders, URLs."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$|\\\(.*?\\\)|\\\[.*?\\\]", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)|<[^>]+>|\{[^}\n]*#[^}\n]*\}", " ", text)
    return text


def _uses(english_prose: str, term: str) -> bool:
    # A whole-word, case-insensitive match, with the plural: "stride" and
    # "strides", never "strided" or "destride".
    words = r"\s+".join(re.escape(w) for w in term.split())
    return re.search(rf"(?<![\w-]){words}(?:e?s)?(?![\w-])", english_prose, re.I) is not None


def test_glossary_page_is_parsed():
    assert len(GLOSSARY) >= 50, f"only {len(GLOSSARY)} rows parsed from {GLOSSARY_SOURCE.name}"
    assert (["cross-correlation"], ["互相关"]) in GLOSSARY
    assert (["pooling", "max pooling", "average pooling"], ["池化", "最大池化", "平均池化"]) in GLOSSARY


@pytest.mark.parametrize("page", TRANSLATED)
def test_glossary_terms_used_consistently(page):
    """If the English page uses a glossary term, its Chinese page uses the Chinese form."""
    english, chinese = map(_prose, _texts(page))
    for phrase in OTHER_SENSES:
        english = re.sub(phrase, " ", english, flags=re.I)
    chinese = chinese.lower()
    problems = []
    for english_forms, chinese_forms in GLOSSARY:
        paired = len(english_forms) == len(chinese_forms)
        for i, term in enumerate(english_forms):
            if term.lower() in NOT_CHECKED or term.lower() == chinese_forms[0].lower():
                continue
            if not _uses(english, term):
                continue
            wanted = [chinese_forms[i]] if paired else chinese_forms
            wanted = [INFLECTED.get(term.lower(), w) for w in wanted]
            if not any(w.lower() in chinese for w in wanted):
                problems.append(f"{term!r} -> {' or '.join(wanted)}")
    where = _source(page) if _is_notebook(_source(page)) else _translation(_source(page))
    assert not problems, (f"{where.relative_to(ROOT)}: the English page "
                          f"uses these glossary terms, the Chinese page not their Chinese form "
                          f"(docs/glossary.zh.md):\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- seed 002

def test_seed_002_is_cited_on_the_chinese_seeds_page():
    zh = (DOCS / "seeds.zh.md").read_text(encoding="utf-8")
    english_row = re.search(r"^\| 002 \|.*$", (DOCS / "seeds.md").read_text(encoding="utf-8"), re.M)
    row = re.search(r"^\| 002 \|.*$", zh, re.M)
    assert english_row and row, "docs/seeds.zh.md: no '| 002 |' row in the table of the seeds"
    for url in re.findall(r"\]\((https?://[^)]+)\)", english_row[0]):
        assert url in row[0], f"docs/seeds.zh.md: the 002 row does not link {url}"
    seed = sorted((ROOT.parent / "shared" / "seeds").glob("002_*.txt"))
    if seed:   # the seed's own text, beside the checkout: its title is cited
        title = seed[0].read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        assert title in row[0], f"docs/seeds.zh.md: the 002 row does not name {title!r}"


# --------------------------------------------------------------------------- in Chromium

@pytest.mark.parametrize("page", ZH_PAGES)
def test_chinese_page_loads_and_typesets(visit, page):
    """No error, no request off the site, math typeset, images loaded (test_browser's checks)."""
    browser_checks.test_page_loads_without_errors_or_outside_requests(visit, page)
    browser_checks.test_page_math_is_typeset(visit, page)
    browser_checks.test_page_images_load(visit, page)
    assert not any("search_index" in url for url in visit(page).requests), (
        f"{page} downloads the search index before anyone searches "
        "(docs/javascripts/lazy_search.js)")


def _zh_figures() -> dict[str, int]:
    pages = {}
    for page in ENGLISH_PAGES:
        source = _source(page)
        n = browser_checks.figure_count(_translation(source) if page in TRANSLATED_MD else source)
        if n:
            pages[f"{CHINESE}/{page}"] = n
    return pages


ZH_FIGURES = _zh_figures()


@pytest.mark.parametrize("page", sorted(ZH_FIGURES))
def test_chinese_page_figures_are_visible(browser, server, page):  # noqa: F811
    problems = browser_checks.figure_problems(browser, server, page, ZH_FIGURES[page])
    assert not problems, "figures:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("query, targets", [
    ("卷积", ["layers/conv2d.html"]),
    ("池化", ["layers/max_pool.html", "layers/avg_pool.html"]),
])
def test_chinese_search_finds_the_pages(browser, server, query, targets):  # noqa: F811
    """Typed into the search box of zh/index.html: the results link the Chinese pages."""
    wanted = [f"/{CHINESE}/{t}" for t in targets]
    recorder = browser_checks.Recorder(browser)
    page = recorder.page
    try:
        page.goto(server + f"{CHINESE}/index.html")
        browser_checks._wait_until_ready(page)
        browser_checks._search(page, query)
        try:
            page.wait_for_function(
                f"(wanted) => wanted.every((w) => ({browser_checks._RESULT_LINKS_JS})()"
                ".some((h) => new URL(h).pathname.endsWith(w)))", arg=wanted, timeout=10_000)
        except Exception:  # noqa: BLE001 - the assertion below says what was found
            pass
        found = sorted({urlsplit(h).path for h in browser_checks._safe_results(page)})
    finally:
        problems = recorder.problems()
        recorder.close()
    missing = [w for w in wanted if not any(f.endswith(w) for f in found)]
    assert not missing, f"searching {query!r} on zh/index.html: no result in {missing}; found {found}"
    assert not problems, f"searching {query!r}:\n  " + "\n  ".join(problems)
