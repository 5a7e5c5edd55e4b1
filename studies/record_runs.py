"""Run one ``cnn`` command for several seeds and record the JSON outputs in one file.

::

    python -m studies.record_runs --seeds 0 1 2 --out docs/results/mnist_3epochs.json \\
        -- train mnist --data DIR --epochs 3

run from the root of the checkout, runs
``python -m cnn train mnist --data DIR --epochs 3 --json --quiet --seed S`` for each seed, each in its own process as a user would, and writes
``{"command", "date", "versions", "machine", "summary", "runs": [{"command",
"output"}]}``, where ``output`` is the command's JSON output unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone

import numpy as np

from .records import command_line, versions, write_record

__all__ = ["record", "main"]

PROG = "python -m studies.record_runs"


def record(cnn_args, seeds, *, command: str | None = None) -> dict:
    """Run ``python -m cnn CNN_ARGS --json --quiet --seed S`` for every seed; the record."""
    cnn_args = list(cnn_args)
    if not cnn_args or cnn_args[0] != "train":
        raise ValueError(f"cnn_args: got {cnn_args!r}; expected arguments of `cnn train ...`")
    if "--seed" in cnn_args or "--json" in cnn_args:
        raise ValueError(f"cnn_args: got {cnn_args!r}; --seed and --json are added per run")
    seeds = [int(s) for s in seeds]
    if not seeds or min(seeds) < 0:
        raise ValueError(f"seeds: got {seeds!r}; expected one or more integers >= 0")
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    runs = []
    for seed in seeds:
        argv = [*cnn_args, "--json", "--quiet", "--seed", str(seed)]
        done = subprocess.run([sys.executable, "-m", "cnn", *argv], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise RuntimeError(f"`cnn {shlex.join(argv)}` exited with status "
                               f"{done.returncode}:\n{done.stderr.strip()}")
        runs.append({"command": "python -m cnn " + shlex.join(argv),
                     "output": json.loads(done.stdout)})
    outputs = [r["output"] for r in runs]
    acc = [o.get("test_accuracy") for o in outputs]
    summary = {"seeds": seeds, "test_accuracy": acc,
               "seconds": [o.get("seconds") for o in outputs],
               "seconds_per_epoch": [o.get("seconds_per_epoch") for o in outputs]}
    if all(a is not None for a in acc):
        summary.update(test_accuracy_mean=float(np.mean(acc)), test_accuracy_min=float(min(acc)))
    return {
        "command": command or command_line(PROG, ["--seeds", *map(str, seeds), "--",
                                                   *cnn_args]),
        "date": date, "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "summary": summary, "runs": runs,
    }


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = argparse.ArgumentParser(prog=PROG,
                                 description="Run `cnn train ...` for several seeds and "
                                             "record the JSON outputs in one file.")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help="seeds to run (default 0 1 2)")
    ap.add_argument("--out", metavar="PATH", required=True, help="the JSON file to write")
    ap.add_argument("cnn_args", nargs=argparse.REMAINDER,
                    help="after --: the arguments of `cnn`, e.g. train mnist --epochs 3")
    args = ap.parse_args(argv)
    cnn_args = args.cnn_args[1:] if args.cnn_args[:1] == ["--"] else args.cnn_args
    command = command_line(PROG, argv)
    try:
        rec = record(cnn_args, args.seeds, command=command)
    except (ValueError, RuntimeError) as exc:
        print(f"record_runs: error: {exc}", file=sys.stderr)
        return 1
    write_record(args.out, rec)
    for r in rec["runs"]:
        o = r["output"]
        acc = o.get("test_accuracy")
        print(f"{r['command']}\n    test accuracy "
              f"{'n/a' if acc is None else f'{100 * acc:.2f}%'}, {o.get('seconds', 0):.1f} s")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
