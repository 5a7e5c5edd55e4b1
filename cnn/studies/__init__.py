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

import json
from pathlib import Path

__all__ = ["broken_backprop", "loops_vs_vectorised", "record_runs", "load_record"]


def load_record(name: str, start: Path | None = None) -> dict:
    """The recorded study ``docs/results/<name>``, searched upwards from ``start``.

    For the site's notebooks, which run in ``docs/notebooks/`` (or wherever a
    reader opens them inside a checkout). ``start`` defaults to the working
    directory.
    """
    start = Path.cwd() if start is None else Path(start)
    for base in [start, *start.parents]:
        for candidate in (base / "docs" / "results" / name, base / "results" / name):
            if candidate.is_file():
                return json.loads(candidate.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"docs/results/{name} not found in {start} or above it; "
                            f"open the notebook inside a checkout of the repository")
