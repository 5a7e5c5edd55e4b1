// What every live explorer shares: number formatting, grids of cells, the
// formula panel (a formula with the current numbers plugged in), highlights.
//
// The formulas themselves come from javascripts/explorers/formulas/<subject>.js,
// generated at build time by docs/hooks/explorers.py: each is {f, tex, lhs,
// plug, names}, f(v) evaluating the exported expression for v = {symbol name:
// number}. Nothing here evaluates a string.
//
// Every word an explorer shows goes through t('English message', {field: value}):
// on a page of another language docs/hooks/explorers.py includes, before this
// script, javascripts/explorers/text/<language>.js, which sets
// window.CNN_EXPLORER_TEXT = {message: translation} (from the catalogue
// docs/locale/<language>/explorers.po). t() returns the translation, or the
// English message where the table has none (recorded in
// window.cnnExplorerMissingText, which the tests read); English pages have no
// table and show the messages themselves. A message is a whole sentence or
// label, with numbers and symbols as %(name)s fields, filled after translating
// (%% is a literal %). The extractor (`python -m docs.locale`, its
// script_messages) reads every call of t whose first argument is one
// double-quoted string literal on one line (no concatenation, no template, no
// variable): write each message that way, and never that pattern in a comment.
(function () {
  "use strict";

  const missing = window.cnnExplorerMissingText = window.cnnExplorerMissingText || [];

  function t(message, fields) {
    const table = window.CNN_EXPLORER_TEXT;
    let text = message;
    if (table) {
      if (Object.prototype.hasOwnProperty.call(table, message)) text = table[message];
      else if (!missing.includes(message)) missing.push(message);
    }
    if (!fields) return text;
    return text.replace(/%(?:\((\w+)\)s|%)/g, (whole, name) => {
      if (name === undefined) return "%";
      if (!Object.prototype.hasOwnProperty.call(fields, name)) {
        throw new Error(`t(${JSON.stringify(message)}): no field ${name}`);
      }
      return String(fields[name]);
    });
  }

  // Four significant digits on screen; the exact double stays in data-value.
  function fmt(x) {
    if (typeof x !== "number" || !isFinite(x)) return String(x);
    if (x === 0) return "0";
    const a = Math.abs(x);
    if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(4)));
    const [m, e] = x.toExponential(3).split("e");
    return `${Number(m)}e${Number(e)}`;
  }

  // TeX of a number in a plugged formula: negatives in parentheses, so that
  // "x \times (-0.5)" and "(-0.5)^{2}" read right.
  function texNumber(x) {
    let s = fmt(x).replace(/e(-?\d+)$/, " \\cdot 10^{$1}");
    return x < 0 ? `(${s})` : s;
  }

  // The name of entry (i, j, ...) of array `base`, as the exports spell it: x_{1,2}.
  function symbol(base, ...index) { return `${base}_{${index.join(",")}}`; }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  // A rows x cols grid. names(i, j) is each cell's symbol name; editable cells
  // are text inputs (type=text: any float the reader types, "1e-3" included).
  function grid(rows, cols, names, { editable = false, label = "" } = {}) {
    const box = el("div", { class: "cnn-grid", role: "group", "aria-label": label,
                            style: `grid-template-columns: repeat(${cols}, auto)` });
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const name = names(i, j);
        const cell = editable
          ? el("input", { type: "text", inputmode: "decimal", class: "cnn-cell cnn-input",
                          "data-name": name, "aria-label": name, spellcheck: "false" })
          : el("button", { type: "button", class: "cnn-cell", "data-name": name,
                           "aria-label": name });
        box.append(cell);
      }
    }
    return box;
  }

  function show(cell, value) {
    cell.dataset.value = String(value);
    if (cell.tagName === "INPUT") {
      // Keep what the reader typed if it means the same number ("1e-3", "0.50").
      if (cell.value.trim() === "" || Number(cell.value) !== value) cell.value = String(value);
    } else {
      cell.textContent = fmt(value);
    }
    cell.classList.toggle("cnn-neg", value < 0);
  }

  // The number in an input, or NaN (the caller marks the cell invalid).
  function read(input) {
    const text = input.value.trim();
    const x = text === "" ? NaN : Number(text);
    input.classList.toggle("cnn-invalid", !isFinite(x));
    input.setAttribute("aria-invalid", String(!isFinite(x)));
    return x;
  }

  function typeset(node) {
    const MJ = window.MathJax;
    if (MJ && MJ.startup && MJ.startup.promise && MJ.typesetPromise) {
      MJ.startup.promise.then(() => MJ.typesetPromise([node])).catch(() => {});
    }
  }

  // The panel: "lhs = tex", then "= the plugged numbers = value".
  function explain(panel, formula, lhs, v, value) {
    const plugged = formula.plug.replace(/@@(\d+)@@/g,
      (_, i) => texNumber(v[formula.names[Number(i)]]));
    panel.replaceChildren(
      el("p", { class: "cnn-formula" }, `\\(\\displaystyle ${lhs} = ${formula.tex}\\)`),
      el("p", { class: "cnn-formula" },
         `\\(\\displaystyle = ${plugged} = ${texNumber(value)}\\)`));
    panel.dataset.formula = lhs;
    typeset(panel);
  }

  // Light up the cells (anywhere in root) whose symbol the formula uses.
  function highlight(root, names) {
    const wanted = new Set(names || []);
    for (const cell of root.querySelectorAll("[data-name]")) {
      cell.classList.toggle("cnn-used", wanted.has(cell.dataset.name));
    }
  }

  // Hover, focus and tap on a cell all do the same thing.
  function onPoint(cell, handler) {
    for (const type of ["mouseenter", "focus", "click"]) cell.addEventListener(type, handler);
  }

  window.CNNExplorer = { t, fmt, texNumber, symbol, el, grid, show, read, typeset, explain,
                         highlight, onPoint };
})();
