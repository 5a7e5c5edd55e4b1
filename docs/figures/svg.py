"""A tiny SVG writer: elements as strings, semantic ``data-*`` attributes kept.

Nothing here refers outside the SVG (no links, fonts or images): text uses the
generic ``sans-serif`` family, colours are inline attributes, so a figure looks
the same on a page, in a notebook and in a file opened on its own.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from html import escape
from typing import Any

from docs.locale import Domain

_ = Domain("figures")

FONT = "sans-serif"
INK = "#222222"
MUTED = "#666666"
GRID = "#999999"
HIGHLIGHT = "#d62728"          # the cells a frame is looking at

#: Paul Tol's "light" palette: nine colours that stay apart, text readable on each.
PALETTE = ("#77AADD", "#EE8866", "#44BB99", "#EEDD88", "#FFAABB",
           "#99DDFF", "#BBCC33", "#AAAA00", "#DDDDDD")


def num(value: float) -> str:
    """A number as a figure prints it: integers without ".0", a true minus sign."""
    v = float(value)
    text = str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.3g}"
    return text.replace("-", "\u2212")


def sub(*indices: int) -> str:
    """Indices as Unicode subscripts: sub(1, 2) -> '\u2081\u2082'."""
    digits = "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089"
    return "".join("".join(digits[int(d)] for d in str(i)) for i in indices)


def columns(text: str) -> int:
    """The width of ``text`` in columns: 2 for a wide (CJK) character, 1 for any other.

    A CJK character is about 1 em wide, a Latin one about half that, so a label's
    width is roughly ``columns(text) * size / 2``; what decides where a label breaks
    (``networks._lines``) counts columns, not characters.
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def lines(text: str) -> list[str]:
    """A label of several lines, one message with its line breaks (``"\\n"``): the
    translation breaks where its own language reads best, in as many lines as it needs."""
    return text.split("\n")


@dataclass(frozen=True)
class Message:
    """A label kept in a figure's data as a message and its fields, so the data stays
    the same in every language: ``str()`` is the English, :meth:`say` the label in the
    language being rendered (through the ``figures`` catalogue)."""

    text: str
    fields: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, text: str, **fields) -> Message:
        return cls(text, tuple(fields.items()))

    def __str__(self) -> str:
        return self.text % dict(self.fields) if self.fields else self.text

    def say(self) -> str:
        return _(self.text, **dict(self.fields))


def _attrs(attrs: dict[str, Any]) -> str:
    out = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        out.append(f'{name}="{escape(str(value), quote=True)}"')
    return " ".join(out)


@dataclass
class Svg:
    """Collects elements; :meth:`render` wraps them in a scalable ``<svg>``."""

    width: float
    height: float
    parts: list[str] = field(default_factory=list)

    def add(self, tag: str, text: str | None = None, **attrs) -> None:
        a = _attrs(attrs)
        if text is None:
            self.parts.append(f"<{tag} {a}/>")
        else:
            self.parts.append(f"<{tag} {a}>{escape(text, quote=False)}</{tag}>")

    def open(self, tag: str = "g", **attrs) -> None:
        self.parts.append(f"<{tag} {_attrs(attrs)}>")

    def close(self, tag: str = "g") -> None:
        self.parts.append(f"</{tag}>")

    def rect(self, x, y, w, h, *, fill="none", stroke=GRID, **attrs) -> None:
        self.add("rect", x=_r(x), y=_r(y), width=_r(w), height=_r(h), fill=fill,
                 stroke=stroke, **attrs)

    def text(self, x, y, text, *, size=12, anchor="middle", fill=INK, weight=None,
             **attrs) -> None:
        # The font family and the ink colour are set once, on the <svg> (inherited).
        self.add("text", text, x=_r(x), y=_r(y), font_size=size,
                 text_anchor=None if anchor == "start" else anchor,
                 fill=None if fill == INK else fill, font_weight=weight,
                 dominant_baseline="central", **attrs)

    def line(self, x1, y1, x2, y2, *, stroke=INK, width=1.2, **attrs) -> None:
        self.add("line", x1=_r(x1), y1=_r(y1), x2=_r(x2), y2=_r(y2), stroke=stroke,
                 stroke_width=width, **attrs)

    def arrow(self, x1, y1, x2, y2, *, stroke=INK, width=1.2, head=6, **attrs) -> None:
        """A line with a filled triangular head at (x2, y2), drawn without markers."""
        import math
        self.line(x1, y1, x2, y2, stroke=stroke, width=width, **attrs)
        angle = math.atan2(y2 - y1, x2 - x1)
        left = (x2 - head * math.cos(angle - 0.4), y2 - head * math.sin(angle - 0.4))
        right = (x2 - head * math.cos(angle + 0.4), y2 - head * math.sin(angle + 0.4))
        pts = " ".join(f"{_r(a)},{_r(b)}" for a, b in ((x2, y2), left, right))
        self.add("polygon", points=pts, fill=stroke)

    def circle(self, cx, cy, r, *, fill="white", stroke=INK, **attrs) -> None:
        self.add("circle", cx=_r(cx), cy=_r(cy), r=_r(r), fill=fill, stroke=stroke, **attrs)

    def render(self, title: str, *, ident: str, max_width: float | None = None,
               **attrs) -> str:
        """The ``<svg>`` text: viewBox, ``width="100%"`` and a max width, a ``<title>``."""
        style = f"max-width:{_r(max_width or self.width)}px;height:auto;display:block;margin:0 auto"
        head = _attrs({"xmlns": "http://www.w3.org/2000/svg",
                       "viewBox": f"0 0 {_r(self.width)} {_r(self.height)}",
                       "width": "100%", "style": style, "role": "img",
                       "aria-labelledby": f"{ident}-title", "font-family": FONT,
                       "fill": INK, **attrs})
        body = "\n".join(self.parts)
        return (f"<svg {head}>\n<title id=\"{ident}-title\">{escape(title, quote=False)}</title>"
                f"\n{body}\n</svg>")


def _r(v) -> str:
    """Coordinates with at most 2 decimals, so the SVG stays short and diffable."""
    v = float(v)
    # rstrip(".") too: 177.001 -> "177." is no SVG number (Chromium drops the element).
    return str(int(v)) if v == int(v) else f"{v:.2f}".rstrip("0").rstrip(".")


def plain_grid(svg: Svg, x0, y0, rows, cols, *, cell=24, labels=None, fills=None,
               size=11) -> None:
    """A matrix drawn compactly, for context only (nothing a test reads back): one
    rect per coloured cell, the grid lines as one path, text where there is a label."""
    for i in range(rows):
        for j in range(cols):
            fill = fills[i][j] if fills else None
            if fill and fill != "white":
                svg.rect(x0 + j * cell, y0 + i * cell, cell, cell, fill=fill, stroke="none")
    lines = [f"M{_r(x0)} {_r(y0 + i * cell)}h{_r(cols * cell)}" for i in range(rows + 1)]
    lines += [f"M{_r(x0 + j * cell)} {_r(y0)}v{_r(rows * cell)}" for j in range(cols + 1)]
    svg.add("path", d="".join(lines), fill="none", stroke=GRID)
    for i in range(rows):
        for j in range(cols):
            label = labels[i][j] if labels else ""
            if label:
                svg.text(x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell, label, size=size)


def grid(svg: Svg, x0, y0, values, *, cell=24, labels=None, fills=None, size=11,
         kind="cell", extra=None) -> None:
    """A matrix of cells at (x0, y0); ``labels[i][j]`` (default: the value) in each.

    Each cell is a ``<g class="{kind}" data-row data-col data-value>`` so a test
    can read back what is drawn; ``fills[i][j]`` colours a cell, ``extra(i, j)``
    returns more attributes for it.
    """
    rows = len(values)
    cols = len(values[0]) if rows else 0
    for i in range(rows):
        for j in range(cols):
            more = dict(extra(i, j)) if extra else {}
            value = values[i][j]
            cls = " ".join(filter(None, (kind, more.pop("class_", None))))
            svg.open("g", class_=cls, data_row=i, data_col=j,
                     data_value=None if value is None else num(value)
                     if isinstance(value, (int, float)) else value, **more)
            fill = fills[i][j] if fills else "white"
            svg.rect(x0 + j * cell, y0 + i * cell, cell, cell, fill=fill or "white")
            label = labels[i][j] if labels else (num(value) if value is not None else "")
            if label:
                svg.text(x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell, label, size=size)
            svg.close("g")
