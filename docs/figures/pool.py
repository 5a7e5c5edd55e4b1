"""Max-pool gradient routing on the max-pool page's worked example, ties included.

Which entry of each window receives the window's upstream gradient is read
off :func:`cnn.max_pool2d_backward` (one window at a time, with a one-hot
``dy``); the result grid is its output for the page's ``dy``. The example is
the page's (``tests/test_figures.py`` checks that it is the same array).
"""

from __future__ import annotations

from html import escape

import numpy as np

import cnn
from docs.locale import Domain

from . import Figure
from .svg import HIGHLIGHT, INK, MUTED, PALETTE, Svg, grid, num, sub

_ = Domain("figures")

#: The worked example of docs/layers/max_pool.md.
X = np.array([[[[1., 3., 2., 2.],
                [0., 3., 2., 1.],
                [5., 1., 0., 4.],
                [1., 2., 4., 4.]]]])
DY_STRIDE2 = np.array([[[[10., 20.],
                         [30., 40.]]]])

WIN = PALETTE[1]      # the entry that wins a window
TIE = "#c8c8c8"       # an entry equal to the maximum that does not win


def routing_data(size: int, stride: int, dy=None) -> dict:
    x = X
    y = cnn.max_pool2d(x, size=size, stride=stride)
    dy = np.ones_like(y) if dy is None else dy
    windows = []
    OH, OW = y.shape[-2:]
    for i in range(OH):
        for j in range(OW):
            one = np.zeros_like(y)
            one[0, 0, i, j] = 1.0
            routed = cnn.max_pool2d_backward(one, x, size=size, stride=stride)[0, 0]
            (winner,) = [tuple(int(t) for t in w) for w in np.argwhere(routed != 0)]
            cells = [(stride * i + a, stride * j + b) for a in range(size) for b in range(size)]
            m = float(y[0, 0, i, j])
            windows.append({"out": (i, j), "cells": cells, "max": m, "winner": winner,
                            "tied": [c for c in cells if x[0, 0][c] == m],
                            "g": float(dy[0, 0, i, j])})
    dx = cnn.max_pool2d_backward(dy, x, size=size, stride=stride)[0, 0]
    return {"size": size, "stride": stride, "x": x[0, 0].tolist(), "dy": dy[0, 0].tolist(),
            "y": y[0, 0].tolist(), "windows": windows, "dx": dx.tolist()}


def window_frame(values, *, heading: str, fills, labels, extra, origin, size: int,
                 notes, title: str, ident: str, **data) -> str:
    """One frame of a pooling strip: ``heading``, the input grid ``values`` (cells
    coloured ``fills``, showing ``labels``, attributes ``extra(r, c)``) with the window,
    ``size`` x ``size`` from ``origin``, outlined; under it each ``(text, style)`` of
    ``notes``. ``title``, ``ident`` and ``data`` go to the ``<svg>``. Also used by the
    average-pool figure."""
    n, cell = len(values), 24
    svg = Svg(150, 158)
    svg.text(4, 11, heading, size=11, weight="bold", anchor="start")
    grid(svg, 4, 26, values, cell=cell, fills=fills, labels=labels, size=11, extra=extra)
    r0, c0 = origin
    svg.rect(4 + c0 * cell, 26 + r0 * cell, size * cell, size * cell, stroke=HIGHLIGHT,
             stroke_width=2.5, class_="window", data_row=r0, data_col=c0)
    for line, (text, style) in enumerate(notes):
        svg.text(4, 26 + n * cell + 12 + 13 * line, text, **style)
    return svg.render(title, ident=ident, max_width=200, class_="cnn-frame", **data)


def _window_frame(d, w, number: int) -> str:
    x = d["x"]
    n = len(x)
    i, j = w["out"]
    cells = set(w["cells"])
    fills = [[WIN if (r, c) == w["winner"] else TIE if (r, c) in w["tied"] else
              "white" for c in range(n)] for r in range(n)]

    def extra(r, c):
        role = ("winner" if (r, c) == w["winner"] else "tie" if (r, c) in w["tied"] else
                "in-window" if (r, c) in cells else None)
        return {"data_role": role}
    wr, wc = w["winner"]
    notes = [(_("%(entry)s goes to (%(row)s, %(col)s)", entry=f"G{sub(i, j)} = {num(w['g'])}",
                row=wr, col=wc), {"size": 10, "anchor": "start"})]
    if any(t != w["winner"] for t in w["tied"]):
        notes.append((_("tie: the first maximum wins"),
                      {"size": 9, "anchor": "start", "fill": MUTED}))
    return window_frame(
        x, heading=_("window %(number)s: max %(max)s", number=number, max=num(w["max"])),
        fills=fills, labels=[[num(x[r][c]) for c in range(n)] for r in range(n)], extra=extra,
        origin=w["cells"][0], size=d["size"], notes=notes,
        title=_("Window %(number)s (output %(out)s): its maximum %(max)s is at %(at)s, which "
                "receives %(g)s.", number=number, out=f"{i},{j}", max=num(w["max"]),
                at=f"{wr},{wc}", g=num(w["g"])),
        ident=f"fig-pool-s{d['stride']}-w{number}", data_out=f"{i},{j}",
        data_winner=f"{wr},{wc}", data_g=num(w["g"]))


def result_frame(dx, *, fill: str, note: str, title: str, ident: str) -> str:
    """The frame that ends a strip: the grid ``dx`` (cells ``class="dx"``), non-zero
    entries in ``fill``, with ``note`` under it. Also used by the average-pool figure."""
    n, cell = len(dx), 24
    svg = Svg(150, 158)
    svg.text(4, 11, _("dL/dx: the sum"), size=11, weight="bold", anchor="start")
    fills = [[fill if v else "white" for v in row] for row in dx]
    grid(svg, 4, 26, dx, cell=cell, fills=fills, size=11, kind="dx")
    svg.text(4, 26 + n * cell + 12, note, size=10, anchor="start")
    return svg.render(title, ident=ident, max_width=200, class_="cnn-frame cnn-frame-result")


def _result(d) -> str:
    return result_frame(d["dx"], fill=WIN, note=_("every window's G, added"),
                        title=_("The gradient dL/dx for stride %(stride)s.", stride=d["stride"]),
                        ident=f"fig-pool-s{d['stride']}-dx")


def legend(items, *, title: str, ident: str) -> str:
    """A legend: one (fill, stroke, label) swatch a row; the window's red outline is thicker."""
    svg = Svg(300, 4 + 22 * len(items))
    for row, (fill, stroke, label) in enumerate(items):
        svg.rect(4, 4 + row * 22, 16, 16, fill=fill, stroke=stroke,
                 stroke_width=2.5 if stroke == HIGHLIGHT else 1)
        svg.text(28, 12 + row * 22, label, size=12, anchor="start")
    return svg.render(title, ident=ident, max_width=300, class_="cnn-frame-legend")


def _legend() -> str:
    return legend(((WIN, INK, _("wins the window: gets its G")),
                   (TIE, INK, _("ties with the maximum, gets 0")),
                   ("none", HIGHLIGHT, _("the window"))),
                  title=_("Legend of the max-pool frames."), ident="fig-pool-legend")


def routing() -> Figure:
    cases = [routing_data(2, 2, DY_STRIDE2), routing_data(2, 1)]
    caption = _("Max pooling backward on the worked example: each window sends its upstream "
                "gradient to one entry, the first maximum in row-major order. Read off "
                "cnn.max_pool2d_backward.")
    return Figure("max_pool_routing", strips(cases, _legend(), _window_frame, _result, "stride"),
                  caption, {"cases": cases})


def strips(cases, legend_svg: str, window_frame, result, key: str) -> str:
    """The legend, then one strip per case (``<div class="cnn-frames" data-KEY>``): a
    heading, one frame per window, the result frame. Also the average-pool figure's."""
    parts = [legend_svg]
    for d in cases:
        g = [num(v) for row in d["dy"] for v in row]
        if d["stride"] >= d["size"]:
            heading = _("size %(size)s, stride %(stride)s: windows do not overlap, upstream "
                        "G = %(g)s", size=d["size"], stride=d["stride"], g=", ".join(g))
        else:
            heading = _("size %(size)s, stride %(stride)s: windows overlap, every G = %(g)s",
                        size=d["size"], stride=d["stride"], g=g[0])
        frames = [window_frame(d, w, k + 1) for k, w in enumerate(d["windows"])]
        parts.append(f'<div class="cnn-frames" data-{key}="{d[key]}">\n'
                     f'<p class="cnn-frames-heading">{escape(heading, quote=False)}</p>\n'
                     + "\n".join(frames + [result(d)]) + "\n</div>")
    return '<div class="cnn-pool-routing">\n' + "\n".join(parts) + "\n</div>"
