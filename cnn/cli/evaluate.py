"""``cnn evaluate --load PATH``: a saved model on the data it was trained on."""

from __future__ import annotations

import time

from ..serialize import ModelFileError, load_model
from .options import option
from .output import CLIError
from .runs import DATASETS, RUNS
from .train import load_data

__all__ = ["cmd_evaluate"]


def _data_settings(dataset: str, metadata: dict, data_dir) -> dict:
    """The data options of the model's run (from its metadata; absent: each option's default)."""
    settings = {name: metadata.get(name, option(name).default)
                for name in DATASETS[dataset].options}
    settings["data"] = data_dir or metadata.get("data")
    return settings


def cmd_evaluate(args) -> dict:
    """Run ``cnn evaluate``; returns the summary (the ``--json`` object)."""
    try:
        net, metadata = load_model(args.load)
    except (FileNotFoundError, ModelFileError) as exc:
        raise CLIError(str(exc)) from exc
    start = time.perf_counter()
    run = RUNS[net.name]
    dataset = metadata.get("dataset") or next(iter(run.datasets))
    data = load_data(dataset, _data_settings(dataset, metadata, args.data))
    expected = tuple(net.config.get("input_shape", data.image_shape))
    if tuple(data.image_shape) != expected:
        raise CLIError(f"{args.load}: the {net.name} model takes {expected[0]}x{expected[1]} "
                       f"images, but its data ({data.name}) has {data.image_shape[0]}x"
                       f"{data.image_shape[1]}; expected the data the model was trained on")
    summary = {"network": net.name, "dataset": data.name}
    if run.classifier:
        if data.n_classes > int(net.config.get("n_classes", data.n_classes)):
            raise CLIError(f"{args.load}: the {net.name} model has {net.config['n_classes']} "
                           f"classes, but its data ({data.name}) has {data.n_classes}")
        train_m = net.evaluate(data.X_train, data.y_train)
        test_m = net.evaluate(data.X_test, data.y_test)
        summary.update(train_accuracy=train_m["accuracy"], test_accuracy=test_m["accuracy"],
                       final_loss=train_m["loss"], test_loss=test_m["loss"],
                       n_train=int(len(data.y_train)), n_test=int(len(data.y_test)))
    else:                                      # a regression: its outputs and its cost
        out = net.output(data.X_train)
        summary.update(train_accuracy=None, test_accuracy=None,
                       final_loss=net.loss(out, data.y_train)[0],
                       outputs=[float(o) for o in out[:, 0]])
    summary["seconds"] = time.perf_counter() - start
    summary["epochs"] = metadata.get("train_summary", {}).get("epochs")
    summary["config"] = net.config
    summary["loaded_from"] = str(args.load)
    return summary
