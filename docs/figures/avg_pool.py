"""Average-pool gradient spreading on the average-pool page's worked example.

What each window sends to each of its entries is read off
:func:`cnn.avg_pool2d_backward` (one window at a time, with a one-hot
``dy`` scaled by the window's G); the result grid is its output for the
page's ``dy``. The example is the page's (``tests/test_figures.py`` checks
that it is the same array).
"""

from __future__ import annotations

import numpy as np

import cnn
from docs.locale import Domain

from . import Figure
from .pool import legend, result_frame, strips, window_frame
from .svg import HIGHLIGHT, INK, PALETTE, num, sub

#: The worked example of docs/layers/avg_pool.md.
X = np.array([[[[1., 3., 2., 2.],
                [0., 3., 2., 1.],
                [5., 1., 0., 4.],
                [1., 2., 4., 4.]]]])
DY_STRIDE2 = np.array([[[[4., 8.],
                         [12., 16.]]]])
#: size 3, stride 1: four 3x3 windows; G = 9 makes every share 1, so dx counts windows.
DY_SIZE3 = np.full((1, 1, 2, 2), 9.)

SHARE = PALETTE[0]    # an entry of the window: it receives G / k^2

_ = Domain("figures")


def spread_data(size: int, stride: int, dy) -> dict:
    y = cnn.avg_pool2d(X, size=size, stride=stride)
    windows = []
    OH, OW = y.shape[-2:]
    for i in range(OH):
        for j in range(OW):
            one = np.zeros_like(y)
            one[0, 0, i, j] = dy[0, 0, i, j]
            sent = cnn.avg_pool2d_backward(one, X, size=size, stride=stride)[0, 0]
            windows.append({"out": (i, j), "g": float(dy[0, 0, i, j]), "mean": float(y[0, 0, i, j]),
                            "sent": sent.tolist(),
                            "cells": [tuple(int(t) for t in c) for c in np.argwhere(sent != 0)]})
    dx = cnn.avg_pool2d_backward(dy, X, size=size, stride=stride)[0, 0]
    return {"size": size, "stride": stride, "dy": dy[0, 0].tolist(), "y": y[0, 0].tolist(),
            "windows": windows, "dx": dx.tolist()}


def _window_frame(d, w, number: int) -> str:
    sent = w["sent"]
    n, k = len(sent), d["size"]
    i, j = w["out"]
    cells = set(w["cells"])
    share = w["g"] / k ** 2
    return window_frame(
        sent, heading=_("window %(number)s: mean %(mean)s", number=number, mean=num(w["mean"])),
        fills=[[SHARE if (r, c) in cells else "white" for c in range(n)] for r in range(n)],
        labels=[[num(sent[r][c]) if (r, c) in cells else "" for c in range(n)] for r in range(n)],
        extra=lambda r, c: {"data_role": "in-window" if (r, c) in cells else None},
        origin=min(cells), size=k,
        notes=[(_("%(share)s to each", share=f"G{sub(i, j)} / {k * k} = {num(share)}"),
                {"size": 10, "anchor": "start"})],
        title=_("Window %(number)s (output %(out)s): its G, %(g)s, split into %(count)s shares "
                "of %(share)s.", number=number, out=f"{i},{j}", g=num(w["g"]), count=k * k,
                share=num(share)),
        ident=f"fig-avg-k{k}-w{number}", data_out=f"{i},{j}", data_g=num(w["g"]),
        data_share=num(share))


def _result(d) -> str:
    return result_frame(d["dx"], fill=SHARE, note=_("every window's shares, added"),
                        title=_("The gradient dL/dx for size %(size)s, stride %(stride)s.",
                                size=d["size"], stride=d["stride"]),
                        ident=f"fig-avg-k{d['size']}-dx")


def _legend() -> str:
    return legend(((SHARE, INK, _("in the window: gets G / k²")),
                   ("none", HIGHLIGHT, _("the window"))),
                  title=_("Legend of the average-pool frames."), ident="fig-avg-legend")


def spread() -> Figure:
    cases = [spread_data(2, 2, DY_STRIDE2), spread_data(3, 1, DY_SIZE3)]
    caption = _("Average pooling backward on the worked example: each window splits its "
                "upstream gradient into k² equal shares, one per entry; where windows "
                "overlap the shares add up. Read off cnn.avg_pool2d_backward.")
    return Figure("avg_pool_spread", strips(cases, _legend(), _window_frame, _result, "size"),
                  caption, {"cases": cases})
