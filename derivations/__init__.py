"""SymPy derivations of every gradient in the project, exported to JSON.

Run ``python -m derivations`` to re-derive and export every subject,
``python -m derivations conv2d max_pool`` for some (``--list``, ``--help``), or
``python -m derivations.<subject>`` for one. Load an export with::

    >>> import derivations
    >>> toy = derivations.load("toy_net")
    >>> toy.formula("valid_3x3_k2", "dL/dk[0,0]").expr     # a SymPy expression
"""

from .loader import Case, Export, ExportError, Formula, read

#: Every subject, in the order ``python -m derivations`` derives them.
SUBJECTS = ["toy_net", "activations", "l2_loss", "dense_softmax", "max_pool", "avg_pool",
            "conv2d", "max_pool_index", "conv2d_index"]


def load(subject: str) -> Export:
    """Load the committed export of ``subject``, one of :data:`SUBJECTS`.

    Any other name (a path, ``"../x"``, a non-string) raises :class:`ExportError`
    listing the known subjects.
    """
    if not isinstance(subject, str) or subject not in SUBJECTS:
        raise ExportError(f"unknown subject {subject!r}: the known subjects are {SUBJECTS}")
    return read(SUBJECTS[SUBJECTS.index(subject)])   # our own string, whatever was passed


__all__ = ["SUBJECTS", "load", "Export", "Case", "Formula", "ExportError"]
