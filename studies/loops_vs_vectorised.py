r"""Seed 001's loops against the vectorised layers: one training step of the MNIST net.

Seed 001 wrote its MNIST CNN (conv -> max pool -> flatten -> dense ->
softmax, cross-entropy) with "A LOT of for loops", trained for "a loooong
time" and stopped at 37.7% test accuracy. This module runs one forward and
backward pass of :class:`cnn.MnistNet` twice on the same batch:

* the loop way: the network's one composed definition,
  :func:`cnn.networks.composed.composed_loss_and_grads`, called with the loop
  layers of :mod:`cnn.reference` (one Python loop per index, one window at a
  time: the conv, the pool, both dense layers and the softmax cross-entropy;
  ReLU stays an elementwise NumPy call, a negligible share);
* the vectorised way: :meth:`cnn.MnistNet.loss_and_grads` (the library's
  fast algorithms);

checks that both give the same loss and gradients, and times them.

Run::

    python -m studies.loops_vs_vectorised --data DIR --out PATH

from the root of the checkout (``--data`` a directory with the MNIST IDX
files; without it, sklearn's digits on a 28x28 canvas, which needs no
download).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import platform
import sys
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import numpy as np

from cnn import MnistNet, load_digits, load_mnist, reference
from cnn.networks.composed import LIBRARY, composed_loss_and_grads

from .records import command_line, versions, write_record

__all__ = ["LOOP_LAYERS", "loop_loss_and_grads", "compare", "main"]

PROG = "python -m studies.loops_vs_vectorised"


def _loop_conv2d_backward(dy, x, w, *, stride=1, padding=0, need_dx=True):
    # cnn.reference's loops always compute dx; composed_loss_and_grads asks for
    # need_dx=False on the first layer, so the gradient is computed and dropped.
    dx, dw, db = reference.conv2d_backward(dy, x, w, stride=stride, padding=padding)
    return (dx if need_dx else None), dw, db


#: The loop layers of :mod:`cnn.reference` as ``composed_loss_and_grads(..., layers=)`` takes them.
LOOP_LAYERS = SimpleNamespace(**{name: getattr(reference, name) for name in vars(LIBRARY)})
if "need_dx" not in inspect.signature(reference.conv2d_backward).parameters:
    LOOP_LAYERS.conv2d_backward = _loop_conv2d_backward


def loop_loss_and_grads(net: MnistNet, x, y):
    r"""Loss and gradients of ``net`` on ``(x, y)``, every layer from :mod:`cnn.reference`.

    The same computation as ``net.loss_and_grads(x, y)[:2]``, with the loop
    layers: $\hat x = (x - \mu)/\sigma$ as the network scales its input, then
    :func:`~cnn.networks.composed.composed_loss_and_grads` with the loop layers
    (:data:`LOOP_LAYERS`: conv, ReLU, pool, dense, ReLU, dense, softmax
    cross-entropy, and back).

    Parameters
    ----------
    net : cnn.MnistNet
    x : ndarray, shape (N, 1, H, W)
    y : ndarray of int, shape (N,)

    Returns
    -------
    loss : float
    grads : dict
        Same keys and shapes as ``net.params``.
    """
    if not isinstance(net, MnistNet):
        raise TypeError(f"net: got {type(net).__name__}; expected a cnn.MnistNet")
    p, s, dtype = net.params, net.pool, net.dtype
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, None]
    mean, std = net.config["input_mean"], net.config["input_std"]
    x = ((x.astype(dtype) - dtype.type(mean)) * dtype.type(1.0 / std)).astype(dtype)
    loss, grads, _ = composed_loss_and_grads(p, x, np.asarray(y), pool=s, layers=LOOP_LAYERS)
    return float(loss), grads


def _best_of(fn, repeats: int, min_seconds: float = 0.0):
    """Per-call seconds of ``fn``: each of ``repeats`` rounds runs it until
    ``min_seconds`` pass (at least once); returns (best, median, result)."""
    times, result = [], None
    for _ in range(repeats):
        calls, t0 = 0, time.perf_counter()
        while True:
            result = fn()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds:
                break
        times.append(elapsed / calls)
    return min(times), float(np.median(times)), result


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def compare(net: MnistNet, x, y, *, loop_repeats: int = 1, vec_repeats: int = 5) -> dict:
    """Time one forward+backward of both implementations on the same batch.

    Returns a dict: ``batch``, ``dtype``, ``loop_seconds`` and
    ``vectorised_seconds`` (best per call), their medians, ``speedup``
    (loop / vectorised, from the best times), ``loss_loop``,
    ``loss_vectorised``, ``max_relative_difference`` (per parameter: largest
    absolute difference over the largest magnitude of the vectorised gradient)
    and ``loss_relative_difference``.
    """
    x, y = np.asarray(x), np.asarray(y)
    loop_best, loop_median, (loss_l, g_l) = _best_of(
        lambda: loop_loss_and_grads(net, x, y), loop_repeats)
    vec_best, vec_median, (loss_v, g_v, _) = _best_of(
        lambda: net.loss_and_grads(x, y), vec_repeats, min_seconds=0.05)
    loss_v = float(loss_v)
    return {
        "batch": int(len(x)), "image_shape": list(x.shape[-2:]), "dtype": net.dtype.name,
        "loop_seconds": loop_best, "loop_seconds_median": loop_median,
        "vectorised_seconds": vec_best, "vectorised_seconds_median": vec_median,
        "speedup": loop_best / vec_best,
        "loop_seconds_per_image": loop_best / len(x),
        "loss_loop": loss_l, "loss_vectorised": loss_v,
        "loss_relative_difference": abs(loss_l - loss_v) / abs(loss_v),
        "max_relative_difference": {k: _rel(g_l[k], g_v[k]) for k in g_v},
    }


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = argparse.ArgumentParser(prog=PROG,
                                 description="Time seed-001-style loops against the "
                                             "vectorised MNIST net on one batch.")
    ap.add_argument("--data", metavar="DIR", help="MNIST IDX directory (default: sklearn "
                    "digits on a 28x28 canvas)")
    ap.add_argument("--batch", type=int, default=64, help="images in the batch (default 64)")
    ap.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--loop-repeats", type=int, default=3)
    ap.add_argument("--out", metavar="PATH", help="write the JSON result to this file")
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = ap.parse_args(argv)
    if args.batch < 1 or args.loop_repeats < 1:
        ap.error(f"--batch and --loop-repeats: got {args.batch} and {args.loop_repeats}; "
                 f"expected integers >= 1")

    try:   # one BLAS thread, as `cnn train` (threadpoolctl comes with scikit-learn)
        from threadpoolctl import threadpool_limits
    except ImportError:
        def threadpool_limits(**kwargs):
            return contextlib.nullcontext()
    data = load_mnist(args.data) if args.data else load_digits(canvas=True)
    net = MnistNet(input_shape=data.image_shape, dtype=args.dtype, seed=args.seed)
    net.fit_input_scaling(data.X_train)
    x, y = data.X_train[:args.batch], data.y_train[:args.batch]
    with threadpool_limits(limits=1, user_api="blas"):
        result = compare(net, x, y, loop_repeats=args.loop_repeats)
    record = {
        "command": command_line(PROG, argv),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "machine": {"platform": platform.platform(), "blas_threads": 1},
        "data": data.name, "what": "one forward + backward pass of MnistNet on the first "
                                   f"{len(x)} training images",
        **result,
    }
    if args.out:
        write_record(args.out, record)
    if args.json:
        print(json.dumps(record))
    else:
        print(f"{record['what']} ({record['data']}, {result['dtype']}):\n"
              f"  loops      {1e3 * result['loop_seconds']:10.1f} ms "
              f"({1e3 * result['loop_seconds_per_image']:.1f} ms per image)\n"
              f"  vectorised {1e3 * result['vectorised_seconds']:10.3f} ms\n"
              f"  speed-up   {result['speedup']:10.0f}x\n"
              f"  same numbers: loss {result['loss_loop']:.6f} vs {result['loss_vectorised']:.6f}; "
              f"largest gradient difference "
              f"{max(result['max_relative_difference'].values()):.1e} (relative)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
