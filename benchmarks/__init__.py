"""The benchmark: how fast :mod:`cnn` is, beside PyTorch and the loop reference.

Run ``python -m benchmarks.bench`` from the root of a checkout (see
:mod:`benchmarks.bench`). It lives outside the installed package because it
needs the checkout (it derives the formulas, builds the site and writes the
site's record), and it uses the public API of :mod:`cnn` only.

* :mod:`benchmarks.timing`: interleaved rounds, medians, thread limits;
* :mod:`benchmarks.steps`: the training steps timed, all from the same weights;
* :mod:`benchmarks.layers`: single layers against PyTorch;
* :mod:`benchmarks.measure`: the step grid, the profile, the loops, an epoch;
* :mod:`benchmarks.machine`, :mod:`benchmarks.project`: the machine, and the
  time to derive the formulas and build the site;
* :mod:`benchmarks.report`: the targets, the summary table, the text report.
"""
