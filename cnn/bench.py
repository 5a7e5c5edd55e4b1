r"""``python -m cnn.bench``: how fast the NumPy code is, against PyTorch and the loops.

One run measures, under a stated BLAS/OpenMP thread count (``--threads``,
1 and 2 by default; the speed goals use the first):

* one training step (forward + backward + SGD update) of the seed-003 MNIST
  network at batch 32, 64 and 256, float32 and float64, for
  ``ours`` (:meth:`cnn.MnistNet.sgd_step`), ``ours_api`` (the training
  loop's path: :meth:`~cnn.MnistNet.loss_and_grads` + :class:`cnn.SGD`) and
  ``torch`` (``torch.nn.functional`` + autograd + a manual SGD update, when
  PyTorch is installed);
* the same step written with the loop layers of :mod:`cnn.reference` on a
  small batch, reported per image, against ours per image at batch 64;
* forward + backward of :func:`cnn.conv2d` and :func:`cnn.max_pool2d` alone
  at a few shapes, against PyTorch;
* a profile of one step at batch 64, float32: each phase of ours (forward,
  loss, backward, update, and the two banded matrix products alone) and of
  PyTorch's (forward, backward, update), so that a missed target comes with
  the numbers that explain it;
* one training epoch of 60,000 images at batch 64, float32 (real MNIST with
  ``--mnist DIR``, else random images of the same shape);
* one large float32 (and float64) matrix product: this machine's GEMM peak,
  next to which the step's achieved GFLOP/s are reported;
* the time to derive and export every formula (``derivations``, into a
  temporary directory) and, with ``--docs``, of ``mkdocs build --strict``.

Timings on a shared machine drift by tens of percent within seconds, so
implementations are **interleaved**: every round runs a block of steps of
each one, in alternating order, after a warm-up; a time is the median over
rounds of the per-round median, and a ratio is computed within each round
and then its median taken. ``p10``/``p90`` over rounds show the spread, and
``--repeat K`` repeats everything K times in one run.

FLOPs of one step are counted from the layer formulas (a multiply-add is 2):
the conv forward and its kernel gradient ($2 F k^2 O_H O_W$ each per image;
no input gradient is needed), and forward, weight gradient and input
gradient of both dense layers ($3 \cdot 2 D_{in} D_{out}$ each). Elementwise
work is not counted. For the 28x28 network that is 222,480 FLOPs per image.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import reference
from .activations import relu
from .data import load_mnist
from .networks import MnistNet
from .optim import SGD

__all__ = ["main", "run", "step_flops", "format_report"]

ROOT = Path(__file__).resolve().parents[1]
BATCHES = (32, 64, 256)
DTYPES = ("float32", "float64")
TARGETS = {"ours_over_torch": 0.5, "loops_over_ours": 1000.0, "epoch_seconds": 2.0}


# ----------------------------------------------------------------------------- helpers

def step_flops(net: MnistNet, batch: int) -> int:
    """FLOPs of one training step of ``net`` on ``batch`` images (multiply-add = 2).

    Conv forward and kernel gradient, $2 F k_H k_W O_H O_W$ each per image;
    each dense layer's forward, weight gradient and input gradient,
    $2 D_{in} D_{out}$ each. The conv's input gradient is not needed.
    """
    F, _, kh, kw = net.params["conv_w"].shape
    H, W = net.config["input_shape"]
    oh, ow = H - kh + 1, W - kw + 1
    conv = 2 * F * kh * kw * oh * ow
    dense = sum(2 * net.params[k].shape[0] * net.params[k].shape[1] for k in ("w1", "w2"))
    return batch * (2 * conv + 3 * dense)


def _stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"median": float(np.median(v)), "p10": float(np.percentile(v, 10)),
            "p90": float(np.percentile(v, 90)), "min": float(v.min()), "n": int(v.size)}


def _interleaved(fns: dict, rounds: int, reps: int, warmup: int) -> dict:
    """Per-call seconds of each function, interleaved round by round.

    Returns ``{name: [round medians]}``; round ``r`` runs the functions in
    order when ``r`` is even and in reverse order when it is odd.
    """
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    out = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn, times = fns[name], []
            for _ in range(reps):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out[name].append(float(np.median(times)))
    return out


def _ratio_stats(num, den) -> dict:
    return _stats(np.asarray(num) / np.asarray(den))


@contextlib.contextmanager
def _threads(n: int):
    """Limit NumPy's BLAS and every OpenMP pool (PyTorch's too) to ``n`` threads."""
    from threadpoolctl import threadpool_limits
    torch = _torch()
    old = torch.get_num_threads() if torch else None
    with threadpool_limits(limits=n):
        if torch:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(old)


_TORCH = None


def _torch():
    """PyTorch if installed (imported once), else None."""
    global _TORCH
    if _TORCH is None:
        try:
            import torch
        except ImportError:
            _TORCH = False
        else:
            _TORCH = torch
    return _TORCH or None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return []


def environment() -> dict:
    """Machine, versions and thread settings."""
    from threadpoolctl import threadpool_info
    torch = _torch()
    env = {
        "machine": {"cpu": _cpu_model(), "cpu_flags": _cpu_flags(), "logical_cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "torch": torch.__version__ if torch else None},
        "threadpools_default": threadpool_info(),
    }
    try:
        import threadpoolctl
        env["versions"]["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:   # pragma: no cover - threadpoolctl is required above
        pass
    blas = [p for p in env["threadpools_default"] if p.get("user_api") == "blas"]
    env["versions"]["blas"] = [f"{p.get('internal_api')} {p.get('version')} "
                               f"({p.get('architecture')}, {p.get('threading_layer')})"
                               for p in blas]
    return env


# ----------------------------------------------------------------------------- implementations

def _data(batch: int, dtype: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32).astype(dtype)
    y = rng.integers(0, 10, batch)
    return x, y


def _ours(batch, dtype, lr=0.01):
    net = MnistNet(dtype=dtype, seed=0)
    x, y = _data(batch, dtype)
    return lambda: net.sgd_step(x, y, lr), net


def _ours_api(batch, dtype, lr=0.01):
    net = MnistNet(dtype=dtype, seed=0)
    opt = SGD(lr)
    x, y = _data(batch, dtype)

    def step():
        _, grads, _ = net.loss_and_grads(x, y)
        opt.step(net.params, grads)
    return step


def _torch_params(net: MnistNet):
    """PyTorch tensors holding ``net``'s parameters, in PyTorch's layouts."""
    torch = _torch()
    p = net.params
    return [torch.tensor(p["conv_w"]), torch.tensor(p["conv_b"]),
            torch.tensor(p["w1"].T.copy()), torch.tensor(p["b1"]),
            torch.tensor(p["w2"].T.copy()), torch.tensor(p["b2"])]


def _torch_loss(params, x, y):
    import torch.nn.functional as F
    w, b, w1, b1, w2, b2 = params
    a = F.relu(F.conv2d(x, w, b))
    f = F.max_pool2d(a, 2).flatten(1)
    h = F.relu(F.linear(f, w1, b1))
    return F.cross_entropy(F.linear(h, w2, b2), y)


def _torch_step(batch, dtype, lr=0.01):
    torch = _torch()
    params = [t.requires_grad_() for t in _torch_params(MnistNet(dtype=dtype, seed=0))]
    x, y = _data(batch, dtype)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = _torch_loss(params, xt, yt)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-lr)
                p.grad = None
    return step


def torch_agreement(dtype: str = "float64", batch: int = 8) -> dict:
    """Relative differences between our loss/gradients and PyTorch's on one batch."""
    torch = _torch()
    net = MnistNet(dtype=dtype, seed=3)
    rng = np.random.default_rng(4)
    for k in net.params:                       # nonzero biases: away from ReLU's kink
        net.params[k] = net.params[k] + rng.normal(0, 0.1, net.params[k].shape).astype(dtype)
    x, y = _data(batch, dtype, seed=5)
    loss, grads, _ = net.loss_and_grads(x, y)
    params = [t.requires_grad_() for t in _torch_params(net)]
    tloss = _torch_loss(params, torch.from_numpy(x), torch.from_numpy(y))
    tloss.backward()
    tgrads = dict(zip(("conv_w", "conv_b", "w1", "b1", "w2", "b2"),
                      (p.grad.numpy() for p in params)))
    tgrads["w1"], tgrads["w2"] = tgrads["w1"].T, tgrads["w2"].T
    rel = {k: float(np.abs(grads[k] - tgrads[k]).max() / np.abs(tgrads[k]).max()) for k in grads}
    return {"dtype": dtype, "batch": batch,
            "loss_rel_diff": float(abs(float(loss) - tloss.item()) / abs(tloss.item())),
            "grad_rel_diff": rel}


def _loops_step(batch, dtype, lr=0.01):
    """The MNIST step composed from the loop layers of cnn.reference (ReLU is elementwise)."""
    net = MnistNet(dtype=dtype, seed=0)
    p = net.params
    x, y = _data(batch, dtype)

    def step():
        z = reference.conv2d(x, p["conv_w"], p["conv_b"])
        a = relu(z)
        pooled = reference.max_pool2d(a)
        f = pooled.reshape(len(x), -1)
        z1 = reference.dense(f, p["w1"], p["b1"])
        h = relu(z1)
        logits = reference.dense(h, p["w2"], p["b2"])
        _, dlogits = reference.softmax_cross_entropy(logits, y)
        g = {}
        dh, g["w2"], g["b2"] = reference.dense_backward(dlogits, h, p["w2"])
        df, g["w1"], g["b1"] = reference.dense_backward(relu.backward(dh, z1), f, p["w1"])
        da = reference.max_pool2d_backward(df.reshape(pooled.shape), a)
        _, g["conv_w"], g["conv_b"] = reference.conv2d_backward(relu.backward(da, z), x,
                                                                p["conv_w"])
        for k in p:
            p[k] -= p[k].dtype.type(lr) * g[k]
    return step, net


# ----------------------------------------------------------------------------- measurements

def gemm_peak(dtype: str, n: int, reps: int) -> dict:
    """GFLOP/s of one n x n @ n x n product (best of ``reps`` after one warm-up)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    np.matmul(a, b, out=out)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    best = min(times)
    median = float(np.median(times))
    return {"n": n, "best_s": best, "median_s": median,
            "gflops": 2 * n ** 3 / best / 1e9, "gflops_median": 2 * n ** 3 / median / 1e9}


def mnist_steps(threads: int, cfg: dict) -> list:
    torch = _torch()
    rows = []
    for dtype in DTYPES:
        for batch in BATCHES:
            fns = {"ours": _ours(batch, dtype)[0], "ours_api": _ours_api(batch, dtype)}
            if torch:
                fns["torch"] = _torch_step(batch, dtype)
            reps = max(2, cfg["reps"] * 64 // batch)
            times = _interleaved(fns, cfg["rounds"], reps, cfg["warmup"])
            flops = step_flops(MnistNet(dtype=dtype), batch)
            row = {"threads": threads, "dtype": dtype, "batch": batch, "reps_per_round": reps,
                   "flops_per_step": flops, "impl": {}}
            for name, t in times.items():
                s = _stats(t)
                row["impl"][name] = {"seconds": s, "images_per_s": batch / s["median"],
                                     "gflops": flops / s["median"] / 1e9,
                                     "round_seconds": t}
            if torch:
                row["ours_over_torch"] = _ratio_stats(times["ours"], times["torch"])
                row["ours_api_over_torch"] = _ratio_stats(times["ours_api"], times["torch"])
            rows.append(row)
    return rows


def loops_vs_ours(cfg: dict) -> list:
    """Loop reference per image (small batch) against ours per image at batch 64."""
    out = []
    for dtype in DTYPES:
        small = cfg["loop_batch"]
        fns = {"loops": _loops_step(small, dtype)[0], "ours": _ours(64, dtype)[0]}
        loops, ours = [], []
        fns["loops"]()                          # warm-up
        for _ in range(cfg["warmup"]):
            fns["ours"]()
        for r in range(cfg["loop_rounds"]):
            order = ("loops", "ours") if r % 2 == 0 else ("ours", "loops")
            for name in order:
                if name == "loops":
                    t0 = time.perf_counter()
                    fns["loops"]()
                    loops.append((time.perf_counter() - t0) / small)
                else:
                    ts = []
                    for _ in range(cfg["reps"]):
                        t0 = time.perf_counter()
                        fns["ours"]()
                        ts.append(time.perf_counter() - t0)
                    ours.append(float(np.median(ts)) / 64)
        out.append({"dtype": dtype, "loop_batch": small, "ours_batch": 64,
                    "loops_per_image_s": _stats(loops), "ours_per_image_s": _stats(ours),
                    "loops_over_ours": _ratio_stats(loops, ours)})
    return out


def profile_step(cfg: dict, batch: int = 64, dtype: str = "float32") -> dict:
    """Where the time of one step goes, ours and PyTorch's, phase by phase (interleaved).

    Ours: the forward pass, the loss, the backward pass and the update, each
    timed alone on the same buffers, and the two banded matrix products (the
    conv and its kernel gradient) alone. PyTorch: forward (with the loss),
    forward + backward (their difference is the backward pass), and an
    update of the same size (``p += 0 * p``, which touches what the SGD update
    touches).
    """
    torch = _torch()
    step, net = _ours(batch, dtype)
    x, y = _data(batch, dtype)
    step()
    xs = net._images(x)
    buf = net._buffers(batch)
    grads = net._packed_grads
    rows = buf.rows.reshape(-1, buf.rows.shape[-1])
    dlogits = net._loss_into(net._forward_into(xs, buf), y, buf)[1].copy()

    def update():
        net._flat_grads *= 0.0
        net._flat -= net._flat_grads
    fns = {
        "step": step,
        "forward": lambda: net._forward_into(xs, buf),
        "loss": lambda: net._loss_into(buf.logits, y, buf),
        "backward": lambda: net._backward_into(dlogits, buf, grads),
        "update": update,
        "conv_matmul": lambda: np.matmul(rows, net._band, out=buf.z.reshape(len(rows), -1)),
        "kernel_grad_matmul": lambda: np.matmul(buf.dz.reshape(len(rows), -1).T, rows,
                                                out=net._band_grad.T),
    }
    if torch:
        params = [t.requires_grad_() for t in _torch_params(MnistNet(dtype=dtype, seed=0))]
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def t_forward():
            return _torch_loss(params, xt, yt)

        def t_forward_backward():
            _torch_loss(params, xt, yt).backward()
            for q in params:
                q.grad = None

        def t_update():
            with torch.no_grad():
                for q in params:
                    q.add_(q, alpha=0.0)
        fns.update({"torch_step": _torch_step(batch, dtype), "torch_forward": t_forward,
                    "torch_forward_backward": t_forward_backward, "torch_update": t_update})
    times = _interleaved(fns, cfg["rounds"], cfg["reps"], cfg["warmup"])
    out = {"batch": batch, "dtype": dtype,
           "phases": {k: _stats(v) for k, v in times.items()}}
    if torch:
        # The backward pass alone: (forward + backward) - forward, round by round.
        backward = np.asarray(times["torch_forward_backward"]) - np.asarray(times["torch_forward"])
        out["phases"]["torch_backward"] = _stats(backward)
    return out


LAYER_CASES = [
    {"layer": "conv2d", "x": (64, 1, 28, 28), "w": (2, 1, 5, 5), "stride": 1, "padding": 0},
    {"layer": "conv2d", "x": (64, 2, 12, 12), "w": (4, 2, 3, 3), "stride": 1, "padding": 1},
    {"layer": "conv2d", "x": (32, 8, 16, 16), "w": (16, 8, 3, 3), "stride": 2, "padding": 1},
    {"layer": "max_pool2d", "x": (64, 2, 24, 24), "size": 2, "stride": 2},
    {"layer": "max_pool2d", "x": (32, 16, 16, 16), "size": 3, "stride": 2},
]


def _layer_fns(case: dict):
    from . import conv2d, conv2d_backward, max_pool2d, max_pool2d_backward
    torch = _torch()
    rng = np.random.default_rng(1)
    x = rng.standard_normal(case["x"]).astype(np.float32)
    fns = {}
    if case["layer"] == "conv2d":
        w = rng.standard_normal(case["w"]).astype(np.float32)
        b = rng.standard_normal(case["w"][0]).astype(np.float32)
        kw = {"stride": case["stride"], "padding": case["padding"]}
        y = conv2d(x, w, b, **kw)
        dy = rng.standard_normal(y.shape).astype(np.float32)

        def ours():
            conv2d(x, w, b, **kw)
            conv2d_backward(dy, x, w, **kw)
        fns["ours"] = ours
        if torch:
            import torch.nn.functional as F
            xt, wt, bt = (torch.tensor(a).requires_grad_() for a in (x, w, b))
            dyt = torch.tensor(dy)

            def theirs():
                F.conv2d(xt, wt, bt, **kw).backward(dyt)
                xt.grad = wt.grad = bt.grad = None
            fns["torch"] = theirs
    else:
        kw = {"size": case["size"], "stride": case["stride"]}
        y = max_pool2d(x, **kw)
        dy = rng.standard_normal(y.shape).astype(np.float32)

        def ours():
            max_pool2d(x, **kw)
            max_pool2d_backward(dy, x, **kw)
        fns["ours"] = ours
        if torch:
            import torch.nn.functional as F
            xt, dyt = torch.tensor(x).requires_grad_(), torch.tensor(dy)

            def theirs():
                F.max_pool2d(xt, case["size"], case["stride"]).backward(dyt)
                xt.grad = None
            fns["torch"] = theirs
    return fns


def layers(cfg: dict) -> list:
    out = []
    for case in LAYER_CASES:
        times = _interleaved(_layer_fns(case), cfg["rounds"], cfg["reps"], cfg["warmup"])
        row = {"case": case, "dtype": "float32",
               "impl": {k: {"seconds": _stats(v)} for k, v in times.items()}}
        if "torch" in times:
            row["ours_over_torch"] = _ratio_stats(times["ours"], times["torch"])
        out.append(row)
    return out


def epoch(cfg: dict, mnist_dir) -> dict:
    """One epoch of 60,000 images, batch 64, float32, lr 0.1: ``sgd_step`` and ``cnn.train``."""
    from .training import train
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
              "sgd_step_s": [], "train_s": []}
    for run in range(cfg["epoch_runs"]):
        net = MnistNet(dtype="float32", seed=run)
        net.fit_input_scaling(X[:1000])
        order = np.random.default_rng(run).permutation(n)
        t0 = time.perf_counter()
        for i in range(0, n, 64):
            idx = order[i:i + 64]
            net.sgd_step(X[idx], y[idx], 0.1)
        result["sgd_step_s"].append(time.perf_counter() - t0)
        if Xt is not None and run == 0:
            result["test_accuracy_after_one_epoch"] = net.evaluate(Xt, yt)["accuracy"]
        net = MnistNet(dtype="float32", seed=run)
        net.fit_input_scaling(X[:1000])
        history = train(net, X, y, epochs=1, batch_size=64, lr=0.1, seed=run, threads=None)
        result["train_s"].append(history.train_seconds)
    result["sgd_step_stats"] = _stats(result["sgd_step_s"])
    result["train_stats"] = _stats(result["train_s"])
    # Per 60,000 images, so that --quick's shorter epoch stays comparable.
    result["sgd_step_epoch_s"] = result["sgd_step_stats"]["median"] * 60000 / n
    result["train_epoch_s"] = result["train_stats"]["median"] * 60000 / n
    return result


def derivations_time() -> dict:
    """Seconds of deriving and exporting every subject in a fresh interpreter (temp dir)."""
    with tempfile.TemporaryDirectory() as tmp:
        code = ("import importlib, sys, time; from pathlib import Path; from derivations import "
                "SUBJECTS\nfor s in SUBJECTS:\n    t = time.perf_counter(); "
                "importlib.import_module(f'derivations.{s}').main(Path(sys.argv[1])); "
                "print(s, time.perf_counter() - t)")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, tmp], cwd=ROOT, capture_output=True,
                              text=True, timeout=1800)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            return {"ok": False, "seconds": seconds, "error": proc.stderr[-2000:]}
        subjects = {line.split()[0]: float(line.split()[1]) for line in proc.stdout.splitlines()}
        same = {p.name: p.read_bytes() == (ROOT / "derivations" / "exported" / p.name).read_bytes()
                for p in sorted(Path(tmp).glob("*.json"))
                if (ROOT / "derivations" / "exported" / p.name).exists()}
    return {"ok": True, "seconds": seconds, "subjects": subjects,
            "identical_to_committed": same}


def docs_time() -> dict:
    """Seconds of ``mkdocs build --strict`` into a temporary directory (notebooks executed)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CNN_DOCS_NOTEBOOK_CACHE": "false", "NO_MKDOCS_2_WARNING": "1"}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                               "--site-dir", str(Path(tmp) / "site")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=1800)
        seconds = time.perf_counter() - t0
    out = {"ok": proc.returncode == 0, "seconds": seconds}
    if proc.returncode != 0:
        out["error"] = proc.stderr[-2000:]
    return out


# ----------------------------------------------------------------------------- the run

def _config(quick: bool) -> dict:
    if quick:
        return {"rounds": 5, "reps": 5, "warmup": 3, "loop_batch": 1, "loop_rounds": 2,
                "epoch_images": 6400, "epoch_runs": 1, "gemm_n": 1024, "gemm_reps": 3}
    return {"rounds": 15, "reps": 20, "warmup": 10, "loop_batch": 2, "loop_rounds": 6,
            "epoch_images": None, "epoch_runs": 3, "gemm_n": 2048, "gemm_reps": 5}


def run(*, quick=False, threads=(1, 2), mnist_dir=None, docs=False, repeat=1,
        progress=print) -> dict:
    """Every measurement of the module docstring; returns the JSON-able record."""
    cfg = _config(quick)
    started = time.perf_counter()
    record = {"started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "quick": quick, "threads": list(threads), "config": cfg, "targets": TARGETS,
              **environment(), "thread_settings": {}, "runs": []}
    torch = _torch()
    for t in threads:
        with _threads(t):
            from threadpoolctl import threadpool_info
            record["thread_settings"][str(t)] = {
                "threadpools": threadpool_info(),
                "torch_num_threads": torch.get_num_threads() if torch else None}
    if torch:
        record["torch_parallel_info"] = torch.__config__.parallel_info()
        with _threads(threads[0]):
            record["torch_agreement"] = [torch_agreement("float64"), torch_agreement("float32")]
    for r in range(repeat):
        one = {"gemm_peak": {}, "mnist_step": [], "layers": [], "loops": None, "epoch": None}
        for t in threads:
            with _threads(t):
                progress(f"[run {r + 1}/{repeat}] threads={t}: GEMM peak, MNIST steps ...")
                one["gemm_peak"][str(t)] = {d: gemm_peak(d, cfg["gemm_n"], cfg["gemm_reps"])
                                           for d in DTYPES}
                one["mnist_step"] += mnist_steps(t, cfg)
        with _threads(threads[0]):
            progress(f"[run {r + 1}/{repeat}] threads={threads[0]}: layers, loops, epoch ...")
            one["layers"] = layers(cfg)
            one["profile"] = profile_step(cfg)
            one["loops"] = loops_vs_ours(cfg)
            one["epoch"] = epoch(cfg, mnist_dir)
        record["runs"].append(one)
    progress("derivations ...")
    record["derivations"] = derivations_time()
    if docs:
        progress("docs build ...")
        record["docs_build"] = docs_time()
    record["summary"] = summarise(record)
    record["machine"]["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    record["seconds"] = time.perf_counter() - started
    return record


def _step_row(one: dict, threads: int, dtype: str, batch: int) -> dict:
    for row in one["mnist_step"]:
        if (row["threads"], row["dtype"], row["batch"]) == (threads, dtype, batch):
            return row
    raise KeyError((threads, dtype, batch))


def summarise(record: dict) -> dict:
    """The three targets (batch 64, float32, first thread count), per run and overall."""
    t = record["threads"][0]
    per_run = []
    for one in record["runs"]:
        row = _step_row(one, t, "float32", 64)
        loops = next(x for x in one["loops"] if x["dtype"] == "float32")
        per_run.append({
            "ours_over_torch": row.get("ours_over_torch", {}).get("median"),
            "loops_over_ours": loops["loops_over_ours"]["median"],
            "epoch_seconds": one["epoch"]["sgd_step_epoch_s"],
            "epoch_seconds_train_loop": one["epoch"]["train_epoch_s"],
        })

    def spread(key):
        vals = [p[key] for p in per_run if p[key] is not None]
        if not vals:
            return None
        return {"median": float(np.median(vals)), "min": float(min(vals)),
                "max": float(max(vals)), "runs": vals}

    s = {k: spread(k) for k in per_run[0]}
    met = {}
    if s["ours_over_torch"]:
        met["ours_over_torch"] = s["ours_over_torch"]["median"] <= TARGETS["ours_over_torch"]
    met["loops_over_ours"] = s["loops_over_ours"]["median"] >= TARGETS["loops_over_ours"]
    met["epoch_seconds"] = s["epoch_seconds"]["median"] < TARGETS["epoch_seconds"]
    return {"threads": t, "dtype": "float32", "batch": 64, "per_run": per_run, **s,
            "target_met": met}


# ----------------------------------------------------------------------------- the report

def format_report(record: dict) -> str:
    """A plain-text table of a record (the first run; the summary over all runs)."""
    one = record["runs"][0]
    lines = [f"cnn bench - {record['machine']['cpu']}, {record['machine']['logical_cpus']} "
             f"logical CPUs; numpy {record['versions']['numpy']} "
             f"({'; '.join(record['versions']['blas'])}), torch {record['versions']['torch']}, "
             f"python {record['versions']['python']}" + ("  [--quick]" if record["quick"] else ""),
             "", "MNIST training step (forward + backward + SGD), median ms per step "
             "[p10-p90 over rounds]:",
             f"{'thr':>3} {'dtype':>7} {'batch':>5} | {'ours':>17} {'ours_api':>9} "
             f"{'torch':>17} | {'ours/torch':>17} | {'img/s ours':>10} {'GFLOP/s':>7}"]
    for row in one["mnist_step"]:
        im = row["impl"]

        def ms(name, full=True):
            if name not in im:
                return "-"
            s = im[name]["seconds"]
            if not full:
                return f"{s['median'] * 1e3:.3f}"
            return f"{s['median'] * 1e3:.3f} [{s['p10'] * 1e3:.2f}-{s['p90'] * 1e3:.2f}]"
        ratio = row.get("ours_over_torch")
        r = f"{ratio['median']:.2f} [{ratio['p10']:.2f}-{ratio['p90']:.2f}]" if ratio else "-"
        lines.append(f"{row['threads']:>3} {row['dtype']:>7} {row['batch']:>5} | {ms('ours'):>17} "
                     f"{ms('ours_api', False):>9} {ms('torch'):>17} | {r:>17} | "
                     f"{im['ours']['images_per_s']:>10.0f} {im['ours']['gflops']:>7.2f}")
    peaks = ", ".join(f"{t} thread(s): {p['float32']['gflops']:.0f} (float32) / "
                      f"{p['float64']['gflops']:.0f} (float64)"
                      for t, p in one["gemm_peak"].items())
    n = one["gemm_peak"][str(record["threads"][0])]["float32"]["n"]
    lines += [f"GEMM peak, GFLOP/s (one {n}^2 matmul): {peaks}", "",
              "Loop reference (cnn.reference) vs ours, per image:"]
    for row in one["loops"]:
        loops, ours = row["loops_per_image_s"]["median"], row["ours_per_image_s"]["median"]
        lines.append(f"  {row['dtype']}: loops {loops * 1e3:.1f} ms (batch {row['loop_batch']}), "
                     f"ours {ours * 1e6:.1f} us (batch 64): loops/ours = "
                     f"{row['loops_over_ours']['median']:.0f}")
    lines += ["", "Layers alone, forward + backward, float32, median ms:"]
    for row in one["layers"]:
        c = row["case"]
        desc = (f"conv2d x{c['x']} w{c['w']} s{c['stride']} p{c['padding']}"
                if c["layer"] == "conv2d" else f"max_pool2d x{c['x']} k{c['size']} s{c['stride']}")
        t = row["impl"].get("torch")
        lines.append(f"  {desc:<48} ours {row['impl']['ours']['seconds']['median'] * 1e3:7.3f}"
                     + (f"  torch {t['seconds']['median'] * 1e3:7.3f}  ours/torch "
                        f"{row['ours_over_torch']['median']:.2f}" if t else ""))
    e = one["epoch"]
    lines += ["", f"Epoch ({e['images']} images of {e['data']}, batch 64, float32, "
                  f"{record['threads'][0]} thread): sgd_step loop "
                  f"{e['sgd_step_stats']['median']:.2f} s, cnn.train "
                  f"{e['train_stats']['median']:.2f} s"
                  + (f" (per 60,000: {e['sgd_step_epoch_s']:.2f} s / {e['train_epoch_s']:.2f} s)"
                     if e["images"] != 60000 else "")
                  + (f"; test accuracy after it {e['test_accuracy_after_one_epoch']:.4f}"
                     if "test_accuracy_after_one_epoch" in e else "")]
    d = record["derivations"]
    lines.append(f"Derive + export all formulas: {d['seconds']:.1f} s"
                 + ("" if d["ok"] else " (FAILED)"))
    if "docs_build" in record:
        b = record["docs_build"]
        lines.append(f"mkdocs build --strict: {b['seconds']:.1f} s"
                     + ("" if b["ok"] else " (FAILED)"))
    s = record["summary"]
    lines += ["", f"Targets (batch 64, float32, {s['threads']} thread; median over "
                  f"{len(record['runs'])} run(s) [min-max]):"]
    for key, label, target in (("ours_over_torch", "ours / PyTorch", "<= 0.5"),
                               ("loops_over_ours", "loops / ours per image", ">= 1000"),
                               ("epoch_seconds", "epoch of 60,000 images, s", "< 2")):
        v = s.get(key)
        if v is None:
            lines.append(f"  {label:<28} not measured (PyTorch missing)")
            continue
        ok = "met" if s["target_met"][key] else "MISSED"
        lines.append(f"  {label:<28} {v['median']:8.3g} [{v['min']:.3g}-{v['max']:.3g}]  "
                     f"target {target}: {ok}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnn bench", description="Benchmark the MNIST training step against PyTorch and "
        "the loop reference; see the cnn.bench module docstring.")
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds, a 6,400-image epoch (about 30 s)")
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
    parser.add_argument("--threads", default="1,2", metavar="N[,N...]",
                        help="BLAS/OpenMP thread counts to measure; the first is used for the "
                             "targets (default: 1,2)")
    parser.add_argument("--mnist", metavar="DIR",
                        help="time the epoch on real MNIST from DIR (IDX files); default: "
                             "random images of the same shape")
    parser.add_argument("--docs", action="store_true",
                        help="also time `mkdocs build --strict` (slow: notebooks are executed)")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="repeat all measurements K times in this run (spread across runs)")
    args = parser.parse_args(argv)
    try:
        threads = tuple(int(t) for t in args.threads.split(","))
    except ValueError:
        parser.error(f"--threads: got {args.threads!r}; expected integers such as 1 or 1,2")
    if not threads or min(threads) < 1:
        parser.error(f"--threads: got {args.threads!r}; expected integers >= 1")
    if args.repeat < 1:
        parser.error(f"--repeat: got {args.repeat}; expected an integer >= 1")
    if args.mnist is not None and not Path(args.mnist).is_dir():
        parser.error(f"--mnist: got {args.mnist!r}; expected a directory with the MNIST IDX files")
    try:
        importlib.import_module("threadpoolctl")
    except ImportError:
        parser.error("the benchmark needs threadpoolctl to control BLAS threads "
                     "(pip install threadpoolctl)")

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    record = run(quick=args.quick, threads=threads, mnist_dir=args.mnist, docs=args.docs,
                 repeat=args.repeat, progress=progress)
    cmd = ["python", "-m", "cnn.bench"] + list(sys.argv[1:] if argv is None else argv)
    record["command"] = " ".join(cmd)
    print(format_report(record))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
        shutil.move(tmp, path)
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
