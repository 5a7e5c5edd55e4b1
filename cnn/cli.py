"""The ``cnn`` command: train the seed networks, evaluate saved models.

::

    cnn train {toy,digits01,mnist} [--data DIR] [--epochs N] [--batch-size B]
              [--lr LR] [--momentum M] [--seed S] [--dtype float32|float64]
              [--save PATH] [--resume PATH] [--json] ...
    cnn evaluate --load PATH [--data DIR] [--json]
    cnn bench [ARGS...]          (cnn.bench: timings of the training step)
    cnn check FUNCTION MODULE:NAME [--json] ...   (cnn.check: check your own back-prop)

(also ``python -m cnn ...``). Progress bars and per-epoch lines go to
stderr; the summary (or, with ``--json``, exactly one JSON object) goes to
stdout. Exit status 0 on success, 1 on an error (missing data, divergence,
a bad model file), 2 on a usage error, 130 when interrupted (Ctrl-C).

Checkpoints: with ``--save PATH``, digits01 and mnist write a checkpoint to
PATH (atomically) at the end of every epoch, and the final model at the end.
``cnn train NETWORK --resume PATH`` continues from it with the interrupted
run's settings and data options (stored in the file) and ends with the
weights an uninterrupted run gives, bit for bit; it keeps checkpointing to
PATH (or to ``--save``). Ctrl-C leaves the last checkpoint intact and says
how to resume. The toy net (one second of per-sample SGD) is saved at the
end only.

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
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import toy_net
from .data import MnistNotFoundError, load_digits, load_digits01, load_mnist
from .networks import BACKPROP_VARIANTS, NETWORKS, Digits01Net, MnistNet, ToyNet
from .optim import SCHEDULES
from ._files import save_target
from .serialize import ModelFileError, load_checkpoint, load_model, save_checkpoint, save_model
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


class CLIInterrupted(Exception):
    """Ctrl-C during training; the message says what was saved and how to resume (exit 130)."""


# ----------------------------------------------------------------------------- parsing

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


_positive_int = _bounded(int, 1, strict=False)
_nonneg_int = _bounded(int, 0, strict=False)
_positive_float = _bounded(float, 0, strict=True)


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


def _path(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnn", description="Train and evaluate the seed CNNs (NumPy, hand-written "
                                "back-propagation).")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{train,evaluate,check,bench}")

    epilog = "defaults (network, data: epochs, batch, lr, momentum, schedule, warm-up, seed, dtype):\n" + \
        "\n".join(f"  {n} on {d}: {h['epochs']}, {h['batch_size']}, {h['lr']}, {h['momentum']}, "
                  f"{h['schedule']}, {h['warmup']}, {h['seed']}, {h['dtype']}"
                  for (n, d), h in DEFAULTS.items())
    t = sub.add_parser("train", help="train a network and print a summary",
                       description="Train a network; the defaults depend on the network "
                                   "and data (below).", epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("network", choices=sorted(NETWORKS), help="which seed network")
    t.add_argument("--data", metavar="DIR", type=_path, help="directory with the MNIST IDX files "
                   "(train-images-idx3-ubyte[.gz], ...); without it, scikit-learn's "
                   "fetch_openml('mnist_784') cache is tried")
    t.add_argument("--dataset", choices=("mnist", "digits"), default=None,
                   help="mnist network only: real MNIST (default) or sklearn's 8x8 digits "
                        "enlarged onto a 28x28 canvas")
    t.add_argument("--split", choices=("stratified", "seed"), default=None,
                   help="digits01: stratified held-out test set (default) or the seed's "
                        "split (shuffle, first 10 images = test)")
    t.add_argument("--test-size", type=_fraction, default=None,
                   help="fraction held out by the stratified digits splits (default 0.25)")
    t.add_argument("--split-seed", type=_nonneg_int, default=None,
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
    t.add_argument("--threads", type=_positive_int, default=None,
                   help="BLAS threads while training (default 1; see cnn.training.train)")
    t.add_argument("--save", metavar="PATH", type=_path,
                   help="save the trained model to this .npz file; digits01 and mnist also "
                        "write a checkpoint there at the end of every epoch")
    t.add_argument("--resume", metavar="PATH", type=_path,
                   help="continue the run whose checkpoint is PATH (written by --save), "
                        "with its settings; the result equals an uninterrupted run's")
    _common(t)

    e = sub.add_parser("evaluate", help="evaluate a saved model on its data")
    e.add_argument("--load", metavar="PATH", type=_path, required=True, help="a model saved by 'cnn train --save'")
    e.add_argument("--data", metavar="DIR", type=_path, help="MNIST directory (mnist models)")
    _common(e)

    # `cnn bench ...` is handed to cnn.bench.main before this parser runs (see
    # main); the entry here lists it in `cnn --help`.
    sub.add_parser("bench", add_help=False, help="time the training step (cnn.bench; "
                                                 "`cnn bench --help` for its options)")
    # `cnn check ...` likewise goes to cnn.check.cli.main (it imports and runs the
    # user's code; exit 0 right, 1 wrong, 2 usage error).
    sub.add_parser("check", add_help=False, help="check your own backward function and name "
                                                 "its mistake (`cnn check --help`)")
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


def _train_net(args, hp, dataset, ckpt=None):
    try:
        data = _dataset(args.network, dataset, vars(args))
    except (MnistNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    if ckpt is not None:
        net = ckpt.network            # its input scaling was fitted by the first run
    else:
        if args.network == "digits01":
            net = Digits01Net(dense_sizes=args.dense_sizes, backprop=args.backprop,
                              dtype=hp["dtype"], seed=hp["seed"])
        else:
            net = MnistNet(input_shape=data.image_shape, n_classes=10, dtype=hp["dtype"],
                           seed=hp["seed"])
        net.fit_input_scaling(data.X_train)
    _log(args, f"{net!r}\n{data.name}: {len(data.y_train)} training, {len(data.y_test)} test "
               f"images of {data.image_shape[0]}x{data.image_shape[1]}")
    if ckpt is not None:
        _log(args, f"resuming from {args.resume} after epoch {ckpt.state.epoch} "
                   f"(step {ckpt.state.steps})")
    every = max(1, hp["epochs"] // 10)    # about ten lines per run

    def on_epoch(rec):
        if rec["epoch"] % every == 0 or rec["epoch"] in (1, hp["epochs"]):
            _log(args, f"epoch {rec['epoch']:>4}/{hp['epochs']}  train loss "
                       f"{rec['train_loss']:.5f}  test loss {rec['test_loss']:.5f}  test accuracy "
                       f"{100 * rec['test_accuracy']:.2f}%  {rec['seconds']:.2f} s")

    metadata = {"dataset": dataset, "split": args.split, "test_size": args.test_size,
                "split_seed": args.split_seed, "data": args.data,
                "train_options": {**hp, **{k: getattr(args, k) for k in _RUN_OPTIONS},
                                  "data": args.data, "threads": args.threads}}
    save_path = args.save or args.resume
    # The newest intact checkpoint: (path, epoch, step), or None.
    last = {"where": (args.resume, ckpt.state.epoch, ckpt.state.steps) if ckpt else None,
            "state": ckpt.state if ckpt else None}

    def checkpoint(state):
        if save_path:
            save_checkpoint(save_path, net, state, metadata)   # atomic
            last["where"] = (save_path, state.epoch, state.steps)
        last["state"] = state

    try:
        history = train(net, data.X_train, data.y_train, epochs=hp["epochs"],
                        batch_size=hp["batch_size"], lr=hp["lr"], momentum=hp["momentum"],
                        schedule=hp["schedule"], warmup_steps=hp["warmup"], seed=hp["seed"],
                        X_test=data.X_test, y_test=data.y_test, progress=not args.quiet,
                        threads=args.threads, on_epoch=on_epoch, checkpoint=checkpoint,
                        resume=ckpt.state if ckpt else None)
    except TrainingDivergedError as exc:
        raise CLIError(f"{exc}{_checkpoint_note(args, last['where'])}") from exc
    except ValueError as exc:      # e.g. a checkpoint of a run on other data
        raise CLIError(str(exc)) from exc
    except OSError as exc:         # the checkpoint could not be written (disk full, ...)
        raise CLIError(f"--save {save_path}: cannot write the checkpoint ({exc})."
                       f"{_checkpoint_note(args, last['where'])}") from exc
    except KeyboardInterrupt:
        raise CLIInterrupted(_interrupted_message(args, hp, last["where"], save_path)) from None
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
    if ckpt is not None:
        summary.update(resumed_from=str(args.resume), resumed_after_epoch=ckpt.state.epoch)
    if args.network == "digits01":
        summary.update(backprop=args.backprop, dense_sizes=args.dense_sizes, split=args.split)
    return net, summary, metadata, last["state"]


def _checkpoint_note(args, where) -> str:
    if where is None:
        return ""
    path, epoch, step = where
    return (f" The checkpoint {path} holds the state after epoch {epoch} (step {step}); "
            f"`cnn train {args.network} --resume {shlex.quote(str(path))}` continues from "
            f"there with the same settings.")


def _interrupted_message(args, hp, where, save_path) -> str:
    if where is not None:
        path, epoch, step = where
        during = (f"during epoch {epoch + 1} of {hp['epochs']}" if epoch < hp["epochs"]
                  else "after the last epoch")
        return (f"interrupted (Ctrl-C) {during}. The checkpoint {path} is intact and holds "
                f"the state after epoch {epoch} (step {step}). Continue with:\n"
                f"    cnn train {args.network} --resume {shlex.quote(str(path))}\n"
                f"which ends with the same weights as an uninterrupted run.")
    if save_path:
        return (f"interrupted (Ctrl-C) during epoch 1 of {hp['epochs']}, before the first "
                f"checkpoint ({save_path} is written at the end of every epoch): nothing to "
                f"resume; run the command again.")
    return ("interrupted (Ctrl-C); nothing was saved (--save PATH writes a checkpoint at the "
            "end of every epoch, which --resume PATH continues).")


#: Options of `cnn train` that fix a run besides the hyper-parameters of DEFAULTS;
#: --resume restores them (with the hyper-parameters) from the checkpoint.
_RUN_OPTIONS = ("dataset", "split", "test_size", "split_seed", "dense_sizes", "backprop")


def _load_resume(args):
    """The checkpoint of ``--resume``, with the interrupted run's options put into ``args``."""
    try:
        ckpt = load_checkpoint(args.resume)
    except (FileNotFoundError, ModelFileError) as exc:
        raise CLIError(f"--resume: {exc}") from exc
    name = ckpt.network.name
    if name != args.network:
        raise CLIError(f"--resume {args.resume}: got a checkpoint of the {name} network with "
                       f"`cnn train {args.network}`; expected `cnn train {name} --resume ...`")
    opts = ckpt.metadata.get("train_options")
    keys = list(DEFAULTS[(name, name)]) + list(_RUN_OPTIONS)
    if not isinstance(opts, dict) or any(k not in opts for k in keys):
        raise CLIError(f"--resume {args.resume}: the checkpoint does not record the options "
                       f"of its run (it was not written by `cnn train --save`); expected a "
                       f"checkpoint of `cnn train`. From Python, pass its state to "
                       f"cnn.training.train(..., resume=state)")
    conflicts = []
    for key in keys:
        given = getattr(args, key, None)
        if given is not None and given != opts[key]:
            conflicts.append(f"--{key.replace('_', '-')} {given} (the run: {opts[key]})")
        setattr(args, key, opts[key])
    if conflicts:
        raise CLIError(f"--resume continues the interrupted run with its own settings, so "
                       f"that it ends where that run would have; got {'; '.join(conflicts)}. "
                       f"Drop these options, or start a new run without --resume")
    if args.threads is None:
        args.threads = opts.get("threads", 1)
    elif args.threads != opts.get("threads", 1):
        _log(args, f"note: --threads {args.threads} differs from the run's "
                   f"{opts.get('threads', 1)}; at some batch sizes OpenBLAS then rounds the "
                   f"last bits differently (docs: Reliability)")
    if args.data is None:
        args.data = opts.get("data")
    return ckpt


def _check_save_target(option: str, path: str) -> None:
    """Refuse, before training, a --save/--resume path that could not be written."""
    try:
        target = save_target(path)
    except (ValueError, OSError) as exc:
        raise CLIError(f"--{option} {exc}") from exc
    if not os.access(target.parent, os.W_OK):
        raise CLIError(f"--{option} {path}: the directory {target.parent} is not writable; "
                       f"expected a path where the model can be written")


def cmd_train(args) -> dict:
    given = [f"--{o.replace('_', '-')}" for o in ("split", "dense_sizes", "backprop")
             if getattr(args, o) is not None]
    if given and args.network != "digits01":
        raise CLIError(f"{', '.join(given)} applies to the digits01 network only; got it with "
                       f"{args.network}")
    if args.dataset and args.network != "mnist":
        raise CLIError(f"--dataset applies to the mnist network only; got it with {args.network}")
    if args.resume and args.network == "toy":
        raise CLIError("--resume applies to digits01 and mnist; the toy net trains in about a "
                       "second and is saved at the end only")
    for option in ("save", "resume"):
        if getattr(args, option):
            _check_save_target(option, getattr(args, option))
    ckpt = _load_resume(args) if args.resume else None
    dataset = args.network if args.network != "mnist" else (args.dataset or "mnist")
    if args.data and dataset != "mnist":
        raise CLIError(f"--data DIR (MNIST files) applies to the mnist network on MNIST; "
                       f"{args.network} uses {'the seed data' if dataset == 'toy' else 'sklearn digits'}")
    args.split = args.split or "stratified"
    args.dense_sizes = args.dense_sizes or [28, 36]
    args.backprop = args.backprop or "correct"
    args.test_size = 0.25 if args.test_size is None else args.test_size
    args.split_seed = 0 if args.split_seed is None else args.split_seed
    args.threads = 1 if args.threads is None else args.threads
    hp = dict(DEFAULTS[(args.network, dataset)])
    for key in hp:
        if getattr(args, key, None) is not None:
            hp[key] = getattr(args, key)
    if args.network == "toy":
        net, summary, metadata = _train_toy(args, hp)
        if args.save:
            metadata["train_summary"] = dict(summary)
            summary["saved_to"] = str(save_model(args.save, net, metadata))
        return summary
    net, summary, metadata, state = _train_net(args, hp, dataset, ckpt)
    save_path = args.save or args.resume
    if save_path:
        # The final file: the model, the state after the last epoch, and the summary.
        metadata["train_summary"] = {k: v for k, v in summary.items() if k != "history"}
        summary["saved_to"] = str(save_checkpoint(save_path, net, state, metadata))
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
        expected = tuple(net.config.get("input_shape", data.image_shape))
        if tuple(data.image_shape) != expected:
            raise CLIError(f"{args.load}: the {net.name} model takes {expected[0]}x{expected[1]} "
                           f"images, but its data ({data.name}) has {data.image_shape[0]}x"
                           f"{data.image_shape[1]}; expected the data the model was trained on")
        if data.n_classes > int(net.config.get("n_classes", data.n_classes)):
            raise CLIError(f"{args.load}: the {net.name} model has {net.config['n_classes']} "
                           f"classes, but its data ({data.name}) has {data.n_classes}")
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
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    if argv[:1] == ["check"]:
        from .check.cli import main as check_main
        return check_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            summary = cmd_train(args) if args.command == "train" else cmd_evaluate(args)
    except (CLIError, ValueError, OSError, FloatingPointError, MemoryError) as exc:
        # ValueError: bad data or files (each message names the file or option);
        # OSError: a file that cannot be read or written (the message names it).
        print(f"cnn: error: {exc or 'out of memory'}", file=sys.stderr)
        return 1
    except CLIInterrupted as exc:
        print(f"cnn: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("cnn: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary, sort_keys=True, default=_json_default))
    else:
        _print_summary(summary)
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as one ``cnn: warning:`` line (no source line, no file name)."""
    print(f"cnn: warning: {message}", file=sys.stderr, flush=True)


def _bench(argv) -> int:
    """``cnn bench ARGS``: hand ARGS to ``cnn.bench.main`` (imported only when asked for)."""
    try:
        from . import bench
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.bench":
            raise
        print("cnn: error: `cnn bench` needs the module cnn.bench, which this installation "
              "does not have", file=sys.stderr)
        return 1
    try:
        return int(bench.main(argv) or 0)
    except KeyboardInterrupt:
        print("cnn: interrupted (Ctrl-C)", file=sys.stderr)
        return 130


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
