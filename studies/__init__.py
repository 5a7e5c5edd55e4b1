"""Experiments over many runs, each a reproducible command writing a JSON record.

Run from the root of a checkout (they are not part of the installed package):

* :mod:`studies.broken_backprop`: seed 000's "broken back-prop" nets
  (:mod:`studies.broken_nets`) against the correct one, over many seeds and
  the seed's three dense sizes.
* :mod:`studies.loops_vs_vectorised`: seed 001's loop-style MNIST CNN
  (:mod:`cnn.reference`) timed against the vectorised one on the same batch.
* :mod:`studies.record_runs`: one ``cnn train`` command for several seeds,
  its JSON outputs in one file.

They use the public API of :mod:`cnn` only. The recorded runs are in
``docs/results/`` (:mod:`studies.records`), each with the command that made
it; the README's "Reproduce" section lists those commands.
"""

from .records import load_record

__all__ = ["load_record"]
