"""The seed networks' architectures, with the shapes a real forward pass produces.

Every shape in these figures is read from arrays: the cache of
``Digits01Net.forward``, and for ``MnistNet`` (whose cache holds fast-path
buffers in its own layout) the library layers composed with the network's
parameters, checked against ``MnistNet.forward``'s logits and buffers.
Kernel sizes, paddings and pool windows are read off the same shapes. The
operations' labels are :class:`~docs.figures.svg.Message` s in the data (the same
in every language), put into words when drawn.
"""

from __future__ import annotations

from html import escape

import numpy as np

import cnn
from docs.locale import Domain

from . import Figure
from .svg import INK, MUTED, PALETTE, Message, Svg, _attrs, _r, columns

_ = Domain("figures")
M = Message.of

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
    conv = "conv %(k)sx%(k)s, padding %(padding)s, %(w)s %(shape)s"
    dense = "dense %(w)s %(shape)s, %(activation)s"
    stages = [("x", M("input image"), _shape(c["x"])),
              ("z1", M(conv, k=k1, padding=pad1, w="w1", shape=_shape(p["w1"])), _shape(c["z1"])),
              ("p1", M("%(activations)s per channel, max pool %(size)sx%(size)s",
                       activations=acts(net.L1_ACTIVATIONS), size=pool1), _shape(c["p1"])),
              ("z2", M(conv, k=k2, padding=pad2, w="w2", shape=_shape(p["w2"])), _shape(c["z2"])),
              ("p2", M("%(activations)s, max pool %(size)sx%(size)s",
                       activations=acts(net.L2_ACTIVATIONS), size=pool2), _shape(c["p2"])),
              ("f", M("flatten, channel by channel"), _shape(c["f"])),
              ("a3", M(dense, w="w3", shape=_shape(p["w3"]), activation=d1.name), _shape(c["a3"])),
              ("a4", M(dense, w="w4", shape=_shape(p["w4"]), activation=d2.name), _shape(c["a4"])),
              ("o", M(dense, w="w5", shape=_shape(p["w5"]), activation=d3.name), _shape(out))]
    return {"network": "Digits01Net", "batch": BATCH, "stages": stages,
            "cost": M("L2 cost, mean over the batch")}


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
    stages = [("x", M("input image"), _shape(x)),
              ("z", M("conv %(k)sx%(k)s, no padding, %(kernels)s kernels %(shape)s", k=kh,
                      kernels=p["conv_w"].shape[0], shape=_shape(p["conv_w"])), _shape(z)),
              ("p", M("ReLU, max pool %(size)sx%(size)s, stride %(stride)s", size=net.pool,
                      stride=net.pool), _shape(pooled)),
              ("f", M("flatten"), _shape(f)),
              ("h", M("dense %(w)s %(shape)s, %(activation)s", w="w1", shape=_shape(p["w1"]),
                      activation="ReLU"), _shape(h)),
              ("s", M("dense %(w)s %(shape)s: logits", w="w2", shape=_shape(p["w2"])),
               _shape(s))]
    return {"network": "MnistNet", "batch": BATCH, "stages": stages,
            "cost": M("softmax cross-entropy, mean over the batch")}


def _lines(text: str, width: int = 22) -> list[str]:
    """``text`` in at most two lines if it is wider than ``width`` columns (a CJK
    character is two, about 1 em; see :func:`~docs.figures.svg.columns`), broken
    after the ", " or ": " (or the full-width "，" or "：") outside parentheses
    whose lines are the most even; each line but the last keeps its trailing
    space, so the element's text is ``text``."""
    depth, cuts = 0, []
    for i, ch in enumerate(text):
        depth += (ch in "(（") - (ch in ")）")
        if depth == 0 and text.startswith((", ", ": "), i):
            cuts.append(i + 2)
        elif depth == 0 and ch in "，：":
            cuts.append(i + 1)
    if columns(text) <= width or not cuts:
        return [text]
    cut = min(cuts, key=lambda i: max(columns(text[:i]), columns(text[i:])))
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
            _text_lines(svg, x0 + 38, y - gap / 2, op.say(), size=11, step=14, class_="op",
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
    svg.text(x0 + box_w / 2, y + box_h / 2, _("cost L (a number)"), size=11)
    _text_lines(svg, x0 + 38, y - gap / 2, d["cost"].say(), size=11, step=14, fill=MUTED)
    caption = _("%(network)s: every shape is read from a forward pass on a batch of "
                "N = %(batch)s images; blue boxes are image-shaped (N, channels, rows, "
                "columns), yellow ones a row per image.", network=d["network"], batch=d["batch"])
    return Figure(name, svg.render(title, ident=f"fig-{name}", max_width=W * 1.4), caption, d)


def digits01() -> Figure:
    return _architecture("arch_digits01", digits01_data(),
                         _("The digits 0/1 network (seed 000), layer by layer, with its shapes."))


def mnist() -> Figure:
    return _architecture("arch_mnist", mnist_data(),
                         _("The MNIST network (seed 003), layer by layer, with its shapes."))
