"""The documentation site as a reader meets it: headless Chromium, driven by playwright.

The site built by ``built_site`` (conftest.py: a strict ``mkdocs build``, notebooks
executed) is served by an HTTP server in this process on 127.0.0.1 (random
port, a thread) and opened in Debian's Chromium (``/usr/bin/chromium``; never
``playwright install``). One browser serves the whole module; each page is
visited once, in a fresh browser context, and several tests inspect what the
visit recorded, so a failure names both the page and the kind of fault:

* no console error, no uncaught page error, no failed request, no HTTP >= 400,
  and no request to anything but 127.0.0.1 (such requests are aborted and
  recorded);
* math typeset: ``data-mathjax-done="true"`` on <html> (set by
  docs/javascripts/mathjax.js), every element that holds TeX in the served
  HTML holds an ``mjx-container`` afterwards, no ``mjx-merror``, no undefined
  macro, and no visible text outside code still showing raw TeX; on notebook
  pages this includes the cells' outputs;
* every <img> loaded; plots (images in notebook outputs or figures) wider than
  100 px;
* search finds "softmax" and opens the dense/softmax page; each top-level nav
  entry of mkdocs.yml, clicked on the home page, opens its page;
* the site opened from ``file://`` typesets math and searches.

A full-page screenshot of every page goes to test-artifacts/screenshots/
(gitignored). Without Chromium or playwright the tests skip and say what is
missing; with CNN_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import ROOT

DOCS = ROOT / "docs"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}   # wide enough for Material's sidebars
TIMEOUT_MS = 15_000
SOFTMAX_PAGE = "layers/dense_softmax.html"


# --------------------------------------------------------------------------- pages

def _site_pages() -> list[str]:
    """Site-relative HTML path of every page, from docs/ (use_directory_urls is off).

    Parametrization happens before the site is built, so the list comes from
    the sources: Markdown pages, and the jupytext notebooks mkdocs-jupyter
    includes (docs/notebooks/*.py). test_every_built_page_is_visited checks
    that this is exactly the set of pages in the built site.
    """
    pages = [p.relative_to(DOCS).with_suffix(".html").as_posix()
             for p in _english_sources(DOCS.rglob("*.md")) if "hooks" not in p.relative_to(DOCS).parts]
    pages += [p.relative_to(DOCS).with_suffix(".html").as_posix()
              for p in _english_sources((DOCS / "notebooks").glob("*.py"))]
    return sorted(pages)


def _english_sources(paths) -> list[Path]:
    """The English site's sources: not the Chinese edition's X.zh.md (tests/test_i18n.py)."""
    return [p for p in paths if ".zh" not in p.suffixes]


PAGES = _site_pages()
NOTEBOOK_PAGES = [p for p in PAGES if p.startswith("notebooks/")]


def _built_pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if p.name != "404.html" and p.relative_to(site).parts[0] != "zh")


def test_every_built_page_is_visited(built_site):
    built = _built_pages(built_site)
    assert built == PAGES, (
        "the pages the browser tests visit (from docs/) differ from the built site's pages:\n"
        f"  built but not visited: {sorted(set(built) - set(PAGES))}\n"
        f"  visited but not built: {sorted(set(PAGES) - set(built))}\n"
        "update _site_pages() in tests/test_browser.py")


# --------------------------------------------------------------------------- browser

def _unavailable(what: str):
    """Skip, saying what is missing; fail instead when CI demands the browser tests."""
    message = f"browser tests not run: {what}"
    if os.environ.get("CNN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (CNN_REQUIRE_BROWSER=1: the browser tests must run)",
                    pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        _unavailable(f"the Python package playwright is not installed ({error}); "
                     'pip install -e ".[test]"')
    executable = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if executable is None:
        _unavailable(f"Chromium not found ({CHROMIUM} or `chromium` on PATH); "
                     "on Debian: apt-get install chromium")
    driver = sync_playwright().start()
    try:
        chromium = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Error as error:
        driver.stop()
        _unavailable(f"Chromium at {executable} does not start: {error}")
    yield chromium
    chromium.close()
    driver.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A browser that leaves a page cancels its downloads: a broken pipe
        # here is the client's choice (the browser side records real failures).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def server(built_site):
    """Base URL of the built site, served from a thread on 127.0.0.1."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    httpd = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


class Recorder:
    """A fresh context and page that record every error and every request leaving the site.

    Requests to anything but 127.0.0.1 (or, for a site opened from disk, file:)
    are aborted, so nothing is fetched, and recorded. ``ignore_cancelled``
    forgets requests the browser cancelled (net::ERR_ABORTED) because the test
    left the page before it had loaded everything; only for tests that click
    through pages whose full load is checked elsewhere.
    """

    def __init__(self, browser, local_scheme: str = "http", ignore_cancelled: bool = False):
        self.local_scheme = local_scheme
        self.ignore_cancelled = ignore_cancelled
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.failed_requests: list[str] = []
        self.bad_responses: list[str] = []
        self.outside_requests: list[str] = []
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)
        # Every request that completed, the search worker's included (for page weight).
        self.finished = []
        self.context.on("requestfinished", lambda request: self.finished.append(request))

    def _local(self, url: str) -> bool:
        parts = urlsplit(url)
        if self.local_scheme == "file":
            return parts.scheme == "file"
        return parts.scheme == "http" and parts.hostname == "127.0.0.1"

    def _route(self, route):
        url = route.request.url
        if self._local(url):
            route.continue_()
        else:
            self.outside_requests.append(url[:150])
            route.abort()

    def _console(self, message):
        if message.type == "error":
            self.console_errors.append(f"{message.text[:300]} (at {message.location.get('url')})")

    def _failed(self, request):
        if self.ignore_cancelled and request.failure == "net::ERR_ABORTED":
            return
        self.failed_requests.append(f"{request.url[:150]} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.bad_responses.append(f"HTTP {response.status} {response.url[:150]}")

    def problems(self) -> list[str]:
        return ([f"console error: {m}" for m in self.console_errors]
                + [f"page error: {m}" for m in self.page_errors]
                + [f"failed request: {m}" for m in self.failed_requests]
                + [f"bad response: {m}" for m in self.bad_responses]
                + [f"request outside the site (aborted): {m}" for m in self.outside_requests])

    def close(self):
        self.context.close()


def _wait_until_ready(page) -> str | None:
    """Wait for MathJax's done flag, network idle and web fonts; return the flag."""
    page.wait_for_function("() => document.documentElement.hasAttribute('data-mathjax-done')")
    page.wait_for_load_state("networkidle")
    page.evaluate("() => document.fonts.ready.then(() => document.fonts.status)")
    return page.evaluate("() => document.documentElement.getAttribute('data-mathjax-done')")


# What MathJax was asked to typeset, from the HTML as served (before MathJax
# ran), compared with the live document. Containers are the ones
# docs/javascripts/mathjax.js typesets; in notebooks each Markdown cell and
# each output is checked on its own.
_MATH_JS = r"""
(raw) => {
  const CONTAINERS = ".arithmatex, .jupyter-wrapper .jp-RenderedMarkdown, "
                   + ".jupyter-wrapper .jp-OutputArea-output";
  const SKIP = "pre, code, script, style, textarea, noscript, .tex2jax_ignore, .no-math";
  // The delimiters mathjax.js enables, roughly as MathJax finds them.
  const DELIMITED = /\$\$[\s\S]+?\$\$|\$[^\s$](?:[^$]*?[^\s$\\])?\$|\\\([\s\S]+?\\\)|\\\[[\s\S]+?\\\]|\\begin\{/;
  const RAW_TEX = /\\frac|\$\$|\\\(|\\\[|\\partial/;
  const prose = (element) => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll(SKIP).forEach((node) => node.remove());
    return copy.textContent;
  };
  const served = new DOMParser().parseFromString(raw, "text/html");
  const before = [...served.querySelectorAll(CONTAINERS)];
  const after = [...document.querySelectorAll(CONTAINERS)];
  const result = {
    done: document.documentElement.getAttribute("data-mathjax-done"),
    containers: document.querySelectorAll("mjx-container").length,
    elementsWithMath: 0, untypeset: [], outputsWithMath: 0, outputsTypeset: 0,
    notebook: document.querySelector(".jupyter-wrapper") !== null,
    countMismatch: before.length === after.length ? null : [before.length, after.length],
    merrors: [...document.querySelectorAll("mjx-merror")].map(
      (e) => (e.getAttribute("data-mjx-error") || e.textContent).slice(0, 200)),
    // MathJax's noundefined extension shows an unknown macro as red text.
    undefinedMacros: [...document.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]')]
      .map((e) => e.textContent).filter((t) => t.startsWith("\\")),
    rawTex: [],
  };
  before.forEach((element, i) => {
    const text = prose(element);
    if (!DELIMITED.test(text)) return;
    result.elementsWithMath++;
    const output = element.matches(".jp-OutputArea-output");
    const typeset = after[i] !== undefined && after[i].querySelector("mjx-container") !== null;
    if (output) { result.outputsWithMath++; if (typeset) result.outputsTypeset++; }
    if (!typeset) result.untypeset.push((output ? "output: " : "") + text.trim().slice(0, 150));
  });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(SKIP) || !RAW_TEX.test(node.data)) continue;
    if (!parent.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    result.rawTex.push(node.data.trim().slice(0, 150));
  }
  return result;
}
"""

# Lazy images load when scrolled to; a reader scrolls, so the test does too.
_IMAGES_JS = r"""
async () => {
  const images = [...document.images];
  const settled = (img) => img.complete ? Promise.resolve() : new Promise((resolve) => {
    img.addEventListener("load", resolve, {once: true});
    img.addEventListener("error", resolve, {once: true});
    setTimeout(resolve, 5000);
  });
  for (const img of images) {
    if (!img.complete) { img.scrollIntoView(); await settled(img); }
  }
  window.scrollTo(0, 0);
  return images.map((img) => ({
    src: (img.currentSrc || img.src || img.getAttribute("src") || "").slice(0, 100),
    complete: img.complete, width: img.naturalWidth,
    plot: img.closest(".jp-OutputArea-output, figure") !== null,
  }));
}
"""


# Display formulas wider than the content column, outside closed <details>
# (a folded expansion is fine; what the reader sees must fit).
_WIDE_FORMULAS_JS = r"""
() => {
  const column = document.querySelector(".md-content__inner");
  if (!column) return [{error: "no .md-content__inner"}];
  const style = getComputedStyle(column);
  const width = column.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const wide = [];
  for (const math of document.querySelectorAll('mjx-container[display="true"]')) {
    if (math.closest("details:not([open])")) continue;
    if (!math.checkVisibility({visibilityProperty: true})) continue;
    const inner = math.querySelector(":scope > mjx-math") || math;
    const formula = Math.max(inner.getBoundingClientRect().width, inner.scrollWidth);
    if (formula > width + 2) {
      const tex = math.closest(".arithmatex")?.getAttribute("data-tex")
               || math.querySelector("mjx-assistive-mml")?.textContent || "";
      const heading = [...document.querySelectorAll("article h1, article h2, article h3")]
        .filter((h) => h.compareDocumentPosition(math) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
      wide.push({width: Math.round(formula), column: Math.round(width),
                 under: heading ? heading.textContent.replace("¶", "").trim().slice(0, 60) : "",
                 text: tex.replace(/\s+/g, " ").trim().slice(0, 90)});
    }
  }
  return wide;
}
"""

# At phone width: does the page scroll sideways, and which elements stick out
# of the viewport without a scrolling box around them.
_OVERFLOW_JS = r"""
() => {
  const limit = window.innerWidth + 1;
  const scrollWidth = document.documentElement.scrollWidth;
  const clipped = (element) => {
    for (let a = element.parentElement; a && a !== document.body; a = a.parentElement) {
      const overflow = getComputedStyle(a).overflowX;
      if (overflow !== "visible" && a.getBoundingClientRect().right <= limit) return true;
    }
    return false;
  };
  const culprits = [];
  if (scrollWidth > limit) {
    for (const element of document.body.querySelectorAll("*")) {
      const right = element.getBoundingClientRect().right + window.scrollX;
      if (right <= limit || !element.checkVisibility()) continue;
      const parent = element.parentElement;
      if (parent && parent.getBoundingClientRect().right + window.scrollX > limit) continue;
      if (clipped(element)) continue;
      const name = element.tagName.toLowerCase()
        + (element.classList.length ? "." + [...element.classList].slice(0, 2).join(".") : "");
      culprits.push(`${name} reaches ${Math.round(right)} px: `
                    + (element.textContent || "").replace(/\s+/g, " ").trim().slice(0, 70));
      if (culprits.length >= 8) break;
    }
  }
  return {scrollWidth, innerWidth: window.innerWidth, culprits};
}
"""

# Exercises: "Exercise..." admonitions (docs/hooks/exports.py's exercise
# placeholder) and "Exercises" sections (heading to the next heading of the
# same level; in notebooks each exercise is a paragraph opening with a bold
# "N."). Each needs a folded <details> whose summary says "Answer", with
# visible content once opened.
_EXERCISES_JS = r"""
() => {
  const article = document.querySelector("article") || document.body;
  const isAnswer = (d) => /answer/i.test(d.querySelector(":scope > summary")?.textContent || "");
  const title = (a) => (a.querySelector(":scope > .admonition-title, :scope > summary")
                        ?.textContent || "").trim();
  const admonitions = [...article.querySelectorAll(".admonition, details")]
    .filter((a) => /^exercise/i.test(title(a)));
  const headings = [...article.querySelectorAll("h1, h2, h3, h4")]
    .filter((h) => /^exercises?\b/i.test(h.textContent.trim()));
  const sections = headings.map((h) => {
    const level = Number(h.tagName[1]);
    const nodes = [];
    // Notebook cells nest headings in their own wrappers: walk the document order.
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_ELEMENT);
    walker.currentNode = h;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (/^H[1-4]$/.test(n.tagName) && Number(n.tagName[1]) <= level) break;
      nodes.push(n);
    }
    const numbered = nodes.filter((n) => n.matches("p") &&
      /^\d+\./.test(n.querySelector(":scope > strong:first-child")?.textContent.trim() || ""));
    const answers = nodes.filter((n) => n.matches("details") && isAnswer(n));
    return {heading: h.textContent.replace("¶", "").trim(),
            exercises: Math.max(numbered.length, nodes.filter((n) => admonitions.includes(n)).length),
            answers: answers.length};
  });
  const answerText = (d) => {   // opened, then closed again as the reader left it
    const wasOpen = d.open;
    d.open = true;
    const copy = d.cloneNode(true);
    copy.querySelector(":scope > summary")?.remove();
    const summary = d.querySelector(":scope > summary")?.getBoundingClientRect().height || 0;
    const visible = d.getBoundingClientRect().height > summary + 2;
    d.open = wasOpen;
    return visible ? copy.textContent.trim() : "";
  };
  const allAnswers = [...article.querySelectorAll("details")].filter(isAnswer);
  return {
    sections,
    admonitions: admonitions.map((a) => {
      const answers = [...a.querySelectorAll("details")].filter(isAnswer);
      return {title: title(a).slice(0, 80), answers: answers.length};
    }),
    emptyAnswers: allAnswers.filter((d) => answerText(d) === "").length,
    answers: allAnswers.length,
  };
}
"""

PHONE = {"width": 390, "height": 844}
WEIGHTS = ROOT / "test-artifacts" / "page-weights.json"
HOME_PAGE_BUDGET = 600 * 1024    # bytes transferred for index.html and all it loads


def _transferred(requests, server: str) -> dict[str, int]:
    """URL (site-relative) -> bytes on the wire (headers + body) of each finished request."""
    sizes = {}
    for request in requests:
        if request.url.startswith("data:"):
            continue   # inline: already counted in the page that holds it
        size = request.sizes()
        response = request.response()
        # Chromium reports no body size for a worker's own script: take Content-Length.
        declared = int((response.headers.get("content-length") or 0) if response else 0)
        sizes[request.url.replace(server, "")] = (max(size["responseBodySize"], declared)
                                                  + size["responseHeadersSize"])
    return sizes


@dataclass
class Visit:
    page: str
    problems: list[str] = field(default_factory=list)
    error: str | None = None          # the page never became ready
    math: dict = field(default_factory=dict)
    images: list[dict] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)   # URL -> bytes transferred
    wide_formulas: list[dict] = field(default_factory=list)  # at 1280 px
    exercises: dict = field(default_factory=dict)
    overflow_390: dict = field(default_factory=dict)         # at 390 px

    @property
    def weight(self) -> int:
        return sum(self.requests.values())


def _screenshot_path(page: str) -> Path:
    return SCREENSHOTS / Path(page).with_suffix(".png")


@pytest.fixture(scope="module")
def visit(browser, server, built_site):
    """visit(page) -> Visit: opens each page once (cached) and records what happened."""
    from playwright.sync_api import Error

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)   # no stale screenshots
    visits: dict[str, Visit] = {}

    def _visit(page: str) -> Visit:
        if page in visits:
            return visits[page]
        record = Visit(page)
        recorder = Recorder(browser)
        try:
            recorder.page.goto(server + page)
            _wait_until_ready(recorder.page)
            record.images = recorder.page.evaluate(_IMAGES_JS)
            record.math = recorder.page.evaluate(
                _MATH_JS, (built_site / page).read_text(encoding="utf-8"))
            record.wide_formulas = recorder.page.evaluate(_WIDE_FORMULAS_JS)
            record.requests = _transferred(recorder.finished, server)
            record.exercises = recorder.page.evaluate(_EXERCISES_JS)
        except Error as error:
            record.error = str(error).splitlines()[0]
        finally:
            target = _screenshot_path(page)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                recorder.page.screenshot(path=str(target), full_page=True)
            except Error as error:
                record.problems.append(f"screenshot failed: {error}")
            if record.error is None:   # last: it changes the layout of the page
                try:
                    recorder.page.set_viewport_size(PHONE)
                    record.overflow_390 = recorder.page.evaluate(_OVERFLOW_JS)
                except Error as error:
                    record.overflow_390 = {"error": str(error).splitlines()[0]}
            record.problems += recorder.problems()
            recorder.close()
        visits[page] = record
        WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
        WEIGHTS.write_text(json.dumps({p: {"bytes": v.weight, "requests": v.requests}
                                       for p, v in sorted(visits.items())}, indent=1))
        return record

    return _visit


def _ready(record: Visit) -> None:
    assert record.error is None, f"{record.page}: the page never became ready: {record.error}"


# --------------------------------------------------------------------------- every page

@pytest.mark.parametrize("page", PAGES)
def test_page_loads_without_errors_or_outside_requests(visit, page):
    record = visit(page)
    assert not record.problems, f"{page}:\n  " + "\n  ".join(record.problems)
    _ready(record)
    assert _screenshot_path(page).is_file(), f"{page}: no screenshot saved"


@pytest.mark.parametrize("page", PAGES)
def test_page_math_is_typeset(visit, page):
    record = visit(page)
    _ready(record)
    math = record.math
    if math["done"] == "none":   # docs/hooks/light_pages.py found no math and left MathJax out
        assert math["elementsWithMath"] == 0 and not math["rawTex"], (
            f"{page}: served without MathJax, but holds TeX: {math['untypeset'][:3]} "
            f"{math['rawTex'][:3]} (docs/hooks/light_pages.py: has_math)")
        return
    assert math["done"] == "true", f"{page}: MathJax finished with data-mathjax-done={math['done']!r}"
    assert math["countMismatch"] is None, (
        f"{page}: math containers in the served HTML vs the live page: {math['countMismatch']}")
    if math["elementsWithMath"]:
        assert math["containers"] > 0, (
            f"{page}: {math['elementsWithMath']} elements hold TeX but no mjx-container exists")
    assert not math["untypeset"], (
        f"{page}: TeX that MathJax did not typeset:\n  " + "\n  ".join(math["untypeset"]))
    assert not math["merrors"], f"{page}: MathJax errors (mjx-merror): {math['merrors']}"
    assert not math["undefinedMacros"], f"{page}: undefined TeX macros: {math['undefinedMacros']}"
    assert not math["rawTex"], (
        f"{page}: visible text outside code still shows raw TeX:\n  " + "\n  ".join(math["rawTex"]))


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_notebook_outputs_math_is_typeset(visit, page):
    record = visit(page)
    _ready(record)
    math = record.math
    assert math["notebook"], f"{page}: no .jupyter-wrapper: not rendered by mkdocs-jupyter?"
    assert math["outputsTypeset"] == math["outputsWithMath"], (
        f"{page}: {math['outputsWithMath']} cell outputs hold TeX, only "
        f"{math['outputsTypeset']} were typeset")


@pytest.mark.parametrize("page", PAGES)
def test_page_images_load(visit, page):
    record = visit(page)
    _ready(record)
    broken = [i["src"] for i in record.images if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"{page}: images that did not load: {broken}"
    small = [f"{i['src']} ({i['width']} px)" for i in record.images
             if i["plot"] and i["width"] <= 100]
    assert not small, f"{page}: plots 100 px wide or less: {small}"


# --------------------------------------------------------------------------- search, nav

def _search(page, query: str) -> None:
    # fill() sets the value without key events, and Material's search listens to keys.
    page.click("input[data-md-component=search-query]")
    page.keyboard.type(query, delay=20)


_RESULT_LINKS_JS = """
() => [...document.querySelectorAll(".md-search-result__list a")].map((a) => a.href)
"""


def test_search_finds_softmax_and_opens_its_page(browser, server, built_site):
    index = (built_site / "search" / "search_index.json").read_text(encoding="utf-8")
    if not (built_site / SOFTMAX_PAGE).is_file() or "softmax" not in index.lower():
        pytest.skip(f"no page to find yet: {SOFTMAX_PAGE} is not built or the search "
                    "index never mentions softmax (docs/layers/dense_softmax.md)")
    recorder = Recorder(browser)
    page = recorder.page
    try:
        page.goto(server + "index.html")
        _wait_until_ready(page)
        _search(page, "softmax")
        try:
            page.wait_for_function(f"() => ({_RESULT_LINKS_JS})().some("
                                   f"(h) => new URL(h).pathname.endsWith('/{SOFTMAX_PAGE}'))",
                                   timeout=10_000)
        except Exception:  # noqa: BLE001 - turned into the failure below
            pytest.fail(f"index.html: after 10 s no search result for 'softmax' links to "
                        f"{SOFTMAX_PAGE}; results: {_safe_results(page)}", pytrace=False)
        hits = [i for i, h in enumerate(page.evaluate(_RESULT_LINKS_JS))
                if urlsplit(h).path.endswith("/" + SOFTMAX_PAGE)]
        page.locator(".md-search-result__list a").nth(hits[0]).click()
        page.wait_for_url(lambda url: urlsplit(url).path.endswith("/" + SOFTMAX_PAGE))
        _wait_until_ready(page)
        heading = page.text_content("article h1") or ""
    except Exception as error:
        pytest.fail(f"search for 'softmax' on index.html: {str(error).splitlines()[0]}\n"
                    f"results: {_safe_results(page)}\nrecorded: {recorder.problems()}",
                    pytrace=False)
    finally:
        problems = recorder.problems()
        recorder.close()
    assert "softmax" in heading.lower(), (
        f"search result for 'softmax' opened {SOFTMAX_PAGE} with heading {heading!r}")
    assert not problems, "searching 'softmax' and opening the result:\n  " + "\n  ".join(problems)


def _safe_results(page) -> list[str]:
    try:
        return page.evaluate(_RESULT_LINKS_JS)
    except Exception:  # noqa: BLE001 - only for the failure message
        return ["(page gone)"]


class _AnyTagLoader(yaml.SafeLoader):
    """Reads mkdocs.yml, whose !ENV and !!python tags do not matter for the nav."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
_AnyTagLoader.add_multi_constructor("tag:yaml.org,2002:python/",
                                    lambda loader, suffix, node: None)


def _top_level_nav() -> list[tuple[str, str]]:
    """(title, page the entry opens) for each top-level entry of mkdocs.yml's nav."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_AnyTagLoader)

    def first_page(entry) -> str:
        while isinstance(entry, list):  # a section opens its first page
            entry = next(iter(entry[0].values())) if isinstance(entry[0], dict) else entry[0]
        return Path(entry).with_suffix(".html").as_posix()

    return [(title, first_page(target)) for item in config["nav"]
            for title, target in item.items()]


_TOP_ITEMS = ".md-sidebar--primary .md-nav--primary > .md-nav__list > .md-nav__item"


def test_top_level_navigation_opens_each_page(browser, server):
    expected = _top_level_nav()
    # Each page's own full load is checked by the per-page tests; here the
    # test moves on as soon as the DOM is there, cancelling what is still loading.
    recorder = Recorder(browser, ignore_cancelled=True)
    page = recorder.page
    failures = []
    try:
        page.goto(server + "index.html")
        _wait_until_ready(page)
        titles = [t.strip() for t in page.locator(_TOP_ITEMS).evaluate_all(
            "(items) => items.map((li) => li.querySelector(':scope > .md-nav__link').textContent)")]
        assert titles == [t for t, _ in expected], (
            f"index.html: the sidebar's top-level entries {titles} are not mkdocs.yml's nav "
            f"{[t for t, _ in expected]}")
        for position, (title, target) in enumerate(expected):
            page.goto(server + "index.html", wait_until="domcontentloaded")
            item = page.locator(_TOP_ITEMS).nth(position)
            # A page, or a section with its index page attached (navigation.indexes).
            link = item.locator(":scope > a.md-nav__link, "
                                ":scope > .md-nav__container > a.md-nav__link")
            if link.count() == 0:   # a section without an index page: open it first
                item.locator(":scope > label.md-nav__link").click()
                link = item.locator("nav a.md-nav__link").first
            link.click()
            try:
                page.wait_for_url(lambda url: urlsplit(url).path.endswith("/" + target),
                                  wait_until="domcontentloaded", timeout=5_000)
            except Exception:  # noqa: BLE001 - reported below with the page it reached
                failures.append(f"nav entry {title!r} should open {target}, reached {page.url}")
                continue
            active = page.locator(f"{_TOP_ITEMS}.md-nav__item--active").evaluate_all(
                "(items) => items.map((li) => li.querySelector(':scope > .md-nav__link')"
                ".textContent.trim())")
            active = active[0] if len(active) == 1 else active
            if active != title:
                failures.append(f"nav entry {title!r} opened {target}, whose sidebar marks "
                                f"{active!r} as the current page")
    finally:
        problems = recorder.problems()
        recorder.close()
    assert not failures, "navigation from index.html:\n  " + "\n  ".join(failures)
    assert not problems, "clicking through the navigation:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- file://

def test_site_works_from_file_url(browser, built_site):
    """Opened from disk, without a server: math is typeset and search answers."""
    index_text = (built_site / "search" / "search_index.json").read_text(encoding="utf-8").lower()
    query = "softmax" if "softmax" in index_text else "gradient"
    assert query in index_text, f"the search index mentions neither softmax nor {query}"
    math_page = next((p for p in PAGES if 'class="arithmatex"'
                      in (built_site / p).read_text(encoding="utf-8")), None)
    assert math_page is not None, "no page of the site holds Markdown math"

    recorder = Recorder(browser, local_scheme="file")
    page = recorder.page
    try:
        page.goto((built_site / "index.html").as_uri())
        done = _wait_until_ready(page)
        assert done in ("true", "none"), f"file://.../index.html: data-mathjax-done={done!r}"
        _search(page, query)
        try:
            page.wait_for_selector(".md-search-result__item", timeout=10_000)
        except Exception:  # noqa: BLE001 - the assertion below says what is wrong
            pass
        results = page.locator(".md-search-result__item").count()
        meta = page.text_content(".md-search-result__meta") or ""
        assert results > 0, (f"file://.../index.html: searching {query!r} gave no results "
                             f"(search says {meta.strip()!r})")

        page.goto((built_site / math_page).as_uri())
        done = _wait_until_ready(page)
        math = page.evaluate(_MATH_JS, (built_site / math_page).read_text(encoding="utf-8"))
        assert done == "true", f"file://.../{math_page}: data-mathjax-done={done!r}"
        assert math["containers"] > 0 and not math["untypeset"], (
            f"file://.../{math_page}: math not typeset ({math['containers']} mjx-container, "
            f"untypeset: {math['untypeset'][:3]})")
        assert not math["merrors"] and not math["rawTex"], (
            f"file://.../{math_page}: MathJax errors {math['merrors']}, raw TeX {math['rawTex'][:3]}")
    finally:
        problems = recorder.problems()
        recorder.close()
    assert not problems, "the site opened from file://:\n  " + "\n  ".join(problems)


def test_search_index_lists_every_page(built_site):
    """Every page is searchable (the browser test searches only one word)."""
    docs = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = {d["location"].split("#")[0] for d in docs["docs"]}
    assert set(PAGES) <= locations, f"pages missing from search: {set(PAGES) - locations}"


# --------------------------------------------------------------------------- a light page

def test_home_page_weight(visit):
    """index.html and everything its load fetches, search worker included: under 600 KB."""
    record = visit("index.html")
    _ready(record)
    listing = "\n  ".join(f"{size / 1024:7.1f} KB  {url}" for url, size in
                          sorted(record.requests.items(), key=lambda item: -item[1]))
    assert record.weight < HOME_PAGE_BUDGET, (
        f"index.html transfers {record.weight / 1024:.0f} KB, over "
        f"{HOME_PAGE_BUDGET // 1024} KB:\n  {listing}")
    assert not any("search_index" in url for url in record.requests), (
        f"index.html downloads the search index before anyone searches "
        f"(docs/javascripts/lazy_search.js):\n  {listing}")


@pytest.mark.parametrize("page", PAGES)
def test_page_without_math_loads_no_mathjax(visit, built_site, page):
    record = visit(page)
    _ready(record)
    served = (built_site / page).read_text(encoding="utf-8")
    if 'data-mathjax-done="none"' not in served:
        return   # a page with math: test_page_math_is_typeset checks it
    loaded = [url for url in record.requests if "mathjax" in url.lower()]
    assert not loaded, f"{page} has no math but loads {loaded}"


def test_every_display_formula_fits_the_column_at_1280px(visit):
    """At 1280 px no visible display formula is wider than the content column.

    A horizontal scroll bar under a formula is not a fix: long expansions go
    into a folded block (``??? details``, skipped here while closed) or are
    broken into lines. Reports every offending formula of every page.
    """
    offenders = []
    for page in PAGES:
        record = visit(page)
        if record.error is not None:
            offenders.append(f"{page}: never became ready: {record.error}")
            continue
        offenders += [f"{page}: {f['width']} px in a {f['column']} px column"
                      f" (under {f['under']!r}): {f['text']}" for f in record.wide_formulas]
    assert not offenders, (f"{len(offenders)} display formulas wider than the column at "
                           f"{VIEWPORT['width']} px:\n  " + "\n  ".join(offenders))


def test_no_page_scrolls_sideways_at_390px(visit):
    """On a phone (390 px) the page itself never scrolls horizontally.

    A wide formula, table or code block may scroll inside its own box; the
    page may not. Reports each page with the elements that stick out.
    """
    offenders = []
    for page in PAGES:
        record = visit(page)
        found = record.overflow_390
        if record.error is not None or "error" in found:
            offenders.append(f"{page}: not measured: {record.error or found['error']}")
        elif found["scrollWidth"] > found["innerWidth"] + 1:
            offenders.append(f"{page}: {found['scrollWidth']} px wide in {found['innerWidth']} px"
                             + "".join(f"\n      {c}" for c in found["culprits"]))
    assert not offenders, "pages that scroll sideways at 390 px:\n  " + "\n  ".join(offenders)


# The derivation pages: each ends with exercises, their answers folded.
DERIVATION_PAGES = ["conventions.html", "toy_net.html"] + sorted(
    p for p in PAGES if p.startswith("layers/"))


def test_exercises_have_answers(visit):
    """Every exercise has a folded "Answer" (<details>) that shows something when opened;
    every derivation page has exercises."""
    problems = []
    for page in PAGES:
        record = visit(page)
        if record.error is not None:
            problems.append(f"{page}: never became ready: {record.error}")
            continue
        found = record.exercises
        has_exercises = bool(found["sections"] or found["admonitions"])
        if page in DERIVATION_PAGES and not has_exercises:
            problems.append(f"{page}: a derivation page without exercises (no 'Exercises' "
                            f"heading, no 'Exercise: ...' admonition)")
        for section in found["sections"]:
            if section["answers"] == 0 or section["answers"] < section["exercises"]:
                problems.append(f"{page}: section {section['heading']!r} has "
                                f"{section['exercises']} exercises and {section['answers']} "
                                f"'Answer' blocks")
        problems += [f"{page}: exercise {a['title']!r} has no folded 'Answer' block"
                     for a in found["admonitions"] if a["answers"] == 0]
        if found["emptyAnswers"]:
            problems.append(f"{page}: {found['emptyAnswers']} of {found['answers']} 'Answer' "
                            f"blocks show nothing when opened")
    assert not problems, "exercises:\n  " + "\n  ".join(problems)


def test_404_page_is_styled_from_file_url(browser, built_site):
    """404.html opened from disk loads Material's stylesheet (MkDocs writes it with
    /assets/... URLs; docs/hooks/light_pages.py makes them relative)."""
    recorder = Recorder(browser, local_scheme="file")
    page = recorder.page
    try:
        page.goto((built_site / "404.html").as_uri())
        page.wait_for_load_state("networkidle")
        header = page.evaluate("() => { const h = document.querySelector('.md-header');"
                               " return h && getComputedStyle(h).position; }")
        sheets = page.evaluate("() => [...document.styleSheets].filter((s) => s.href &&"
                               " s.href.includes('/assets/stylesheets/main.')).length")
        nav = page.evaluate("() => document.querySelector('.md-nav__link[href]')?.href || ''")
    finally:
        problems = recorder.problems()
        recorder.close()
    assert sheets == 1, "file://.../404.html: Material's main stylesheet did not load"
    assert header == "sticky", f"file://.../404.html: the header is not styled (position {header!r})"
    assert nav.startswith((built_site.as_uri() + "/")), f"404.html: nav link {nav!r} leaves the site"
    assert not problems, "404.html from file://:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- figures

# Every build-time figure (docs/figures/, {{ figure(...) }}) and every notebook
# SVG output: present, visible, not empty, and inside the content column.
_FIGURES_JS = r"""
() => {
  const column = document.querySelector(".md-content__inner");
  if (!column) return {error: "no .md-content__inner"};
  const box = column.getBoundingClientRect();
  const style = getComputedStyle(column);
  const left = box.left + parseFloat(style.paddingLeft) - 1;
  const right = box.right - parseFloat(style.paddingRight) + 1;
  const shown = [...document.querySelectorAll("figure.cnn-figure, .jp-RenderedSVG img")];
  return {figures: shown.map((f) => {
    const r = f.getBoundingClientRect();
    const parts = [...f.querySelectorAll("svg")].map((s) => s.getBoundingClientRect());
    return {name: f.dataset.figure || f.tagName.toLowerCase(),
            visible: f.checkVisibility({visibilityProperty: true, opacityProperty: true}),
            width: r.width, height: r.height, left: r.left, right: r.right,
            empty: parts.filter((p) => p.width < 1 || p.height < 1).length,
            outside: parts.filter((p) => p.left < left || p.right > right).length,
            natural: f.tagName === "IMG" ? f.naturalWidth : null};
  }), left, right};
}
"""


def _figure_pages() -> dict[str, int]:
    """Site page -> number of figures its source asks for (placeholders, SVG cells)."""
    pages = {}
    for path in _english_sources(sorted(DOCS.rglob("*.md")) + sorted((DOCS / "notebooks").glob("*.py"))):
        n = figure_count(path)
        if n:
            pages[path.relative_to(DOCS).with_suffix(".html").as_posix()] = n
    return pages


def figure_count(source: Path) -> int:
    """How many figures a page's source asks for (placeholders, SVG cells)."""
    import re
    text = source.read_text(encoding="utf-8")
    return (len(re.findall(r"^\s*\{\{\s*figure\(", text, re.M))
            + len(re.findall(r"^SVG\(FIGURES\[", text, re.M)))


FIGURE_PAGES = _figure_pages()


@pytest.mark.parametrize("page", sorted(FIGURE_PAGES))
def test_page_figures_are_visible_and_fit_the_column(browser, server, page):
    problems = figure_problems(browser, server, page, FIGURE_PAGES[page])
    assert not problems, "figures:\n  " + "\n  ".join(problems)


def figure_problems(browser, server, page: str, expected: int) -> list[str]:
    """What is wrong with the ``expected`` figures of ``page``, at 1280 and 390 px."""
    recorder = Recorder(browser)
    problems = []
    try:
        recorder.page.goto(server + page)
        _wait_until_ready(recorder.page)
        for viewport in (VIEWPORT, PHONE):
            recorder.page.set_viewport_size(viewport)
            recorder.page.wait_for_timeout(100)
            found = recorder.page.evaluate(_FIGURES_JS)
            at = f"{page} at {viewport['width']} px"
            if "error" in found:
                problems.append(f"{at}: {found['error']}")
                continue
            figures = found["figures"]
            if len(figures) != expected:
                problems.append(f"{at}: {len(figures)} figures, the source asks for {expected}")
            for f in figures:
                if not f["visible"] or f["width"] < 50 or f["height"] < 50:
                    problems.append(f"{at}: {f['name']} not visible or empty "
                                    f"({f['width']:.0f} x {f['height']:.0f} px)")
                if f["left"] < found["left"] or f["right"] > found["right"]:
                    problems.append(f"{at}: {f['name']} spans {f['left']:.0f}-{f['right']:.0f}"
                                    f" px, the column {found['left']:.0f}-{found['right']:.0f}")
                if f["empty"] or f["outside"]:
                    problems.append(f"{at}: {f['name']}: {f['empty']} empty SVGs, "
                                    f"{f['outside']} outside the column")
                if f["natural"] is not None and f["natural"] <= 0:
                    problems.append(f"{at}: {f['name']}: the SVG image did not load")
    finally:
        problems += recorder.problems()
        recorder.close()
    return problems
