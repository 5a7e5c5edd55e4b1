r"""``CNNClassifier``: the seed-003 CNN as a scikit-learn classifier.

Like ``sklearn.neural_network.MLPClassifier`` it takes a 2-D array of
samples, here flattened images, ``X`` of shape (n_samples, H*W), plus the
``image_shape`` (H, W) to unflatten them, and labels ``y`` of any type.
Inside is :class:`cnn.networks.MnistNet`: conv ($F$ kernels $k \times k$,
clipped to the image) + bias, ReLU, max pool, dense ``hidden``, ReLU, dense
to the classes, softmax cross-entropy; trained by :func:`cnn.training.train`
(mini-batch SGD with momentum, or Adam; cosine learning-rate schedule), inputs
standardised with the mean and standard deviation of the training pixels.

It works in ``Pipeline``, ``cross_val_score`` and ``GridSearchCV``::

    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    clf = CNNClassifier(image_shape=(8, 8), epochs=20, random_state=0).fit(X, y)
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._validate import as_int, check_real
from .networks import MnistNet
from .optim import OPTIMIZERS, SCHEDULES
from .training import train

try:   # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:   # pragma: no cover - older scikit-learn
    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

__all__ = ["CNNClassifier"]


def _reject_text(X) -> None:
    """A clear TypeError for string data (scikit-learn's own says only "could not
    convert string to float", without naming X), and for the float dtypes the layers
    refuse (float16, extended precision), which scikit-learn would convert silently:
    the rule of :func:`cnn._validate.check_real`, as in the networks and :func:`cnn.train`."""
    dtype = getattr(X, "dtype", None)
    if dtype is None and isinstance(X, (list, tuple)):
        try:
            dtype = np.asarray(X).dtype
        except ValueError:      # ragged: scikit-learn's check says what is wrong
            return
    if dtype is not None and np.dtype(dtype).kind in "USa":
        raise TypeError(f"X: got dtype {np.dtype(dtype)}; expected numbers (pixel values), "
                        f"not strings")
    if dtype is not None and np.dtype(dtype).kind == "f":
        check_real(np.empty(0, dtype), "X")


def _reject_mixed_labels(y) -> None:
    """A clear TypeError for labels mixing strings and numbers (NumPy's own, from
    sorting them, says only "'<' not supported between instances of ...")."""
    if y.dtype != object:
        return
    if not (all(isinstance(v, str) for v in y) or all(isinstance(v, numbers.Real) for v in y)):
        kinds = sorted({type(v).__name__ for v in y})
        raise TypeError(f"y: got labels of mixed types ({', '.join(kinds)}); expected labels "
                        f"of one type (all strings or all numbers), which can be sorted")


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """A small convolutional network classifier (seed 003's MNIST CNN, resizable).

    Parameters
    ----------
    image_shape : (int, int) or None
        (H, W) of the flattened images, H*W = n_features. ``None``: a square
        image when n_features is a perfect square (64 -> 8x8, 784 -> 28x28),
        otherwise a 1 x n_features strip.
    n_filters : int, default 8
        Convolution kernels $F$ (seed 003: 2).
    kernel_size : int, default 3
        Kernel side $k$, clipped to the image (seed 003: 5). These defaults
        suit small images: on 600 shuffled sklearn digits (8x8), 3-fold
        cross-validation scored 0.93-0.955 with them and 0.67-0.71 with the
        seed's 2 kernels of 5x5 (8 features left after pooling).
    hidden : int, default 60
        Units of the hidden dense layer.
    epochs : int, default 20
        Passes over the training data.
    batch_size : int, default 32
        Images per SGD step (at most n_samples).
    optimizer : {"sgd", "adam"}, default "sgd"
        A name of :data:`cnn.optim.OPTIMIZERS`.
    lr : float, default 0.05
        Base learning rate.
    momentum : float, default 0.9
        SGD's $\\mu$ in $v \\leftarrow \\mu v + \\eta g$, $w \\leftarrow w - v$;
        Adam's $\\beta_1$ (:class:`cnn.optim.Adam`).
    schedule : {"cosine", "constant"}, default "cosine"
    dtype : {"float64", "float32"}, default "float64"
        Precision of the network.
    random_state : int, RandomState instance or None
        Seeds the initialisation and the shuffling; an int gives identical fits.
    verbose : bool, default False
        Progress bar on stderr.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    n_features_in_ : int
    image_shape_ : (int, int)
    network_ : cnn.networks.MnistNet
    loss_curve_ : list of float
        Mean training loss of each epoch.
    n_iter_ : int
        Epochs run.
    """

    def __init__(self, image_shape=None, *, n_filters=8, kernel_size=3, hidden=60, epochs=20,
                 batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9, schedule="cosine",
                 dtype="float64", random_state=None, verbose=False):
        self.image_shape = image_shape
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.schedule = schedule
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.non_deterministic = False
        return tags

    # -- helpers --------------------------------------------------------------------------
    def _resolve_image_shape(self, n_features: int) -> tuple[int, int]:
        if self.image_shape is None:
            side = math.isqrt(n_features)
            return (side, side) if side * side == n_features else (1, n_features)
        try:
            h, w = (int(v) for v in self.image_shape)
        except (TypeError, ValueError):
            raise ValueError(f"image_shape: got {self.image_shape!r}; expected None or a pair "
                             f"(H, W) of positive integers") from None
        if h < 1 or w < 1 or h * w != n_features:
            raise ValueError(f"image_shape: got {self.image_shape!r}, {h}*{w} = {h * w} pixels, "
                             f"but X has {n_features} features; expected H*W == n_features")
        return h, w

    def _images(self, X) -> np.ndarray:
        return X.reshape((len(X), 1) + tuple(self.image_shape_))

    def _check_params(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: got {self.schedule!r}; expected one of {SCHEDULES}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: got {self.optimizer!r}; expected one of "
                             f"{tuple(OPTIMIZERS)}")
        for name in ("epochs", "batch_size"):
            as_int(getattr(self, name), name, minimum=1)

    # -- API ------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train on flattened images ``X`` (n_samples, H*W) and labels ``y`` (n_samples,)."""
        self._check_params()
        _reject_text(X)
        X, y = _validate_data(self, X, y, dtype=[np.float64, np.float32])
        _reject_mixed_labels(y)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        self.image_shape_ = self._resolve_image_shape(X.shape[1])
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        net = MnistNet(input_shape=self.image_shape_, n_filters=self.n_filters,
                       kernel_size=self.kernel_size, hidden=self.hidden,
                       n_classes=len(self.classes_), dtype=self.dtype, seed=seed)
        net.fit_input_scaling(X)
        history = train(net, self._images(X), y_index.astype(np.int64), epochs=int(self.epochs),
                        batch_size=int(min(self.batch_size, len(X))),
                        optimizer=self.optimizer, lr=self.lr, momentum=self.momentum, schedule=self.schedule, seed=seed,
                        progress=bool(self.verbose))
        self.network_ = net
        self.loss_curve_ = [e["train_loss"] for e in history.epochs]
        self.n_iter_ = len(history.epochs)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self)
        _reject_text(X)
        X = _validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self.network_.predict_proba(self._images(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample, (n_samples,)."""
        check_is_fitted(self)
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
