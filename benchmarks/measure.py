"""The benchmark's measurements of the MNIST step: the grid, the loops, the profile, an epoch."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from cnn import SGD, MnistNet, load_mnist, train
from cnn.networks.composed import LIBRARY, composed_loss_and_grads

from .steps import (IMPLEMENTATIONS, LR, batch_data, composed_step, loops_step, step_flops,
                    torch_loss, torch_params, torch_step, train_step)
from .timing import interleaved, ratio_stats, stats, torch_or_none

__all__ = ["BATCHES", "DTYPES", "mnist_steps", "loops_vs_ours", "profile_step", "epoch"]

BATCHES = (32, 64, 256)
DTYPES = ("float32", "float64")
_MAKERS = {"composed": composed_step, "train": train_step, "torch": torch_step}


def mnist_steps(threads: int, cfg: dict) -> list:
    """One row per (dtype, batch): each implementation's time per step, and ours / PyTorch."""
    rows = []
    for dtype in DTYPES:
        for batch in BATCHES:
            names = [n for n in IMPLEMENTATIONS if n != "torch" or torch_or_none()]
            fns = {n: _MAKERS[n](batch, dtype)[0] for n in names}
            reps = max(2, cfg["reps"] * 64 // batch)
            times = interleaved(fns, cfg["rounds"], reps, cfg["warmup"])
            flops = step_flops(MnistNet(dtype=dtype), batch)
            row = {"threads": threads, "dtype": dtype, "batch": batch, "reps_per_round": reps,
                   "flops_per_step": flops, "impl": {}}
            for name, t in times.items():
                s = stats(t)
                row["impl"][name] = {"seconds": s, "images_per_s": batch / s["median"],
                                     "gflops": flops / s["median"] / 1e9, "round_seconds": t}
            if "torch" in times:
                for name in ("composed", "train"):
                    row[f"{name}_over_torch"] = ratio_stats(times[name], times["torch"])
            rows.append(row)
    return rows


def loops_vs_ours(cfg: dict) -> list:
    """The loop step per image (small batch) against the ``train`` step per image at batch 64."""
    out = []
    for dtype in DTYPES:
        small = cfg["loop_batch"]
        loops, ours = loops_step(small, dtype)[0], train_step(64, dtype)[0]
        per_loop, per_ours = [], []
        loops()                                  # warm-up
        for _ in range(cfg["warmup"]):
            ours()
        for r in range(cfg["loop_rounds"]):
            for name in (("loops", "ours") if r % 2 == 0 else ("ours", "loops")):
                if name == "loops":
                    t0 = time.perf_counter()
                    loops()
                    per_loop.append((time.perf_counter() - t0) / small)
                else:
                    ts = []
                    for _ in range(cfg["reps"]):
                        t0 = time.perf_counter()
                        ours()
                        ts.append(time.perf_counter() - t0)
                    per_ours.append(float(np.median(ts)) / 64)
        out.append({"dtype": dtype, "loop_batch": small, "ours_batch": 64,
                    "loops_per_image_s": stats(per_loop), "ours_per_image_s": stats(per_ours),
                    "loops_over_ours": ratio_stats(per_loop, per_ours)})
    return out


def _timed_layers(totals: dict) -> SimpleNamespace:
    """The public layer functions of :data:`~cnn.networks.composed.LIBRARY`, each adding
    the seconds of every call to ``totals[name]``."""
    def timed(name, fn):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[name] = totals.get(name, 0.0) + time.perf_counter() - t0
        return call
    return SimpleNamespace(**{name: timed(name, fn) for name, fn in vars(LIBRARY).items()})


def _composed_phases(cfg: dict, batch: int, dtype: str) -> dict:
    """Seconds per step of each layer call of the composed step (ReLU and reshapes are
    the ``rest``), from the one composed definition run with timed layer functions."""
    net = MnistNet(dtype=dtype, seed=0)
    x, y = batch_data(batch, dtype)
    totals: dict = {}
    layers = _timed_layers(totals)
    for _ in range(cfg["warmup"]):
        composed_loss_and_grads(net.params, x, y, pool=net.pool, layers=layers)
    per_round: dict = {}
    for _ in range(cfg["rounds"]):
        steps = []
        for _ in range(cfg["reps"]):
            totals.clear()
            t0 = time.perf_counter()
            composed_loss_and_grads(net.params, x, y, pool=net.pool, layers=layers)
            total = time.perf_counter() - t0
            steps.append({**totals, "rest": total - sum(totals.values()),
                          "loss_and_grads": total})
        for name in steps[0]:
            per_round.setdefault(name, []).append(float(np.median([s[name] for s in steps])))
    return {name: stats(v) for name, v in per_round.items()}


def profile_step(cfg: dict, batch: int = 64, dtype: str = "float32") -> dict:
    """Where the time of one step goes, ours and PyTorch's.

    ``composed``: each public layer call of the composed step, timed inside
    it (:func:`_composed_phases`). ``train``: ``loss_and_grads`` and the
    optimiser's step, timed alone and interleaved. ``torch``: forward (with
    the loss), backward ((forward + backward) - forward, round by round) and
    an update of the same size (``p += 0 * p``, which touches what SGD touches).
    """
    step, net = train_step(batch, dtype)
    x, y = batch_data(batch, dtype)
    _, grads, _ = net.loss_and_grads(x, y)
    opt = SGD(lr=LR)        # the weights drift by LR * the same gradient: a step's cost
    fns = {"step": step, "loss_and_grads": lambda: net.loss_and_grads(x, y),
           "update": lambda: opt.step(net.params, grads)}
    torch = torch_or_none()
    if torch:
        params = [t.requires_grad_() for t in torch_params(MnistNet(dtype=dtype, seed=0))]
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def forward_backward():
            torch_loss(params, xt, yt).backward()
            for q in params:
                q.grad = None

        def update():
            with torch.no_grad():
                for q in params:
                    q.add_(q, alpha=0.0)
        fns.update({"torch_step": torch_step(batch, dtype)[0],
                    "torch_forward": lambda: torch_loss(params, xt, yt),
                    "torch_forward_backward": forward_backward, "torch_update": update})
    times = interleaved(fns, cfg["rounds"], cfg["reps"], cfg["warmup"])
    out = {"batch": batch, "dtype": dtype,
           "train": {k: stats(times[k]) for k in ("step", "loss_and_grads", "update")},
           "composed": _composed_phases(cfg, batch, dtype)}
    if torch:
        backward = np.asarray(times["torch_forward_backward"]) - np.asarray(times["torch_forward"])
        out["torch"] = {"step": stats(times["torch_step"]),
                        "forward": stats(times["torch_forward"]),
                        "backward": stats(backward), "update": stats(times["torch_update"])}
    return out


def epoch(cfg: dict, mnist_dir) -> dict:
    """One epoch of 60,000 images through ``cnn.train``: batch 64, float32, lr 0.1."""
    if mnist_dir is not None:
        data = load_mnist(mnist_dir)
        X, y, Xt, yt = data.X_train, data.y_train, data.X_test, data.y_test
        source = "MNIST"
    else:
        rng = np.random.default_rng(0)
        X = rng.random((60000, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, 60000)
        Xt = yt = None
        source = "random images of MNIST's shape"
    n = cfg["epoch_images"] or len(X)
    X, y = X[:n], y[:n]
    result = {"data": source, "images": int(n), "batch": 64, "dtype": "float32", "lr": 0.1,
              "train_s": []}
    for run in range(cfg["epoch_runs"]):
        net = MnistNet(dtype="float32", seed=run)
        net.fit_input_scaling(X[:1000])
        history = train(net, X, y, epochs=1, batch_size=64, lr=0.1, seed=run, threads=None)
        result["train_s"].append(history.train_seconds)
        if Xt is not None and run == 0:
            result["test_accuracy_after_one_epoch"] = net.evaluate(Xt, yt)["accuracy"]
    result["train_stats"] = stats(result["train_s"])
    # Per 60,000 images, so that --quick's shorter epoch stays comparable.
    result["train_epoch_s"] = result["train_stats"]["median"] * 60000 / n
    return result
