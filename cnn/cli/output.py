"""What ``cnn`` writes: the result on stdout, everything else on stderr.

The contract of every subcommand (``train``, ``evaluate``, ``check``):

* stdout holds the result and nothing else: with ``--json`` exactly one JSON
  object (:func:`json_text`), without it a short human summary. Anything
  the run itself prints (a user's function under ``cnn check``, say) goes to
  stderr (:func:`result_only_on_stdout`).
* progress bars, per-epoch lines and notes go to stderr (:func:`log`), a
  warning as one ``cnn: warning: ...`` line (:func:`one_line_warnings`);
* a failure is one ``cnn: error: ...`` line on stderr and exit status 1, a
  usage error argparse's usage and error line and exit status 2, Ctrl-C a
  line saying what was saved and exit status 130.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["CLIError", "CLIInterrupted", "Outcome", "log", "one_line_warnings", "json_text",
           "summary_text", "result_only_on_stdout"]


class CLIError(Exception):
    """An error to report as one line ``PROG: error: ...`` with exit status ``status``.

    ``cnn train`` and ``cnn evaluate`` use the defaults (``cnn``, 1); ``cnn
    check`` reports a target it cannot load as ``cnn check: error:``, exit 2.
    """

    def __init__(self, message: str, *, status: int = 1, prog: str = "cnn"):
        super().__init__(message)
        self.status, self.prog = status, prog


class CLIInterrupted(Exception):
    """Ctrl-C during training; the message says what was saved and how to resume (exit 130)."""


class Outcome(NamedTuple):
    """What a subcommand found: the ``--json`` object, the human text, the exit status."""
    result: dict
    text: str
    status: int = 0


def log(quiet: bool, message: str) -> None:
    """A line on stderr that does not tear an active progress bar (nothing when ``quiet``)."""
    if quiet:
        return
    try:
        from tqdm import tqdm
    except ImportError:
        print(message, file=sys.stderr, flush=True)
    else:
        tqdm.write(message, file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as one ``cnn: warning:`` line (no source line, no file name)."""
    print(f"cnn: warning: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def one_line_warnings():
    """Within the block, each warning is one ``cnn: warning: ...`` line on stderr."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        yield


@contextlib.contextmanager
def result_only_on_stdout():
    """Within the block, whatever is printed to stdout goes to stderr; yields the real stdout."""
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        yield stdout


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def json_text(result: dict) -> str:
    """``result`` as one JSON object on one line (sorted keys; NumPy scalars as numbers)."""
    return json.dumps(result, sort_keys=True, default=_json_default)


def _pct(value):
    return "n/a (regression)" if value is None else f"{100 * value:.2f}%"


def summary_text(s: dict) -> str:
    """The human summary of ``cnn train`` or ``cnn evaluate``."""
    lines = [f"network        {s['network']}" + (f" ({s['backprop']} back-prop, dense "
                                                    f"{s['dense_sizes'][0]}-{s['dense_sizes'][1]})"
                                                    if "backprop" in s else "")]
    if "dataset" in s:
        lines.append(f"dataset        {s['dataset']}")
    if s["train_accuracy"] is None:              # a regression (the toy net)
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
        if "optimizer" in s:
            lines.append(f"optimizer      {s['optimizer']}")
    seconds = f"seconds        {s['seconds']:.2f}"
    if "seconds_per_epoch" in s and s["train_accuracy"] is not None:
        seconds += f" ({s['seconds_per_epoch']:.2f} per epoch, {s['epochs']} epochs)"
    lines.append(seconds)
    if s.get("saved_to"):
        lines.append(f"saved to       {s['saved_to']}")
    return "\n".join(lines)
