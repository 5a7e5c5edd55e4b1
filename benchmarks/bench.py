r"""``python -m benchmarks.bench``: how fast the NumPy code is, beside PyTorch and the loops.

Run from the root of a checkout. One run, in one process, under stated
BLAS/OpenMP thread counts (``--threads``, 1 and 2 by default; the targets
use the first, and the two-thread target the second), measures:

* one training step of the seed-003 MNIST network at batch 32, 64 and 256,
  float32 and float64 (:mod:`benchmarks.steps`): the step composed from the
  public functional API, the step :func:`cnn.train` takes, and PyTorch's
  (``torch.nn.functional`` + autograd + a manual SGD update), each a ratio
  ours / PyTorch within every round;
* forward + backward of single layers against PyTorch (:mod:`benchmarks.layers`);
* a profile of one step at batch 64, float32, so that a missed target comes
  with the numbers that explain it;
* the same step with the loop layers of :mod:`cnn.reference`, per image;
* one epoch of 60,000 images through :func:`cnn.train` (real MNIST with
  ``--mnist DIR``, else random images of the same shape);
* one large matrix product, this machine's GEMM peak;
* the time to derive and export every formula and, with ``--docs``, to
  build the site.

It prints one table of the targets (:data:`benchmarks.report.TARGETS`),
each marked met or ``MISSED``, then the details; ``--json PATH`` writes the
whole record, with the command that made it. The site's record is made by::

    python -m benchmarks.bench --repeat 3 --mnist DIR --docs --json docs/results/bench.json
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import sys
import time
from pathlib import Path

from studies.records import command_line, write_record

from .layers import layers
from .machine import environment, gemm_peak, loadavg
from .measure import DTYPES, epoch, loops_vs_ours, mnist_steps, profile_step
from .project import derivations_time, docs_time
from .report import format_report, summarise, target_rows
from .steps import torch_agreement
from .timing import threads as limit_threads
from .timing import torch_or_none

__all__ = ["PROG", "config", "run", "main"]

PROG = "python -m benchmarks.bench"


def config(quick: bool) -> dict:
    """Rounds, repetitions and sizes: the full run, or ``--quick``'s (about a minute)."""
    if quick:
        return {"rounds": 5, "reps": 5, "warmup": 3, "loop_batch": 1, "loop_rounds": 2,
                "epoch_images": 6400, "epoch_runs": 1, "gemm_n": 1024, "gemm_reps": 3}
    return {"rounds": 15, "reps": 20, "warmup": 10, "loop_batch": 2, "loop_rounds": 6,
            "epoch_images": None, "epoch_runs": 3, "gemm_n": 2048, "gemm_reps": 5}


def _thread_settings(threads) -> dict:
    from threadpoolctl import threadpool_info
    torch, out = torch_or_none(), {}
    for t in threads:
        with limit_threads(t):
            out[str(t)] = {"threadpools": threadpool_info(),
                           "torch_num_threads": torch.get_num_threads() if torch else None}
    return out


def run(*, quick=False, threads=(1, 2), mnist_dir=None, docs=False, repeat=1, cfg=None,
        derive=True, progress=print) -> dict:
    """Every measurement of the module docstring; returns the JSON-able record
    (without ``command``, which :func:`main` adds)."""
    cfg = cfg or config(quick)
    started = time.perf_counter()
    record = {"started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "quick": quick, "threads": list(threads), "config": cfg,
              "targets": target_rows(), **environment(),
              "thread_settings": _thread_settings(threads), "runs": []}
    torch = torch_or_none()
    if torch:
        record["torch_parallel_info"] = torch.__config__.parallel_info()
        with limit_threads(threads[0]):
            record["torch_agreement"] = [torch_agreement("float64"), torch_agreement("float32")]
    for r in range(repeat):
        one = {"gemm_peak": {}, "mnist_step": []}
        for t in threads:
            with limit_threads(t):
                progress(f"[run {r + 1}/{repeat}] threads={t}: GEMM peak, MNIST steps ...")
                one["gemm_peak"][str(t)] = {d: gemm_peak(d, cfg["gemm_n"], cfg["gemm_reps"])
                                           for d in DTYPES}
                one["mnist_step"] += mnist_steps(t, cfg)
        with limit_threads(threads[0]):
            progress(f"[run {r + 1}/{repeat}] threads={threads[0]}: layers, profile, loops, "
                     f"epoch ...")
            one["layers"] = layers(cfg)
            one["profile"] = profile_step(cfg)
            one["loops"] = loops_vs_ours(cfg)
            one["epoch"] = epoch(cfg, mnist_dir)
        record["runs"].append(one)
    if derive:
        progress("derivations ...")
        record["derivations"] = derivations_time()
    if docs:
        progress("docs build ...")
        record["docs_build"] = docs_time()
    record["summary"] = summarise(record)
    record["machine"]["loadavg_end"] = loadavg()
    record["seconds"] = time.perf_counter() - started
    return record


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Time the MNIST training step and single layers against "
        "PyTorch and the loop reference; see the benchmarks.bench module docstring.")
    p.add_argument("--quick", action="store_true",
                   help="fewer rounds, a 6,400-image epoch (about a minute)")
    p.add_argument("--json", metavar="PATH", help="write the whole record to PATH")
    p.add_argument("--threads", default="1,2", metavar="N[,N...]",
                   help="BLAS/OpenMP thread counts to measure; the first is used for the "
                        "targets (default: 1,2)")
    p.add_argument("--mnist", metavar="DIR",
                   help="time the epoch on real MNIST from DIR (IDX files); default: "
                        "random images of the same shape")
    p.add_argument("--docs", action="store_true",
                   help="also time `mkdocs build --strict` (slow: notebooks are executed)")
    p.add_argument("--repeat", type=int, default=1, metavar="K",
                   help="repeat all measurements K times in this run (spread across runs)")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
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

    record = {"command": command_line(PROG, argv),
              **run(quick=args.quick, threads=threads, mnist_dir=args.mnist, docs=args.docs,
                    repeat=args.repeat, progress=progress)}
    print(format_report(record))
    if args.json:
        write_record(args.json, record, sort_keys=True)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
