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
"""

from __future__ import annotations

import numpy as np
import pytest
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
