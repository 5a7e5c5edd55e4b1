"""The build-time figures (docs/figures/) against what they depict.

For each figure: its data equals what the exports or ``cnn`` say (computed
here independently: terms parsed from the exported expressions, one-hot
probes of the layers, the backward functions' own outputs), and the SVG,
read back with ``xml.etree``, draws exactly that data (labels, numbers and
colour classes of its semantic elements). Every figure is self-contained:
no external reference, a title, a viewBox that scales.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy as sp

import cnn
import derivations
from conftest import ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docs.figures import FIGURES, build  # noqa: E402
from docs.figures.svg import num, sub  # noqa: E402
from docs.locale import speaking  # noqa: E402

INDEX = re.compile(r"_\{([\d,]+)\}$")


# --------------------------------------------------------------------------- helpers

def parse(fig) -> ET.Element:
    return ET.fromstring(fig.svg)


def tag(e: ET.Element) -> str:
    return e.tag.rsplit("}", 1)[-1]


def having(root: ET.Element, cls: str, name: str | None = None) -> list[ET.Element]:
    """Elements (of tag ``name``, if given) whose class list contains ``cls``."""
    return [e for e in root.iter() if cls in (e.get("class") or "").split()
            and (name is None or tag(e) == name)]


def svgs(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if tag(e) == "svg"]


def texts(e: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in e.iter() if tag(t) == "text"]


def pair(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(","))


def index(name: str) -> tuple[int, ...]:
    return tuple(int(i) for i in INDEX.search(name)[1].split(","))


def exported_pairs(expr, first: str, second: str) -> set:
    """{(first index, second index)} of a sum of products of two symbols, from the
    exported expression (first/second: the symbol name prefixes, e.g. 'k', 'x')."""
    out = set()
    for term in sp.Add.make_args(expr):
        names = {str(s): s for s in term.free_symbols}
        (a,) = [n for n in names if n.startswith(first)]
        (b,) = [n for n in names if n.startswith(second)]
        assert sp.expand(term - names[a] * names[b]) == 0, term
        out.add((index(a), index(b)))
    return out


TOY = derivations.load("toy_net")


# --------------------------------------------------------------------------- all figures

@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_is_self_contained_and_scalable(name):
    fig = build(name)
    text = fig.svg
    for bad in ('href="http', "href='http", "xlink:href", "@import", "url(", "<image",
                "<script", "<foreignObject", "$", "\\("):
        assert bad not in text, f"{name}: contains {bad!r}"
    root = parse(fig)
    drawn = svgs(root)
    assert drawn, f"{name}: no <svg>"
    for s in drawn:
        assert s.get("viewBox") and s.get("width") == "100%", f"{name}: an svg does not scale"
        assert "max-width" in (s.get("style") or ""), f"{name}: an svg has no max-width"
        assert s.get("role") == "img" and s.get("aria-labelledby"), f"{name}: no aria label"
        titles = [t for t in s if tag(t) == "title"]
        assert titles and titles[0].get("id") == s.get("aria-labelledby") and titles[0].text
    families = {e.get("font-family") for e in root.iter() if e.get("font-family")}
    assert families <= {"sans-serif", "serif"}, f"{name}: fonts {families}"
    assert "\n\n" not in text.strip(), f"{name}: a blank line would break the Markdown block"
    assert fig.caption and fig.name == name


#: English words that no math-like label holds (``x``, ``dL/dw``, ``rot180(w)``, the
#: activations' and the networks' names): one of them left in a Chinese figure is text
#: that never went through the figures catalogue.
ENGLISH_WORDS = re.compile(r"\b(?:the|of|and|is|to|by|with|each|every|its|from|for|at|gets|window|"
                           r"frame|after|layer|padded|dilated|stride|padding)\b", re.IGNORECASE)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_in_chinese_is_translated_and_depicts_the_same_data(name):
    english = FIGURES[name]()
    with speaking("zh", strict=True):        # a message with no translation raises
        chinese = FIGURES[name]()
        assert build(name).svg == chinese.svg, f"{name}: build() cached another language"
    assert build(name).svg == english.svg
    # What a figure depicts does not depend on the language it is labelled in.
    assert chinese.data == english.data, f"{name}: the data differ in Chinese"
    root = parse(chinese)
    shown = [chinese.caption, *("".join(e.itertext()) for e in root.iter()
                                if tag(e) in ("text", "title", "p")),
             *(e.get("aria-label") for e in root.iter() if e.get("aria-label"))]
    left = sorted({t for t in shown if ENGLISH_WORDS.search(t)})
    assert not left, f"{name}: English left in the Chinese figure: {left}"
    assert chinese.caption != english.caption and chinese.svg != english.svg


def test_every_figure_is_on_a_page():
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md")]
    sources += [p.read_text(encoding="utf-8") for p in (ROOT / "docs/notebooks").glob("*.py")]
    used = set(re.findall(r"""figure\(\s*["']([\w]+)["']\s*\)""", "\n".join(sources)))
    used |= set(re.findall(r"""FIGURES\[["'](\w+)["']\]""", "\n".join(sources)))
    assert used == set(FIGURES), (f"not on any page: {sorted(set(FIGURES) - used)}; "
                                  f"unknown: {sorted(used - set(FIGURES))}")


# --------------------------------------------------------------------------- toy net

def test_toy_graph_edges_are_the_exported_forward_terms():
    fig = build("toy_graph")
    case = TOY.case("valid_3x3_k2")
    expected = set()
    for name, f in case.formulas.items():
        if name.startswith("z1["):
            node = pair(name[3:-1])
            expected |= {(node, kw, px) for kw, px in exported_pairs(f.expr, "k", "x")}
    assert set(fig.data["conv_edges"]) == expected and len(expected) == 16
    root = parse(fig)
    legend = {pair(g.get("data-kernel")): g.get("data-colour") for g in having(root, "kernel")}
    drawn = set()
    for line in having(root, "conv", "line"):
        kw = pair(line.get("data-kernel"))
        assert line.get("stroke") == legend[kw], "an edge's colour is not its kernel weight's"
        drawn.add((pair(line.get("data-node")), kw, pair(line.get("data-pixel"))))
    assert drawn == expected
    # Dense edges: w_r multiplies tanh of node r's exported z1.
    z1 = {sp.srepr(f.expr): pair(n[3:-1]) for n, f in case.formulas.items()
          if n.startswith("z1[")}
    dense = set()
    for term in sp.Add.make_args(case.formulas["z2"].expr):
        (w,) = [s for s in term.free_symbols if str(s).startswith("w")]
        (t,) = [a for a in sp.Mul.make_args(term) if isinstance(a, sp.tanh)]
        dense.add((index(str(w))[0], z1[sp.srepr(t.args[0])]))
    assert set(fig.data["dense_edges"]) == dense
    assert {(int(e.get("data-weight")), pair(e.get("data-node")))
            for e in having(root, "dense", "line")} == dense
    labels = {e.get("data-weight"): "".join(e.itertext()) for e in having(root, "weight-label")}
    assert labels == {str(r): f"w{sub(r)}" for r, _ in dense}


@pytest.mark.parametrize("case", ["valid_3x3_k2", "same_3x3_k3_p1"])
def test_kernel_grid_pairs_are_the_exported_formula_terms(case):
    fig = build(f"toy_kernel_terms_{case}")
    c = TOY.case(case)
    k = len(c.variables["kernel"])
    root = parse(fig)
    legend = {pair(g.get("data-delta")): g.get("data-colour") for g in having(root, "delta")}
    assert len(set(legend.values())) == len(legend), "two deltas share a colour"
    panels = {pair(s.get("data-weight")): s for s in having(root, "weight-panel", "svg")}
    assert set(panels) == {(a, b) for a in range(k) for b in range(k)}
    for (a, b), panel in panels.items():
        expr = c.formulas[f"chain:dL/dk[{a},{b}]"].expr
        expected = {(px, dl) for dl, px in exported_pairs(expr, "\\delta", "x")}
        assert set(fig.data["terms"][(a, b)]) == expected
        drawn = set()
        for g in having(panel, "term", "g"):
            px, dl = pair(g.get("data-pixel")), pair(g.get("data-delta"))
            assert g.get("data-colour") == legend[dl], f"k[{a},{b}]: wrong colour for {dl}"
            (rect,) = [e for e in g if tag(e) == "rect"]
            assert rect.get("fill") == legend[dl]
            assert texts(g) == [f"x{sub(*px)}", f"δ{sub(*dl)}"]
            drawn.add((px, dl))
        assert drawn == expected, f"k[{a},{b}]: drawn pairs differ from the export"
        # The equation lines under the panel spell the same terms.
        eq = " ".join(texts(panel)[-3:])
        for px, dl in expected:
            assert f"δ{sub(*dl)}x{sub(*px)}" in " ".join(
                t for t in texts(panel) if t.startswith(("=", "+"))), (a, b, px, dl, eq)


# --------------------------------------------------------------------------- conv

def _probe(op, n, k):
    found = set()
    for a, b, u, v in np.ndindex(k, k, n, n):
        x, K = np.zeros((n, n)), np.zeros((k, k))
        x[u, v], K[a, b] = 1.0, 1.0
        if op(x, K)[0, 0] == 1.0:
            found.add(((a, b), (u, v)))
    return found


def test_conv_vs_correlation_shows_the_flip():
    fig = build("conv_vs_correlation")
    z1 = TOY.formula("valid_3x3_k2", "z1[0,0]").expr
    conv = exported_pairs(z1, "k", "x")
    assert set(fig.data["convolution"]) == conv == _probe(cnn.toy_net.convolve2d, 3, 2)
    corr = _probe(lambda x, K: cnn.conv2d(x[None, None], K[None, None])[0, 0], 3, 2)
    assert set(fig.data["correlation"]) == corr
    assert corr == {((a, b), (a, b)) for a in range(2) for b in range(2)}
    assert conv == {((a, b), (1 - a, 1 - b)) for a in range(2) for b in range(2)}
    root = parse(fig)
    for kind, expected in (("correlation", corr), ("convolution", conv)):
        (panel,) = [g for g in having(root, "panel") if g.get("data-kind") == kind]
        drawn = {(pair(g.get("data-kernel")), pair(g.get("data-pixel")))
                 for g in having(panel, "pair")}
        assert drawn == expected, kind
        for g in having(panel, "pair"):
            kw, px = pair(g.get("data-kernel")), pair(g.get("data-pixel"))
            assert texts(g) == [f"x{sub(*px)}", f"·k{sub(*kw)}"]


def _conv_backward():
    from docs.figures.conv import PADDING, STRIDE, example
    x, w, dy = example()
    dx, dw, _ = cnn.conv2d_backward(dy, x, w, stride=STRIDE, padding=PADDING)
    return x, w, dy, dx[0, 0], dw[0, 0], STRIDE, PADDING


def _running(svg: ET.Element) -> dict:
    return {(int(g.get("data-row")), int(g.get("data-col"))): g.get("data-value")
            for g in having(svg, "running", "g")}


def test_dw_frames_add_up_to_conv2d_backward():
    fig = build("conv_backward_dw_frames")
    x, w, dy, _, dw, s, p = _conv_backward()
    d = fig.data
    xp, G, k = np.pad(x[0, 0], p), dy[0, 0], w.shape[-1]
    assert d["stride"] == 2 and d["padding"] == 1 and np.shape(d["x"]) == (5, 5)
    assert len(d["frames"]) == G.size
    total = np.zeros((k, k))
    frames = {int(e.get("data-frame")): e for e in having(parse(fig), "cnn-frame", "svg")}
    assert sorted(frames) == [f["frame"] for f in d["frames"]]
    for f, (i, j) in zip(d["frames"], np.ndindex(G.shape)):
        total += G[i, j] * xp[s * i:s * i + k, s * j:s * j + k]
        assert f["out"] == (i, j) and f["window"] == (s * i, s * j) and f["g"] == G[i, j]
        np.testing.assert_array_equal(f["running"], total)
        svg = frames[f["frame"]]
        assert svg.get("data-out") == f"{i},{j}"
        (win,) = having(svg, "window", "rect")
        assert (int(win.get("data-row")), int(win.get("data-col"))) == f["window"]
        assert _running(svg) == {(r, c): num(v) for (r, c), v in np.ndenumerate(total)}
        assert texts(svg)[0] == f"frame {f['frame']}: G{sub(i, j)} = {num(G[i, j])}"
    np.testing.assert_array_equal(d["dw"], dw)      # the last frame is the library's dw


def test_dx_frames_are_the_rotated_kernel_on_the_dilated_padded_gradient():
    fig = build("conv_backward_dx_frames")
    x, w, dy, dx, _, s, p = _conv_backward()
    d = fig.data
    G, K, k, H = dy[0, 0], w[0, 0], w.shape[-1], x.shape[-1]
    np.testing.assert_array_equal(d["rot"], K[::-1, ::-1])
    dil = np.zeros(((G.shape[0] - 1) * s + 1,) * 2)
    dil[::s, ::s] = G
    np.testing.assert_array_equal(d["dilated"], dil)
    np.testing.assert_array_equal(
        np.asarray(d["padded"])[d["pad_before"]:d["pad_before"] + len(dil),
                                d["pad_before"]:d["pad_before"] + len(dil)], dil)
    assert np.asarray(d["padded"]).sum() == G.sum()    # nothing but zeros added
    frames = {int(e.get("data-frame")): e for e in having(parse(fig), "cnn-frame", "svg")}
    assert len(frames) == len(d["frames"]) == H * H
    for f in d["frames"]:
        u, v = f["pixel"]
        # cnn.conv2d_backward's definition: x_p[u+p, v+p] collects w[a,b] G[i,j]
        # for every window (i, j) whose element (a, b) lies on it.
        covering = {((i, j), (a, b)) for i, j, a, b in np.ndindex(*G.shape, k, k)
                    if s * i + a == u + p and s * j + b == v + p}
        assert {(t["G"], t["kernel"]) for t in f["terms"]} == covering, (u, v)
        for t in f["terms"]:
            assert t["g"] == G[t["G"]] and t["w"] == K[t["kernel"]]
        assert f["value"] == sum(t["g"] * t["w"] for t in f["terms"]) == dx[u, v]
        svg = frames[f["frame"]]
        assert svg.get("data-pixel") == f"{u},{v}"
        (win,) = having(svg, "window", "rect")
        assert (int(win.get("data-row")), int(win.get("data-col"))) == (u, v)
        (value,) = having(svg, "frame-value")
        assert value.get("data-value") == num(dx[u, v])
        assert "".join(value.itertext()) == f"frame {f['frame']}: dx{sub(u, v)} = {num(dx[u, v])}"
        done = {divmod(n, H) for n in range(f["frame"])}
        assert _running(svg) == {rc: num(dx[rc]) for rc in done}
    np.testing.assert_array_equal(d["dx"], dx)      # the last frame is the library's dx


# --------------------------------------------------------------------------- max pool

def _page_example(page: str = "docs/layers/max_pool.md"):
    """x and dy of the worked example on a pooling page, from its code block."""
    text = (ROOT / page).read_text(encoding="utf-8")
    arrays = {}
    for name in ("x", "dy"):
        match = re.search(rf"^{name} = np\.array\((\[.*?\]\]\]\])\)", text, re.M | re.S)
        arrays[name] = np.array(ast.literal_eval(match[1]))
    return arrays["x"], arrays["dy"]


def test_pool_routing_is_max_pool2d_backward_on_the_page_example():
    from docs.figures import pool
    x, dy = _page_example()
    np.testing.assert_array_equal(pool.X, x)
    np.testing.assert_array_equal(pool.DY_STRIDE2, dy)
    fig = build("max_pool_routing")
    root = parse(fig)
    ties = 0
    for d in fig.data["cases"]:
        size, s = d["size"], d["stride"]
        g = dy if s == 2 else np.ones_like(cnn.max_pool2d(x, size=size, stride=s))
        dx = cnn.max_pool2d_backward(g, x, size=size, stride=s)[0, 0]
        np.testing.assert_array_equal(d["dx"], dx)
        (strip,) = [e for e in having(root, "cnn-frames") if e.get("data-stride") == str(s)]
        frames = having(strip, "cnn-frame", "svg")
        results = [f for f in frames if "cnn-frame-result" in f.get("class").split()]
        windows = [f for f in frames if f not in results]
        assert len(windows) == len(d["windows"])
        routed = np.zeros_like(dx)
        for w, svg in zip(d["windows"], windows):
            i, j = w["out"]
            cells = [(s * i + a, s * j + b) for a in range(size) for b in range(size)]
            m = max(x[0, 0][c] for c in cells)
            first = next(c for c in cells if x[0, 0][c] == m)   # the tie rule
            assert w["winner"] == first and w["max"] == m
            assert w["tied"] == [c for c in cells if x[0, 0][c] == m]
            ties += len(w["tied"]) > 1
            routed[first] += g[0, 0, i, j]
            assert svg.get("data-winner") == f"{first[0]},{first[1]}"
            assert svg.get("data-g") == num(g[0, 0, i, j])
            roles = {(int(e.get("data-row")), int(e.get("data-col"))): e.get("data-role")
                     for e in having(svg, "cell", "g") if e.get("data-role")}
            assert {c for c, r in roles.items() if r == "winner"} == {first}
            assert {c for c, r in roles.items() if r == "tie"} == set(w["tied"]) - {first}
            assert set(roles) == set(cells)
            fills = {r: {[e for e in g if tag(e) == "rect"][0].get("fill")
                         for g in having(svg, "cell", "g") if g.get("data-role") == r}
                     for r in ("winner", "tie")}
            assert fills["winner"] == {pool.WIN} and fills["tie"] <= {pool.TIE}
        np.testing.assert_array_equal(routed, dx)
        (result,) = results
        assert {(int(e.get("data-row")), int(e.get("data-col"))): e.get("data-value")
                for e in having(result, "dx", "g")} == {rc: num(v) for rc, v in
                                                         np.ndenumerate(dx)}
    assert ties >= 3, "the example should show ties"


# --------------------------------------------------------------------------- average pool

def test_avg_pool_spread_is_avg_pool2d_backward_on_the_page_example():
    """Each frame draws its window's k^2 entries, each with G/k^2; the frames add up to
    cnn.avg_pool2d_backward, and with G = k^2 (size 3) to the count of covering windows."""
    from docs.figures import avg_pool
    x, dy = _page_example("docs/layers/avg_pool.md")
    np.testing.assert_array_equal(avg_pool.X, x)
    np.testing.assert_array_equal(avg_pool.DY_STRIDE2, dy)
    fig = build("avg_pool_spread")
    root = parse(fig)
    for d in fig.data["cases"]:
        size, s = d["size"], d["stride"]
        g = np.array(d["dy"])[None, None]
        dx = cnn.avg_pool2d_backward(g, x, size=size, stride=s)[0, 0]
        np.testing.assert_array_equal(d["dx"], dx)
        (strip,) = [e for e in having(root, "cnn-frames") if e.get("data-size") == str(size)]
        frames = having(strip, "cnn-frame", "svg")
        results = [f for f in frames if "cnn-frame-result" in f.get("class").split()]
        windows = [f for f in frames if f not in results]
        assert len(windows) == len(d["windows"]) == g.size
        drawn_sum, counts = np.zeros_like(dx), np.zeros_like(dx)
        for w, svg in zip(d["windows"], windows):
            i, j = w["out"]
            cells = {(s * i + a, s * j + b) for a in range(size) for b in range(size)}
            share = g[0, 0, i, j] / size ** 2
            assert svg.get("data-g") == num(g[0, 0, i, j]) and svg.get("data-share") == num(share)
            drawn = {(int(e.get("data-row")), int(e.get("data-col"))): float(e.get("data-value"))
                     for e in having(svg, "cell", "g") if e.get("data-role") == "in-window"}
            assert set(drawn) == cells and set(drawn.values()) == {share}
            for c, v in drawn.items():
                drawn_sum[c] += v
                counts[c] += 1
        np.testing.assert_array_equal(drawn_sum, dx)
        if np.all(g == size ** 2):                  # every share 1: dx counts the windows
            np.testing.assert_array_equal(dx, counts)
            assert counts.max() > 1, "the example should show overlapping windows"
        (result,) = results
        assert {(int(e.get("data-row")), int(e.get("data-col"))): e.get("data-value")
                for e in having(result, "dx", "g")} == {rc: num(v) for rc, v in
                                                         np.ndenumerate(dx)}


# --------------------------------------------------------------------------- networks

def _shape_n(shape) -> str:
    return "(" + ", ".join(["N", *map(str, shape[1:])]) + ")"


def test_digits01_architecture_shapes_are_a_forward_pass():
    fig = build("arch_digits01")
    net = cnn.Digits01Net()
    out, cache = net.forward(np.zeros((3, 1, 8, 8)))
    real = {k: cache[k].shape for k in ("x", "z1", "p1", "z2", "p2", "f", "a3", "a4")}
    real["o"] = out.shape
    _check_stages(fig, real)
    ops = {e.get("data-stage"): "".join(e.itertext()) for e in having(parse(fig), "op")}
    assert str(net.params["w1"].shape) in ops["z1"] and str(net.params["w3"].shape) in ops["a3"]


def test_mnist_architecture_shapes_are_a_forward_pass():
    fig = build("arch_mnist")
    net = cnn.MnistNet()
    x = np.random.default_rng(1).random((3, 1, 28, 28)).astype(np.float32)
    logits, _ = net.forward(x)
    p = net.params
    z = cnn.conv2d(x, p["conv_w"], p["conv_b"])
    pooled = cnn.max_pool2d(cnn.relu(z))
    f = pooled.reshape(3, -1)
    h = cnn.relu(cnn.dense(f, p["w1"], p["b1"]))
    s = cnn.dense(h, p["w2"], p["b2"])
    np.testing.assert_allclose(s, logits, rtol=1e-4, atol=1e-5)
    _check_stages(fig, {"x": x.shape, "z": z.shape, "p": pooled.shape, "f": f.shape,
                        "h": h.shape, "s": s.shape})
    assert [sh for _, _, sh in fig.data["stages"]][3] == (2, 288)


def _check_stages(fig, real: dict):
    stages = fig.data["stages"]
    assert [k for k, _, _ in stages] == list(real)
    for key, _, shape in stages:
        assert shape[1:] == tuple(real[key][1:]), key
    drawn = [(g.get("data-stage"), g.get("data-shape")) for g in having(parse(fig), "stage")]
    assert drawn == [(k, _shape_n(real[k])) for k in real]
    for g in having(parse(fig), "stage"):
        assert texts(g) == [g.get("data-stage"), g.get("data-shape")]


# --------------------------------------------------------------------------- the hook

_spec = importlib.util.spec_from_file_location("docs_exports_hook_figures",
                                               ROOT / "docs" / "hooks" / "exports.py")
hook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hook)


def test_figure_placeholder_renders_a_figure_block():
    out = hook.render_placeholders('Text.\n\n{{ figure("conv_vs_correlation") }}\n\nMore.\n',
                                   page="p.md")
    block = out.split("Text.", 1)[1].split("More.", 1)[0].strip()
    assert block.startswith('<figure class="cnn-figure" id="figure-conv_vs_correlation"')
    assert block.endswith("</figcaption>\n</figure>") and "\n\n" not in block
    assert build("conv_vs_correlation").caption in block
    ET.fromstring(block)                                 # well-formed as a whole


def test_unknown_figure_fails_naming_the_page():
    from mkdocs.exceptions import PluginError
    with pytest.raises(PluginError, match=r"docs/x\.md: .*no figure 'nope'; known: \["):
        hook.render_placeholders('{{ figure("nope") }}\n', page="docs/x.md")
    with pytest.raises(PluginError, match="docs/x.md"):
        hook.render_placeholders('{{ figure("toy_graph", "extra") }}\n', page="docs/x.md")


# --------------------------------------------------------------------------- activations

ACT = derivations.load("activations")
_Z, _A = sp.Symbol("z", real=True), sp.Symbol("a", real=True)


def _points(polyline: ET.Element) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")]
                     for p in polyline.get("points").split()])


def _unmap(panel: ET.Element, xy: np.ndarray) -> np.ndarray:
    """SVG coordinates back to (z, value), from the plot rect and its data- range."""
    (box,) = having(panel, "plot", "rect")
    x, y, w, h = (float(box.get(k)) for k in ("x", "y", "width", "height"))
    z0, z1 = float(box.get("data-zmin").replace("−", "-")), float(box.get("data-zmax"))
    lo, hi = (float(box.get(k).replace("−", "-")) for k in ("data-ymin", "data-ymax"))
    return np.column_stack([z0 + (xy[:, 0] - x) / w * (z1 - z0),
                            hi - (xy[:, 1] - y) / h * (hi - lo)])


def _output_form(label: str) -> sp.Expr:
    """'f′(z) = 1 − a²' -> 1 - a**2 (the drawn label, parsed back)."""
    from sympy.parsing.sympy_parser import (implicit_multiplication_application,
                                            parse_expr, standard_transformations)
    text = label.split("=", 1)[1].strip().replace("−", "-").replace("cos²(a)", "cos(a)**2")
    text = text.replace("²", "**2")
    return parse_expr(text, local_dict={"a": _A}, transformations=standard_transformations
                      + (implicit_multiplication_application,))


def _exported(expr) -> sp.Expr:
    # The arctan chain names cos^2(a) as one symbol: read it as the function it names.
    return expr.xreplace({s: sp.cos(_A) ** 2 for s in expr.free_symbols
                          if s.name == r"\cos^{2}(a)"})


@pytest.mark.parametrize("name", ["relu", "tanh", "logistic", "arctan"])
def test_activation_panel_is_cnn_and_the_export(name):
    fig = build("activations")
    (d,) = [p for p in fig.data["panels"] if p["name"] == name]
    f = cnn.ACTIVATIONS[name]
    z = np.asarray(d["z"])
    assert z[0] == -4 and z[-1] == 4 and 0.0 in d["z"] and len(z) == 161
    np.testing.assert_array_equal(d["f"], f(z))
    np.testing.assert_array_equal(d["derivative"], f.derivative(z))
    # The exported forward and derivative formulas, at every point (ReLU's 0 included).
    case = ACT.case("elementwise")
    for key, values in ((f"{name}(z)", d["f"]), (f"{name}'(z)", d["derivative"])):
        exported = sp.lambdify(_Z, case.formulas[key].expr, modules="numpy")
        got = np.array([float(exported(v)) for v in z])
        np.testing.assert_allclose(values, got, rtol=1e-12, atol=1e-15, err_msg=key)
    # The drawn label is the last step of the page's chain: with a = f(z) where it has one.
    last = _exported(ACT.chain(name).steps[-1].expr)
    root = parse(fig)
    (panel,) = [s for s in having(root, "cnn-frame", "svg") if s.get("data-activation") == name]
    (label,) = having(panel, "derivative-label", "text")
    assert "".join(label.itertext()) == d["label"]
    if name == "relu":
        assert last == sp.Heaviside(_Z, 0) and d["label"] == "f′(z) = 1 if z > 0, else 0"
    else:
        assert _A in last.free_symbols and _Z not in last.free_symbols
        assert sp.simplify(_output_form(d["label"]) - last) == 0, (d["label"], last)
        in_a = sp.lambdify(_A, last, modules="numpy")
        np.testing.assert_allclose(d["derivative"], in_a(np.asarray(d["f"])), atol=1e-12)
    # The polylines, read back into numbers, are the data; every grid point once.
    curves = {"f": d["f"], "derivative": d["derivative"]}
    lo, hi = d["yrange"]
    for curve, values in curves.items():
        lines = [e for e in having(panel, "curve", "polyline") if e.get("data-curve") == curve]
        assert lines and all(e.get("data-activation") == name for e in lines)
        drawn = np.vstack([_unmap(panel, _points(e)) for e in lines])
        np.testing.assert_allclose(drawn[:, 0], z, atol=0.01 * 8 / 250)
        np.testing.assert_allclose(drawn[:, 1], values, atol=0.01 * (hi - lo) / 160)
    assert lo < min(d["f"] + d["derivative"]) and max(d["f"] + d["derivative"]) < hi
    ticks = [float(e.get("data-value")) for e in having(panel, "ytick", "text")]
    assert ticks == list(d["yticks"]) and [float(t) for t in ticks] == [
        float("".join(e.itertext()).replace("−", "-")) for e in having(panel, "ytick", "text")]
    kinks = having(panel, "kink", "circle")
    if name == "relu":
        # Two pieces, broken at 0; the dot is the library's value at 0, the open
        # circle the right-hand limit it does not take.
        lines = [e for e in having(panel, "curve", "polyline")
                 if e.get("data-curve") == "derivative"]
        assert len(lines) == 2
        (dot,) = kinks
        assert float(dot.get("data-value")) == f.derivative(np.array(0.0)) == 0
        assert sp.Heaviside(0, 0) == 0
        (dz, dv), = _unmap(panel, np.array([[float(dot.get("cx")), float(dot.get("cy"))]]))
        assert abs(dz) < 1e-3 and abs(dv) < 1e-3
        (limit,) = having(panel, "limit", "circle")
        (lz, lv), = _unmap(panel, np.array([[float(limit.get("cx")), float(limit.get("cy"))]]))
        assert abs(lz) < 1e-3 and abs(lv - f.derivative(np.array(1e-12))) < 1e-3
        assert limit.get("fill") == "white" and dot.get("fill") != "white"
        (text,) = having(panel, "kink-label", "text")
        assert "".join(text.itertext()) == f"f′(0) = {num(f.derivative(np.array(0.0)))}"
    else:
        assert not kinks


# --------------------------------------------------------------------------- softmax

DENSE = derivations.load("dense_softmax")


def _softmax_numpy(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def _fill_rgb(e: ET.Element) -> tuple[int, int, int]:
    (rect,) = [r for r in e if tag(r) == "rect"]
    h = rect.get("fill").lstrip("#")
    return tuple(int(h[k:k + 2], 16) for k in (0, 2, 4))


def test_softmax_jacobian_is_cnn_and_the_exported_formula():
    fig = build("softmax_jacobian")
    d = fig.data
    z, K, t = np.asarray(d["z"]), len(d["z"]), d["label"]
    _, dz = cnn.softmax_cross_entropy(z[None], np.array([t]))
    y = np.eye(K)[t]
    np.testing.assert_array_equal(d["y"], y)
    np.testing.assert_array_equal(d["p_minus_y"], dz[0])          # N = 1: no mean
    np.testing.assert_allclose(d["p"], dz[0] + y, rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(d["p"], _softmax_numpy(z), rtol=1e-14)
    assert t != int(np.argmax(z)), "the example should be a wrong guess"
    # The exported chain: its last step p_i (delta_ij - p_j) at every i, j, with p
    # from cnn; its K x K step in p_0..p_{K-1}; and its first (quotient rule) step.
    chain = DENSE.chain("softmax_jacobian")
    general, in_p, quotient = (chain.steps[-1].expr, chain.steps[1].expr,
                               chain.steps[0].expr)
    assert in_p.shape == (K, K)
    i, j = sorted(general.free_symbols - {s for s in general.free_symbols
                                          if not s.is_integer}, key=str)
    p = {sp.Symbol(f"p_{{{k}}}", real=True): d["p"][k] for k in range(K)}
    e = {sp.Symbol(f"z_{{{k}}}", real=True): z[k] for k in range(K)}
    S = sp.Symbol("S", positive=True)
    closed = np.zeros((K, K))
    for a, b in np.ndindex(K, K):
        entry = general.subs({i: a, j: b})
        entry = entry.replace(lambda x: isinstance(x, sp.Indexed),
                              lambda x: sp.Float(d["p"][int(x.indices[0])]))
        closed[a, b] = float(entry)
        assert float(in_p[a, b].subs(p)) == pytest.approx(closed[a, b], abs=1e-15)
        q = quotient[a, b].subs(S, float(np.exp(z).sum())).subs(e)
        assert float(q) == pytest.approx(closed[a, b], abs=1e-12)
    np.testing.assert_allclose(d["jacobian"], closed, atol=1e-9)   # central differences
    np.testing.assert_allclose(np.sum(d["jacobian"], axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(d["jacobian"], np.transpose(d["jacobian"]), atol=1e-9)
    # The exported gradient of the cross-entropy, p_j - y_j at the last step.
    grad = DENSE.chain("ce_gradient").steps[-1].expr
    ys = {sp.Symbol(f"y_{{{k}}}", real=True): y[k] for k in range(K)}
    np.testing.assert_allclose([float(g.subs(p).subs(ys)) for g in grad], d["p_minus_y"],
                               atol=1e-15)

    root = parse(fig)
    # Bars: one per class, its value and label the data, heights proportional to p.
    (bars_svg,) = [s for s in svgs(root) if s.get("id") is None and having(s, "bar")]
    scale = float(bars_svg.get("data-bar-scale"))
    bars = having(bars_svg, "bar", "g")
    assert [int(g.get("data-class")) for g in bars] == list(range(K))
    for g, pk in zip(bars, d["p"]):
        (rect,) = [r for r in g if tag(r) == "rect"]
        assert g.get("data-value") == num(pk) and texts(g) == [num(pk)]
        assert float(rect.get("height")) == pytest.approx(pk * scale, abs=0.01)
    assert [e.get("data-value") for e in having(bars_svg, "logit", "text")] == [
        num(v) for v in z]
    # Jacobian cells: the numbers, blue for positive and orange for negative,
    # darker as the magnitude grows.
    cells = {(int(g.get("data-row")), int(g.get("data-col"))): g
             for g in having(root, "jacobian", "g")}
    assert set(cells) == set(np.ndindex(K, K))
    by_size = []
    for (a, b), g in cells.items():
        v = d["jacobian"][a][b]
        assert g.get("data-value") == num(v) and texts(g) == [num(v)]
        assert float(g.get("data-value").replace("−", "-")) == pytest.approx(
            closed[a, b], abs=5e-3 * abs(closed[a, b]))
        r, gg, bl = _fill_rgb(g)
        assert (bl > r) == (v > 0) and (a == b) == (v > 0), (a, b)
        assert g.get("data-sign") == ("+" if v > 0 else "−")
        by_size.append((abs(v), -(r + gg + bl)))
    by_size.sort()
    assert [s for _, s in by_size] == sorted(s for _, s in by_size), "not darker when larger"
    # The gradient rows: p, y and p - y, as drawn.
    for kind, values in (("p", d["p"]), ("y", d["y"]), ("grad", d["p_minus_y"])):
        drawn = {int(g.get("data-col")): (g.get("data-value"), texts(g))
                 for g in having(root, kind, "g")}
        assert drawn == {k: (num(v), [num(v)]) for k, v in enumerate(values)}, kind
    for g in having(root, "grad", "g"):
        r, _, bl = _fill_rgb(g)
        assert (bl > r) == (d["p_minus_y"][int(g.get("data-col"))] > 0)
    (descent,) = having(root, "descent", "text")
    down = [k for k in range(K) if d["p_minus_y"][k] > 0]
    assert "".join(descent.itertext()) == (
        "gradient descent lowers " + " and ".join(f"z{sub(k)}" for k in down) + ", raises "
        + " and ".join(f"z{sub(k)}" for k in range(K) if k not in down))


_SVG_NUMBER = re.compile(r"-?(?:\d+\.\d+|\d+|\.\d+)")
_GEOMETRY = ("x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height")


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_coordinate_is_an_svg_number(name):
    """'177.' is not an SVG number: Chromium drops the whole polyline (seen once)."""
    for e in parse(build(name)).iter():
        if tag(e) == "svg":
            continue
        for key in _GEOMETRY:
            if e.get(key) is not None:
                assert _SVG_NUMBER.fullmatch(e.get(key)), (name, tag(e), key, e.get(key))
        for point in (e.get("points") or "").split():
            assert all(_SVG_NUMBER.fullmatch(v) for v in point.split(",")), (name, point)
