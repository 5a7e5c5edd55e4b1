"""``cnn train NETWORK``: resolve the options, train, checkpoint, summarise.

With ``--save PATH``, a network trained by :func:`cnn.training.train` writes
a checkpoint to PATH (atomically) at the end of every epoch, and the final
model at the end. ``cnn train NETWORK --resume PATH`` continues from it with
the interrupted run's settings and data options (stored in the file) and
ends with the weights an uninterrupted run gives, bit for bit; it keeps
checkpointing to PATH (or to ``--save``). Ctrl-C leaves the last checkpoint
intact and says how to resume. The toy net (one second of the seed's
per-sample SGD, :func:`cnn.toy_net.train`) is saved at the end only.
"""

from __future__ import annotations

import inspect
import os
import shlex
import time

from .. import toy_net
from .._files import save_target
from ..data import MnistNotFoundError
from ..networks import NETWORKS
from ..optim import OPTIMIZERS
from ..serialize import ModelFileError, load_checkpoint, save_checkpoint, save_model
from ..training import TrainingDivergedError, train
from .options import TRAIN_OPTIONS, flag, resolve, where
from .options import option as option_row
from .output import CLIError, CLIInterrupted, log
from .runs import DATASETS, RUNS

__all__ = ["cmd_train", "load_data"]

#: Options that fix a run (with the hyper-parameters): --resume restores them from the
#: checkpoint and refuses a different value on the command line.
_RESTORED = tuple(o.name for o in TRAIN_OPTIONS if o.name not in ("data", "threads", "save",
                                                                   "resume"))
#: Hyper-parameters of some optimisers only (constructor arguments of cnn.optim.OPTIMIZERS).
_OPTIMIZER_SETTINGS = ("momentum",)


def load_data(dataset: str, settings: dict):
    """The :class:`~cnn.data.Dataset` ``dataset``, read with the data options in ``settings``."""
    data = DATASETS[dataset]
    try:
        return data.load({name: settings.get(name) for name in data.options})
    except (MnistNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from exc


def _network(name: str, settings: dict, data):
    """A new network ``name``: its options from ``settings``, its sizes from ``data``."""
    run = RUNS[name]
    kwargs = {option: settings[option] for option in run.options}
    kwargs.update({arg: getattr(data, attr) for arg, attr in run.from_data.items()})
    return NETWORKS[name](dtype=settings["dtype"], seed=settings["seed"], **kwargs)


# ----------------------------------------------------------------------------- checks

def _check_applicable(args, network: str, dataset: str) -> None:
    """Refuse an option given where it means nothing (rather than ignore it)."""
    run = RUNS[network]
    wrong = {}
    for option in TRAIN_OPTIONS:
        if getattr(args, option.name, None) is not None and not option.applies(run, dataset):
            wrong.setdefault(where(option), []).append(flag(option.name))
    if wrong:
        command = f"cnn train {network}" + (f" --dataset {args.dataset}" if args.dataset else "")
        raise CLIError("; ".join(f"{', '.join(flags)} applies to {places} only"
                                 for places, flags in wrong.items())
                       + f"; got it with `{command}`")


def _check_fixed(network: str, dataset: str, settings: dict) -> None:
    """A network that trains one way only (the toy net: the seed's SGD in float64)."""
    defaults = RUNS[network].datasets[dataset]
    for names, reason in RUNS[network].fixed.items():
        if any(settings[n] != defaults[n] for n in names):
            raise CLIError(f"the {network} net {reason}; got "
                           + " ".join(f"{flag(n)} {settings[n]}" for n in names))


def _optimizer_arguments(args, defaults: dict, settings: dict) -> dict:
    """The keyword arguments of ``train`` that choose and set up the optimiser.

    The run's defaults (``defaults``) are tuned for its default optimiser;
    with another one, a setting not given on the command line (``--momentum``)
    takes that optimiser's own default, read from its constructor. A setting
    the chosen optimiser does not have is an error when given, None when not.
    """
    name = settings["optimizer"]
    takes = inspect.signature(OPTIMIZERS[name]).parameters
    for key in _OPTIMIZER_SETTINGS:
        given = getattr(args, key, None)
        if key not in takes:
            if given is not None:
                raise CLIError(f"{flag(key)}: the {name} optimizer has no {key}; got "
                               f"{flag(key)} {given} with --optimizer {name}")
            settings[key] = None
        elif given is None and name != defaults["optimizer"]:
            settings[key] = takes[key].default
    return {"optimizer": name, **{k: settings[k] for k in _OPTIMIZER_SETTINGS
                                  if settings[k] is not None}}


def _check_save_target(option: str, path: str) -> None:
    """Refuse, before training, a --save/--resume path that could not be written."""
    try:
        target = save_target(path)
    except (ValueError, OSError) as exc:
        raise CLIError(f"--{option} {exc}") from exc
    if not os.access(target.parent, os.W_OK):
        raise CLIError(f"--{option} {path}: the directory {target.parent} is not writable; "
                       f"expected a path where the model can be written")


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
    if isinstance(opts, dict) and "optimizer" not in opts:
        opts["optimizer"] = "sgd"      # written before --optimizer existed: SGD was the only one
    if not isinstance(opts, dict) or any(k not in opts for k in _RESTORED):
        raise CLIError(f"--resume {args.resume}: the checkpoint does not record the options "
                       f"of its run (it was not written by `cnn train --save`); expected a "
                       f"checkpoint of `cnn train`. From Python, pass its state to "
                       f"cnn.training.train(..., resume=state)")
    conflicts = []
    for key in _RESTORED:
        given = getattr(args, key, None)
        if given is not None and given != opts[key]:
            conflicts.append(f"{flag(key)} {given} (the run: {opts[key]})")
        setattr(args, key, opts[key])
    if conflicts:
        raise CLIError(f"--resume continues the interrupted run with its own settings, so "
                       f"that it ends where that run would have; got {'; '.join(conflicts)}. "
                       f"Drop these options, or start a new run without --resume")
    threads = opts.get("threads", option_row("threads").default)
    if args.threads is not None and args.threads != threads:
        log(args.quiet, f"note: --threads {args.threads} differs from the run's {threads}; at "
                        f"some batch sizes OpenBLAS then rounds the last bits differently "
                        f"(docs: Reliability)")
    args.threads = threads if args.threads is None else args.threads
    args.data = opts.get("data") if args.data is None else args.data
    return ckpt


# ----------------------------------------------------------------------------- messages

def _checkpoint_note(network, where) -> str:
    if where is None:
        return ""
    path, epoch, step = where
    return (f" The checkpoint {path} holds the state after epoch {epoch} (step {step}); "
            f"`cnn train {network} --resume {shlex.quote(str(path))}` continues from "
            f"there with the same settings.")


def _interrupted_message(network, epochs, where, save_path) -> str:
    if where is not None:
        path, epoch, step = where
        during = (f"during epoch {epoch + 1} of {epochs}" if epoch < epochs
                  else "after the last epoch")
        return (f"interrupted (Ctrl-C) {during}. The checkpoint {path} is intact and holds "
                f"the state after epoch {epoch} (step {step}). Continue with:\n"
                f"    cnn train {network} --resume {shlex.quote(str(path))}\n"
                f"which ends with the same weights as an uninterrupted run.")
    if save_path:
        return (f"interrupted (Ctrl-C) during epoch 1 of {epochs}, before the first "
                f"checkpoint ({save_path} is written at the end of every epoch): nothing to "
                f"resume; run the command again.")
    return ("interrupted (Ctrl-C); nothing was saved (--save PATH writes a checkpoint at the "
            "end of every epoch, which --resume PATH continues).")


# ----------------------------------------------------------------------------- the trainers

def _train_toy_net(args, s: dict, data, summary: dict, ckpt=None, optimizer=None) -> dict:
    """The seed's per-sample SGD (:func:`cnn.toy_net.train`) on the seed's four images."""
    net = _network(args.network, s, data)
    start = time.perf_counter()
    result = toy_net.train(data.X_train[:, 0], data.y_train, net.params["kernel"],
                           net.params["weights"], lr=s["lr"], epochs=s["epochs"])
    seconds = time.perf_counter() - start
    net.params["kernel"], net.params["weights"] = result.kernel, result.weights
    summary.update({
        "train_accuracy": None, "test_accuracy": None,   # a regression: no classes
        "initial_loss": float(result.costs[0]), "final_loss": float(result.costs[-1]),
        "outputs": [float(o) for o in result.outputs],
        "labels": [float(v) for v in data.y_train],
        "seconds": seconds, "seconds_per_epoch": seconds / s["epochs"],
        "loss_definition": "the seed's cost: sum over the 4 images of 0.5*(out - y)^2 "
                           "during the epoch",
    })
    if args.save:
        summary["saved_to"] = str(save_model(args.save, net, {"train_summary": dict(summary)}))
    return summary


def _train_with_training(args, s: dict, data, summary: dict, ckpt, optimizer: dict) -> dict:
    """Mini-batches with :func:`cnn.training.train`, a checkpoint after every epoch.

    ``summary`` holds the run's settings; the results are added to it.
    """
    if ckpt is not None:
        net = ckpt.network            # its input scaling was fitted by the first run
    else:
        net = _network(args.network, s, data)
        net.fit_input_scaling(data.X_train)
    log(args.quiet, f"{net!r}\n{data.name}: {len(data.y_train)} training, {len(data.y_test)} "
                    f"test images of {data.image_shape[0]}x{data.image_shape[1]}")
    if ckpt is not None:
        log(args.quiet, f"resuming from {args.resume} after epoch {ckpt.state.epoch} "
                        f"(step {ckpt.state.steps})")
    epochs = s["epochs"]
    every = max(1, epochs // 10)    # about ten lines per run

    def on_epoch(rec):
        if rec["epoch"] % every == 0 or rec["epoch"] in (1, epochs):
            log(args.quiet, f"epoch {rec['epoch']:>4}/{epochs}  train loss "
                            f"{rec['train_loss']:.5f}  test loss {rec['test_loss']:.5f}  test "
                            f"accuracy {100 * rec['test_accuracy']:.2f}%  {rec['seconds']:.2f} s")

    # The data options at the top level are what `cnn evaluate` reads back.
    metadata = {**{k: s[k] for k in ("dataset", "split", "test_size", "split_seed", "data")},
                "train_options": {k: v for k, v in s.items() if k not in ("save", "resume")}}
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
        history = train(net, data.X_train, data.y_train, epochs=epochs,
                        batch_size=s["batch_size"], lr=s["lr"], schedule=s["schedule"],
                        warmup_steps=s["warmup"], seed=s["seed"], X_test=data.X_test,
                        y_test=data.y_test, progress=not args.quiet, threads=s["threads"],
                        on_epoch=on_epoch, checkpoint=checkpoint,
                        resume=ckpt.state if ckpt else None, **optimizer)
    except TrainingDivergedError as exc:
        raise CLIError(f"{exc}{_checkpoint_note(args.network, last['where'])}") from exc
    except ValueError as exc:      # e.g. a checkpoint of a run on other data
        raise CLIError(str(exc)) from exc
    except OSError as exc:         # the checkpoint could not be written (disk full, ...)
        raise CLIError(f"--save {save_path}: cannot write the checkpoint ({exc})."
                       f"{_checkpoint_note(args.network, last['where'])}") from exc
    except KeyboardInterrupt:
        raise CLIInterrupted(_interrupted_message(args.network, epochs, last["where"],
                                                  save_path)) from None
    train_m = net.evaluate(data.X_train, data.y_train)
    test_m = net.evaluate(data.X_test, data.y_test)
    summary.update({
        "n_train": int(len(data.y_train)), "n_test": int(len(data.y_test)),
        "train_accuracy": train_m["accuracy"], "test_accuracy": test_m["accuracy"],
        "final_loss": train_m["loss"], "test_loss": test_m["loss"],
        "test_errors": int(round((1 - test_m["accuracy"]) * len(data.y_test))),
        "seconds": history.seconds, "seconds_per_epoch": history.train_seconds / epochs,
        "history": history.epochs,
        "loss_definition": "mean loss over the training set at the final weights",
    })
    if ckpt is not None:
        summary.update(resumed_from=str(args.resume), resumed_after_epoch=ckpt.state.epoch)
    if save_path:
        # The final file: the model, the state after the last epoch, and the summary.
        metadata["train_summary"] = {k: v for k, v in summary.items() if k != "history"}
        summary["saved_to"] = str(save_checkpoint(save_path, net, last["state"], metadata))
    return summary


_TRAINERS = {"cnn.toy_net.train": _train_toy_net, "cnn.training.train": _train_with_training}


def cmd_train(args) -> dict:
    """Run ``cnn train``; returns the summary (the ``--json`` object)."""
    run = RUNS[args.network]
    first = next(iter(run.datasets))
    _check_applicable(args, args.network, args.dataset if args.dataset in run.datasets else first)
    for option in ("save", "resume"):
        if getattr(args, option):
            _check_save_target(option, getattr(args, option))
    ckpt = _load_resume(args) if args.resume else None
    dataset = args.dataset or first
    settings = resolve(args, run, dataset)
    _check_fixed(args.network, dataset, settings)
    optimizer = _optimizer_arguments(args, run.datasets[dataset], settings)
    data = load_data(dataset, settings)
    # Every setting the run used, so that the record says what the defaults were.
    shown = [o.name for o in TRAIN_OPTIONS if o.hyper or (o.applies(run, dataset)
                                                           and o.name not in ("save", "resume"))]
    summary = {"network": args.network, **{k: settings[k] for k in shown}, "dataset": data.name}
    return _TRAINERS[run.trainer](args, settings, data, summary, ckpt, optimizer)
