"""The softmax of one logit vector, its Jacobian, and the gradient p - y.

``p`` is read off ``cnn.softmax_cross_entropy`` (for one sample its gradient
is p - y, so p is that plus the one-hot y). The Jacobian is a central
difference of that same p, one logit at a time: numbers measured from the
library, not the closed form. ``tests/test_figures.py`` compares them with
the exported chain's p_i (delta_ij - p_j) and reads the drawing back.
"""

from __future__ import annotations

import numpy as np

import cnn
from docs.locale import Domain

from . import Figure
from .svg import GRID, MUTED, Svg, grid, num, sub

_ = Domain("figures")

Z = np.array([2.0, 1.0, 0.0])       # one sample's logits, K = 3 (the exported chain's K)
LABEL = 1                           # its true class: not the most probable one
STEP = 1e-5                         # central-difference step

POSITIVE = (0x44, 0x77, 0xAA)       # Paul Tol's blue: the entry is positive
NEGATIVE = (0xEE, 0x77, 0x33)       # Paul Tol's orange: negative
BAR = "#77AADD"


def probabilities(z) -> np.ndarray:
    """softmax(z) of one sample, from cnn.softmax_cross_entropy's gradient p - y."""
    z = np.asarray(z, dtype=float)
    _loss, dz = cnn.softmax_cross_entropy(z[None], np.array([0]))
    return dz[0] + np.eye(len(z))[0]


def jacobian_data() -> dict:
    K = len(Z)
    p = probabilities(Z)
    J = np.zeros((K, K))
    for j in range(K):
        e = np.zeros(K)
        e[j] = STEP
        J[:, j] = (probabilities(Z + e) - probabilities(Z - e)) / (2 * STEP)
    y = np.eye(K)[LABEL]
    loss, dz = cnn.softmax_cross_entropy(Z[None], np.array([LABEL]))
    return {"z": Z.tolist(), "label": LABEL, "p": p.tolist(), "jacobian": J.tolist(),
            "y": y.tolist(), "p_minus_y": dz[0].tolist(), "step": STEP,
            "loss": float(loss)}


def shade(value: float, scale: float) -> str:
    """White for 0, towards blue (positive) or orange (negative) as |value| nears scale."""
    t = min(abs(value) / scale, 1.0) * 0.85
    rgb = POSITIVE if value > 0 else NEGATIVE
    return "#" + "".join(f"{round(255 + (c - 255) * t):02x}" for c in rgb)


def _bars(d) -> str:
    svg = Svg(250, 226)
    svg.text(4, 12, _("probabilities p = softmax(z)"), size=13, weight="bold", anchor="start")
    base, top, width, gap = 176, 40, 46, 26
    scale = base - top                      # pixels for p = 1
    svg.line(20, base, 236, base, stroke=GRID, width=1)
    svg.line(20, top, 236, top, stroke="#e4e4e4", width=1)
    svg.text(18, top, "1", size=11, anchor="end", fill=MUTED)
    svg.text(18, base, "0", size=11, anchor="end", fill=MUTED)
    for k, (p, z) in enumerate(zip(d["p"], d["z"])):
        x = 34 + k * (width + gap)
        svg.open("g", class_="bar", data_class=k, data_value=num(p))
        svg.rect(x, base - p * scale, width, p * scale, fill=BAR, stroke="#4477AA")
        svg.text(x + width / 2, base - p * scale - 10, num(p), size=13)
        svg.close("g")
        svg.text(x + width / 2, base + 14, f"p{sub(k)}", size=13, class_="bar-name")
        svg.text(x + width / 2, base + 32, f"z{sub(k)} = {num(z)}", size=12.5, fill=MUTED,
                 class_="logit", data_class=k, data_value=num(z))
    return svg.render(_("The probabilities p = softmax(z) as bars, for the logits %(z)s.",
                        z=", ".join(num(v) for v in d["z"])),
                      ident="fig-softmax-p", max_width=340, class_="cnn-frame",
                      data_bar_scale=scale)


def _jacobian(d) -> str:
    J = d["jacobian"]
    K, cell, x0, y0 = len(J), 58, 40, 62
    scale = max(abs(v) for row in J for v in row)
    svg = Svg(250, 312)
    svg.text(4, 12, _("Jacobian: how p moves with z"), size=13, weight="bold", anchor="start")
    svg.text(4, 31, _("row i: pᵢ, column j: the logit zⱼ"), size=12.5, anchor="start",
             fill=MUTED)
    for k in range(K):
        svg.text(x0 + (k + 0.5) * cell, y0 - 9, f"z{sub(k)}", size=13, weight="bold")
        svg.text(x0 - 8, y0 + (k + 0.5) * cell, f"p{sub(k)}", size=13, weight="bold",
                 anchor="end")
    fills = [[shade(v, scale) for v in row] for row in J]
    grid(svg, x0, y0, J, cell=cell, fills=fills, size=13, kind="jacobian",
         extra=lambda i, j: {"data_sign": "+" if J[i][j] > 0 else "−"})
    y = y0 + K * cell + 18
    svg.rect(4, y - 7, 14, 14, fill=shade(scale, scale), stroke=GRID)
    svg.text(24, y, _("positive: pᵢ rises with zⱼ"), size=12.5, anchor="start")
    svg.rect(4, y + 15, 14, 14, fill=shade(-scale, scale), stroke=GRID)
    svg.text(24, y + 22, _("negative: pᵢ falls"), size=12.5, anchor="start")
    svg.text(4, y + 46, _("every column sums to 0: Σ p stays 1"), size=12.5, anchor="start",
             fill=MUTED)
    return svg.render(_("The softmax Jacobian, row i the probability, column j the logit; "
                        "the diagonal is positive, the rest negative."),
                      ident="fig-softmax-jacobian", max_width=340, class_="cnn-frame")


def _gradient(d) -> str:
    K, cell, x0, y0 = len(d["p"]), 58, 52, 58
    svg = Svg(250, 206)
    svg.text(4, 12, _("cross-entropy, true class %(label)s", label=d["label"]), size=13,
             weight="bold", anchor="start")
    svg.text(4, 31, _("its gradient at the logits is p − y"), size=12.5, anchor="start",
             fill=MUTED)
    rows = (("p", d["p"], "p", None), ("y", d["y"], "y", None),
            ("p − y", d["p_minus_y"], "grad", max(abs(v) for v in d["p_minus_y"])))
    h = 34
    for r, (name, values, kind, scale) in enumerate(rows):
        y = y0 + r * (h + 8)
        svg.text(x0 - 8, y + h / 2, name, size=13, weight="bold", anchor="end")
        fills = [[shade(v, scale) if scale else "white" for v in values]]
        # One row of cell x h rects (grid() draws squares), with grid()'s attributes.
        for k, v in enumerate(values):
            svg.open("g", class_=kind, data_row=0, data_col=k, data_value=num(v))
            svg.rect(x0 + k * cell, y, cell, h, fill=fills[0][k])
            svg.text(x0 + (k + 0.5) * cell, y + h / 2, num(v), size=13)
            svg.close("g")
    g = d["p_minus_y"]
    down = _both(f"z{sub(k)}" for k in range(K) if g[k] > 0)
    up = _both(f"z{sub(k)}" for k in range(K) if g[k] < 0)
    svg.text(4, y0 + 3 * (h + 8) + 6, _("gradient descent lowers %(down)s, raises %(up)s",
                                        down=down, up=up),
             size=12.5, anchor="start", fill=MUTED, class_="descent")
    return svg.render(_("p, the one-hot y of the true class and the gradient p − y."),
                      ident="fig-softmax-grad", max_width=340, class_="cnn-frame")


def _both(names) -> str:
    """Names joined by "and" ("z₀ and z₂"), in the language being rendered."""
    names = list(names)
    text = names[0] if names else ""
    for name in names[1:]:
        text = _("%(first)s and %(second)s", first=text, second=name)
    return text


def softmax_jacobian() -> Figure:
    d = jacobian_data()
    html = ('<div class="cnn-frames cnn-softmax">\n'
            + "\n".join((_bars(d), _jacobian(d), _gradient(d))) + "\n</div>")
    caption = _("One sample with logits z = (%(z)s). The Jacobian entries are central "
                "differences of the softmax computed by cnn.softmax_cross_entropy, one logit "
                "at a time; the tests check them against the exported formula. The gradient "
                "p − y is what cnn.softmax_cross_entropy returns for this sample.",
                z=", ".join(num(v) for v in d["z"]))
    return Figure("softmax_jacobian", html, caption, d)
