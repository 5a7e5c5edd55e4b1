"""The toy net of seed 004: its graph, and which pixels meet which deltas.

Both figures read the toy net's export (``derivations.load("toy_net")``):
the edges of the graph are the terms of the exported forward formulas
``z1[i,j]`` and ``z2``, and the coloured cells of the kernel-gradient figure
are the terms of the exported ``chain:dL/dk[a,b]``.
"""

from __future__ import annotations

import re

import sympy as sp

import derivations
from docs.locale import Domain

from . import Figure
from .svg import GRID, INK, MUTED, PALETTE, Svg, grid, lines, sub

_ = Domain("figures")

_INDEX = re.compile(r"_\{([\d,]+)\}$")


def _index(name: str) -> tuple[int, ...]:
    """'x_{1,2}' -> (1, 2); '\\delta_{0,0}' -> (0, 0); 'w_{3}' -> (3,)."""
    match = _INDEX.search(name)
    if not match:
        raise ValueError(f"no index in symbol name {name!r}")
    return tuple(int(i) for i in match[1].split(","))


def _names(grid_of_names) -> set[str]:
    if isinstance(grid_of_names, str):
        return {grid_of_names}
    return {n for row in grid_of_names for n in ([row] if isinstance(row, str) else row)}


def product_terms(expr: sp.Expr, first: set[str], second: set[str]):
    """The terms of a sum of products ``a*b`` as ``[(a index, b index)]``, a from
    ``first``, b from ``second``; anything else (a coefficient, a third factor) raises."""
    pairs = []
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff, rest = term.as_coeff_Mul()
        factors = sp.Mul.make_args(rest)
        names = sorted(str(f) for f in factors)
        a = [n for n in names if n in first]
        b = [n for n in names if n in second]
        if coeff != 1 or len(factors) != 2 or len(a) != 1 or len(b) != 1:
            raise ValueError(f"term {term} of {expr} is not one {sorted(first)[0]}-symbol "
                             f"times one {sorted(second)[0]}-symbol")
        pairs.append((_index(a[0]), _index(b[0])))
    return sorted(pairs)


def graph_data(case: str = "valid_3x3_k2") -> dict:
    """Nodes and edges of the toy net, from the exported forward formulas."""
    export = derivations.load("toy_net")
    c = export.case(case)
    v = c.variables
    pixels, kernel = _names(v["image"]), _names(v["kernel"])
    nodes = [_index(n) for row in v["z1"] for n in row]
    conv_edges = []      # (node, kernel weight, pixel)
    node_of_tanh = {}    # exported z1 expression -> node index
    for node in nodes:
        expr = c.formulas[f"z1[{node[0]},{node[1]}]"].expr
        node_of_tanh[sp.srepr(expr)] = node
        for k_idx, x_idx in product_terms(expr, kernel, pixels):
            conv_edges.append((node, k_idx, x_idx))
    dense_edges = []     # (weight index r, node)
    weights = _names(v["weights"])
    for term in sp.Add.make_args(c.formulas["z2"].expr):
        (w,) = [f for f in sp.Mul.make_args(term) if str(f) in weights]
        (t,) = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.tanh)]
        dense_edges.append((_index(str(w))[0], node_of_tanh[sp.srepr(t.args[0])]))
    return {"case": case, "image": len(v["image"]), "kernel": len(v["kernel"]),
            "nodes": nodes, "conv_edges": sorted(conv_edges),
            "dense_edges": sorted(dense_edges)}


def toy_graph() -> Figure:
    d = graph_data()
    n, k = d["image"], d["kernel"]
    kernel_colour = {(a, b): PALETTE[a * k + b] for a in range(k) for b in range(k)}
    # Narrow enough (and text large enough) to stay readable in a phone's column:
    # the cost sits under the output, the kernel legend under the graph.
    W, H = 370, 440
    svg = Svg(W, H)
    top = 74
    # Column 1: the pixels, vectorised (row-major), as the seed draws them.
    px_x, gap = 36, 31
    pixel_y = {(u, vv): top + (u * n + vv) * gap for u in range(n) for vv in range(n)}
    node_x, out_x = 178, 306
    node_gap = (pixel_y[(n - 1, n - 1)] - top) / max(1, len(d["nodes"]) - 1)
    node_y = {node: top + i * node_gap for i, node in enumerate(d["nodes"])}
    out_y = top + (pixel_y[(n - 1, n - 1)] - top) / 2 - 40
    svg.text(4, 14, _("image x"), size=13, weight="bold", anchor="start")
    for i, line in enumerate(lines(_("pixels, row\nby row"))):
        svg.text(4, 31 + 14 * i, line, size=11, fill=MUTED, anchor="start")
    svg.text(node_x, 14, _("layer 1"), size=13, weight="bold")
    svg.text(node_x, 31, "z = x * K", size=11, fill=MUTED)
    svg.text(node_x, 45, "a = tanh(z)", size=11, fill=MUTED)
    svg.text(out_x, 14, _("output, cost"), size=13, weight="bold")
    # Edges first, so the nodes are drawn over them.
    for node, kw, px in d["conv_edges"]:
        svg.line(px_x + 15, pixel_y[px], node_x - 24, node_y[node], stroke=kernel_colour[kw],
                 width=2.2, class_="edge conv", data_pixel=f"{px[0]},{px[1]}",
                 data_node=f"{node[0]},{node[1]}", data_kernel=f"{kw[0]},{kw[1]}",
                 data_colour=kernel_colour[kw])
    for r, node in d["dense_edges"]:
        y0, y1 = node_y[node], out_y
        svg.line(node_x + 24, y0, out_x - 26, y1, stroke=INK, width=1.4, class_="edge dense",
                 data_weight=r, data_node=f"{node[0]},{node[1]}")
        mx, my = node_x + 24 + 0.45 * (out_x - 26 - node_x - 24), y0 + 0.45 * (y1 - y0)
        svg.rect(mx - 12, my - 9, 24, 18, fill="white", stroke="none")
        svg.text(mx, my, f"w{sub(r)}", size=12, class_="weight-label", data_weight=r)
    for (u, vv), y in pixel_y.items():
        svg.circle(px_x, y, 15, class_="pixel", data_pixel=f"{u},{vv}")
        svg.text(px_x, y, f"x{sub(u, vv)}", size=11)
    for node, y in node_y.items():
        svg.circle(node_x, y, 24, fill="#f3f3f3", class_="node", data_node=f"{node[0]},{node[1]}")
        svg.text(node_x, y - 7, f"z{sub(*node)}", size=12)
        svg.text(node_x, y + 9, f"a{sub(*node)}", size=11, fill=MUTED)
    svg.circle(out_x, out_y, 26, fill="#f3f3f3", class_="output")
    svg.text(out_x, out_y - 7, "z₂", size=12)
    svg.text(out_x, out_y + 9, "o = σ(z₂)", size=10.5, fill=MUTED)
    svg.arrow(out_x, out_y + 26, out_x, out_y + 56)
    svg.rect(out_x - 54, out_y + 58, 108, 64, fill="white", stroke=INK, rx=6)
    svg.text(out_x, out_y + 74, _("cost"), size=12, weight="bold")
    svg.text(out_x, out_y + 92, "L = ½(o − y)²", size=11)
    svg.text(out_x, out_y + 108, _("label y"), size=11, fill=MUTED)
    # The kernel, in matrix form, doubling as the colour legend of the edges.
    cell = 32
    lx, ly = W - 8 - k * cell, pixel_y[(n - 1, n - 1)] + 44
    svg.text(lx + cell * k / 2, ly - 13, _("kernel K"), size=11, anchor="middle")
    grid(svg, lx, ly, [[f"k{sub(a, b)}" for b in range(k)] for a in range(k)], cell=cell,
         labels=[[f"k{sub(a, b)}" for b in range(k)] for a in range(k)],
         fills=[[kernel_colour[(a, b)] for b in range(k)] for a in range(k)], kind="kernel",
         size=11,
         extra=lambda a, b: {"data_kernel": f"{a},{b}", "data_colour": kernel_colour[(a, b)]})
    notes = lines(_("edge colour = kernel weight;\ntrue convolution: z₀₀ uses\n"
                    "k₀₀ with x₁₁ (flipped)"))
    for i, line in enumerate(notes):
        svg.text(lx - 12, ly + cell * k / 2 + (i - (len(notes) - 1) / 2) * 16, line, size=11,
                 anchor="end", fill=MUTED)
    title = _("The toy net as a graph: nine pixels feed four layer-1 nodes through the "
              "2x2 kernel (edge colour = kernel weight), four dense weights feed the output.")
    return Figure("toy_graph", svg.render(title, ident="fig-toy-graph", max_width=W * 1.45),
                  _("The seed's toy net. Each layer-1 node adds four pixels, each times the "
                    "kernel weight of the edge's colour; the edges are the terms of the "
                    "exported forward formulas."), d)


def kernel_terms_data(case: str) -> dict:
    """For each kernel weight (a, b): the (pixel, delta) pairs of ``chain:dL/dk[a,b]``."""
    c = derivations.load("toy_net").case(case)
    v = c.variables
    pixels, deltas = _names(v["image"]), _names(v["deltas"])
    k, m, n = len(v["kernel"]), len(v["deltas"]), len(v["image"])
    terms = {}
    for a in range(k):
        for b in range(k):
            expr = c.formulas[f"chain:dL/dk[{a},{b}]"].expr
            terms[(a, b)] = [(px, dl) for dl, px in product_terms(expr, deltas, pixels)]
    padding = (m + k - 1 - n) // 2     # m = n + 2p - k + 1
    return {"case": case, "image": n, "kernel": k, "deltas": m, "padding": padding,
            "terms": terms}


def kernel_terms(case: str) -> Figure:
    """One SVG per kernel weight (they reflow on a narrow screen) and one legend."""
    d = kernel_terms_data(case)
    n, k, m, p = d["image"], d["kernel"], d["deltas"], d["padding"]
    P = n + 2 * p
    colour = {(i, j): PALETTE[(i * m + j) % len(PALETTE)] for i in range(m) for j in range(m)}
    cell = 30 if P <= 3 else 26
    per_line = 2 if m <= 2 else 3
    eq_lines = -(-max(len(t) for t in d["terms"].values()) // per_line)
    panel_w = max(P * cell + 20, 150 if m <= 2 else 190)
    panel_h = 26 + P * cell + 10 + eq_lines * 15 + 4
    parts = [_delta_legend(m, p, colour, case)]
    for (a, b), pairs in d["terms"].items():
        svg = Svg(panel_w, panel_h)
        svg.text(panel_w / 2, 10, f"dL/dk{sub(a, b)}", size=12, weight="bold")
        delta_of = {px: dl for px, dl in pairs}
        gx, gy = (panel_w - P * cell) / 2, 24
        for r in range(P):
            for s in range(P):
                u, vv = r - p, s - p
                inside = 0 <= u < n and 0 <= vv < n
                cx, cy = gx + s * cell, gy + r * cell
                if (u, vv) in delta_of:
                    dl = delta_of[(u, vv)]
                    svg.open("g", class_="term", data_pixel=f"{u},{vv}",
                             data_delta=f"{dl[0]},{dl[1]}", data_colour=colour[dl])
                    svg.rect(cx, cy, cell, cell, fill=colour[dl], stroke=INK)
                    svg.text(cx + cell / 2, cy + cell / 2 - 6, f"x{sub(u, vv)}", size=10)
                    svg.text(cx + cell / 2, cy + cell / 2 + 7, f"δ{sub(*dl)}", size=9)
                    svg.close("g")
                elif inside:
                    svg.rect(cx, cy, cell, cell, fill="white", class_="pixel-unused")
                    svg.text(cx + cell / 2, cy + cell / 2, f"x{sub(u, vv)}", size=9, fill=GRID)
                else:
                    svg.rect(cx, cy, cell, cell, fill="#dddddd", stroke="#bbbbbb",
                             class_="padding")
                    svg.text(cx + cell / 2, cy + cell / 2, "0", size=9, fill=MUTED)
        ey = gy + P * cell + 14
        for line in range(eq_lines):
            chunk = pairs[line * per_line:(line + 1) * per_line]
            if not chunk:
                break
            text = " + ".join(f"δ{sub(*dl)}x{sub(*px)}" for px, dl in chunk)
            lead = "= " if line == 0 else "+ "
            svg.text(4, ey + line * 15, lead + text, size=10, anchor="start",
                     class_="equation-line")
        parts.append(svg.render(_("%(gradient)s = the sum of %(count)s pixel-delta products, "
                                  "coloured by delta.", gradient=f"dL/dk[{a},{b}]",
                                  count=len(pairs)),
                                ident=f"fig-toy-terms-{case}-{a}-{b}", max_width=panel_w * 1.3,
                                class_="weight-panel", data_weight=f"{a},{b}"))
    caption = _("Case %(case)s: one panel per kernel weight, placed where that weight sits in "
                "the kernel. Drawn from the terms of the exported chain-rule formulas.",
                case=case)
    html = (f'<div class="cnn-panels" style="--cols: {k}" '
            f'data-figure="toy_kernel_terms_{case}">\n' + "\n".join(parts) + "\n</div>")
    return Figure(f"toy_kernel_terms_{case}", html, caption, d)


def _delta_legend(m: int, p: int, colour: dict, case: str) -> str:
    """The delta map, each delta in its colour: what the panels' colours mean."""
    cell = 26
    W = 40 + m * cell + 260
    text = [_("The layer-1 deltas δ = dL/dz, each in its colour."),
            *lines(_("In each panel below, a pixel's colour is the delta\n"
                     "it multiplies in that kernel weight's gradient.")),
            _("Grey cells: padding (zeros).") if p else _("White cells: pixels not used.")]
    svg = Svg(W, max(m * cell + 12, 15 * len(text)))
    grid(svg, 6, 6, [[f"{i},{j}" for j in range(m)] for i in range(m)], cell=cell,
         labels=[[f"δ{sub(i, j)}" for j in range(m)] for i in range(m)],
         fills=[[colour[(i, j)] for j in range(m)] for i in range(m)], kind="delta", size=10,
         extra=lambda i, j: {"data_delta": f"{i},{j}", "data_colour": colour[(i, j)]})
    lx = 6 + m * cell + 14
    for i, line in enumerate(text):
        svg.text(lx, 12 + i * 15, line, size=11 if i == 0 else 10, anchor="start",
                 weight="bold" if i == 0 else None)
    return svg.render(_("Legend: the colour of each layer-1 delta, case %(case)s.", case=case),
                      ident=f"fig-toy-terms-{case}-legend", max_width=W,
                      class_="cnn-panels-legend")
