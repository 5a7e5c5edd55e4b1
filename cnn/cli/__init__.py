"""The ``cnn`` command: train the seed networks, evaluate saved models, check your back-prop.

::

    cnn train {digits01,mnist,toy} [--dataset D] [--data DIR] [--optimizer {sgd,...}]
              [--epochs N] [--batch-size B] [--lr LR] [--momentum M] [--seed S]
              [--dtype float32|float64] [--save PATH] [--resume PATH] [--json] ...
    cnn evaluate --load PATH [--data DIR] [--json]
    cnn check FUNCTION MODULE:NAME [--json] ...   (cnn.check: check your own back-prop)
    cnn --version

(also ``python -m cnn ...``). ``cnn COMMAND --help`` lists every option with
its default for each network; the defaults are defined once, in
:mod:`cnn.cli.runs` (per network and data set) and :mod:`cnn.cli.options`
(the rest).

On every subcommand, stdout holds the result only: a short summary, or with
``--json`` exactly one JSON object. Progress bars and per-epoch lines go to
stderr. Exit status 0 on success (``cnn check``: the function is right), 1 on
an error (missing data, divergence, a bad model file; ``cnn check``: the
function is wrong) with one ``cnn: error: ...`` line, 2 on a usage error, 130
when interrupted (Ctrl-C). See :mod:`cnn.cli.output`.

The modules: :mod:`~cnn.cli.runs` (what each network trains on, with which
defaults), :mod:`~cnn.cli.options` (the options and the parser),
:mod:`~cnn.cli.train` (``cnn train``, checkpoints and ``--resume``),
:mod:`~cnn.cli.evaluate` (``cnn evaluate``), :mod:`~cnn.cli.output` (stdout,
stderr, exit statuses) and :mod:`cnn.check.cli` (``cnn check``).
"""

from __future__ import annotations

import sys

from .evaluate import cmd_evaluate
from .options import build_parser, train_defaults
from .output import (CLIError, CLIInterrupted, Outcome, json_text, one_line_warnings,
                     result_only_on_stdout, summary_text)
from .runs import DEFAULTS
from .train import cmd_train

__all__ = ["main", "build_parser", "train_defaults", "DEFAULTS"]


def _summarised(command):
    """A command returning its summary dict, as one returning an :class:`Outcome`."""
    def run(args) -> Outcome:
        result = command(args)
        return Outcome(result, summary_text(result))
    return run


def _check(args) -> Outcome:
    from ..check.cli import run         # imported when asked for: cnn.check imports cnn.cli
    return run(args)


_COMMANDS = {"train": _summarised(cmd_train), "evaluate": _summarised(cmd_evaluate),
             "check": _check}


def main(argv=None) -> int:
    """Entry point of the ``cnn`` console script; returns the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        with one_line_warnings(), result_only_on_stdout() as stdout:
            outcome = _COMMANDS[args.command](args)
    except CLIError as exc:
        print(f"{exc.prog}: error: {exc}", file=sys.stderr)
        return exc.status
    except (ValueError, OSError, FloatingPointError, MemoryError) as exc:
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
    print(json_text(outcome.result) if args.json else outcome.text, file=stdout)
    return outcome.status
