r"""Seed 000's "broken back-prop" experiment, repeated over many seeds.

Seed 000 trained its digits 0-vs-1 CNN with the derivative after each max
pool transposed or rotated, or with the pooling mask rotated, and reported
100% test accuracy in three runs (three dense sizes), one run each, on a
test set of 10 images. This study trains the correct network and every broken variant
(:data:`cnn.networks.BACKPROP_VARIANTS`) for many seeds at each of the
seed's three dense sizes (:data:`cnn.networks.SEED_DENSE_SIZES`), with the
``cnn train digits01`` defaults, and records per run the test accuracy and
the final cost. A run of a back-prop variant is exactly::

    cnn train digits01 --backprop VARIANT --dense-sizes H1,H2 --seed SEED

(same numbers; the seed sets both the initialisation and the shuffling).

Three more rows (:mod:`studies.broken_nets`) measure how much the
convolutional layers matter: ``correct_rot180_into_layer1`` (seed 000's own
fault alone), ``frozen_conv`` (conv layers frozen at initialisation) and
``dense_only`` (no convolution at all).

Diagnostics per run: the cosine between each broken variant's gradient and
the true gradient of the conv kernels at initialisation (on the whole
training set), and how far the conv kernels moved during training.

Run::

    python -m studies.broken_backprop --seeds 20 --jobs 2 --out docs/results/broken_backprop.json \
        --quiet

from the root of the checkout: the command of the committed record. ``--json`` prints the whole record on stdout instead of the table;
``--jobs 2`` trains in two processes (same numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone

import numpy as np

from cnn import load_digits01, train
from cnn.networks import SEED_DENSE_SIZES, Digits01Net

from .broken_nets import (CONTROLS, CONV_PARAMS, VARIANTS, DenseOnlyNet, FrozenConvNet,
                          Layer1RotatedNet, make_net)
from .records import command_line, versions, write_record

__all__ = ["VARIANTS", "CONTROLS", "CONV_PARAMS", "cli_defaults", "make_net", "train_one",
           "run_study", "summarize", "format_table", "main",
           "DenseOnlyNet", "FrozenConvNet", "Layer1RotatedNet"]

PROG = "python -m studies.broken_backprop"

#: Version of the JSON record's layout.
SCHEMA = 1


# ----------------------------------------------------------------------------- one run

def cli_defaults() -> dict:
    """The settings of ``cnn train digits01`` with no options, read from :mod:`cnn.cli`.

    The hyper-parameters come from ``cnn.cli.DEFAULTS`` and the data options
    (split, test size, split seed, BLAS threads) from the parser's own
    defaults, so the study follows the CLI if its defaults change.
    """
    from cnn.cli import DEFAULTS, build_parser
    args = build_parser().parse_args(["train", "digits01"])
    settings = dict(DEFAULTS[("digits01", "digits01")])

    # An option the parser leaves at None is resolved by `cnn train` itself
    # (cli.cmd_train) to these values; tests/test_studies.py checks that a
    # run of the study and the same `cnn train` run give the same numbers.
    def given(name, default):
        value = getattr(args, name, None)
        return default if value is None else value

    settings.update(split=given("split", "stratified"), test_size=given("test_size", 0.25),
                    split_seed=given("split_seed", 0), threads=given("threads", 1))
    return settings


def _cosine(a, b) -> float | None:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return None if na == 0 or nb == 0 else float(a @ b / (na * nb))


def _grad_cosines(net, X, y) -> dict | None:
    """Cosine between ``net``'s conv-kernel gradients and the true ones, on (X, y).

    1 for the correct net; None for the rows whose conv layers do not learn.
    """
    if not isinstance(net, Digits01Net) or isinstance(net, FrozenConvNet):
        return None
    true = Digits01Net.from_state({**net.config, "backprop": "correct"}, net.params)
    _, g_true, _ = true.loss_and_grads(X, y)
    _, g_net, _ = net.loss_and_grads(X, y)
    return {k: _cosine(g_net[k], g_true[k]) for k in ("w1", "w2")}


def train_one(variant: str, dense_sizes, seed: int, settings: dict, data) -> dict:
    """Train one network as ``cnn train digits01`` does; its record (JSON-able).

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS` or :data:`CONTROLS`.
    dense_sizes : (int, int)
    seed : int
        Initialisation and shuffling seed (the CLI's ``--seed``).
    settings : dict
        :func:`cli_defaults`, possibly with other ``epochs``.
    data : cnn.data.Dataset
        The digits 0/1 split.
    """
    net = make_net(variant, dense_sizes, seed, settings["dtype"])
    net.fit_input_scaling(data.X_train)      # as the CLI: standardise with training pixels
    cosines = _grad_cosines(net, data.X_train, data.y_train)
    start = {k: net.params[k].copy() for k in ("w1", "w2") if k in net.params}
    history = train(net, data.X_train, data.y_train, epochs=settings["epochs"],
                    batch_size=settings["batch_size"], lr=settings["lr"],
                    momentum=settings["momentum"], schedule=settings["schedule"],
                    warmup_steps=settings["warmup"], seed=seed, threads=settings["threads"])
    train_m = net.evaluate(data.X_train, data.y_train)
    test_m = net.evaluate(data.X_test, data.y_test)
    moved = {k: float(np.linalg.norm(net.params[k] - w0) / np.linalg.norm(w0))
             for k, w0 in start.items()} or None
    return {
        "variant": variant, "dense_sizes": [int(h) for h in dense_sizes], "seed": int(seed),
        "test_accuracy": test_m["accuracy"], "train_accuracy": train_m["accuracy"],
        "test_errors": int(round((1 - test_m["accuracy"]) * len(data.y_test))),
        "final_loss": train_m["loss"], "test_loss": test_m["loss"],
        "grad_cosine_at_init": cosines, "conv_relative_change": moved,
        "seconds": history.seconds,
    }


def _load(settings):
    return load_digits01(settings["split"], test_size=settings["test_size"],
                         seed=settings["split_seed"])


_WORKER_DATA = {}


def _worker(job):
    """One run in a worker process (the data is loaded once per process)."""
    variant, sizes, seed, settings = job
    key = (settings["split"], settings["test_size"], settings["split_seed"])
    if key not in _WORKER_DATA:
        _WORKER_DATA[key] = _load(settings)
    return train_one(variant, sizes, seed, settings, _WORKER_DATA[key])


# ----------------------------------------------------------------------------- the study

def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: got {value!r}; expected an integer >= 1")
    return int(value)


def run_study(seeds=20, dense_sizes=SEED_DENSE_SIZES, variants=VARIANTS + CONTROLS, *,
              epochs: int | None = None, jobs: int = 1, progress: bool = False,
              command: str | None = None) -> dict:
    """Train every (variant, dense size, seed) and return the study's record.

    Parameters
    ----------
    seeds : int
        Seeds 0 .. seeds-1 for every variant and size.
    dense_sizes : sequence of (int, int)
    variants : sequence of str
        From :data:`VARIANTS` and :data:`CONTROLS`.
    epochs : int, optional
        Override the CLI's default number of epochs (for quick checks).
    jobs : int
        Worker processes (1: train in this process). Same numbers either way.
    progress : bool
        A tqdm bar over the runs on stderr.
    command : str, optional
        The command line to record.

    Returns
    -------
    dict
        ``command``, ``date``, ``versions``, ``machine``, ``settings``,
        ``variants``, ``dense_sizes``, ``seeds``, ``runs`` (one record per
        run, see :func:`train_one`), ``summary`` (:func:`summarize`) and
        ``seconds`` (wall clock of the whole study).
    """
    n_seeds = _positive(seeds, "seeds")
    jobs = _positive(jobs, "jobs")
    variants = list(variants)
    bad = [v for v in variants if v not in VARIANTS + CONTROLS]
    if bad or not variants:
        raise ValueError(f"variants: got {variants!r}; expected a non-empty list from "
                         f"{VARIANTS + CONTROLS}")
    sizes = []
    for s in dense_sizes:
        try:
            h1, h2 = s
        except (TypeError, ValueError):
            raise ValueError(f"dense_sizes: got {s!r} in {dense_sizes!r}; expected pairs "
                             f"(H1, H2)") from None
        sizes.append([_positive(h1, "dense_sizes H1"), _positive(h2, "dense_sizes H2")])
    if not sizes:
        raise ValueError("dense_sizes: got none; expected at least one pair (H1, H2)")
    settings = cli_defaults()
    if epochs is not None:
        settings["epochs"] = _positive(epochs, "epochs")

    jobs_list = [(v, tuple(s), seed, settings)
                 for s in sizes for v in variants for seed in range(n_seeds)]
    start = time.perf_counter()
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(jobs_list), desc="broken back-prop study", unit="run",
                       file=sys.stderr, leave=False)
        except ImportError:
            pass
    runs = []
    if jobs == 1:
        data = _load(settings)
        for job in jobs_list:
            runs.append(train_one(*job[:3], settings, data))
            if bar is not None:
                bar.update()
    else:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for record in pool.map(_worker, jobs_list, chunksize=4):
                runs.append(record)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    data = _load(settings)
    return {
        "schema": SCHEMA,
        "study": "broken_backprop",
        "description": "Seed 000's broken back-prop nets vs the correct one on sklearn digits "
                       "0/1, every (variant, dense size, seed); per run: test accuracy, final "
                       "cost (mean L2 cost over the training set at the final weights).",
        "command": command or PROG,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": {**settings, "n_train": int(len(data.y_train)),
                     "n_test": int(len(data.y_test)), "init": "lecun",
                     "equivalent_cli": "cnn train digits01 --backprop VARIANT "
                                       "--dense-sizes H1,H2 --seed SEED"},
        "variants": variants, "dense_sizes": sizes, "seeds": list(range(n_seeds)),
        "jobs": jobs,
        "runs": runs,
        "summary": summarize(runs),
        "seconds": seconds,
    }


def _stats(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}


def summarize(runs) -> list[dict]:
    """Per (variant, dense size): test accuracy and final cost as distributions.

    Each entry: ``variant``, ``dense_sizes``, ``n`` (runs), ``test_accuracy``
    and ``final_loss`` and ``test_loss`` (``mean``, ``std`` (n-1), ``min``,
    ``median``, ``max``), ``worst_test_accuracy``, ``worst_final_loss``,
    ``fraction_100`` (share of runs with every test image right),
    ``test_errors_total``, and the medians of the diagnostics.
    """
    groups: dict = {}
    for r in runs:
        groups.setdefault((r["variant"], tuple(r["dense_sizes"])), []).append(r)
    out = []
    for (variant, sizes), rs in groups.items():
        acc = [r["test_accuracy"] for r in rs]
        entry = {
            "variant": variant, "dense_sizes": list(sizes), "n": len(rs),
            "test_accuracy": _stats(acc), "final_loss": _stats([r["final_loss"] for r in rs]),
            "test_loss": _stats([r["test_loss"] for r in rs]),
            "worst_test_accuracy": float(min(acc)),
            "worst_final_loss": float(max(r["final_loss"] for r in rs)),
            "fraction_100": float(np.mean([a == 1.0 for a in acc])),
            "test_errors_total": int(sum(r["test_errors"] for r in rs)),
        }
        for key in ("grad_cosine_at_init", "conv_relative_change"):
            if rs[0][key] is not None:
                entry[f"median_{key}"] = {k: float(np.median([r[key][k] for r in rs]))
                                          for k in rs[0][key]}
        out.append(entry)
    return out


def format_table(record: dict) -> str:
    """The summary as a fixed-width text table."""
    head = (f"{'variant':<28} {'dense':>7} {'n':>3}  {'test acc mean':>13} {'std':>6} "
            f"{'worst':>6} {'at 100%':>7}  {'final cost mean':>15} {'std':>8} {'worst':>8}  "
            f"{'cos w1':>6} {'cos w2':>6}")
    lines = [head, "-" * len(head)]
    for e in record["summary"]:
        cos = e.get("median_grad_cosine_at_init") or {}
        fmt = lambda k: f"{cos[k]:6.2f}" if k in cos else f"{'-':>6}"   # noqa: E731
        lines.append(
            f"{e['variant']:<28} {'%dx%d' % tuple(e['dense_sizes']):>7} {e['n']:>3}  "
            f"{100 * e['test_accuracy']['mean']:12.2f}% {100 * e['test_accuracy']['std']:6.2f} "
            f"{100 * e['worst_test_accuracy']:5.1f}% {100 * e['fraction_100']:6.0f}%  "
            f"{e['final_loss']['mean']:15.2e} {e['final_loss']['std']:8.1e} "
            f"{e['worst_final_loss']:8.1e}  {fmt('w1')} {fmt('w2')}")
    s = record["settings"]
    lines.append(f"\n{len(record['runs'])} runs in {record['seconds']:.1f} s; each run: "
                 f"{s['epochs']} epochs, batch {s['batch_size']}, lr {s['lr']}, momentum "
                 f"{s['momentum']}, {s['schedule']} schedule, {s['dtype']}; {s['n_train']} "
                 f"training and {s['n_test']} test images ({s['split']} split). "
                 f"cos w1/w2: median cosine between the variant's conv-kernel gradient and "
                 f"the true one at initialisation.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command

def _pair(text):
    try:
        h1, h2 = (int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'H1,H2' such as 28,36, got {text!r}") from None
    if h1 < 1 or h2 < 1:
        raise argparse.ArgumentTypeError(f"expected sizes >= 1, got {text!r}")
    return (h1, h2)


def _positive_arg(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Seed 000's broken back-prop nets vs the correct one, over many seeds "
                    "and the seed's three dense sizes, with the 'cnn train digits01' defaults.")
    p.add_argument("--seeds", type=_positive_arg, default=20,
                   help="seeds 0..N-1 per variant and size (default 20)")
    p.add_argument("--dense-sizes", type=_pair, action="append", metavar="H1,H2",
                   help="a dense size to run (repeatable; default: the seed's three, "
                        + ", ".join(f"{a},{b}" for a, b in SEED_DENSE_SIZES) + ")")
    p.add_argument("--variants", nargs="+", choices=VARIANTS + CONTROLS, metavar="NAME",
                   help="rows to run (default: all): " + ", ".join(VARIANTS + CONTROLS))
    p.add_argument("--epochs", type=_positive_arg,
                   help="override the CLI's default epochs (for quick checks)")
    p.add_argument("--jobs", type=_positive_arg, default=1,
                   help="worker processes (default 1; same numbers for any value)")
    p.add_argument("--out", metavar="PATH", help="write the JSON record to this file")
    p.add_argument("--json", action="store_true",
                   help="print the JSON record on stdout instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    command = command_line(PROG, argv)
    record = run_study(args.seeds, args.dense_sizes or SEED_DENSE_SIZES,
                       args.variants or VARIANTS + CONTROLS, epochs=args.epochs,
                       jobs=args.jobs, progress=not args.quiet, command=command)
    if args.out:
        write_record(args.out, record)
    if args.json:
        print(json.dumps(record, sort_keys=False))
    else:
        print(format_table(record))
        if args.out:
            print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
