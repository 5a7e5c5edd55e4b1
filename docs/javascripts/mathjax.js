// MathJax configuration for the site. Loaded before the vendored
// assets/vendor/mathjax/tex-chtml.js (see extra_javascript in mkdocs.yml).
//
// Two kinds of math reach the browser:
//   * Markdown pages: pymdownx.arithmatex (generic mode) wraps math in
//     .arithmatex elements as \( ... \) and \[ ... \];
//   * notebook pages (mkdocs-jupyter): Markdown cells and SymPy's text/latex
//     outputs keep $ ... $ and $$ ... $$, inside a .jupyter-wrapper element.
// So all four delimiters are on, but only those containers are typeset: a
// dollar sign in ordinary prose or in code is never touched. (MathJax itself
// skips <pre> and <code>, so code cells inside notebooks stay as they are.)
//
// When typesetting of a page has finished, <html> gets
// data-mathjax-done="true" ("error" if it failed), which browser tests wait for.

(function () {
  "use strict";

  let resolveReady;
  const mathjaxReady = new Promise((resolve) => { resolveReady = resolve; });

  window.MathJax = {
    tex: {
      inlineMath: [["\\(", "\\)"], ["$", "$"]],
      displayMath: [["\\[", "\\]"], ["$$", "$$"]],
      processEscapes: true,
      processEnvironments: true,
    },
    options: {
      // Elements with this class are never typeset, even inside a container.
      ignoreHtmlClass: "tex2jax_ignore|no-math",
    },
    startup: {
      typeset: false, // typeset() below chooses the containers
      ready: () => {
        window.MathJax.startup.defaultReady();
        window.MathJax.startup.promise.then(resolveReady);
      },
    },
  };

  function typeset() {
    const root = document.documentElement;
    root.removeAttribute("data-mathjax-done");
    const MathJax = window.MathJax;
    // Forget the previous page's math (instant navigation swaps the content).
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    const containers = Array.from(document.querySelectorAll(".arithmatex, .jupyter-wrapper"));
    return MathJax.typesetPromise(containers)
      .then(() => root.setAttribute("data-mathjax-done", "true"))
      .catch((error) => {
        root.setAttribute("data-mathjax-done", "error");
        console.error("MathJax typesetting failed:", error);
      });
  }

  // Material's document$ emits on the first load and after every instant
  // navigation; typesets run one after another, never concurrently.
  let queue = mathjaxReady;
  document$.subscribe(() => {
    queue = queue.then(typeset);
  });
})();
