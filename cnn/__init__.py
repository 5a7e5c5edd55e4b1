"""Backpropagation through convolutional networks, written by hand in NumPy.

Every gradient here is implemented from the formulas derived with SymPy in
``derivations/``; the tests in ``tests/`` tie the two together. This package
itself never imports SymPy.

* Layers (NCHW, float32/float64): :func:`conv2d`, :func:`max_pool2d`,
  :func:`avg_pool2d`, :func:`dense`, :func:`softmax_cross_entropy`, :func:`l2_loss` and the
  activations, each with its ``*_backward``/``.backward``.
* The seed networks: :mod:`cnn.toy_net` (and :class:`ToyNet`),
  :class:`Digits01Net`, :class:`MnistNet`; training (:func:`train`,
  :class:`SGD`), data (:func:`load_digits01`, :func:`load_mnist`), model files
  (:func:`save_model`, :func:`load_model`), the ``cnn`` command
  (:mod:`cnn.cli`) and a scikit-learn estimator (:class:`CNNClassifier`).
"""

from . import data, networks, optim, serialize, toy_net, training
from .activations import ACTIVATIONS, Activation, arctan, logistic, relu, tanh
from .avg_pool import avg_pool2d, avg_pool2d_backward
from .conv import conv2d, conv2d_backward
from .data import load_digits, load_digits01, load_mnist, read_idx, write_idx
from .dense import dense, dense_backward
from .losses import l2_loss, softmax_cross_entropy
from .networks import BACKPROP_VARIANTS, Digits01Net, MnistNet, ToyNet
from .optim import SGD
from .pooling import max_pool2d, max_pool2d_backward, max_pool2d_relu, max_pool2d_relu_backward
from .serialize import load_model, save_model
from .training import TrainingDivergedError, train

__version__ = "0.1.0"

__all__ = [
    "toy_net", "data", "networks", "optim", "serialize", "training",
    "conv2d", "conv2d_backward",
    "max_pool2d", "max_pool2d_backward", "max_pool2d_relu", "max_pool2d_relu_backward",
    "avg_pool2d", "avg_pool2d_backward",
    "dense", "dense_backward",
    "softmax_cross_entropy", "l2_loss",
    "Activation", "ACTIVATIONS", "relu", "tanh", "logistic", "arctan",
    "BACKPROP_VARIANTS", "Digits01Net", "MnistNet", "ToyNet",
    "SGD", "train", "TrainingDivergedError",
    "load_digits", "load_digits01", "load_mnist", "read_idx", "write_idx",
    "save_model", "load_model", "CNNClassifier",
]


def __getattr__(name):
    # The estimator imports scikit-learn (~0.7 s): load it only when asked for.
    if name == "CNNClassifier":
        from .estimator import CNNClassifier
        return CNNClassifier
    raise AttributeError(f"module 'cnn' has no attribute {name!r}")
