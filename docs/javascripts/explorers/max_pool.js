// The max-pool routing explorer (docs/layers/max_pool.md): a 4x4 input (ties
// allowed), a k x k window moved by stride s (overlapping when s < k), and the
// upstream gradient G. Both results are the all-sizes export evaluated
// (CNNFormulas.max_pool_index, printed at build time):
//
//   M[n,c,i,j,a,e]  1 iff (a, e) is the first maximum, in row-major order, of window (i, j)
//   dL/dx[n',c',u,v] = the sum over the windows covering (u, v) of G times M
(function () {
  "use strict";
  const X = window.CNNExplorer;
  const t = X.t;
  const F = window.CNNFormulas.max_pool_index.index_form;
  const H = 4;
  const range = (n) => Array.from({ length: n }, (_, i) => i);

  // The mask M (O x O x k x k) and dL/dx (H x H) for one image of one channel.
  function route(x, G, k, s) {
    const O = Math.floor((H - k) / s) + 1;
    const sizes = { N: 1, C: 1, H, W: H, k, s, O_H: O, O_W: O };
    const M = range(O).map((i) => range(O).map((j) => range(k).map((a) => range(k).map((e) =>
      F.M.f(Object.assign({ x: [[x]], n: 0, c: 0, i, j, a, e }, sizes))))));
    const dx = range(H).map((u) => range(H).map((v) =>
      F["dL/dx"].f(Object.assign({ G: [[G]], M: [[M]], "n'": 0, "c'": 0, u, v }, sizes))));
    return { O, M, dx };
  }

  function build(root) {
    const state = { k: 2, s: 2 };
    root.replaceChildren();
    const select = (label, role, options, value, onchange) => {
      const s = X.el("select", { "aria-label": label, "data-role": role });
      for (const o of options) s.append(X.el("option", { value: String(o), text: String(o) }));
      s.value = String(value);
      s.addEventListener("change", () => onchange(Number(s.value)));
      return X.el("label", {}, `${label} `, s);
    };
    const button = (text, role, onclick) => {
      const b = X.el("button", { type: "button", class: "md-button", "data-role": role, text });
      b.addEventListener("click", onclick);
      return b;
    };
    const body = X.el("div", { class: "cnn-body" });
    const panel = X.el("div", { class: "cnn-panel", "aria-live": "polite", "data-role": "formula" },
      X.el("p", { text: t("Point at, tap or focus an entry of G or of dL/dx to see its window and where its gradient goes.") }));
    root.append(
      X.el("div", { class: "cnn-controls" },
           select(t("window"), "size", [2, 3, 4], state.k, (k) => { state.k = k; layout(); }),
           select(t("stride"), "stride", [1, 2, 3], state.s, (s) => { state.s = s; layout(); })),
      X.el("div", { class: "cnn-controls" },
           button(t("random"), "random", () => randomise(false)),
           button(t("random with ties"), "ties", () => randomise(true)),
           button(t("all equal"), "equal", () => setX(() => 1))),
      body, panel);

    const labelled = (title, node) =>
      X.el("figure", { class: "cnn-block" }, node, X.el("figcaption", { text: title }));

    function layout() {
      const O = Math.floor((H - state.k) / state.s) + 1;
      state.O = O;
      state.cells = {
        x: X.grid(H, H, (i, j) => X.symbol("x", i, j), { editable: true, label: t("input x") }),
        G: X.grid(O, O, (i, j) => X.symbol("G", i, j), { editable: true, label: t("upstream G") }),
        dx: X.grid(H, H, (i, j) => `dL/dx[${i},${j}]`, { label: "dL/dx" }),
      };
      body.replaceChildren(X.el("div", { class: "cnn-row" },
        labelled(t("input x (4x4)"), state.cells.x),
        labelled(t("upstream gradient G (%(size)s)", { size: `${O}x${O}` }), state.cells.G),
        labelled(t("dL/dx: where G goes"), state.cells.dx)));
      for (const input of body.querySelectorAll("input")) input.addEventListener("input", update);
      for (const input of state.cells.G.querySelectorAll("input")) {
        X.onPoint(input, () => pointWindow(input.dataset.name));
      }
      for (const cell of state.cells.dx.querySelectorAll("button")) {
        X.onPoint(cell, () => pointEntry(cell));
      }
      if (!state.x) state.x = [[1, 3, 2, 0], [3, 0, 2, 2], [1, 1, 0, 4], [0, 1, 4, 2]];
      for (const i of range(O)) for (const j of range(O)) {
        X.show(state.cells.G.querySelector(`[data-name="${X.symbol("G", i, j)}"]`), i * O + j + 1);
      }
      setX((i, j) => state.x[i][j]);
    }

    function setX(value) {
      for (const i of range(H)) for (const j of range(H)) {
        X.show(state.cells.x.querySelector(`[data-name="${X.symbol("x", i, j)}"]`), value(i, j));
      }
      update();
    }

    function randomise(ties) {
      setX(() => (ties ? Math.floor(3 * Math.random()) : Math.round(800 * Math.random() - 400) / 100));
    }

    function read(grid, n) {
      return range(n).map((i) => range(n).map((j) => X.read(
        grid.querySelector(`[data-name="${X.symbol(grid === state.cells.x ? "x" : "G", i, j)}"]`))));
    }

    function update() {
      const x = read(state.cells.x, H), G = read(state.cells.G, state.O);
      const ok = [...x.flat(), ...G.flat()].every(isFinite);
      root.dataset.state = ok ? "ok" : "invalid";
      if (!ok) return;
      state.x = x;
      state.result = Object.assign(route(x, G, state.k, state.s), { x, G });
      const { M, dx, O } = state.result;
      for (const cell of state.cells.dx.querySelectorAll("button")) {
        const [u, v] = /\[(\d+),(\d+)\]/.exec(cell.dataset.name).slice(1).map(Number);
        X.show(cell, dx[u][v]);
      }
      // Every window's winner, marked on the input.
      const winners = new Set();
      for (const i of range(O)) for (const j of range(O)) {
        const w = winner(M, i, j);
        winners.add(X.symbol("x", state.s * i + w[0], state.s * j + w[1]));
      }
      for (const cell of state.cells.x.querySelectorAll("input")) {
        cell.classList.toggle("cnn-winner", winners.has(cell.dataset.name));
      }
      root.dataset.winners = JSON.stringify([...winners].sort());
      if (state.pointed) state.pointed();
    }

    function winner(M, i, j) {
      for (const a of range(state.k)) for (const e of range(state.k)) if (M[i][j][a][e] === 1) return [a, e];
      return null;
    }

    function windowCells(i, j) {
      const out = [];
      for (const a of range(state.k)) for (const e of range(state.k)) {
        out.push(X.symbol("x", state.s * i + a, state.s * j + e));
      }
      return out;
    }

    function pointWindow(name) {
      if (!state.result) return;
      const [i, j] = /\{(\d+),(\d+)\}/.exec(name).slice(1).map(Number);
      const [a, e] = winner(state.result.M, i, j);
      const u = state.s * i + a, v = state.s * j + e;
      X.highlight(root, [...windowCells(i, j), name, `dL/dx[${u},${v}]`]);
      panel.replaceChildren(X.el("p", { text: t(
        "Window (%(i)s, %(j)s) covers rows %(rows)s, columns %(columns)s. Its first maximum in row-major order is x[%(u)s,%(v)s] = %(value)s, so all of G[%(i)s,%(j)s] = %(gradient)s goes to dL/dx[%(u)s,%(v)s]; the window's other entries get nothing from it.",
        { i, j, u, v, rows: `${state.s * i}-${state.s * i + state.k - 1}`,
          columns: `${state.s * j}-${state.s * j + state.k - 1}`,
          value: X.fmt(state.result.x[u][v]), gradient: X.fmt(state.result.G[i][j]) }) }));
      panel.dataset.formula = name;
      state.pointed = () => pointWindow(name);
    }

    function pointEntry(cell) {
      if (!state.result) return;
      const [u, v] = /\[(\d+),(\d+)\]/.exec(cell.dataset.name).slice(1).map(Number);
      const { M, G, O } = state.result;
      const from = [];
      for (const i of range(O)) for (const j of range(O)) {
        const a = u - state.s * i, e = v - state.s * j;
        if (a >= 0 && a < state.k && e >= 0 && e < state.k && M[i][j][a][e] === 1) from.push([i, j]);
      }
      X.highlight(root, [X.symbol("x", u, v), cell.dataset.name,
                         ...from.map(([i, j]) => X.symbol("G", i, j))]);
      const terms = from.map(([i, j]) => `G[${i},${j}] = ${X.fmt(G[i][j])}`);
      panel.replaceChildren(X.el("p", { text: from.length
        ? t("x[%(u)s,%(v)s] is the first maximum of %(count)s window(s): dL/dx[%(u)s,%(v)s] = %(terms)s = %(value)s.",
            { u, v, count: from.length, terms: terms.join(" + "),
              value: X.fmt(Number(cell.dataset.value)) })
        : t("x[%(u)s,%(v)s] is the first maximum of no window: dL/dx[%(u)s,%(v)s] = 0.",
            { u, v }) }));
      panel.dataset.formula = cell.dataset.name;
      state.pointed = () => pointEntry(cell);
    }

    layout();
  }

  for (const root of document.querySelectorAll('.cnn-explorer[data-explorer="max_pool"]')) {
    build(root);
  }
})();
