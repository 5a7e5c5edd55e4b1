"""Backpropagation through convolutional networks, written by hand in NumPy.

Every gradient here is implemented from the formulas derived with SymPy in
``derivations/``; the tests in ``tests/`` tie the two together. This package
itself never imports SymPy.
"""

from . import toy_net
from .activations import ACTIVATIONS, Activation, arctan, logistic, relu, tanh
from .conv import conv2d, conv2d_backward
from .dense import dense, dense_backward
from .losses import l2_loss, softmax_cross_entropy
from .pooling import max_pool2d, max_pool2d_backward

__version__ = "0.1.0"

__all__ = [
    "toy_net",
    "conv2d", "conv2d_backward",
    "max_pool2d", "max_pool2d_backward",
    "dense", "dense_backward",
    "softmax_cross_entropy", "l2_loss",
    "Activation", "ACTIVATIONS", "relu", "tanh", "logistic", "arctan",
]
