"""Experiments over many runs, each a reproducible command with a JSON record.

* :mod:`cnn.studies.broken_backprop`: seed 000's "broken back-prop" nets
  against the correct one, over many seeds and the seed's three dense sizes
  (``python -m cnn.studies.broken_backprop --seeds 20 --out PATH``).
* :mod:`cnn.studies.loops_vs_vectorised`: seed 001's loop-style MNIST CNN
  (:mod:`cnn.reference`) timed against the vectorised one on the same batch
  (``python -m cnn.studies.loops_vs_vectorised --data DIR --out PATH``).
* :mod:`cnn.studies.record_runs`: one ``cnn train`` command for several
  seeds, its JSON outputs in one file
  (``python -m cnn.studies.record_runs --seeds 0 1 2 --out PATH -- train mnist ...``).

The studies use the public API (:class:`cnn.Digits01Net`, :class:`cnn.MnistNet`,
:func:`cnn.train`, :func:`cnn.load_digits01`) with the ``cnn`` command's
default settings, so a single run of the broken back-prop study can be
repeated with ``cnn train``. Each writes a JSON record with the command,
date and versions (``docs/results/`` holds the recorded ones).
"""

__all__ = ["broken_backprop", "loops_vs_vectorised", "record_runs"]
