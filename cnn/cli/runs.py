"""What ``cnn train NETWORK`` runs: per network, its data and default hyper-parameters.

This file is the one definition of the command's defaults: the parser's help
text, the resolution of options a user did not give, ``--resume``'s check of a
checkpoint's options, the ``--json`` summary and :data:`DEFAULTS` all read the
two tables below, and the networks come from :data:`cnn.networks.NETWORKS`.

* :data:`DATASETS`: each data set ``cnn train`` can read, how it is loaded,
  and which data options (``--split``, ``--test-size``, ...) it takes.
* :data:`RUNS`: per network, the data sets it trains on (the first is the
  default) with the hyper-parameters of each, the options given to the
  network's constructor, and what the network takes from the data (its input
  size, its number of classes).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from .. import toy_net
from ..data import Dataset, load_digits, load_digits01, load_mnist
from ..networks import NETWORKS
from ..training import train

__all__ = ["Data", "Run", "DATASETS", "RUNS", "DEFAULTS", "HYPER_PARAMETERS", "library_default"]


def library_default(function: Callable, parameter: str):
    """The default of ``parameter`` in ``function``'s signature: the CLI's default is the library's."""
    return inspect.signature(function).parameters[parameter].default


@dataclass(frozen=True)
class Data:
    """A data set of ``cnn train``: ``load(options) -> Dataset`` and the data options it reads."""
    load: Callable[[dict], Dataset]
    options: tuple[str, ...]
    about: str


def _toy_data(options: dict) -> Dataset:
    # The toy net regresses on the seed's four images: train and test are the same four.
    images, labels = toy_net.seed_data()
    return Dataset(images[:, None], labels, images[:, None], labels,
                   "toy (the seed's four 3x3 images)")


DATASETS: dict[str, Data] = {
    "toy": Data(_toy_data, (), "the seed's four 3x3 images and their labels"),
    "digits01": Data(lambda o: load_digits01(o["split"], test_size=o["test_size"],
                                             seed=o["split_seed"]),
                     ("split", "test_size", "split_seed"),
                     "sklearn's digits 0 and 1 (8x8), a held-out test set"),
    # Each 8x8 digit on MNIST's 28x28 canvas (cnn.data.to_mnist_canvas: 3x3 blocks,
    # 2-pixel border), so the mnist network is exactly seed 003's (288 -> 60 -> 10).
    "digits": Data(lambda o: load_digits(test_size=o["test_size"], seed=o["split_seed"],
                                         canvas=True),
                   ("test_size", "split_seed"),
                   "sklearn's ten digits on MNIST's 28x28 canvas, a held-out test set"),
    "mnist": Data(lambda o: load_mnist(o["data"]), ("data",),
                  "MNIST, from --data DIR or scikit-learn's fetch_openml('mnist_784')"),
}

#: The hyper-parameters every run sets (each has a ``cnn train`` option of the same name).
HYPER_PARAMETERS = ("epochs", "batch_size", "lr", "momentum", "schedule", "warmup", "seed",
                    "dtype", "optimizer")


def _hp(epochs, batch_size, lr, momentum, schedule, warmup, seed, dtype,
        optimizer=library_default(train, "optimizer")):
    return dict(zip(HYPER_PARAMETERS, (epochs, batch_size, lr, momentum, schedule, warmup,
                                       seed, dtype, optimizer)))


@dataclass(frozen=True)
class Run:
    """How ``cnn train NETWORK`` trains one network of :data:`cnn.networks.NETWORKS`.

    Attributes
    ----------
    datasets : dict
        Data set name (a key of :data:`DATASETS`) -> its default hyper-parameters;
        the first is the network's default data.
    options : tuple of str
        ``cnn train`` options passed to the network's constructor by name.
    from_data : dict
        Constructor argument -> the :class:`~cnn.data.Dataset` attribute it is
        taken from (e.g. ``n_classes``: the number of classes is the data's).
    trainer : str
        ``"cnn.training.train"`` (mini-batches, any optimiser, checkpoints) or
        ``"cnn.toy_net.train"`` (the seed's per-sample SGD; saved at the end only).
    classifier : bool
        False for a regression: no accuracies in the summary.
    fixed : dict
        Hyper-parameters that must keep their default, with the reason.
    """
    datasets: dict[str, dict]
    options: tuple[str, ...] = ()
    from_data: dict[str, str] = field(default_factory=dict)
    trainer: str = "cnn.training.train"
    classifier: bool = True
    fixed: dict[tuple[str, ...], str] = field(default_factory=dict)

    @property
    def checkpoints(self) -> bool:
        return self.trainer == "cnn.training.train"


RUNS: dict[str, Run] = {
    "toy": Run(
        datasets={"toy": _hp(1000, 1, 0.7, 0.0, "constant", 0,
                             library_default(NETWORKS["toy"], "seed"), "float64")},
        trainer="cnn.toy_net.train", classifier=False,
        fixed={("batch_size", "momentum", "schedule", "optimizer"):
               "trains like seed 004: per-sample SGD (--batch-size 1, --optimizer sgd), no "
               "momentum, constant learning rate",
               ("dtype",): "computes in float64 only"}),
    "digits01": Run(
        datasets={"digits01": _hp(50, 32, 0.1, 0.9, "cosine", 0, 0, "float64")},
        options=("dense_sizes", "backprop"), from_data={"input_shape": "image_shape"}),
    "mnist": Run(
        datasets={"mnist": _hp(3, 64, 0.05, 0.9, "cosine", 200, 0, "float32"),
                  "digits": _hp(30, 32, 0.05, 0.9, "cosine", 50, 0, "float32")},
        from_data={"input_shape": "image_shape", "n_classes": "n_classes"}),
}

#: Default hyper-parameters per (network, data set), read from :data:`RUNS`.
DEFAULTS: dict[tuple[str, str], dict] = {(name, data): dict(hp) for name, run in RUNS.items()
                                         for data, hp in run.datasets.items()}
