// The toy-net explorer (docs/toy_net.md): edit the image, the kernel, the dense
// weights and the label; every forward value, delta and gradient is the
// exported formula evaluated (CNNFormulas.toy_net, printed at build time).
//
//   forward:  z1[i,j]  (the true convolution of the padded image), a = tanh(z1)
//             (activations' tanh(z)), z2, o = out, L
//   backward: chain:delta[i,j] (in o, w, a, y), chain:dL/dk[a,b] (in delta, x),
//             chain:dL/dw[i] (in a, o, y)
//
// Training (per-sample SGD over the seed's four images) uses the same formulas.
(function () {
  "use strict";
  const X = window.CNNExplorer;
  const t = X.t;
  const TOY = window.CNNFormulas.toy_net;
  const TANH = window.CNNFormulas.activations.elementwise["tanh(z)"];
  const DATA = TOY.data;
  const CASES = {
    valid_3x3_k2: { k: 2, m: 2, title: () => t("2x2 kernel, 'valid' (2x2 layer 1)") },
    same_3x3_k3_p1: { k: 3, m: 3, title: () => t("3x3 kernel, 'same' (padding 1, 3x3 layer 1)") },
  };
  const range = (n) => Array.from({ length: n }, (_, i) => i);
  // Two decimals: readable in the cells (the tests type full doubles instead).
  const rand = (lo, hi) => Math.round(100 * (lo + (hi - lo) * Math.random())) / 100;

  // Every value of one pass, by symbol name, from the inputs (x, k, w, y).
  function evaluate(caseName, inputs) {
    const F = TOY[caseName], { m } = CASES[caseName];
    const v = Object.assign({}, inputs);
    const z1 = {}, delta = {}, dk = {}, dw = {};
    for (const i of range(m)) for (const j of range(m)) {
      z1[X.symbol("z", i, j)] = F[`z1[${i},${j}]`].f(v);
      v[X.symbol("a", i, j)] = TANH.f({ z: z1[X.symbol("z", i, j)] });
    }
    v.z2 = F.z2.f(v);
    v.o = F.out.f(v);
    v.L = F.L.f(v);
    for (const i of range(m)) for (const j of range(m)) {
      delta[X.symbol("\\delta", i, j)] = v[X.symbol("\\delta", i, j)] =
        F[`chain:delta[${i},${j}]`].f(v);
    }
    for (const name of Object.keys(F)) {
      const hit = /^chain:dL\/d([kw])\[([\d,]+)\]$/.exec(name);
      if (hit) (hit[1] === "k" ? dk : dw)[hit[2]] = F[name].f(v);
    }
    return { v, z1, delta, dk, dw };
  }

  // The seed's variants of the kernel gradient, from the correct one (the
  // toy_net export's facts): the first code gives rot180(dK), the update's
  // text its transpose, the update's code rot180(rot180(dK)) = dK.
  function variants(dk, k) {
    const at = (i, j) => dk[`${i},${j}`];
    const out = { correct: {}, seed_original: {}, seed_transposed: {}, seed_rotated: {} };
    for (const i of range(k)) for (const j of range(k)) {
      out.correct[`${i},${j}`] = at(i, j);
      out.seed_original[`${i},${j}`] = at(k - 1 - i, k - 1 - j);
      out.seed_transposed[`${i},${j}`] = at(k - 1 - j, k - 1 - i);
      out.seed_rotated[`${i},${j}`] = at(i, j);
    }
    return out;
  }

  function build(root) {
    const state = { caseName: "valid_3x3_k2" };
    root.replaceChildren();
    const caseBox = X.el("fieldset", { class: "cnn-controls" },
                         X.el("legend", { text: t("Case") }));
    for (const [name, c] of Object.entries(CASES)) {
      const radio = X.el("input", { type: "radio", name: "cnn-toy-case", value: name,
                                    id: `cnn-toy-${name}` });
      radio.checked = name === state.caseName;
      radio.addEventListener("change", () => { state.caseName = name; layout(); });
      caseBox.append(X.el("label", { for: `cnn-toy-${name}` }, radio, ` ${c.title()}`));
    }
    const which = X.el("select", { "aria-label": t("seed image"), "data-role": "seed-image" });
    DATA.images.forEach((_, i) => which.append(X.el("option", { value: String(i),
      text: t("image %(number)s", { number: i + 1 }) })));
    which.value = "1";   // the top-row image: the first with a non-zero gradient
    const button = (text, role, onclick) => {
      const b = X.el("button", { type: "button", class: "md-button", "data-role": role, text });
      b.addEventListener("click", onclick);
      return b;
    };
    const buttons = X.el("div", { class: "cnn-controls" },
      which, button(t("seed data"), "seed-data", () => seedData(Number(which.value))),
      button(t("seed x4 initialisation"), "seed-init", seedInit),
      button(t("random"), "random", randomise));
    const body = X.el("div", { class: "cnn-body" });
    const panel = X.el("div", { class: "cnn-panel", "aria-live": "polite",
                                "data-role": "formula" },
      X.el("p", { text: t("Point at, tap or focus a gradient entry to see its formula with the current numbers.") }));
    const variantsToggle = X.el("input", { type: "checkbox", id: "cnn-toy-variants",
                                           "data-role": "variants-toggle" });
    const variantsBox = X.el("div", { class: "cnn-row", "data-role": "variants" });
    variantsBox.hidden = true;
    variantsToggle.addEventListener("change", () => {
      variantsBox.hidden = !variantsToggle.checked; update();
    });
    root.append(caseBox, buttons, body, panel,
                X.el("p", {}, X.el("label", { for: "cnn-toy-variants" }, variantsToggle,
                     ` ${t("show the seed's kernel-gradient variants side by side")}`)),
                variantsBox, trainer(state));

    function labelled(title, node) {
      return X.el("figure", { class: "cnn-block" }, node, X.el("figcaption", { text: title }));
    }

    function layout() {
      const { k, m } = CASES[state.caseName];
      const cells = {
        x: X.grid(3, 3, (i, j) => X.symbol("x", i, j), { editable: true, label: t("image x") }),
        k: X.grid(k, k, (i, j) => X.symbol("k", i, j), { editable: true, label: t("kernel K") }),
        w: X.grid(m, m, (i, j) => X.symbol("w", i * m + j), { editable: true,
                                                              label: t("weights W (row-major)") }),
        y: X.grid(1, 1, () => "y", { editable: true, label: t("label y") }),
        z: X.grid(m, m, (i, j) => X.symbol("z", i, j), { label: "z1" }),
        a: X.grid(m, m, (i, j) => X.symbol("a", i, j), { label: "a1 = tanh(z1)" }),
        out: X.grid(1, 3, (i, j) => ["z2", "o", "L"][j], { label: "z2, o, L" }),
        delta: X.grid(m, m, (i, j) => X.symbol("\\delta", i, j), { label: t("layer-1 deltas") }),
        dk: X.grid(k, k, (i, j) => `dL/dk[${i},${j}]`, { label: "dL/dK" }),
        dw: X.grid(m, m, (i, j) => `dL/dw[${i * m + j}]`, { label: "dL/dW" }),
      };
      body.replaceChildren(
        X.el("div", { class: "cnn-row" }, labelled(t("image x"), cells.x),
             labelled(t("kernel K"), cells.k), labelled(t("weights W"), cells.w),
             labelled(t("label y"), cells.y)),
        X.el("div", { class: "cnn-row" }, labelled("z1", cells.z), labelled("a1 = tanh(z1)", cells.a),
             labelled("z2, o, L", cells.out)),
        X.el("div", { class: "cnn-row" }, labelled(t("deltas = dL/dz1"), cells.delta),
             labelled("dL/dK", cells.dk), labelled("dL/dW", cells.dw)));
      state.cells = cells;
      for (const input of body.querySelectorAll("input")) input.addEventListener("input", update);
      for (const [grid, kind] of [[cells.dk, "k"], [cells.dw, "w"]]) {
        for (const cell of grid.querySelectorAll("button")) {
          X.onPoint(cell, () => point(cell, kind));
        }
      }
      const variantTitles = {
        seed_original: t("first code: x_p * rot180(delta)"),
        seed_transposed: t("update's text: its transpose"),
        seed_rotated: t("update's code: rot180 of the first"), correct: t("correct dL/dK") };
      variantsBox.replaceChildren(...["seed_original", "seed_transposed", "seed_rotated",
                                      "correct"].map((name) => labelled(variantTitles[name],
        X.grid(k, k, (i, j) => `${name}[${i},${j}]`, { label: variantTitles[name] }))));
      if (!state.values) { state.values = {}; seedData(1); }
      seedInitValues();   // each case starts from its own seed x4 initialisation
      fill();
    }

    // The inputs as a {symbol: number} object, or null if one is not a number.
    function inputs() {
      const v = {};
      let ok = true;
      for (const input of body.querySelectorAll("input")) {
        v[input.dataset.name] = X.read(input);
        ok = ok && isFinite(v[input.dataset.name]);
      }
      return ok ? v : null;
    }

    function fill() {
      for (const input of body.querySelectorAll("input")) {
        const value = state.values[input.dataset.name];
        input.value = value === undefined ? "0" : String(value);
      }
      update();
    }

    function update() {
      const v = inputs();
      root.dataset.state = v ? "ok" : "invalid";
      if (!v) return;
      state.values = Object.assign(state.values || {}, v);
      const r = evaluate(state.caseName, v);
      state.result = r;
      const show = (grid, get) => {
        for (const cell of grid.querySelectorAll("button")) X.show(cell, get(cell.dataset.name));
      };
      show(state.cells.z, (n) => r.z1[n]);
      show(state.cells.a, (n) => r.v[n]);
      show(state.cells.out, (n) => r.v[n]);
      show(state.cells.delta, (n) => r.delta[n]);
      show(state.cells.dk, (n) => r.dk[/\[(.*)\]/.exec(n)[1]]);
      show(state.cells.dw, (n) => r.dw[/\[(.*)\]/.exec(n)[1]]);
      if (!variantsBox.hidden) {
        const all = variants(r.dk, CASES[state.caseName].k);
        for (const cell of variantsBox.querySelectorAll("button")) {
          const [, name, at] = /^(\w+)\[(.*)\]$/.exec(cell.dataset.name);
          X.show(cell, all[name][at]);
        }
      }
      if (state.pointed) point(state.pointed.cell, state.pointed.kind);
    }

    function point(cell, kind) {
      if (!state.result || !body.contains(cell)) return;
      state.pointed = { cell, kind };
      const at = /\[(.*)\]/.exec(cell.dataset.name)[1];
      const formula = TOY[state.caseName][`chain:dL/d${kind}[${at}]`];
      const lhs = `\\frac{\\partial L}{\\partial ${kind}_{${at}}}`;
      X.explain(panel, formula, lhs, state.result.v, Number(cell.dataset.value));
      X.highlight(root, formula.names);
      for (const c of root.querySelectorAll(".cnn-pointed")) c.classList.remove("cnn-pointed");
      cell.classList.add("cnn-pointed");
    }

    function seedData(index) {
      state.values = state.values || {};
      DATA.images[index].forEach((row, i) => row.forEach((x, j) => {
        state.values[X.symbol("x", i, j)] = x;
      }));
      state.values.y = DATA.labels[index];
      if (state.cells) fill();
    }

    function seedInitValues() {
      const init = DATA.init[state.caseName], { k } = CASES[state.caseName];
      for (const i of range(k)) for (const j of range(k)) {
        state.values[X.symbol("k", i, j)] = init.kernel[i][j];
      }
      init.weights.forEach((w, i) => { state.values[X.symbol("w", i)] = w; });
    }

    function seedInit() { seedInitValues(); fill(); }

    function randomise() {
      for (const input of body.querySelectorAll("input")) {
        state.values[input.dataset.name] = input.dataset.name === "y" ? rand(0, 1) : rand(-1, 1);
      }
      fill();
    }

    layout();
    state.inputs = inputs;
    state.setInputs = (values) => { Object.assign(state.values, values); fill(); };
    root.cnnToy = state;
  }

  // ------------------------------------------------------------------ training
  // Per-sample SGD as cnn.toy_net.train: for each image in order, the forward
  // pass and both gradients at the current weights, then K -= lr dK, W -= lr dW.
  // The epoch's cost is the sum of each image's L from its own step's forward pass.
  function train(caseName, start, lr, epochs, onEpoch) {
    const { k, m } = CASES[caseName];
    const p = Object.assign({}, start);
    const costs = [];
    let epoch = 0;
    function oneEpoch() {
      let cost = 0;
      DATA.images.forEach((image, n) => {
        const v = Object.assign({}, p, { y: DATA.labels[n] });
        image.forEach((row, i) => row.forEach((x, j) => { v[X.symbol("x", i, j)] = x; }));
        const r = evaluate(caseName, v);
        cost += r.v.L;
        for (const i of range(k)) for (const j of range(k)) {
          p[X.symbol("k", i, j)] -= lr * r.dk[`${i},${j}`];
        }
        for (const i of range(m * m)) p[X.symbol("w", i)] -= lr * r.dw[String(i)];
      });
      costs.push(cost);
      epoch += 1;
    }
    return new Promise((resolve) => {
      function chunk() {
        const until = Math.min(epochs, epoch + 25);   // a frame's worth, then draw
        while (epoch < until) oneEpoch();
        onEpoch(costs, p);
        if (epoch < epochs) requestAnimationFrame(chunk); else resolve({ costs, params: p });
      }
      chunk();
    });
  }

  function plot(svg, costs, epochs) {
    const W = 320, H = 160, pad = 44;
    const max = Math.max(...costs, 1e-12);
    const pts = costs.map((c, e) => `${(pad + (W - pad - 6) * e / Math.max(1, epochs - 1)).toFixed(1)},` +
                                    `${(H - pad - (H - pad - 6) * c / max).toFixed(1)}`);
    svg.replaceChildren();
    const ns = svg.namespaceURI;   // the SVG namespace, without a URL in our code
    const add = (tag, attrs, text) => {
      const n = document.createElementNS(ns, tag);
      for (const [a, v] of Object.entries(attrs)) n.setAttribute(a, v);
      if (text) n.textContent = text;
      svg.append(n);
    };
    add("line", { x1: pad, y1: H - pad, x2: W - 6, y2: H - pad, class: "cnn-axis" });
    add("line", { x1: pad, y1: 6, x2: pad, y2: H - pad, class: "cnn-axis" });
    add("text", { x: pad - 4, y: 14, "text-anchor": "end" }, X.fmt(max));
    add("text", { x: pad - 4, y: H - pad, "text-anchor": "end" }, "0");
    add("text", { x: W - 6, y: H - pad + 16, "text-anchor": "end" }, t("epoch %(epoch)s", { epoch: epochs }));
    add("polyline", { points: pts.join(" "), class: "cnn-curve" });
  }

  function trainer(state) {
    const lr = X.el("input", { type: "text", inputmode: "decimal", value: String(DATA.lr),
                               "aria-label": t("learning rate"), "data-role": "lr", class: "cnn-input" });
    const epochs = X.el("input", { type: "text", inputmode: "numeric", value: String(DATA.epochs),
                                   "aria-label": t("epochs"), "data-role": "epochs", class: "cnn-input" });
    const go = X.el("button", { type: "button", class: "md-button", "data-role": "train",
                                text: t("train on the seed's four images") });
    // Parsed as HTML, <svg> lands in the SVG namespace (tests/test_site.py wants no URL,
    // not even a namespace, in the site's own scripts).
    const holder = X.el("div");
    holder.innerHTML = '<svg viewBox="0 0 320 160" class="cnn-plot" role="img"></svg>';
    const svg = holder.firstChild;
    svg.setAttribute("aria-label", t("cost per epoch"));
    svg.style.display = "none";   // until there is a curve to draw
    const status = X.el("p", { "data-role": "train-status", "aria-live": "polite",
      text: t("Starts from the kernel and weights above (\"seed x4 initialisation\" for the seed's run).") });
    const box = X.el("div", { class: "cnn-train", "data-role": "trainer" },
      X.el("h4", { text: t("Train it live") }),
      X.el("div", { class: "cnn-controls" }, X.el("label", {}, `${t("learning rate")} `, lr),
           X.el("label", {}, `${t("epochs")} `, epochs), go), svg, status);
    go.addEventListener("click", () => {
      const start = state.inputs(), rate = X.read(lr), n = Math.round(X.read(epochs));
      if (!start || !(rate > 0) || !(n >= 1 && n <= 100000)) {
        status.textContent = t("Needs numbers in every cell, a learning rate > 0 and 1 to 100000 epochs.");
        return;
      }
      go.disabled = true;
      box.dataset.state = "running";
      svg.style.display = "";
      train(state.caseName, start, rate, n, (costs) => {
        plot(svg, costs, n);
        status.textContent = t("epoch %(epoch)s: cost %(cost)s (first epoch %(first)s)",
                               { epoch: costs.length, cost: X.fmt(costs[costs.length - 1]),
                                 first: X.fmt(costs[0]) });
      }).then(({ costs }) => {
        box.dataset.firstCost = String(costs[0]);
        box.dataset.finalCost = String(costs[costs.length - 1]);
        box.dataset.state = "done";
        go.disabled = false;
      });
    });
    return box;
  }

  for (const root of document.querySelectorAll('.cnn-explorer[data-explorer="toy_net"]')) {
    build(root);
  }
})();
