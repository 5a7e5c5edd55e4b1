"""The ``cnn`` command: train the seed networks, evaluate saved models.

::

    cnn train {toy,digits01,mnist} [--data DIR] [--epochs N] [--batch-size B]
              [--lr LR] [--momentum M] [--seed S] [--dtype float32|float64]
              [--save PATH] [--json] ...
    cnn evaluate --load PATH [--data DIR] [--json]

(also ``python -m cnn ...``). Progress bars and per-epoch lines go to
stderr; the summary (or, with ``--json``, exactly one JSON object) goes to
stdout. Exit status 0 on success, 1 on an error (missing data, divergence,
a bad model file), 2 on a usage error.

Defaults per network (each can be overridden):

| network | data | epochs | batch | lr | momentum | schedule | dtype |
|---|---|---|---|---|---|---|---|
| toy | the seed's 4 images | 1000 | 1 (per sample) | 0.7 | 0 | constant | float64 |
| digits01 | digits 0/1, 25% stratified test | 50 | 32 | 0.1 | 0.9 | cosine | float64 |
| mnist | MNIST (``--data DIR`` or OpenML) | 3 | 64 | 0.05 | 0.9 | cosine, 200 warm-up steps | float32 |
| mnist, ``--dataset digits`` | all 10 digits on a 28x28 canvas, 25% test | 30 | 32 | 0.05 | 0.9 | cosine, 50 warm-up steps | float32 |

``--dataset digits`` puts each 8x8 digit on MNIST's 28x28 canvas
(:func:`cnn.data.to_mnist_canvas`: 3x3 blocks, 2-pixel border), so the
network is exactly seed 003's (288 -> 60 -> 10).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from . import toy_net
from .data import MnistNotFoundError, load_digits, load_digits01, load_mnist
from .networks import BACKPROP_VARIANTS, NETWORKS, Digits01Net, MnistNet, ToyNet
from .optim import SCHEDULES
from .serialize import ModelFileError, load_model, save_model
from .training import TrainingDivergedError, train

__all__ = ["main", "DEFAULTS"]

#: Default hyper-parameters per (network, dataset).
DEFAULTS = {
    ("toy", "toy"): dict(epochs=1000, batch_size=1, lr=0.7, momentum=0.0, schedule="constant",
                         warmup=0, seed=598765, dtype="float64"),
    ("digits01", "digits01"): dict(epochs=50, batch_size=32, lr=0.1, momentum=0.9,
                                   schedule="cosine", warmup=0, seed=0, dtype="float64"),
    ("mnist", "mnist"): dict(epochs=3, batch_size=64, lr=0.05, momentum=0.9, schedule="cosine",
                             warmup=200, seed=0, dtype="float32"),
    ("mnist", "digits"): dict(epochs=30, batch_size=32, lr=0.05, momentum=0.9,
                              schedule="cosine", warmup=50, seed=0, dtype="float32"),
}


class CLIError(Exception):
    """An error to report as ``cnn: error: ...`` with exit status 1."""


# ----------------------------------------------------------------------------- parsing

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _nonneg_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _momentum(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {value}")
    return value


def _pair(text):
    try:
        h1, h2 = (int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two sizes 'H1,H2' such as 28,36, "
                                         f"got {text!r}") from None
    if h1 < 1 or h2 < 1:
        raise argparse.ArgumentTypeError(f"expected sizes >= 1, got {text!r}")
    return [h1, h2]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnn", description="Train and evaluate the seed CNNs (NumPy, hand-written "
                                "back-propagation).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate}")

    epilog = "defaults (network, data: epochs, batch, lr, momentum, schedule, warm-up, seed, dtype):\n" + \
        "\n".join(f"  {n} on {d}: {h['epochs']}, {h['batch_size']}, {h['lr']}, {h['momentum']}, "
                  f"{h['schedule']}, {h['warmup']}, {h['seed']}, {h['dtype']}"
                  for (n, d), h in DEFAULTS.items())
    t = sub.add_parser("train", help="train a network and print a summary",
                       description="Train a network; the defaults depend on the network "
                                   "and data (below).", epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("network", choices=sorted(NETWORKS), help="which seed network")
    t.add_argument("--data", metavar="DIR", help="directory with the MNIST IDX files "
                   "(train-images-idx3-ubyte[.gz], ...); without it, scikit-learn's "
                   "fetch_openml('mnist_784') cache is tried")
    t.add_argument("--dataset", choices=("mnist", "digits"), default=None,
                   help="mnist network only: real MNIST (default) or sklearn's 8x8 digits "
                        "enlarged onto a 28x28 canvas")
    t.add_argument("--split", choices=("stratified", "seed"), default=None,
                   help="digits01: stratified held-out test set (default) or the seed's "
                        "split (shuffle, first 10 images = test)")
    t.add_argument("--test-size", type=_fraction, default=0.25,
                   help="fraction held out by the stratified digits splits (default 0.25)")
    t.add_argument("--split-seed", type=_nonneg_int, default=0,
                   help="random state of the digits splits (default 0)")
    t.add_argument("--dense-sizes", type=_pair, default=None, metavar="H1,H2",
                   help="digits01: hidden sizes, W3 16xH1, W4 H1xH2, W5 H2x1 (default 28,36)")
    t.add_argument("--backprop", choices=BACKPROP_VARIANTS, default=None,
                   help="digits01: correct back-propagation or one of seed 000's broken variants")
    t.add_argument("--epochs", type=_positive_int)
    t.add_argument("--batch-size", type=_positive_int)
    t.add_argument("--lr", type=_positive_float, help="base learning rate")
    t.add_argument("--momentum", type=_momentum, help="v = momentum*v + lr*grad; w -= v")
    t.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    t.add_argument("--warmup", type=_nonneg_int, help="warm-up steps of the cosine schedule")
    t.add_argument("--seed", type=_nonneg_int, help="seed of the initialisation and shuffling")
    t.add_argument("--dtype", choices=("float32", "float64"))
    t.add_argument("--threads", type=_positive_int, default=1,
                   help="BLAS threads while training (default 1; see cnn.training.train)")
    t.add_argument("--save", metavar="PATH", help="save the trained model to this .npz file")
    _common(t)

    e = sub.add_parser("evaluate", help="evaluate a saved model on its data")
    e.add_argument("--load", metavar="PATH", required=True, help="a model saved by 'cnn train --save'")
    e.add_argument("--data", metavar="DIR", help="MNIST directory (mnist models)")
    _common(e)
    return parser


def _common(p):
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the results on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")


# ----------------------------------------------------------------------------- data

def _dataset(network: str, dataset: str, args_like: dict):
    """The Dataset for a network, from the options (or a saved model's metadata)."""
    if network == "digits01":
        return load_digits01(args_like.get("split", "stratified"),
                             test_size=args_like.get("test_size", 0.25),
                             seed=args_like.get("split_seed", 0))
    if dataset == "digits":
        # The MNIST network reads the 8x8 digits enlarged onto a 28x28 canvas.
        return load_digits(test_size=args_like.get("test_size", 0.25),
                           seed=args_like.get("split_seed", 0), canvas=True)
    return load_mnist(args_like.get("data"))


def _log(args, message):
    """A line on stderr that does not tear an active progress bar."""
    if args.quiet:
        return
    try:
        from tqdm import tqdm
    except ImportError:
        print(message, file=sys.stderr, flush=True)
    else:
        tqdm.write(message, file=sys.stderr)


# ----------------------------------------------------------------------------- train

def _train_toy(args, hp):
    if hp["batch_size"] != 1 or hp["momentum"] != 0 or hp["schedule"] != "constant":
        raise CLIError("the toy net trains like seed 004: per-sample SGD (--batch-size 1), "
                       "no momentum, constant learning rate; got "
                       f"--batch-size {hp['batch_size']} --momentum {hp['momentum']} "
                       f"--schedule {hp['schedule']}")
    if hp["dtype"] != "float64":
        raise CLIError(f"the toy net computes in float64 only; got --dtype {hp['dtype']}")
    net = ToyNet(seed=hp["seed"])
    images, labels = toy_net.seed_data()
    start = time.perf_counter()
    result = toy_net.train(images, labels, net.params["kernel"], net.params["weights"],
                           lr=hp["lr"], epochs=hp["epochs"])
    seconds = time.perf_counter() - start
    net.params["kernel"], net.params["weights"] = result.kernel, result.weights
    summary = {
        "network": "toy", "dataset": "toy (the seed's four 3x3 images)", **hp,
        "train_accuracy": None, "test_accuracy": None,   # a regression: no classes
        "initial_loss": float(result.costs[0]), "final_loss": float(result.costs[-1]),
        "outputs": [float(o) for o in result.outputs],
        "labels": [float(v) for v in labels],
        "seconds": seconds, "seconds_per_epoch": seconds / hp["epochs"],
        "loss_definition": "the seed's cost: sum over the 4 images of 0.5*(out - y)^2 "
                           "during the epoch",
    }
    return net, summary, {}


def _train_net(args, hp, dataset):
    try:
        data = _dataset(args.network, dataset, vars(args))
    except (MnistNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    if args.network == "digits01":
        net = Digits01Net(dense_sizes=args.dense_sizes, backprop=args.backprop,
                          dtype=hp["dtype"], seed=hp["seed"])
    else:
        net = MnistNet(input_shape=data.image_shape, n_classes=10, dtype=hp["dtype"],
                       seed=hp["seed"])
    net.fit_input_scaling(data.X_train)
    _log(args, f"{net!r}\n{data.name}: {len(data.y_train)} training, {len(data.y_test)} test "
               f"images of {data.image_shape[0]}x{data.image_shape[1]}")
    every = max(1, hp["epochs"] // 10)    # about ten lines per run

    def on_epoch(rec):
        if rec["epoch"] % every == 0 or rec["epoch"] in (1, hp["epochs"]):
            _log(args, f"epoch {rec['epoch']:>4}/{hp['epochs']}  train loss "
                       f"{rec['train_loss']:.5f}  test loss {rec['test_loss']:.5f}  test accuracy "
                       f"{100 * rec['test_accuracy']:.2f}%  {rec['seconds']:.2f} s")

    try:
        history = train(net, data.X_train, data.y_train, epochs=hp["epochs"],
                        batch_size=hp["batch_size"], lr=hp["lr"], momentum=hp["momentum"],
                        schedule=hp["schedule"], warmup_steps=hp["warmup"], seed=hp["seed"],
                        X_test=data.X_test, y_test=data.y_test, progress=not args.quiet,
                        threads=args.threads, on_epoch=on_epoch)
    except TrainingDivergedError as exc:
        raise CLIError(str(exc)) from exc
    train_m = net.evaluate(data.X_train, data.y_train)
    test_m = net.evaluate(data.X_test, data.y_test)
    summary = {
        "network": args.network, "dataset": data.name, **hp,
        "n_train": int(len(data.y_train)), "n_test": int(len(data.y_test)),
        "train_accuracy": train_m["accuracy"], "test_accuracy": test_m["accuracy"],
        "final_loss": train_m["loss"], "test_loss": test_m["loss"],
        "test_errors": int(round((1 - test_m["accuracy"]) * len(data.y_test))),
        "seconds": history.seconds,
        "seconds_per_epoch": history.train_seconds / hp["epochs"],
        "history": history.epochs,
        "loss_definition": "mean loss over the training set at the final weights",
    }
    if args.network == "digits01":
        summary.update(backprop=args.backprop, dense_sizes=args.dense_sizes, split=args.split)
    metadata = {"dataset": dataset, "split": args.split, "test_size": args.test_size,
                "split_seed": args.split_seed, "data": args.data}
    return net, summary, metadata


def cmd_train(args) -> dict:
    dataset = args.network if args.network != "mnist" else (args.dataset or "mnist")
    if args.dataset and args.network != "mnist":
        raise CLIError(f"--dataset applies to the mnist network only; got it with {args.network}")
    if args.data and dataset != "mnist":
        raise CLIError(f"--data DIR (MNIST files) applies to the mnist network on MNIST; "
                       f"{args.network} uses {'the seed data' if dataset == 'toy' else 'sklearn digits'}")
    given = [f"--{o.replace('_', '-')}" for o in ("split", "dense_sizes", "backprop")
             if getattr(args, o) is not None]
    if given and args.network != "digits01":
        raise CLIError(f"{', '.join(given)} applies to the digits01 network only; got it with "
                       f"{args.network}")
    args.split = args.split or "stratified"
    args.dense_sizes = args.dense_sizes or [28, 36]
    args.backprop = args.backprop or "correct"
    hp = dict(DEFAULTS[(args.network, dataset)])
    for key in hp:
        if getattr(args, key, None) is not None:
            hp[key] = getattr(args, key)
    if args.network == "toy":
        net, summary, metadata = _train_toy(args, hp)
    else:
        net, summary, metadata = _train_net(args, hp, dataset)
    if args.save:
        metadata["train_summary"] = {k: v for k, v in summary.items() if k != "history"}
        summary["saved_to"] = str(save_model(args.save, net, metadata))
    return summary


# ----------------------------------------------------------------------------- evaluate

def cmd_evaluate(args) -> dict:
    try:
        net, metadata = load_model(args.load)
    except (FileNotFoundError, ModelFileError) as exc:
        raise CLIError(str(exc)) from exc
    start = time.perf_counter()
    if net.name == "toy":
        images, labels = toy_net.seed_data()
        out = net.output(images)
        loss, _ = net.loss(out, labels)
        summary = {"network": "toy", "train_accuracy": None, "test_accuracy": None,
                   "final_loss": loss, "outputs": [float(o) for o in out[:, 0]]}
    else:
        options = dict(metadata)
        options["data"] = args.data or metadata.get("data")
        try:
            data = _dataset(net.name, metadata.get("dataset", net.name), options)
        except (MnistNotFoundError, ValueError) as exc:
            raise CLIError(str(exc)) from exc
        train_m = net.evaluate(data.X_train, data.y_train)
        test_m = net.evaluate(data.X_test, data.y_test)
        summary = {"network": net.name, "dataset": data.name,
                   "train_accuracy": train_m["accuracy"], "test_accuracy": test_m["accuracy"],
                   "final_loss": train_m["loss"], "test_loss": test_m["loss"],
                   "n_train": int(len(data.y_train)), "n_test": int(len(data.y_test))}
    summary["seconds"] = time.perf_counter() - start
    summary["epochs"] = metadata.get("train_summary", {}).get("epochs")
    summary["config"] = net.config
    summary["loaded_from"] = str(args.load)
    return summary


# ----------------------------------------------------------------------------- output

def _pct(value):
    return "n/a (regression)" if value is None else f"{100 * value:.2f}%"


def _print_summary(s: dict) -> None:
    lines = [f"network        {s['network']}" + (f" ({s['backprop']} back-prop, dense "
                                                    f"{s['dense_sizes'][0]}-{s['dense_sizes'][1]})"
                                                    if "backprop" in s else "")]
    if "dataset" in s:
        lines.append(f"dataset        {s['dataset']}")
    if s["network"] == "toy":
        if "initial_loss" in s:
            lines.append(f"cost           {s['initial_loss']:.4f} -> {s['final_loss']:.4f} "
                         f"(seed: 1.2848 -> 0.0126)")
        else:
            lines.append(f"cost           {s['final_loss']:.4f}")
        lines.append("outputs        " + ", ".join(f"{o:.4f}" for o in s["outputs"]))
    else:
        lines.append(f"train accuracy {_pct(s['train_accuracy'])}  (loss {s['final_loss']:.5f})")
        lines.append(f"test accuracy  {_pct(s['test_accuracy'])}  (loss {s['test_loss']:.5f}, "
                     f"{s['n_test']} images)")
    seconds = f"seconds        {s['seconds']:.2f}"
    if "seconds_per_epoch" in s and s["network"] != "toy":
        seconds += f" ({s['seconds_per_epoch']:.2f} per epoch, {s['epochs']} epochs)"
    lines.append(seconds)
    if s.get("saved_to"):
        lines.append(f"saved to       {s['saved_to']}")
    print("\n".join(lines))


def main(argv=None) -> int:
    """Entry point of the ``cnn`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        summary = cmd_train(args) if args.command == "train" else cmd_evaluate(args)
    except CLIError as exc:
        print(f"cnn: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cnn: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary, sort_keys=True, default=_json_default))
    else:
        _print_summary(summary)
    return 0


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
