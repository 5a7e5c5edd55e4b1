"""The options of ``cnn train`` and ``cnn evaluate``, each defined once, and the parser.

Every option is one :class:`Option` row: its help, its argparse type, its
default and where it applies. The parser, the help text, the resolution of
options a user did not give (:func:`resolve`) and the errors for an option
given where it does not apply all read these rows. The parser's own default
is ``None`` for every option, so that ``cnn train`` can tell an option given
on the command line (which ``--resume`` must compare with the checkpoint's)
from one left at its default. Hyper-parameter defaults differ per network and
data set: they live in :data:`cnn.cli.runs.RUNS`.
"""

from __future__ import annotations

import argparse
import copy
import math
from dataclasses import dataclass
from typing import Any, Callable

from .. import __version__
from ..data import load_digits01
from ..networks import BACKPROP_VARIANTS, Digits01Net
from ..optim import OPTIMIZERS, SCHEDULES
from ..training import train as _train
from .runs import DATASETS, HYPER_PARAMETERS, RUNS, Run, library_default

__all__ = ["Option", "TRAIN_OPTIONS", "EVALUATE_OPTIONS", "build_parser", "flag", "option",
           "resolve", "train_defaults", "where"]


# ----------------------------------------------------------------------------- argparse types

def _bounded(kind, low, *, strict):
    """An argparse type: a finite ``kind`` (int or float) > ``low`` (strict) or >= ``low``."""
    what = (f"{'an integer' if kind is int else 'a finite number'} "
            f"{'>' if strict else '>='} {low}")

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and (value > low if strict else value >= low)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value
    return parse


positive_int = _bounded(int, 1, strict=False)
nonneg_int = _bounded(int, 0, strict=False)
positive_float = _bounded(float, 0, strict=True)


def _interval(what: str, inside: Callable[[float], bool]):
    """An argparse type: a number for which ``inside`` holds, described as ``what``."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not inside(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value
    return parse


_momentum = _interval("a number in [0, 1)", lambda v: 0 <= v < 1)
_fraction = _interval("a fraction in (0, 1)", lambda v: 0 < v < 1)

_MAX_HIDDEN = 100_000


def _pair(text):
    try:
        h1, h2 = (int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two sizes 'H1,H2' such as 28,36, "
                                         f"got {text!r}") from None
    if not (1 <= h1 <= _MAX_HIDDEN and 1 <= h2 <= _MAX_HIDDEN):
        raise argparse.ArgumentTypeError(f"expected sizes from 1 to {_MAX_HIDDEN}, got {text!r}")
    return [h1, h2]


def path(text):
    """An argparse type: a non-empty path."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


# ----------------------------------------------------------------------------- the table

def _everywhere(run: Run, dataset: str) -> bool:
    return True


def _data_option(name):
    return lambda run, dataset: name in DATASETS[dataset].options


def _network_option(name):
    return lambda run, dataset: name in run.options


@dataclass(frozen=True)
class Option:
    """One option: ``--NAME`` (underscores as dashes), its help, type and default.

    ``default`` is the value ``cnn train`` uses when the option is not given
    (``None``: per network and data set, from :data:`~cnn.cli.runs.RUNS`, or
    no value); ``applies(run, dataset)`` says where it may be given.
    """
    name: str
    help: str
    type: Callable | None = None
    choices: tuple | None = None
    metavar: str | None = None
    default: Any = None
    applies: Callable[[Run, str], bool] = _everywhere

    @property
    def hyper(self) -> bool:
        return self.name in HYPER_PARAMETERS


_DATA = Option("data", "directory with the MNIST IDX files (train-images-idx3-ubyte[.gz], "
               "...); without it, scikit-learn's fetch_openml('mnist_784') cache is tried",
               type=path, metavar="DIR", applies=_data_option("data"))

TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("dataset", "which data the network trains on",
           choices=tuple(sorted({d for r in RUNS.values() if len(r.datasets) > 1
                                 for d in r.datasets})),
           applies=lambda run, dataset: len(run.datasets) > 1),
    _DATA,
    Option("split", "digits 0/1: a stratified held-out test set, or the seed's split "
           "(shuffle, first 10 images = test)", choices=("stratified", "seed"),
           default=library_default(load_digits01, "split"), applies=_data_option("split")),
    Option("test_size", "fraction of the digits held out for testing", type=_fraction, metavar="FRACTION",
           default=library_default(load_digits01, "test_size"), applies=_data_option("test_size")),
    Option("split_seed", "random state of the digits' train/test split", type=nonneg_int,
           metavar="SEED",
           default=library_default(load_digits01, "seed"), applies=_data_option("split_seed")),
    Option("dense_sizes", "hidden sizes: W3 16xH1, W4 H1xH2, W5 H2x1", type=_pair,
           metavar="H1,H2", default=list(library_default(Digits01Net, "dense_sizes")),
           applies=_network_option("dense_sizes")),
    Option("backprop", "correct back-propagation or one of seed 000's broken variants",
           choices=BACKPROP_VARIANTS, default=library_default(Digits01Net, "backprop"),
           applies=_network_option("backprop")),
    Option("optimizer", "the update rule (cnn.optim.OPTIMIZERS)", choices=tuple(OPTIMIZERS)),
    Option("epochs", "passes over the training data", type=positive_int, metavar="N"),
    Option("batch_size", "images per step", type=positive_int, metavar="N"),
    Option("lr", "base learning rate", type=positive_float),
    Option("momentum", "the optimizer's momentum (sgd: v = momentum*v + lr*grad; w -= v; see "
           "cnn.optim); an --optimizer other than the network's default takes its own default",
           type=_momentum,
           metavar="M"),
    Option("schedule", "learning-rate schedule", choices=SCHEDULES),
    Option("warmup", "warm-up steps of the cosine schedule", type=nonneg_int,
           metavar="STEPS"),
    Option("seed", "seed of the initialisation and the shuffling", type=nonneg_int,
           metavar="S"),
    Option("dtype", "floating-point type of the weights and the arithmetic",
           choices=("float32", "float64")),
    Option("threads", "BLAS threads while training (see cnn.training.train)", type=positive_int,
           metavar="N", default=library_default(_train, "threads")),
    Option("save", "save the trained model to this .npz file; networks trained by "
           "cnn.training.train also write a checkpoint there at the end of every epoch",
           type=path, metavar="PATH"),
    Option("resume", "continue the run whose checkpoint is PATH (written by --save), with its "
           "settings; the result equals an uninterrupted run's", type=path, metavar="PATH",
           applies=lambda run, dataset: run.checkpoints),
)

EVALUATE_OPTIONS: tuple[Option, ...] = (
    Option("load", "a model saved by 'cnn train --save'", type=path, metavar="PATH"),
    Option("data", "directory with the MNIST IDX files, for a model trained on MNIST "
           "(default: the directory it was trained with)", type=path, metavar="DIR"),
)

_BY_NAME = {o.name: o for o in TRAIN_OPTIONS}


def flag(name: str) -> str:
    """The command-line spelling of an option: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def where(option: Option) -> str:
    """Where ``option`` applies, in words: "the digits01 network and ..."."""
    places = []
    for network, run in RUNS.items():
        datasets = [d for d in run.datasets if option.applies(run, d)]
        if len(datasets) == len(run.datasets):
            places.append(f"the {network} network")
        else:
            first = next(iter(run.datasets))
            places += [f"the {network} network with --dataset {d}"
                       + (" (its default)" if d == first else "") for d in datasets]
    return " and ".join(places)


def _defaults_text(option: Option) -> str:
    """The default(s) of ``option`` for the help text: "default 0.25", "default: toy 1, ..."."""
    if option.hyper:
        per_network = {n: {d: hp[option.name] for d, hp in r.datasets.items()}
                       for n, r in RUNS.items()}
    elif option.name == "dataset":
        per_network = {n: {next(iter(r.datasets)): next(iter(r.datasets))}
                       for n, r in RUNS.items() if len(r.datasets) > 1}
    elif option.default is None:
        return ""
    else:
        value = option.default
        return "default " + (",".join(map(str, value)) if isinstance(value, list) else str(value))
    values = {v for by_data in per_network.values() for v in by_data.values()}
    if len(values) == 1:
        return f"default {values.pop()}"
    parts = []
    for network, by_data in per_network.items():
        first, *others = by_data.items()
        parts.append(f"{network} {first[1]}" + "".join(f" (--dataset {d}: {v})"
                                                       for d, v in others if v != first[1]))
    return "default: " + ", ".join(parts)


def _help(option: Option) -> str:
    notes = [t for t in (_defaults_text(option),) if t]
    if not all(option.applies(r, d) for r in RUNS.values() for d in r.datasets):
        notes.append(where(option) + " only")
    return option.help + (f" ({'; '.join(notes)})" if notes else "")


def _add(parser, option: Option, **extra) -> None:
    kwargs = {k: getattr(option, k) for k in ("type", "choices", "metavar")
              if getattr(option, k) is not None}
    parser.add_argument(flag(option.name), help=_help(option), default=None, **kwargs, **extra)


def _common(parser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with the results on stdout, and nothing else")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar or per-epoch lines on stderr")


def resolve(args, run: Run, dataset: str) -> dict:
    """The settings of a run: each option as given, or its default for ``run`` on ``dataset``."""
    settings = {}
    for option in TRAIN_OPTIONS:
        given = getattr(args, option.name, None)
        default = run.datasets[dataset].get(option.name, option.default)
        settings[option.name] = copy.deepcopy(default) if given is None else given
    settings["dataset"] = dataset
    return settings


def train_defaults(network: str, dataset: str | None = None) -> dict:
    """Every setting of ``cnn train NETWORK [--dataset DATASET]`` given no other option.

    E.g. ``train_defaults("digits01")["lr"]`` is 0.1; the keys are the names of
    :data:`TRAIN_OPTIONS` (None where there is no value, as ``save``).
    """
    run = RUNS[network]
    return resolve(argparse.Namespace(), run, dataset or next(iter(run.datasets)))


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``cnn``: subcommands ``train``, ``evaluate`` and ``check``."""
    from ..check.cli import add_arguments as add_check_arguments   # cnn.check imports cnn.cli
    parser = argparse.ArgumentParser(
        prog="cnn", description="Train and evaluate the seed CNNs (NumPy, hand-written "
                                "back-propagation), and check your own back-prop.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version of cnn and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="train, evaluate or check (COMMAND --help for its options)")
    t = sub.add_parser("train", help="train a network and print a summary",
                       description="Train a network; the defaults depend on the network "
                                   "and its data (each option says which).")
    t.add_argument("network", choices=sorted(RUNS), help="which seed network")
    for option in TRAIN_OPTIONS:
        _add(t, option)
    _common(t)
    e = sub.add_parser("evaluate", help="evaluate a saved model on its data",
                       description="Evaluate a model saved by 'cnn train --save' on the "
                                   "data it was trained on.")
    load, data = EVALUATE_OPTIONS
    _add(e, load, required=True)
    _add(e, data)
    _common(e)
    c = sub.add_parser("check", help="check your own backward function and name its mistake",
                       description="Check your own backward function against the library, "
                                   "and name the known mistake it makes. This imports and "
                                   "runs YOUR code.")
    add_check_arguments(c)
    return parser


def option(name: str) -> Option:
    """The row of the ``cnn train`` option ``name``."""
    return _BY_NAME[name]
