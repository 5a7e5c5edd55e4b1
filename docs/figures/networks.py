"""The seed networks' architectures, with the shapes a real forward pass produces.

Every shape in these figures is read from arrays: the cache of
``Digits01Net.forward``, and for ``MnistNet`` (whose cache holds fast-path
buffers in its own layout) the library layers composed with the network's
parameters, checked against ``MnistNet.forward``'s logits and buffers.
Kernel sizes, paddings and pool windows are read off the same shapes.
"""

from __future__ import annotations

import numpy as np

import cnn

from . import Figure
from html import escape

from .svg import INK, MUTED, PALETTE, Svg, _attrs, _r

BATCH = 2       # the forward pass runs on this many images; figures write N


def _shape(arr) -> tuple[int, ...]:
    return tuple(int(s) for s in np.shape(arr))


def _n(shape) -> str:
    """(2, 1, 8, 8) -> '(N, 1, 8, 8)'; the batch axis is the forward pass's."""
    assert shape[0] == BATCH
    return "(" + ", ".join(["N", *map(str, shape[1:])]) + ")"


def digits01_data() -> dict:
    net = cnn.Digits01Net()
    H, W = net.config["input_shape"]
    x = np.random.default_rng(0).random((BATCH, 1, H, W))
    out, c = net.forward(x)
    p = net.params
    k1, k2 = p["w1"].shape[-1], p["w2"].shape[-1]
    pad1 = (c["z1"].shape[-1] - 1 + k1 - c["x"].shape[-1]) // 2    # stride 1
    pad2 = (c["z2"].shape[-1] - 1 + k2 - c["p1"].shape[-1]) // 2
    pool1 = c["z1"].shape[-1] // c["p1"].shape[-1]
    pool2 = c["z2"].shape[-1] // c["p2"].shape[-1]
    acts = lambda fs: " | ".join(f.name for f in fs)  # noqa: E731
    d1, d2, d3 = net.DENSE_ACTIVATIONS
    stages = [("x", "input image", _shape(c["x"])),
              ("z1", f"conv {k1}x{k1}, padding {pad1}, w1 {_shape(p['w1'])}", _shape(c["z1"])),
              ("p1", f"{acts(net.L1_ACTIVATIONS)} per channel, max pool {pool1}x{pool1}",
               _shape(c["p1"])),
              ("z2", f"conv {k2}x{k2}, padding {pad2}, w2 {_shape(p['w2'])}", _shape(c["z2"])),
              ("p2", f"{acts(net.L2_ACTIVATIONS)}, max pool {pool2}x{pool2}", _shape(c["p2"])),
              ("f", "flatten, channel by channel", _shape(c["f"])),
              ("a3", f"dense w3 {_shape(p['w3'])}, {d1.name}", _shape(c["a3"])),
              ("a4", f"dense w4 {_shape(p['w4'])}, {d2.name}", _shape(c["a4"])),
              ("o", f"dense w5 {_shape(p['w5'])}, {d3.name}", _shape(out))]
    return {"network": "Digits01Net", "batch": BATCH, "stages": stages,
            "cost": "L2 cost, mean over the batch"}


def mnist_data() -> dict:
    net = cnn.MnistNet()
    H, W = net.config["input_shape"]
    x = np.random.default_rng(0).random((BATCH, 1, H, W)).astype(net.dtype)
    logits, buf = net.forward(x)
    p, cfg = net.params, net.config
    xh = (x - cfg["input_mean"]) / cfg["input_std"]
    z = cnn.conv2d(xh, p["conv_w"], p["conv_b"])
    pooled = cnn.max_pool2d(cnn.relu(z), size=net.pool, stride=net.pool)
    f = pooled.reshape(len(x), -1)
    h = cnn.relu(cnn.dense(f, p["w1"], p["b1"]))
    s = cnn.dense(h, p["w2"], p["b2"])
    # The composition is the network: same logits, and the fast path's buffers agree.
    if not np.allclose(s, logits, rtol=1e-4, atol=1e-5):
        raise AssertionError("the composed layers do not reproduce MnistNet.forward")
    if (_shape(buf.f), _shape(buf.h), _shape(buf.logits)) != (_shape(f), _shape(h), _shape(s)) \
            or buf.m.size != pooled.size:
        raise AssertionError("MnistNet's buffers do not have the composed layers' shapes")
    kh = p["conv_w"].shape[-1]
    stages = [("x", "input image", _shape(x)),
              ("z", f"conv {kh}x{kh}, no padding, {p['conv_w'].shape[0]} kernels "
                    f"{_shape(p['conv_w'])}", _shape(z)),
              ("p", f"ReLU, max pool {net.pool}x{net.pool}, stride {net.pool}", _shape(pooled)),
              ("f", "flatten", _shape(f)),
              ("h", f"dense w1 {_shape(p['w1'])}, ReLU", _shape(h)),
              ("s", f"dense w2 {_shape(p['w2'])}: logits", _shape(s))]
    return {"network": "MnistNet", "batch": BATCH, "stages": stages,
            "cost": "softmax cross-entropy, mean over the batch"}


def _lines(text: str, width: int = 22) -> list[str]:
    """``text`` in at most two lines, broken after the ", " or ": " (outside
    parentheses) nearest its middle; each line but the last keeps its trailing
    space, so the element's text is ``text``."""
    depth, cuts = 0, []
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and text.startswith((", ", ": "), i):
            cuts.append(i + 2)
    if len(text) <= width or not cuts:
        return [text]
    cut = min(cuts, key=lambda i: max(i, len(text) - i))
    return [text[:cut], text[cut:]]


def _text_lines(svg: Svg, x, y, text: str, *, size: float, step: float, **attrs) -> None:
    """One ``<text>`` (so a test reads ``text`` back whole), a ``<tspan>`` per line,
    centred vertically on y."""
    lines = _lines(text)
    y0 = y - (len(lines) - 1) * step / 2
    spans = "".join(f'<tspan x="{_r(x)}" y="{_r(y0 + i * step)}">{escape(line, quote=False)}'
                    f"</tspan>" for i, line in enumerate(lines))
    svg.parts.append(f"<text {_attrs(dict(font_size=size, dominant_baseline='central', **attrs))}>"
                     f"{spans}</text>")


def _architecture(name: str, d: dict, title: str) -> Figure:
    # Narrow (the operations in two lines beside the arrows) so that in a notebook's
    # output column on a phone, about 240 px, the text stays near 11 px.
    stages = d["stages"]
    box_w, box_h, gap = 128, 34, 42
    W = 250
    H = 20 + len(stages) * (box_h + gap) + box_h + 10
    svg = Svg(W, H)
    x0 = 8
    colours = {"x": PALETTE[8]}
    for i, (key, op, shape) in enumerate(stages):
        y = 14 + i * (box_h + gap)
        if i:
            svg.arrow(x0 + 24, y - gap + 2, x0 + 24, y - 2)
            _text_lines(svg, x0 + 38, y - gap / 2, op, size=11, step=14, class_="op",
                        data_stage=key)
        fill = colours.get(key, PALETTE[5] if key.startswith(("z", "p", "x")) and
                           len(shape) == 4 else PALETTE[3])
        svg.open("g", class_="stage", data_stage=key, data_shape=_n(shape))
        svg.rect(x0, y, box_w, box_h, fill=fill, stroke=INK, rx=5)
        svg.text(x0 + 10, y + box_h / 2, key, size=12, weight="bold", anchor="start")
        svg.text(x0 + box_w - 8, y + box_h / 2, _n(shape), size=11, anchor="end")
        svg.close("g")
    y = 14 + len(stages) * (box_h + gap)
    svg.arrow(x0 + 24, y - gap + 2, x0 + 24, y - 2)
    svg.rect(x0, y, box_w, box_h, fill="white", stroke=INK, rx=5, stroke_dasharray="4 3")
    svg.text(x0 + box_w / 2, y + box_h / 2, "cost L (a number)", size=11)
    _text_lines(svg, x0 + 38, y - gap / 2, d["cost"], size=11, step=14, fill=MUTED)
    caption = (f"{d['network']}: every shape is read from a forward pass on a batch of "
               f"N = {d['batch']} images; blue boxes are image-shaped (N, channels, rows, "
               f"columns), yellow ones a row per image.")
    return Figure(name, svg.render(title, ident=f"fig-{name}", max_width=W * 1.4), caption, d)


def digits01() -> Figure:
    return _architecture("arch_digits01", digits01_data(),
                         "The digits 0/1 network (seed 000), layer by layer, with its shapes.")


def mnist() -> Figure:
    return _architecture("arch_mnist", mnist_data(),
                         "The MNIST network (seed 003), layer by layer, with its shapes.")
