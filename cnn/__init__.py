"""Backpropagation through convolutional networks, written by hand in NumPy.

Every gradient here is implemented from the formulas derived with SymPy in
``derivations/``; the tests in ``tests/`` tie the two together. This package
itself never imports SymPy.
"""

from . import toy_net

__version__ = "0.1.0"
