"""Convolution figures: the flip, and the backward pass frame by frame.

* :func:`conv_vs_correlation`: which pixel meets which kernel weight in the
  first output entry, for the toy net's true convolution (the terms of the
  exported ``z1[0,0]``) and for the library's cross-correlation (read off
  :func:`cnn.conv2d` by feeding it one-hot arrays).
* :func:`dw_frames`, :func:`dx_frames`: the backward pass of a 3x3
  convolution with padding 1 and stride 2 on a 5x5 input, one frame per
  step; the test holds the frames' numbers to :func:`cnn.conv2d_backward`.
"""

from __future__ import annotations

from html import escape

import numpy as np

import cnn
import derivations
from docs.locale import Domain

from . import Figure
from .svg import GRID, HIGHLIGHT, INK, MUTED, PALETTE, Svg, grid, lines, num, plain_grid, sub
from .toy import _names, product_terms

_ = Domain("figures")

# The example of the frames: one channel in, one out, so each frame is one picture.
STRIDE, PADDING = 2, 1


def example():
    """(x, w, dy) of the frames: x (1,1,5,5), w (1,1,3,3), dy = G (1,1,3,3) = 1..9."""
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (1, 1, 5, 5)).astype(float)
    w = rng.integers(-1, 2, (1, 1, 3, 3)).astype(float)
    oh = cnn.conv.output_size(5, 3, STRIDE, PADDING)
    dy = np.arange(1.0, 1.0 + oh * oh).reshape(1, 1, oh, oh)
    return x, w, dy


# ---------------------------------------------------------------------------
# Convolution vs cross-correlation
# ---------------------------------------------------------------------------
def _probe_pairs(op, n: int, k: int, out=(0, 0)):
    """[(kernel index, pixel index)] that ``op(x, K)`` multiplies into output ``out``,
    found by one-hot inputs: the output is 1 exactly when the pair meets."""
    pairs = []
    for a in range(k):
        for b in range(k):
            kernel = np.zeros((k, k))
            kernel[a, b] = 1.0
            for u in range(n):
                for v in range(n):
                    x = np.zeros((n, n))
                    x[u, v] = 1.0
                    if op(x, kernel)[out] == 1.0:
                        pairs.append(((a, b), (u, v)))
    return sorted(pairs)


def correlation_pairs(n=3, k=2):
    return _probe_pairs(lambda x, K: cnn.conv2d(x[None, None], K[None, None])[0, 0], n, k)


def convolution_pairs(n=3, k=2):
    return _probe_pairs(cnn.toy_net.convolve2d, n, k)


def conv_vs_correlation() -> Figure:
    c = derivations.load("toy_net").case("valid_3x3_k2")
    v = c.variables
    conv = product_terms(c.formulas["z1[0,0]"].expr, _names(v["kernel"]), _names(v["image"]))
    corr = correlation_pairs(len(v["image"]), len(v["kernel"]))
    n, k = len(v["image"]), len(v["kernel"])
    data = {"image": n, "kernel": k, "convolution": conv, "correlation": corr}
    colour = {(a, b): PALETTE[a * k + b] for a in range(k) for b in range(k)}
    cell = 40
    # Three panels (the kernel, then each operation) and a note, each its own SVG,
    # reflowing in a grid: side by side on a wide column, stacked on a phone.
    parts = []
    kw_, kh_ = k * cell + 60, 56 + k * cell + 12
    svg = Svg(kw_, kh_)
    kx, ky = 30, 56
    svg.text(kw_ / 2, 14, _("kernel K"), size=13, weight="bold")
    svg.text(kw_ / 2, 32, _("(as stored)"), size=11, fill=MUTED)
    names = [[f"k{sub(a, b)}" for b in range(k)] for a in range(k)]
    grid(svg, kx, ky, names, cell=cell, labels=names, size=12, kind="kernel",
         fills=[[colour[(a, b)] for b in range(k)] for a in range(k)],
         extra=lambda a, b: {"data_kernel": f"{a},{b}", "data_colour": colour[(a, b)]})
    parts.append(svg.render(_("The kernel K as stored, each weight in its colour."),
                            ident="fig-conv-vs-corr-kernel", max_width=kw_ * 1.3,
                            class_="cnn-panel"))
    panels = (("correlation", _("cross-correlation"), _("cnn.conv2d, PyTorch: K as it is"),
               corr, "y₀₀",
               _("The first output entry %(out)s of the cross-correlation: which pixel meets "
                 "which kernel weight.", out="y₀₀")),
              ("convolution", _("true convolution"), _("toy net, scipy: K rotated 180°"),
               conv, "z₀₀",
               _("The first output entry %(out)s of the true convolution: which pixel meets "
                 "which kernel weight.", out="z₀₀")))
    PW, PH = 210, 48 + n * cell + 44
    for key, title, sub_title, pairs, out, label in panels:
        svg = Svg(PW, PH)
        x0 = (PW - n * cell) / 2
        svg.open("g", class_="panel", data_kind=key)
        svg.text(PW / 2, 14, title, size=13, weight="bold")
        svg.text(PW / 2, 32, sub_title, size=11, fill=MUTED)
        weight_of = {px: kw for kw, px in pairs}
        for u in range(n):
            for vv in range(n):
                cx, cy = x0 + vv * cell, 48 + u * cell
                if (u, vv) in weight_of:
                    kw = weight_of[(u, vv)]
                    svg.open("g", class_="pair", data_pixel=f"{u},{vv}",
                             data_kernel=f"{kw[0]},{kw[1]}", data_colour=colour[kw])
                    svg.rect(cx, cy, cell, cell, fill=colour[kw], stroke=INK)
                    svg.text(cx + cell / 2, cy + cell / 2 - 7, f"x{sub(u, vv)}", size=12)
                    svg.text(cx + cell / 2, cy + cell / 2 + 8, f"·k{sub(*kw)}", size=11)
                    svg.close("g")
                else:
                    svg.rect(cx, cy, cell, cell, fill="white")
                    svg.text(cx + cell / 2, cy + cell / 2, f"x{sub(u, vv)}", size=11, fill=GRID)
        rows = sorted(weight_of)
        svg.rect(x0 + min(q for _, q in rows) * cell, 48 + min(r for r, _ in rows) * cell,
                 k * cell, k * cell, stroke=HIGHLIGHT, stroke_width=2.5)
        terms = [f"k{sub(*weight_of[px])}x{sub(*px)}" for px in rows]
        half = (len(terms) + 1) // 2
        svg.text(PW / 2, 48 + n * cell + 16, f"{out} = " + " + ".join(terms[:half]),
                 size=11, class_="equation-line")
        svg.text(PW / 2, 48 + n * cell + 33, "+ " + " + ".join(terms[half:]),
                 size=11, class_="equation-line")
        svg.close("g")
        parts.append(svg.render(label, ident=f"fig-conv-vs-corr-{key}",
                                max_width=PW * 1.3, class_="cnn-panel", data_kind=key))
    NW = 330
    svg = Svg(NW, 40)
    for i, line in enumerate(lines(_("Same window, same weights: the true convolution\n"
                                     "meets them in the opposite order (x₀₀ meets k₁₁)."))):
        svg.text(NW / 2, 11 + 18 * i, line, size=12)
    parts.append(svg.render(_("Same window, same weights: the true convolution meets them in "
                              "the opposite order."), ident="fig-conv-vs-corr-note",
                            max_width=NW * 1.3, class_="cnn-panels-note"))
    title = _("Cross-correlation against true convolution, for the first output entry: "
              "the true convolution uses the kernel rotated by 180 degrees.")
    html = ('<div class="cnn-reflow cnn-conv-vs-corr" role="group" '
            f'aria-label="{escape(title)}" data-figure="conv_vs_correlation">\n'
            + "\n".join(parts) + "\n</div>")
    caption = _("The first output entry of a 2x2 kernel on a 3x3 image: the kernel, then "
                "the cross-correlation (what cnn.conv2d multiplies, found by running it on "
                "one-hot arrays), then the true convolution (the terms of the toy net's "
                "exported forward formula).")
    return Figure("conv_vs_correlation", html, caption, data)


# ---------------------------------------------------------------------------
# Backward frames
# ---------------------------------------------------------------------------
def dw_frames_data() -> dict:
    """One frame per upstream entry G[i,j]: dw += G[i,j] * (window of x_p at (s i, s j))."""
    x, w, dy = example()
    xp = np.pad(x[0, 0], PADDING)
    k, G = w.shape[-1], dy[0, 0]
    running = np.zeros((k, k))
    frames = []
    for i in range(G.shape[0]):
        for j in range(G.shape[1]):
            window = xp[STRIDE * i:STRIDE * i + k, STRIDE * j:STRIDE * j + k]
            running = running + G[i, j] * window
            frames.append({"frame": len(frames) + 1, "out": (i, j), "g": float(G[i, j]),
                           "window": (STRIDE * i, STRIDE * j), "running": running.tolist()})
    return {"x": x[0, 0].tolist(), "xp": xp.tolist(), "w": w[0, 0].tolist(),
            "G": G.tolist(), "stride": STRIDE, "padding": PADDING, "frames": frames,
            "dw": running.tolist()}


def dx_frames_data() -> dict:
    """One frame per input pixel (u, v): dx[u,v] = sum of the 3x3 window of the dilated,
    padded G at (u, v) times the rotated kernel."""
    x, w, dy = example()
    G, K = dy[0, 0], w[0, 0]
    k, H = K.shape[0], x.shape[-1]
    s, p = STRIDE, PADDING
    dil = np.zeros(((G.shape[0] - 1) * s + 1,) * 2)
    dil[::s, ::s] = G
    # Full convolution pads by k-1; the crop by p takes p of it back. Pixels no
    # window reaches ((H + 2p - k) not a multiple of s) need extra zeros after.
    extra = (H + 2 * p - k) % s
    before, after = k - 1 - p, k - 1 - p + extra
    gp = np.pad(dil, ((before, after), (before, after)))
    # Which G entry sits in each cell of the padded, dilated grid (None: a zero).
    source = [[None] * gp.shape[1] for _ in range(gp.shape[0])]
    for i in range(G.shape[0]):
        for j in range(G.shape[1]):
            source[before + s * i][before + s * j] = (i, j)
    rot = K[::-1, ::-1]
    running = np.full((H, H), np.nan)
    frames = []
    for u in range(H):
        for v in range(H):
            terms = []
            for a in range(k):
                for b in range(k):
                    if source[u + a][v + b] is not None:
                        terms.append({"cell": (u + a, v + b), "G": source[u + a][v + b],
                                      "kernel": (k - 1 - a, k - 1 - b),
                                      "g": float(gp[u + a, v + b]), "w": float(rot[a, b])})
            running[u, v] = float((gp[u:u + k, v:v + k] * rot).sum())
            frames.append({"frame": len(frames) + 1, "pixel": (u, v), "window": (u, v),
                           "terms": terms, "value": float(running[u, v]),
                           "running": np.where(np.isnan(running), None, running).tolist()})
    return {"G": G.tolist(), "dilated": dil.tolist(), "padded": gp.tolist(),
            "pad_before": before, "pad_after": after, "w": K.tolist(), "rot": rot.tolist(),
            "stride": s, "padding": p, "frames": frames, "dx": running.tolist()}


def _matrix(svg, x0, y0, title, values, *, cell=18, kind="cell", fills=None, size=9,
            title_size=10, labels=None, extra=None):
    svg.text(x0 + len(values[0]) * cell / 2, y0 - 9, title, size=title_size)
    grid(svg, x0, y0, values, cell=cell, kind=kind, fills=fills, size=size, labels=labels,
         extra=extra)


def _frame_svg(svg: Svg, title: str, ident: str, **attrs) -> str:
    return svg.render(title, ident=ident, max_width=svg.width * 1.35, class_="cnn-frame",
                      **attrs)


def _intro_dw(d) -> str:
    svg = Svg(420, 190)
    P = len(d["xp"])
    fills = [["#dddddd" if not (d["padding"] <= r < P - d["padding"]
                                and d["padding"] <= c < P - d["padding"]) else "white"
              for c in range(P)] for r in range(P)]
    _matrix(svg, 14, 40, _("input x, padded by %(padding)s (zeros grey)", padding=d["padding"]),
            d["xp"], cell=19, fills=fills, title_size=11)
    g = d["G"]
    _matrix(svg, 200, 40, _("upstream gradient G"), g, cell=24, title_size=11,
            fills=[[PALETTE[5]] * len(g[0]) for _row in g])
    note = _("Each G entry scales the %(k)sx%(k)s window of x\nunder it (stride %(stride)s: "
             "windows start every\n%(stride)s pixels); dw adds them up.", k=len(d["w"]),
             stride=d["stride"])
    for i, line in enumerate(lines(note)):
        svg.text(200, 140 + 14 * i, line, size=10, anchor="start")
    svg.text(14, 14, _("dL/dw: the input against the upstream gradient"), size=12,
             weight="bold", anchor="start")
    return svg.render(_("The input of the dL/dw frames: padded x and the upstream gradient G."),
                      ident="fig-dw-intro", max_width=560, class_="cnn-frame-intro")


def dw_frames() -> Figure:
    d = dw_frames_data()
    parts = [_intro_dw(d)]
    P, k = len(d["xp"]), len(d["w"])
    pad = d["padding"]
    for f in d["frames"]:
        svg = Svg(250, 178)
        i, j = f["out"]
        r0, c0 = f["window"]
        svg.text(6, 12, _("frame %(frame)s: %(entry)s", frame=f["frame"],
                          entry=f"G{sub(i, j)} = {num(f['g'])}"), size=11,
                 weight="bold", anchor="start")
        fills = [["#dddddd" if not (pad <= r < P - pad and pad <= c < P - pad) else "white"
                  for c in range(P)] for r in range(P)]
        for r in range(r0, r0 + k):
            for c in range(c0, c0 + k):
                fills[r][c] = "#fde0dc"
        svg.text(6 + P * 7.5, 31, _("x padded"), size=10)
        plain_grid(svg, 6, 40, P, P, cell=15, fills=fills, size=8,
                   labels=[[num(val) for val in row] for row in d["xp"]])
        svg.rect(6 + c0 * 15, 40 + r0 * 15, k * 15, k * 15, stroke=HIGHLIGHT, stroke_width=2,
                 class_="window", data_row=r0, data_col=c0)
        svg.text(136, 40 + k * 9, f"× {num(f['g'])}", size=12, fill=HIGHLIGHT, weight="bold")
        svg.arrow(122, 40 + k * 9 + 12, 152, 40 + k * 9 + 12, stroke=HIGHLIGHT)
        _matrix(svg, 160, 40, _("dw after %(frame)s", frame=f["frame"]), f["running"], cell=28,
                size=9,
                kind="running", fills=[[PALETTE[3]] * k for _ in range(k)])
        svg.text(6, 40 + P * 15 + 14, _("adds %(g)s × the window at row %(row)s, col %(col)s",
                                        g=f"G{sub(i, j)}", row=r0, col=c0),
                 size=9, anchor="start", fill=MUTED)
        parts.append(_frame_svg(svg, _("Frame %(frame)s of dL/dw: %(entry)s times the window of "
                                       "padded x at (%(at)s).", frame=f["frame"],
                                       entry=f"G[{i},{j}] = {num(f['g'])}", at=f"{r0},{c0}"),
                                f"fig-dw-frame-{f['frame']}", data_frame=f["frame"],
                                data_out=f"{i},{j}"))
    caption = _("dL/dw of a %(k)sx%(k)s convolution with padding %(padding)s and stride "
                "%(stride)s on a %(n)sx%(n)s input, one frame per entry of G; the last frame "
                "is what cnn.conv2d_backward returns.", k=k, padding=pad, stride=d["stride"],
                n=len(d["x"]))
    html = ('<div class="cnn-frames" data-figure="conv_backward_dw_frames">\n'
            + "\n".join(parts) + "\n</div>")
    return Figure("conv_backward_dw_frames", html, caption, d)


def _intro_dx(d) -> str:
    """Three panels (G dilated, then padded; the kernel rotated) that reflow: side by
    side on a wide column, stacked on a phone, their text never below ~11 px."""
    g, dil, gp = d["G"], d["dilated"], d["padded"]
    blue = PALETTE[5]
    parts = ['<p class="cnn-frames-heading">'
             + escape(_("dL/dx: the dilated, padded upstream gradient against the rotated "
                        "kernel"), quote=False) + "</p>"]
    c1, c2 = 24, 22                      # cells of the 3x3 matrices, of the larger grids
    W = 12 + len(g[0]) * c1 + 44 + len(dil) * c2 + 8
    svg = Svg(W, 44 + len(dil) * c2 + 8)
    _matrix(svg, 12, 44, "G", g, cell=c1, fills=[[blue] * len(g[0]) for _ in g], size=12,
            title_size=12)
    ax = 12 + len(g[0]) * c1
    svg.arrow(ax + 6, 44 + len(g) * c1 / 2, ax + 38, 44 + len(g) * c1 / 2)
    svg.text(ax + 22, 44 + len(g) * c1 / 2 - 12, _("dilate"), size=11, fill=MUTED)
    _matrix(svg, ax + 44, 44, _("dilated: %(zeros)s zero between", zeros=d["stride"] - 1), dil,
            cell=c2,
            fills=[[blue if (r % d["stride"] == 0 and c % d["stride"] == 0) else "white"
                    for c in range(len(dil))] for r in range(len(dil))], size=11,
            title_size=12)
    parts.append(svg.render(_("G dilated: stride minus one zeros between its entries."),
                            ident="fig-dx-intro-dilate", max_width=W * 1.3,
                            class_="cnn-panel"))
    b = d["pad_before"]
    fills = [["#dddddd" if not (b <= r < b + len(dil) and b <= c < b + len(dil))
              else (blue if gp[r][c] else "white") for c in range(len(gp))]
             for r in range(len(gp))]
    W = 44 + len(gp) * c2 + 8
    svg = Svg(W, 44 + len(gp) * c2 + 8)
    svg.arrow(4, 44 + len(gp) * c2 / 2, 36, 44 + len(gp) * c2 / 2)
    svg.text(20, 44 + len(gp) * c2 / 2 - 12, _("pad"), size=11, fill=MUTED)
    _matrix(svg, 44, 44, _("padded by %(pad)s (= k−1−p)", pad=b), gp, cell=c2, fills=fills,
            size=11, title_size=12)
    parts.append(svg.render(_("The dilated G padded by %(pad)s zeros on each side.", pad=b),
                            ident="fig-dx-intro-pad", max_width=W * 1.3, class_="cnn-panel"))
    k = len(d["w"])
    W = 12 + k * c1 + 64 + k * c1 + 12
    svg = Svg(W, 44 + k * c1 + 8)
    _matrix(svg, 12, 44, _("kernel w"), d["w"], cell=c1, fills=[[PALETTE[3]] * k] * k, size=12,
            title_size=12)
    ax = 12 + k * c1
    svg.arrow(ax + 6, 44 + k * c1 / 2, ax + 58, 44 + k * c1 / 2)
    svg.text(ax + 32, 44 + k * c1 / 2 - 12, _("rot 180°"), size=11, fill=MUTED)
    _matrix(svg, ax + 64, 44, "rot180(w)", d["rot"], cell=c1, fills=[[PALETTE[1]] * k] * k,
            kind="rot", size=12, title_size=12)
    parts.append(svg.render(_("The kernel w and the kernel rotated by 180 degrees."),
                            ident="fig-dx-intro-rot", max_width=W * 1.3, class_="cnn-panel"))
    parts.append('<p class="cnn-reflow-note">'
                 + escape(_("Slide rot180(w) over the padded grid: the sum of the products at "
                            "each position is one entry of dx."), quote=False) + "</p>")
    label = _("The input of the dL/dx frames: G dilated, padded, and the kernel rotated by 180 "
              "degrees.")
    return (f'<div class="cnn-frame-intro cnn-reflow" role="group" aria-label="{escape(label)}">\n'
            + "\n".join(parts) + "\n</div>")


def dx_frames() -> Figure:
    d = dx_frames_data()
    parts = [_intro_dx(d)]
    gp, H, k = d["padded"], len(d["dx"]), len(d["w"])
    Pg = len(gp)
    rot = d["rot"]
    blue = PALETTE[5]
    for f in d["frames"]:
        svg = Svg(250, 206)
        cell, rx = 18, 6 + Pg * 18 + 12   # the grid, and where the running dx starts
        u, v = f["pixel"]
        svg.text(6, 12, _("frame %(frame)s: %(entry)s", frame=f["frame"],
                          entry=f"dx{sub(u, v)} = {num(f['value'])}"), size=11,
                 weight="bold", anchor="start", class_="frame-value", data_value=num(f["value"]))
        fills = [[blue if gp[r][c] else "white" for c in range(Pg)] for r in range(Pg)]
        for r in range(u, u + k):
            for c in range(v, v + k):
                fills[r][c] = "#fde0dc" if not gp[r][c] else "#c9a0dc"
        svg.text(6 + Pg * cell / 2, 31, _("G dilated, padded"), size=10)
        plain_grid(svg, 6, 40, Pg, Pg, cell=cell, fills=fills, size=8,
                   labels=[[num(val) if val else "" for val in row] for row in gp])
        # The rotated kernel, written small in the corner of each window cell.
        for a in range(k):
            for b in range(k):
                svg.text(6 + (v + b) * cell + cell - 1.5, 40 + (u + a) * cell + cell - 4,
                         num(rot[a][b]), size=6,
                         fill=HIGHLIGHT, anchor="end", class_="rot-in-window")
        svg.rect(6 + v * cell, 40 + u * cell, k * cell, k * cell, stroke=HIGHLIGHT, stroke_width=2,
                 class_="window", data_row=u, data_col=v)
        running = f["running"]
        svg.text(rx + H * 10, 31, _("dx after %(frame)s", frame=f["frame"]), size=10)
        plain_grid(svg, rx, 40, H, H, cell=20, fills=[[PALETTE[3] if val is not None else None
                                                         for val in row] for row in running])
        for r in range(H):           # only the entries computed so far, readable by a test
            for c in range(H):
                if running[r][c] is not None:
                    svg.open("g", class_="running", data_row=r, data_col=c,
                             data_value=num(running[r][c]))
                    if (r, c) == (u, v):
                        svg.rect(rx + c * 20, 40 + r * 20, 20, 20, fill="#fde0dc",
                                 stroke=HIGHLIGHT)
                    svg.text(rx + (c + 0.5) * 20, 40 + (r + 0.5) * 20, num(running[r][c]),
                             size=8)
                    svg.close("g")
        terms = [f"{num(t['g'])}·{num(t['w'])}".replace("·−", "·(−") +
                 (")" if t["w"] < 0 else "") for t in f["terms"]]
        text = (f"dx{sub(u, v)} = " + " + ".join(terms) if terms else
                _("%(entry)s = no G entry under the window: 0", entry=f"dx{sub(u, v)}"))
        svg.text(6, 40 + Pg * cell + 14, text, size=9, anchor="start", class_="frame-terms")
        svg.text(6, 40 + Pg * cell + 28, _("(G · rotated kernel, red numbers)"), size=8,
                 anchor="start", fill=MUTED)
        parts.append(_frame_svg(svg, _("Frame %(frame)s of dL/dx: the window of the padded, "
                                       "dilated G at (%(at)s) against rot180(w) gives %(entry)s.",
                                       frame=f["frame"], at=f"{u},{v}",
                                       entry=f"dx[{u},{v}] = {num(f['value'])}"),
                                f"fig-dx-frame-{f['frame']}",
                                data_frame=f["frame"], data_pixel=f"{u},{v}"))
    caption = _("dL/dx of the same convolution, one frame per input pixel: the window of "
                "the dilated, padded G times rot180(w), summed. The last frame is what "
                "cnn.conv2d_backward returns.")
    html = ('<div class="cnn-frames" data-figure="conv_backward_dx_frames">\n'
            + "\n".join(parts) + "\n</div>")
    return Figure("conv_backward_dx_frames", html, caption, d)
