"""The live explorers in the real browser, against the NumPy code.

The site is the session's strict build (conftest.built_site), served on
127.0.0.1 and opened in Debian's Chromium as tests/test_browser.py does (its
fixtures and Recorder: no console error, no failed request, nothing fetched
from outside the site). Values are typed into the explorers' inputs as a
reader would (``fill`` with the float's repr, which round-trips), and read
back from each cell's ``data-value`` (the exact double; the cell shows four
digits).

* Toy net, both cases: >= 20 random inputs, every gradient shown equals
  ``cnn.toy_net.gradients`` to 1e-12 relative (max-norm); the seed variants
  shown equal ``cnn.toy_net.kernel_gradient``'s; pointing at a gradient entry
  shows its formula, typeset, and lights up exactly the cells it uses.
* Training live for the seed's 1000 epochs ends at ``cnn.toy_net.train``'s
  cost to 1e-9.
* The explorer works from file:// too, and without JavaScript the page says
  so and still shows its formulas.
* The Chinese pages (docs/**/X.zh.md, at zh/...): each explorer, used as on
  its English page with the same inputs, shows every word in Chinese (no
  English word left in its controls, captions, panels, status lines or
  aria-labels; no message missing from the table docs/hooks/explorers.py
  writes from docs/locale/zh/explorers.po) and exactly the English page's
  numbers; a message without a translation is a build warning.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import ROOT
from symbolic import relative_error
from test_browser import Recorder, browser, server  # noqa: F401 - fixtures

from cnn import toy_net

RTOL = 1e-12
INPUTS = 20
TOY_CASES = {"valid_3x3_k2": (2, 2, 0), "same_3x3_k3_p1": (3, 3, 1)}   # k, m, padding


def _opened(browser, url: str, explorer: str):  # noqa: F811 - the imported fixture's name
    """A Recorder on ``url`` once its explorer is ready; after the test, no problem recorded."""
    recorder = Recorder(browser)
    recorder.page.goto(url)
    recorder.page.wait_for_selector(f'.cnn-explorer[data-explorer="{explorer}"][data-state="ok"]')
    yield recorder
    problems = recorder.problems()
    recorder.close()
    assert not problems, problems


@pytest.fixture()
def toy_page(browser, server):  # noqa: F811 - the imported fixtures
    yield from _opened(browser, server + "toy_net.html", "toy_net")


def _fill(page, values: dict[str, float]) -> None:
    for name, value in values.items():
        page.fill(f'.cnn-explorer input[data-name="{name}"]', repr(float(value)))


def _read(page, prefix: str) -> dict[str, float]:
    """data-value of every cell whose data-name starts with ``prefix``."""
    selector = f'[data-name^="{prefix}"]' if prefix else "[data-name]"   # ^="" matches nothing
    return page.eval_on_selector_all(
        f".cnn-explorer button{selector}",
        "cells => Object.fromEntries(cells.map(c => [c.dataset.name, Number(c.dataset.value)]))")


def _grid(values: dict[str, float], prefix: str, shape) -> np.ndarray:
    out = np.full(shape, np.nan)
    for index in np.ndindex(shape):
        out[index] = values[f"{prefix}[{','.join(map(str, index))}]"]
    return out


def _toy_inputs(rng, k, m):
    x, kernel = rng.uniform(-1, 1, (3, 3)), rng.uniform(-1, 1, (k, k))
    weights, y = rng.uniform(-1, 1, (m * m, 1)), float(rng.uniform(0, 1))
    values = {f"x_{{{i},{j}}}": x[i, j] for i, j in np.ndindex(3, 3)}
    values |= {f"k_{{{i},{j}}}": kernel[i, j] for i, j in np.ndindex(k, k)}
    values |= {f"w_{{{i}}}": weights[i, 0] for i in range(m * m)}
    return x, kernel, weights, y, values | {"y": y}


@pytest.mark.parametrize("case", TOY_CASES)
def test_toy_explorer_gradients_equal_cnn(toy_page, case):
    page, (k, m, padding) = toy_page.page, TOY_CASES[case]
    page.check(f"#cnn-toy-{case}")
    page.check('[data-role="variants-toggle"]')
    rng = np.random.default_rng(15 + k)
    worst = {}
    for _ in range(INPUTS):
        x, kernel, weights, y, values = _toy_inputs(rng, k, m)
        _fill(page, values)
        dk = _grid(_read(page, "dL/dk"), "dL/dk", (k, k))
        dw = _grid(_read(page, "dL/dw"), "dL/dw", (m * m,)).reshape(-1, 1)
        expected_dk, expected_dw = toy_net.gradients(x, y, kernel, weights, padding=padding)
        errors = {"dL/dK": relative_error(dk, expected_dk), "dL/dW": relative_error(dw, expected_dw)}
        shown = _read(page, "")
        xp = np.pad(x, padding)
        delta = toy_net.layer1_deltas(x, y, kernel, weights, padding=padding)
        for variant in toy_net.KERNEL_GRADIENT_VARIANTS:
            errors[variant] = relative_error(_grid(shown, variant, (k, k)),
                                             toy_net.kernel_gradient(xp, delta, variant=variant))
        for name, error in errors.items():
            worst[name] = max(worst.get(name, 0.0), error)
    assert all(e <= RTOL for e in worst.values()), f"{case}: {worst}"


def test_toy_explorer_variants_agree_on_the_seed_data_and_differ_on_random(toy_page):
    """The seed's point, as the switch shows it: all four practically zero on the
    saturated seed data; on generic data the first code and the transpose differ."""
    page = toy_page.page
    page.check('[data-role="variants-toggle"]')
    page.select_option('[data-role="seed-image"]', "1")
    page.click('[data-role="seed-data"]')
    page.click('[data-role="seed-init"]')
    seed = _read(page, "")
    x, y = toy_net.seed_data()[0][1], toy_net.seed_data()[1][1]
    kernel, weights = toy_net.seed_init()
    scale = np.abs(toy_net.gradients(x, y, kernel, weights)[0]).max()
    assert scale < 1e-10
    for variant in toy_net.KERNEL_GRADIENT_VARIANTS:
        assert np.abs(_grid(seed, variant, (2, 2))).max() < 1e-10, variant
    _fill(page, _toy_inputs(np.random.default_rng(3), 2, 2)[-1])
    generic = _read(page, "")
    correct = _grid(generic, "correct", (2, 2))
    assert relative_error(_grid(generic, "seed_rotated", (2, 2)), correct) <= RTOL
    assert relative_error(_grid(generic, "seed_original", (2, 2)), correct) > 0.1
    assert relative_error(_grid(generic, "seed_transposed", (2, 2)), correct) > 0.1


def test_toy_explorer_explains_a_gradient_entry(toy_page):
    """Focus (keyboard) on dL/dk[0,0]: its formula, typeset, with the numbers plugged in,
    and exactly the four deltas and four pixels it multiplies lit up."""
    page = toy_page.page
    page.focus('.cnn-explorer button[data-name="dL/dk[0,0]"]')
    panel = '[data-role="formula"]'
    page.wait_for_function(f"() => document.querySelector('{panel}').dataset.formula "
                           f"&& document.querySelectorAll('{panel} mjx-container').length == 2")
    lit = sorted(page.eval_on_selector_all(".cnn-explorer .cnn-used",
                                           "cells => cells.map(c => c.dataset.name)"))
    assert lit == sorted([r"\delta_{0,0}", r"\delta_{0,1}", r"\delta_{1,0}", r"\delta_{1,1}",
                          "x_{1,1}", "x_{1,2}", "x_{2,1}", "x_{2,2}"])
    assert page.eval_on_selector(panel, "p => p.querySelector('mjx-merror') === null")


def test_toy_explorer_trains_the_seed_run_to_pythons_cost(toy_page):
    page = toy_page.page
    page.click('[data-role="seed-init"]')
    page.fill('[data-role="lr"]', "0.7")
    page.fill('[data-role="epochs"]', "1000")
    page.click('[data-role="train"]')
    page.wait_for_selector('[data-role="trainer"][data-state="done"]', timeout=120_000)
    first = float(page.get_attribute('[data-role="trainer"]', "data-first-cost"))
    final = float(page.get_attribute('[data-role="trainer"]', "data-final-cost"))
    images, labels = toy_net.seed_data()
    kernel, weights = toy_net.seed_init()
    costs = toy_net.train(images, labels, kernel, weights, lr=0.7, epochs=1000).costs
    assert abs(first - costs[0]) <= 1e-9 * costs[0]
    assert abs(final - costs[-1]) <= 1e-9 * costs[-1], (final, costs[-1])
    assert round(costs[0], 4) == 1.2848 and round(costs[-1], 4) == 0.0126


def test_toy_explorer_works_from_file(browser, built_site):  # noqa: F811
    recorder = Recorder(browser, local_scheme="file")
    recorder.page.goto((built_site / "toy_net.html").as_uri())
    recorder.page.wait_for_selector('.cnn-explorer[data-state="ok"]')
    assert recorder.page.eval_on_selector_all(".cnn-explorer button[data-value]", "c => c.length")
    problems = recorder.problems()
    recorder.close()
    assert not problems, problems


def test_without_javascript_the_page_keeps_its_formulas(browser, server):  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "toy_net.html")
    assert page.is_visible(".cnn-explorer .cnn-explorer-nojs")
    assert page.locator(".arithmatex").count() > 10
    context.close()


# --------------------------------------------------------------------------- max pooling
POOL_SETTINGS = [(2, 2), (2, 1), (3, 1), (3, 2)]   # (window, stride): overlapping when s < k


@pytest.fixture()
def pool_page(browser, server):  # noqa: F811
    yield from _opened(browser, server + "layers/max_pool.html", "max_pool")


@pytest.mark.parametrize("size,stride", POOL_SETTINGS)
def test_pool_explorer_routing_equals_cnn_ties_included(pool_page, size, stride):
    import cnn
    page = pool_page.page
    page.select_option('[data-role="size"]', str(size))
    page.select_option('[data-role="stride"]', str(stride))
    rng = np.random.default_rng(100 * size + stride)
    out = (4 - size) // stride + 1
    for trial in range(12):
        x = (rng.integers(0, 3, (4, 4)).astype(float) if trial % 2 == 0   # ties
             else rng.uniform(-2, 2, (4, 4)))
        if trial == 2:
            x[:] = 1.0                                                    # every entry tied
        G = rng.uniform(-2, 2, (out, out))
        _fill(page, {f"x_{{{i},{j}}}": x[i, j] for i, j in np.ndindex(4, 4)}
              | {f"G_{{{i},{j}}}": G[i, j] for i, j in np.ndindex(out, out)})
        shown = _grid(_read(page, "dL/dx"), "dL/dx", (4, 4))
        expected = cnn.max_pool2d_backward(G[None, None], x[None, None], size=size,
                                           stride=stride)[0, 0]
        assert relative_error(shown, expected) <= RTOL, (size, stride, x.tolist(), G.tolist())


def test_pool_explorer_explains_a_window(pool_page):
    """Focus G[0,0] on an all-equal input: the window and its first entry light up."""
    page = pool_page.page
    page.click('[data-role="equal"]')
    page.focus('.cnn-explorer input[data-name="G_{0,0}"]')
    lit = sorted(page.eval_on_selector_all(".cnn-explorer .cnn-used",
                                           "cells => cells.map(c => c.dataset.name)"))
    assert lit == sorted(["x_{0,0}", "x_{0,1}", "x_{1,0}", "x_{1,1}", "G_{0,0}", "dL/dx[0,0]"])
    assert "first maximum" in page.inner_text('[data-role="formula"]')


# --------------------------------------------------------------------------- convolution
def _conv_configs(count=12, seed=2026):
    """(n, K, stride, padding) with every stride 1-3 and every padding 0-2 among them."""
    rng = np.random.default_rng(seed)
    out = [(4, 3, 2, 1), (3, 1, 3, 0), (2, 4, 1, 2)]   # the default, stride 3, a big kernel
    while len(out) < count:
        n, K, s, p = (int(rng.integers(2, 7)), int(rng.integers(1, 5)),
                      int(rng.integers(1, 4)), int(rng.integers(0, 3)))
        if K <= n + 2 * p:
            out.append((n, K, s, p))
    assert {c[2] for c in out} == {1, 2, 3} and {c[3] for c in out} == {0, 1, 2}
    return out


@pytest.fixture(scope="module")
def conv_page(browser, server):  # noqa: F811 - one page for all configurations
    yield from _opened(browser, server + "layers/conv2d.html", "conv2d")


def _configure(page, n, K, s, p):
    for role, value in (("n", n), ("K", K), ("s", s), ("p", p)):
        page.select_option(f'.cnn-explorer [data-role="{role}"]', str(value))
    page.wait_for_selector('.cnn-explorer[data-explorer="conv2d"][data-state="ok"]')


@pytest.mark.parametrize("n,K,s,p", _conv_configs())
def test_conv_explorer_gradients_equal_cnn(conv_page, n, K, s, p):
    import cnn
    page = conv_page.page
    _configure(page, n, K, s, p)
    rng = np.random.default_rng(n + 10 * K + 100 * s + 1000 * p)
    O = (n + 2 * p - K) // s + 1
    x, w, G = rng.uniform(-2, 2, (n, n)), rng.uniform(-2, 2, (K, K)), rng.uniform(-2, 2, (O, O))
    _fill(page, {f"x_{{{i},{j}}}": x[i, j] for i, j in np.ndindex(n, n)}
          | {f"w_{{{i},{j}}}": w[i, j] for i, j in np.ndindex(K, K)}
          | {f"G_{{{i},{j}}}": G[i, j] for i, j in np.ndindex(O, O)})
    dx, dw, _ = cnn.conv2d_backward(G[None, None], x[None, None], w[None, None],
                                    stride=s, padding=p)
    assert relative_error(_grid(_read(page, "dL/dw"), "dL/dw", (K, K)), dw[0, 0]) <= RTOL
    assert relative_error(_grid(_read(page, "dL/dx"), "dL/dx", (n, n)), dx[0, 0]) <= RTOL


def test_conv_explorer_steps_add_up_to_each_element(conv_page):
    """Stepping through every element of both gradients (n=5, K=3, s=2, p=1): the
    running sum of the listed terms ends at the element's value each time."""
    page = conv_page.page
    _configure(page, 5, 3, 2, 1)
    panel = '.cnn-explorer [data-role="formula"]'
    for mode, count in (("dL/dw", 9), ("dL/dx", 25)):
        page.select_option('.cnn-explorer [data-role="mode"]', mode)
        for step in range(count):
            running = float(page.get_attribute(panel, "data-running"))
            name = page.get_attribute(panel, "data-formula")
            value = float(page.get_attribute(f'.cnn-explorer button[data-name="{name}"]',
                                             "data-value"))
            assert abs(running - value) <= 1e-12 * max(1.0, abs(value)), (mode, step, name)
            page.click('.cnn-explorer [data-role="next"]')
        assert page.get_attribute(panel, "data-formula") == f"{mode}[0,0]"   # wrapped around


# --------------------------------------------------------------------------- Chinese pages
ZH_PAGES = {"toy_net": ("toy_net.html", "zh/toy_net.html"),
            "max_pool": ("layers/max_pool.html", "zh/layers/max_pool.html"),
            "conv2d": ("layers/conv2d.html", "zh/layers/conv2d.html")}
_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
# What may stay Latin on a Chinese page: symbols, function names, the modes
# 'valid'/'same' (code, as the pages keep them) and the Tab key. Any other run
# of 3+ letters is an English word the explorer shows.
_SYMBOLS = re.compile(r"dL/d\w+|x_p|x\^p|tanh|rot180|floor|delta|'valid'|'same'|\bTab\b")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")

# Every text of an explorer that a reader sees or hears, with where it is: text
# nodes (option texts, SVG labels included) and aria-label/title attributes.
# Left out: the cells (named by their symbols, x_{0,1}, dL/dk[0,0]) and the
# formulas (TeX, typeset by MathJax).
_TEXTS_JS = """root => {
  const skip = (el) => el.closest(".cnn-cell, .cnn-formula, mjx-container");
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    if (text && !skip(n.parentElement)) out.push([n.parentElement.tagName, text]);
  }
  for (const el of root.querySelectorAll("[aria-label], [title]")) {
    if (skip(el)) continue;
    for (const a of ["aria-label", "title"]) {
      if (el.hasAttribute(a)) out.push([`${el.tagName}@${a}`, el.getAttribute(a)]);
    }
  }
  return out;
}"""


def _english_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", _SYMBOLS.sub(" ", text))


def _use(page, explorer: str) -> dict:
    """Use ``explorer`` a little, the same way on any page (no random button: the
    same inputs on both pages); what it shows: every cell's exact value and text,
    and the numbers of its panel and status lines."""
    root = f'.cnn-explorer[data-explorer="{explorer}"]'
    rng = np.random.default_rng(16)
    if explorer == "toy_net":
        page.check('[data-role="variants-toggle"]')
        page.click('[data-role="seed-data"]')
        page.click('[data-role="seed-init"]')
        _fill(page, _toy_inputs(rng, 2, 2)[-1])
        page.focus('.cnn-explorer button[data-name="dL/dk[0,1]"]')
        page.fill('[data-role="epochs"]', "0")
        page.click('[data-role="train"]')        # refused: the status says why
        lines = [page.inner_text('[data-role="train-status"]')]
        page.fill('[data-role="epochs"]', "20")
        page.click('[data-role="train"]')
        page.wait_for_selector('[data-role="trainer"][data-state="done"]')
        shown = ['[data-role="train-status"]']   # (the formula panel is TeX: compared below)
    elif explorer == "max_pool":
        page.select_option('[data-role="stride"]', "1")
        _fill(page, {f"x_{{{i},{j}}}": float(v) for (i, j), v in
                     np.ndenumerate(rng.integers(0, 3, (4, 4)))})   # ties
        page.focus('.cnn-explorer input[data-name="G_{1,0}"]')
        lines = [page.inner_text('[data-role="formula"]')]   # a window, then an entry
        page.focus('.cnn-explorer button[data-name="dL/dx[1,1]"]')
        shown = ['[data-role="formula"]']
    else:
        _configure(page, 5, 3, 2, 1)
        _fill(page, {f"{b}_{{{i},{j}}}": rng.uniform(-2, 2) for b, n in (("x", 5), ("w", 3), ("G", 3))
                     for i, j in np.ndindex(n, n)})
        page.select_option('.cnn-explorer [data-role="mode"]', "dL/dx")
        for _ in range(7):
            page.click('.cnn-explorer [data-role="next"]')
        lines, shown = [], ['[data-role="formula"]', '[data-role="message"]']
    page.wait_for_selector(f'{root}[data-state="ok"]')
    cells = page.eval_on_selector_all(   # an input's number is what was typed in it
        f"{root} .cnn-cell", "cs => cs.map(c => [c.dataset.name, "
        "c.tagName === 'INPUT' ? c.value : [c.dataset.value, c.textContent]])")
    lines += [page.inner_text(f"{root} {s}") for s in shown]
    return {"cells": cells, "numbers": [sorted(_NUMBER.findall(line)) for line in lines],
            "panel": page.eval_on_selector(f'{root} [data-role="formula"]', "p => ({...p.dataset})"),
            "trainer": page.eval_on_selector_all(f"{root} [data-role=trainer]",
                                                 "t => t.map(b => ({...b.dataset}))")}


@pytest.mark.parametrize("explorer", ZH_PAGES)
def test_chinese_explorer_speaks_chinese_and_shows_the_english_numbers(browser, server, explorer):  # noqa: F811
    english_url, chinese_url = (server + path for path in ZH_PAGES[explorer])
    shown = {}
    for language, url in (("en", english_url), ("zh", chinese_url)):
        opened = _opened(browser, url, explorer)
        page = next(opened).page
        try:
            shown[language] = _use(page, explorer)
            missing = page.evaluate("window.cnnExplorerMissingText")
            texts = page.eval_on_selector(f'.cnn-explorer[data-explorer="{explorer}"]', _TEXTS_JS)
        finally:
            next(opened, None)   # the Recorder's checks: no error, no failed request
        if language == "en":
            assert missing == [], missing           # English pages have no table
            assert any(_english_words(text) for _, text in texts)   # the check below can see English
            continue
        assert missing == [], f"{chinese_url}: messages with no Chinese: {missing}"
        english = [(where, text) for where, text in texts if _english_words(text)]
        assert not english, f"{chinese_url}: English shown: {english}"
        controls = [text for where, text in texts
                    if where in ("BUTTON", "LABEL", "LEGEND", "FIGCAPTION", "H4", "P", "LI")
                    or where.endswith("@aria-label")]
        assert len(controls) >= 8 and sum(bool(_CJK.search(t)) for t in controls) >= 8, controls
    assert shown["zh"] == shown["en"], explorer


def _explorers_hook():
    spec = importlib.util.spec_from_file_location("explorers_hook", ROOT / "docs/hooks/explorers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_chinese_table_has_every_message_and_a_missing_one_warns(monkeypatch, caplog):
    """Every message of the scripts is in docs/locale/zh/explorers.po; with one taken
    out, a Chinese explorer page warns (under "mkdocs": --strict fails) and still
    gets its table; an English page gets neither."""
    hook = _explorers_hook()
    table, missing = hook.text_table("zh")
    assert not missing and len(table) >= 50, missing
    html = '<html><head></head><body><div class="cnn-explorer" data-explorer="max_pool"></div></body></html>'
    page = SimpleNamespace(file=SimpleNamespace(src_uri="layers/max_pool.zh.md"),
                           url="zh/layers/max_pool.html")
    english = SimpleNamespace(file=SimpleNamespace(src_uri="layers/max_pool.md"),
                              url="layers/max_pool.html")
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.explorers"):
        out = hook.on_post_page(html, page=page, config=None)
        assert '<script src="../../javascripts/explorers/text/zh.js"></script>' in out
        assert out.index("text/zh.js") < out.index("explorers/common.js")
        assert "text/" not in hook.on_post_page(html, page=english, config=None)
        assert not caplog.records
        gone = "random with ties"
        read = hook.read
        monkeypatch.setattr(hook, "read", lambda path: {m: s for m, s in read(path).items() if m != gone})
        hook.on_post_page(html, page=page, config=None)
    assert [r.name for r in caplog.records] == ["mkdocs.hooks.explorers"]
    assert repr(gone) in caplog.records[0].getMessage()
    assert gone not in hook.text_module("zh") and "random" in hook.text_module("zh")


def test_every_message_of_the_scripts_is_one_literal():
    """Each call of t() in the scripts passes its message as one double-quoted literal
    (what ``python -m docs.locale`` extracts): a message built otherwise (a variable,
    a template, "a" + "b") would never reach the catalogue and stay English."""
    calls = re.compile(r'(?<![\w.`])t\(\s*("(?:[^"\\\n]|\\.)*"\s*[,)])?')
    problems = []
    for script in sorted((ROOT / "docs/javascripts/explorers").glob("*.js")):
        code = re.sub(r"^\s*//.*$", "", script.read_text(encoding="utf-8"), flags=re.MULTILINE)
        code = code.replace("function t(message, fields)", "")
        found = list(calls.finditer(code))
        problems += [f"{script.name}: {code[m.start():m.start() + 60]!r}" for m in found
                     if not m.group(1)]
        assert found or script.name == "common.js", script.name
    assert not problems, problems
