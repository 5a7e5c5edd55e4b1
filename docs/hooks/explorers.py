"""MkDocs hook: the live explorers' formulas, printed as JavaScript at build time.

A page holds an explorer as ``<div class="cnn-explorer" data-explorer="NAME">``
(with a paragraph for readers without JavaScript: the page's static formulas
and figures stay what they are). For such a page this hook

* adds ``stylesheets/explorers.css`` and the scripts the explorer needs
  (:data:`EXPLORERS`): the generated formula modules, ``explorers/common.js``
  and ``explorers/NAME.js``;
* writes, after the build, each generated module
  ``javascripts/explorers/formulas/<subject>.js``: for every formula the page
  uses, a JavaScript function printed by :func:`derivations.js.js` from the
  expression :func:`derivations.load` rebuilt from the export's ``srepr``
  (the safe parser, never ``eval``). The page never evaluates a string read
  from an export; the export's stored ``js`` is only compared with this
  printer's output (tests/test_js_forms.py).

Each formula ships as ``{f, tex, lhs, plug, names}``: ``f(v)`` its value for
``v = {symbol name: number}``, ``tex`` the export's LaTeX, ``plug`` the same
LaTeX with every symbol replaced by ``@@i@@`` (``names[i]``) and products
written with a times sign, so the page can show the formula with the
current numbers plugged in. Data a page needs from the library (the seed's
images, labels and initialisations) is written as JSON, computed by ``cnn``.

The scripts' words are English messages, each shown through ``t("...")``
(``explorers/common.js``). For a page in another language (its source is
``X.<language>.md``, e.g. ``layers/conv2d.zh.md``) the hook also includes,
first, ``javascripts/explorers/text/<language>.js`` (:func:`text_module`):
``window.CNN_EXPLORER_TEXT``, the translation of every message the scripts
use, from ``docs/locale/<language>/explorers.po``. A message without a
translation is a warning (an error under ``mkdocs build --strict``), and the
explorer shows it in English. English pages get no table and are unchanged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:   # the checkout's derivations/ and cnn/
    sys.path.insert(0, str(ROOT))

from docs.locale import ENGLISH, LANGUAGES, Domain, read, source_language
from docs.locale.sweep import script_messages

_log = logging.getLogger("mkdocs.hooks.explorers")   # under "mkdocs": --strict counts it
_warned: set[tuple[str, str]] = set()

_CONTAINER = re.compile(r'<div class="cnn-explorer" data-explorer="([a-z0-9_]+)"')


def _toy_formula(name: str) -> bool:
    # The forward nodes and the chain-rule forms (in forward values and deltas):
    # what the explorer shows; the raw-symbol gradients are the same numbers, 30x longer.
    return (name.startswith("z1[") or name in ("z2", "out", "L")
            or (name.startswith("chain:") and not name.startswith("matrix:")))


#: Per subject: which cases, and which formulas of each, the explorers use.
SHIPPED: dict[str, tuple[tuple[str, ...], Callable[[str], bool]]] = {
    "toy_net": (("valid_3x3_k2", "same_3x3_k3_p1"), _toy_formula),
    "activations": (("elementwise",), lambda name: name == "tanh(z)"),
    "max_pool_index": (("index_form",), lambda name: name in ("M", "dL/dx")),
    "conv2d_index": (("index_form",), lambda name: name in ("dL/dw", "dL/dx")),
}

#: Per explorer: the generated modules it needs (its own script is explorers/NAME.js).
EXPLORERS = {
    "toy_net": ("toy_net", "activations"),
    "max_pool": ("max_pool_index",),
    "conv2d": ("conv2d_index",),
}


def plug_template(expr) -> tuple[str, list[str]]:
    """The LaTeX of ``expr`` with symbol i printed as ``@@i@@``, and the symbol names."""
    import sympy as sp
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    names = {s: f"@@{i}@@" for i, s in enumerate(symbols)}
    return sp.latex(expr, symbol_names=names, mul_symbol="times"), [s.name for s in symbols]


def _function(expr) -> str:
    from derivations.js import js
    return f"function (v) {{ return {js(expr)}; }}"


def sum_record(expr) -> str | None:
    """The terms of an index-form ``Sum`` for an explorer that steps through them.

    ``{limits: [[name, lo(v), hi(v)], ...], when(v), term(v), reads: [{base, at(v)}]}``:
    the summation indices in the order SymPy lists them (the first varies
    slowest here), the guard of a ``Piecewise((term, guard), (0, True))`` body
    (or always true), the term, and the index of every array entry it reads.
    None if ``expr`` is not a Sum.
    """
    import sympy as sp
    if not isinstance(expr, sp.Sum):
        return None
    body, when = expr.function, sp.true
    if (isinstance(body, sp.Piecewise) and len(body.args) == 2
            and body.args[1] == (0, sp.true)):
        body, when = body.args[0].expr, body.args[0].cond
    limits = ", ".join(f"[{json.dumps(var.name)}, {_function(lo)}, {_function(hi)}]"
                       for var, lo, hi in expr.limits)
    from derivations.js import js
    reads = ", ".join(f'{{"base": {json.dumps(e.base.label.name)}, "at": function (v) '
                      f'{{ return [{", ".join(js(i) for i in e.indices)}]; }}}}'
                      for e in sorted(body.atoms(sp.Indexed), key=str))
    return (f'{{"limits": [{limits}], "when": {_function(when)}, "term": {_function(body)}, '
            f'"reads": [{reads}]}}')


def _formula_record(formula) -> str:
    expr = formula.expr                     # derivations.safe_srepr.parse_srepr
    plug, names = plug_template(expr)
    fields = {"tex": formula.latex, "lhs": formula.lhs, "plug": plug, "names": names}
    body = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in fields.items())
    terms = sum_record(expr)
    return (f'{{"f": {_function(expr)}, {body}'
            + (f', "sum": {terms}' if terms else "") + "}")


def _toy_data() -> dict:
    from cnn import toy_net
    images, labels = toy_net.seed_data()
    init = {}
    for case, (k, n) in {"valid_3x3_k2": (2, 4), "same_3x3_k3_p1": (3, 9)}.items():
        kernel, weights = toy_net.seed_init(kernel_size=k, n_nodes=n)
        init[case] = {"kernel": kernel.tolist(), "weights": weights[:, 0].tolist()}
    return {"images": images.tolist(), "labels": labels.tolist(), "init": init,
            "lr": 0.7, "epochs": 1000}


DATA: dict[str, Callable[[], dict]] = {"toy_net": _toy_data}


def module_text(subject: str) -> str:
    """The JavaScript module of ``subject``'s shipped formulas (see the module docstring)."""
    import derivations
    export = derivations.load(subject)
    cases, wanted = SHIPPED[subject]
    lines = [f"// Generated by docs/hooks/explorers.py from derivations/exported/{subject}.json:",
             "// each function printed by derivations.js from the expression the safe loader",
             "// rebuilt (derivations.load). Do not edit; rebuild the site.",
             "window.CNNFormulas = window.CNNFormulas || {};",
             f"window.CNNFormulas[{json.dumps(subject)}] = {{"]
    for case in cases:
        lines.append(f" {json.dumps(case)}: {{")
        for name, formula in sorted(export.case(case).formulas.items()):
            if wanted(name):
                lines.append(f"  {json.dumps(name)}: {_formula_record(formula)},")
        lines.append(" },")
    if subject in DATA:
        lines.append(f' "data": {json.dumps(DATA[subject](), sort_keys=True)},')
    lines.append("};")
    return "\n".join(lines) + "\n"


def text_table(language: str) -> tuple[dict[str, str], list[str]]:
    """``({message: translation}, [messages with no translation])`` for every message
    of the explorers' scripts (every ``t("...")``, in their order), from
    ``docs/locale/<language>/explorers.po``."""
    path = Domain("explorers").path(language)
    have = read(path) if path.is_file() else {}
    messages = script_messages()
    return ({m: have[m] for m in messages if m in have}, [m for m in messages if m not in have])


def text_module(language: str) -> str:
    """The script ``javascripts/explorers/text/<language>.js``: the table of
    :func:`text_table` as ``window.CNN_EXPLORER_TEXT`` (JSON, ASCII-escaped)."""
    table, _ = text_table(language)
    return ("// Generated by docs/hooks/explorers.py from docs/locale/" + language + "/explorers.po:\n"
            "// the explorers' messages (t() in explorers/common.js) translated. Do not edit;\n"
            "// translate the catalogue and rebuild the site.\n"
            f"window.CNN_EXPLORER_TEXT = {json.dumps(table, indent=1)};\n")


def _relative(target: str, page_url: str) -> str:
    from mkdocs.utils import get_relative_url
    return get_relative_url(target, page_url)


def on_post_page(output: str, *, page, config) -> str:
    found = _CONTAINER.search(output)
    if not found:
        return output
    name = found.group(1)
    if name not in EXPLORERS:
        from mkdocs.exceptions import PluginError
        raise PluginError(f"{page.file.src_uri}: unknown explorer {name!r}; "
                          f"known: {sorted(EXPLORERS)}")
    language = source_language(page.file.src_uri)
    scripts = []
    if language != ENGLISH:
        scripts.append(f"javascripts/explorers/text/{language}.js")
        _, missing = text_table(language)
        for message in missing:
            if (language, message) not in _warned:
                _warned.add((language, message))
                _log.warning(f"docs/locale/{language}/explorers.po has no translation of "
                             f"{message!r} (the explorer on {page.url} shows it in English); run "
                             f"`python -m docs.locale update --domain explorers` and translate it")
    scripts += [f"javascripts/explorers/formulas/{s}.js" for s in EXPLORERS[name]]
    scripts += ["javascripts/explorers/common.js", f"javascripts/explorers/{name}.js"]
    tags = "".join(f'<script src="{_relative(s, page.url)}"></script>\n' for s in scripts)
    css = f'<link rel="stylesheet" href="{_relative("stylesheets/explorers.css", page.url)}">\n'
    return output.replace("</head>", css + "</head>", 1).replace("</body>", tags + "</body>", 1)


def on_pre_build(*, config) -> None:
    _warned.clear()   # `mkdocs serve` rebuilds: say again what is missing


def on_post_build(*, config) -> None:
    out = Path(config.site_dir) / "javascripts" / "explorers" / "formulas"
    out.mkdir(parents=True, exist_ok=True)
    for subject in SHIPPED:
        (out / f"{subject}.js").write_text(module_text(subject), encoding="utf-8")
    text = out.parent / "text"
    text.mkdir(exist_ok=True)
    for language in LANGUAGES:
        if language != ENGLISH:
            (text / f"{language}.js").write_text(text_module(language), encoding="utf-8")
