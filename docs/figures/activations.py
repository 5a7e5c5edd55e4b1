"""The four activations and their derivatives, plotted over z in [-4, 4].

Every curve is a polyline through ``cnn.<f>(z)`` and ``cnn.<f>.derivative(z)``
on the grid ``Z`` (which holds z = 0 exactly). Each derivative is labelled
in the form the activations page derives, written with the output a = f(z)
(tanh, logistic, arctan) or, for ReLU, by cases with its value 0 at the kink,
drawn as a dot. ``tests/test_figures.py`` checks the curves against ``cnn``
and the exports, and reads the polylines back into numbers.
"""

from __future__ import annotations

import numpy as np

import cnn
from docs.locale import Domain

from . import Figure
from .svg import GRID, MUTED, Svg, _r, num

_ = Domain("figures")

#: z from -4 to 4 in steps of 0.05; Z[80] is exactly 0.
Z = np.arange(-80, 81) / 20.0
F_COLOUR = "#4477AA"       # the activation f(z): solid
D_COLOUR = "#CC3311"       # its derivative f'(z): dashed
DASH = "6 3"

#: name -> (title, the derivative's label, y range, y ticks). The labels are the
#: last steps of the page's chains (tests/test_figures.py parses them back). The
#: titles are names and the labels formulas, drawn as they are; but for ReLU's
#: label, in words (a message, drawn in the page's language).
PANELS = {
    "relu": ("ReLU", "f′(z) = 1 if z > 0, else 0", (-0.6, 4.4), (0, 1, 2, 3, 4)),
    "tanh": ("tanh", "f′(z) = 1 − a²", (-1.7, 1.7), (-1, 0, 1)),
    "logistic": ("logistic σ", "f′(z) = a(1 − a)", (-1.7, 1.7), (-1, 0, 1)),
    "arctan": ("arctan", "f′(z) = cos²(a)", (-1.7, 1.7), (-1, 0, 1)),
}

W, H = 310, 236
PLOT = (40, 50, 244, 160)           # x, y, width, height of the plotting area


def panel_data(name: str) -> dict:
    f = cnn.ACTIVATIONS[name]
    title, label, yrange, yticks = PANELS[name]
    return {"name": name, "title": title, "label": label, "yrange": yrange,
            "yticks": yticks, "z": Z.tolist(), "f": f(Z).tolist(),
            "derivative": f.derivative(Z).tolist()}


def _mapper(d):
    x0, y0, w, h = PLOT
    lo, hi = d["yrange"]

    def zx(z):
        return x0 + (z - Z[0]) / (Z[-1] - Z[0]) * w

    def vy(v):
        return y0 + (hi - v) / (hi - lo) * h
    return zx, vy


def _polyline(svg, zs, vs, d, *, curve, colour, dash=None):
    zx, vy = _mapper(d)
    pts = " ".join(f"{_r(zx(z))},{_r(vy(v))}" for z, v in zip(zs, vs))
    svg.add("polyline", points=pts, fill="none", stroke=colour, stroke_width=2.2,
            stroke_dasharray=dash, stroke_linejoin="round", class_="curve",
            data_curve=curve, data_activation=d["name"])


#: The activations whose derivative's label has words: a message.
IN_WORDS = {"relu"}


def _panel(d) -> str:
    svg = Svg(W, H)
    x0, y0, w, h = PLOT
    zx, vy = _mapper(d)
    lo, hi = d["yrange"]
    label = _(d["label"]) if d["name"] in IN_WORDS else d["label"]
    svg.text(4, 12, d["title"], size=14, weight="bold", anchor="start")
    svg.text(4, 32, label, size=12.5, anchor="start", fill=D_COLOUR,
             class_="derivative-label")
    svg.rect(x0, y0, w, h, stroke=GRID, class_="plot", data_zmin=num(Z[0]),
             data_zmax=num(Z[-1]), data_ymin=num(lo), data_ymax=num(hi))
    for t in d["yticks"]:
        y = vy(t)
        svg.line(x0, y, x0 + w, y, stroke="#e4e4e4" if t else GRID, width=1)
        svg.text(x0 - 5, y, num(t), size=11, anchor="end", class_="ytick", data_value=t)
    for t in (-4, -2, 0, 2, 4):
        x = zx(t)
        svg.line(x, y0, x, y0 + h, stroke="#e4e4e4" if t else GRID, width=1)
        svg.text(x, y0 + h + 11, num(t), size=11, class_="ztick", data_value=t)
    svg.text(x0 + w + 12, y0 + h + 11, "z", size=12, anchor="start", fill=MUTED)
    z, f, der = d["z"], d["f"], d["derivative"]
    _polyline(svg, z, f, d, curve="f", colour=F_COLOUR)
    if d["name"] == "relu":
        # Not differentiable at 0: the left piece runs up to z = 0, where the library
        # takes the value 0 (a dot); the right limit 1 is an open circle.
        k = z.index(0.0)
        _polyline(svg, z[:k + 1], der[:k + 1], d, curve="derivative", colour=D_COLOUR,
                  dash=DASH)
        _polyline(svg, z[k + 1:], der[k + 1:], d, curve="derivative", colour=D_COLOUR,
                  dash=DASH)
        svg.circle(zx(0), vy(1), 4, fill="white", stroke=D_COLOUR, stroke_width=1.8,
                   class_="limit", data_z=0, data_value=1)
        svg.circle(zx(0), vy(der[k]), 4.5, fill=D_COLOUR, stroke=D_COLOUR, class_="kink",
                   data_z=0, data_value=num(der[k]))
        svg.text(zx(0) - 8, vy(0) - 12, f"f′(0) = {num(der[k])}", size=12,
                 anchor="end", fill=D_COLOUR, class_="kink-label")
    else:
        _polyline(svg, z, der, d, curve="derivative", colour=D_COLOUR, dash=DASH)
    return svg.render(_("%(name)s and its derivative for z from −4 to 4; %(derivative)s.",
                        name=d["title"], derivative=label),
                      ident=f"fig-act-{d['name']}", max_width=420, class_="cnn-frame",
                      data_activation=d["name"])


def _legend() -> str:
    svg = Svg(330, 66)
    svg.line(4, 10, 34, 10, stroke=F_COLOUR, width=2.2)
    svg.text(42, 10, _("f(z), the activation; a = f(z) is its output"), size=12,
             anchor="start")
    svg.line(4, 32, 34, 32, stroke=D_COLOUR, width=2.2, stroke_dasharray=DASH)
    svg.text(42, 32, _("f′(z), its derivative"), size=12, anchor="start")
    svg.circle(12, 54, 4.5, fill=D_COLOUR, stroke=D_COLOUR)
    svg.circle(26, 54, 4, fill="white", stroke=D_COLOUR, stroke_width=1.8)
    svg.text(42, 54, _("value used at the kink / limit not taken"), size=12, anchor="start")
    return svg.render(_("Legend of the activation panels."), ident="fig-act-legend",
                      max_width=420, class_="cnn-frame-intro")


def activations() -> Figure:
    panels = [panel_data(n) for n in PANELS]
    html = ('<div class="cnn-frames cnn-activations">\n' + _legend() + "\n"
            + "\n".join(_panel(d) for d in panels) + "\n</div>")
    caption = _("Each activation (solid) and its derivative (dashed), both computed by cnn "
                "on z from −4 to 4 in steps of 0.05. Where the derivative is small, the "
                "gradient passed back is small. ReLU's derivative jumps at 0; the library "
                "takes the value 0 there.")
    return Figure("activations", html, caption, {"panels": panels})
