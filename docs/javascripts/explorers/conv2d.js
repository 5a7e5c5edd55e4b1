// The convolution backward explorer (docs/layers/conv2d.md): one image, one
// channel, one filter; any small input size, kernel size, stride 1-3 and
// padding 0-2. dL/dw and dL/dx are the all-sizes export evaluated
// (CNNFormulas.conv2d_index, printed at build time), and the stepper walks
// through each sum's terms as the export writes them (its "sum" record):
//
//   dL/dw[a',e'] = sum over i, j of G[i,j] x_p[a' + s i, e' + s j]
//   dL/dx[h',k'] = sum over the windows (i, j) that cover x[h',k'] of
//                  G[i,j] w[h' + p - s i, k' + p - s j]
//                  (the full correlation of the dilated, padded G with rot180(w))
(function () {
  "use strict";
  const X = window.CNNExplorer;
  const t = X.t;
  const F = window.CNNFormulas.conv2d_index.index_form;
  const range = (n) => Array.from({ length: n }, (_, i) => i);
  const GRADIENTS = {
    "dL/dw": { free: ["a'", "e'"], reads: { G: "G", "x^p": "x^p" } },
    "dL/dx": { free: ["h'", "k'"], reads: { G: "G", w: "w" } },
  };

  function sizesOf(c) {
    const O = Math.floor((c.n + 2 * c.p - c.K) / c.s) + 1;
    return { N: 1, C: 1, F: 1, H: c.n, W: c.n, K_H: c.K, K_W: c.K, p: c.p, s: c.s,
             O_H: O, O_W: O, n: 0, f: 0, "f'": 0, "c'": 0, "n'": 0 };
  }

  // The zero-padded image x_p (what the export calls x^p).
  function padded(x, p) {
    const P = x.length + 2 * p;
    return range(P).map((i) => range(P).map((j) =>
      (i < p || j < p || i >= P - p || j >= P - p ? 0 : x[i - p][j - p])));
  }

  // Every term of `sum` at v: [{bind, value, reads: [[base, index]]}], guard true only.
  function terms(sum, v) {
    const out = [];
    (function loop(depth, env) {
      if (depth === sum.limits.length) {
        if (sum.when(env)) {
          out.push({ bind: env, value: sum.term(env),
                     reads: sum.reads.map((r) => [r.base, r.at(env)]) });
        }
        return;
      }
      const [name, lo, hi] = sum.limits[depth];
      for (let k = lo(env), top = hi(env); k <= top; k++) {
        loop(depth + 1, Object.assign({}, env, { [name]: k }));
      }
    })(0, v);
    return out;
  }

  function build(root) {
    const config = { n: 4, K: 3, s: 2, p: 1 };
    const state = { mode: "dL/dw", step: 0 };
    root.replaceChildren();
    const select = (label, key, options) => {
      const s = X.el("select", { "aria-label": label, "data-role": key });
      for (const o of options) s.append(X.el("option", { value: String(o), text: String(o) }));
      s.value = String(config[key]);
      s.addEventListener("change", () => { config[key] = Number(s.value); layout(true); });
      return X.el("label", {}, `${label} `, s);
    };
    const button = (text, role, onclick) => {
      const b = X.el("button", { type: "button", class: "md-button", "data-role": role, text });
      b.addEventListener("click", onclick);
      return b;
    };
    const mode = X.el("select", { "aria-label": t("gradient to step through"), "data-role": "mode" });
    for (const m of Object.keys(GRADIENTS)) mode.append(X.el("option", { value: m, text: m }));
    mode.addEventListener("change", () => { state.mode = mode.value; state.step = 0; explainStep(); });
    const body = X.el("div", { class: "cnn-body" });
    const message = X.el("p", { "data-role": "message", "aria-live": "polite" });
    const panel = X.el("div", { class: "cnn-panel", "aria-live": "polite", "data-role": "formula" });
    root.append(
      X.el("div", { class: "cnn-controls" }, select(t("input size"), "n", [2, 3, 4, 5, 6]),
           select(t("kernel"), "K", [1, 2, 3, 4]), select(t("stride"), "s", [1, 2, 3]),
           select(t("padding"), "p", [0, 1, 2]), button(t("random"), "random", () => layout(true))),
      message, body,
      X.el("div", { class: "cnn-controls" }, X.el("label", {}, `${t("step through")} `, mode),
           button(t("◀ previous"), "previous", () => move(-1)),
           button(t("next ▶"), "next", () => move(1))),
      panel);
    const labelled = (title, node) =>
      X.el("figure", { class: "cnn-block" }, node, X.el("figcaption", { text: title }));
    const value = () => Math.round(40 * Math.random() - 20) / 10;

    function layout(fresh) {
      const { n, K, p } = config;
      const sizes = sizesOf(config);
      if (K > n + 2 * p) {
        root.dataset.state = "invalid";
        message.textContent = t("A %(kernel)s kernel does not fit a %(input)s input padded by %(padding)s.", { kernel: `${K}x${K}`, input: `${n}x${n}`, padding: p });
        body.replaceChildren();
        panel.replaceChildren();
        return;
      }
      message.textContent = t("Output %(size)s: %(formula)s.", { size: `${sizes.O_H}x${sizes.O_W}`,
        formula: `floor((${n} + 2*${p} - ${K})/${config.s}) + 1` });
      const P = n + 2 * p, O = sizes.O_H;
      state.cells = {
        x: X.grid(n, n, (i, j) => X.symbol("x", i, j), { editable: true, label: t("input x") }),
        w: X.grid(K, K, (i, j) => X.symbol("w", i, j), { editable: true, label: t("kernel w") }),
        G: X.grid(O, O, (i, j) => X.symbol("G", i, j), { editable: true, label: t("upstream G") }),
        xp: X.grid(P, P, (i, j) => X.symbol("x^p", i, j), { label: t("padded x_p") }),
        dw: X.grid(K, K, (i, j) => `dL/dw[${i},${j}]`, { label: "dL/dw" }),
        dx: X.grid(n, n, (i, j) => `dL/dx[${i},${j}]`, { label: "dL/dx" }),
      };
      body.replaceChildren(
        X.el("div", { class: "cnn-row" }, labelled(t("input x"), state.cells.x),
             labelled(t("kernel w"), state.cells.w), labelled(t("upstream gradient G"), state.cells.G)),
        X.el("div", { class: "cnn-row" }, labelled(t("x_p (padding %(p)s)", { p }), state.cells.xp),
             labelled("dL/dw", state.cells.dw), labelled("dL/dx", state.cells.dx)));
      if (fresh) {
        for (const input of body.querySelectorAll("input")) X.show(input, value());
      }
      for (const input of body.querySelectorAll("input")) input.addEventListener("input", update);
      for (const [grid, m] of [[state.cells.dw, "dL/dw"], [state.cells.dx, "dL/dx"]]) {
        grid.querySelectorAll("button").forEach((cell, t) => X.onPoint(cell, () => {
          state.mode = m; mode.value = m; state.step = t; explainStep();
        }));
      }
      state.step = 0;
      update();
    }

    function matrix(grid, name, rows) {
      return range(rows).map((i) => range(rows).map((j) =>
        X.read(grid.querySelector(`[data-name="${X.symbol(name, i, j)}"]`))));
    }

    function update() {
      const { n, K, p } = config, sizes = sizesOf(config);
      const x = matrix(state.cells.x, "x", n), w = matrix(state.cells.w, "w", K);
      const G = matrix(state.cells.G, "G", sizes.O_H);
      const ok = [...x.flat(), ...w.flat(), ...G.flat()].every(isFinite);
      root.dataset.state = ok ? "ok" : "invalid";
      if (!ok) return;
      const xp = padded(x, p);
      state.v = Object.assign({ G: [[G]], w: [[w]], "x^p": [[xp]] }, sizes);
      for (const cell of state.cells.xp.querySelectorAll("button")) {
        const [i, j] = /\{(\d+),(\d+)\}/.exec(cell.dataset.name).slice(1).map(Number);
        X.show(cell, xp[i][j]);
        cell.classList.toggle("cnn-pad", i < p || j < p || i >= n + p || j >= n + p);
      }
      for (const [grid, m, size] of [[state.cells.dw, "dL/dw", K], [state.cells.dx, "dL/dx", n]]) {
        for (const cell of grid.querySelectorAll("button")) {
          const [a, b] = /\[(\d+),(\d+)\]/.exec(cell.dataset.name).slice(1).map(Number);
          X.show(cell, F[m].f(at(m, a, b)));
        }
        grid.dataset.size = String(size);
      }
      explainStep();
    }

    function at(m, a, b) {
      const [u, v] = GRADIENTS[m].free;
      return Object.assign({}, state.v, { [u]: a, [v]: b });
    }

    function move(by) {
      const grid = state.mode === "dL/dw" ? state.cells.dw : state.cells.dx;
      const count = grid.querySelectorAll("button").length;
      state.step = (state.step + by + count) % count;
      explainStep();
    }

    // The current element: its terms with running sums; the cells they read light up.
    function explainStep() {
      if (root.dataset.state !== "ok" || !state.v) return;
      const grid = state.mode === "dL/dw" ? state.cells.dw : state.cells.dx;
      const cell = grid.querySelectorAll("button")[state.step];
      const [a, b] = /\[(\d+),(\d+)\]/.exec(cell.dataset.name).slice(1).map(Number);
      const list = terms(F[state.mode].sum, at(state.mode, a, b));
      const names = [cell.dataset.name];
      let running = 0;
      const rows = list.map((term) => {
        running += term.value;
        const parts = term.reads.map(([base, index]) => {
          const name = X.symbol(base, index[index.length - 2], index[index.length - 1]);
          names.push(name);
          const v = state.v[base][index[0]][index[1]][index[2]][index[3]];
          return `${base}[${index.slice(-2).join(",")}] = ${X.fmt(v)}`;
        });
        const product = parts.reduce((left, right) => t("%(left)s times %(right)s", { left, right }));
        return X.el("li", { text: t("%(product)s: term %(term)s, running sum %(sum)s",
                                    { product, term: X.fmt(term.value), sum: X.fmt(running) }) });
      });
      X.highlight(root, names);
      for (const c of root.querySelectorAll(".cnn-pointed")) c.classList.remove("cnn-pointed");
      cell.classList.add("cnn-pointed");
      const how = state.mode === "dL/dw"
        ? t("the padded input correlated with G: one term per output position")
        : t("G dilated by the stride and padded, against the rotated kernel: one term per window that covers this input entry");
      panel.replaceChildren(
        X.el("p", { text: t("%(name)s (element %(index)s of %(count)s), %(how)s:",
                            { name: cell.dataset.name, index: state.step + 1,
                              count: grid.querySelectorAll("button").length, how }) }),
        rows.length ? X.el("ol", {}, ...rows) : X.el("p", { text: t("no term: no window covers it") }),
        X.el("p", { text: t("= %(sum)s; the formula gives %(value)s.",
                            { sum: X.fmt(running), value: X.fmt(Number(cell.dataset.value)) }) }));
      panel.dataset.formula = cell.dataset.name;
      panel.dataset.running = String(running);
    }

    layout(true);
  }

  for (const root of document.querySelectorAll('.cnn-explorer[data-explorer="conv2d"]')) {
    build(root);
  }
})();
