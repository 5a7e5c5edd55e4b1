"""``cnn check FUNCTION MODULE:NAME``: check your own back-prop from the shell.

::

    cnn check conv2d_backward mymodule:my_conv_backward
    cnn check conv2d_backward path/to/file.py:my_conv_backward --layout NHWC --json

Exit status 0 when the function is right, 1 when it is wrong (the report
says how, and names the mistake when a known one matches), 2 for a usage
error (an unknown function or option, a module or name that cannot be
found, something that is not callable or takes other arguments).

``MODULE:NAME`` imports ``MODULE`` by name (the current directory comes
first on ``sys.path``), or runs the file ``path/to/file.py``; ``NAME`` may
be dotted (``cnn.activations:relu.derivative``). This executes your code,
which is the point of the command.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path

__all__ = ["UsageError", "add_arguments", "load_function", "main", "run"]


class UsageError(Exception):
    """A problem with the command line: exit status 2, one line on stderr."""


def load_function(spec: str):
    """The object ``MODULE:NAME`` or ``path/file.py:NAME`` names."""
    module_part, sep, name = spec.rpartition(":")
    if not sep or not module_part or not name:
        raise UsageError(f"got {spec!r}; expected MODULE:NAME or path/to/file.py:NAME")
    try:
        if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
            path = Path(module_part)
            if not path.is_file():
                raise UsageError(f"{spec}: no file {module_part}")
            sys.path.insert(0, str(path.resolve().parent))     # its own imports
            unique = f"cnn_check_user_{abs(hash(str(path.resolve())))}"
            loader_spec = importlib.util.spec_from_file_location(unique, path)
            if loader_spec is None or loader_spec.loader is None:
                raise UsageError(f"{spec}: {module_part} cannot be imported as Python")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[unique] = module
            loader_spec.loader.exec_module(module)
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_part)
    except UsageError:
        raise
    except ModuleNotFoundError as exc:
        raise UsageError(f"{spec}: no module named {exc.name!r} (run from the directory that "
                         f"holds it, or give a file path: path/to/file.py:{name})") from None
    except BaseException as exc:  # noqa: BLE001  the user's module failed to import
        line = (str(exc).strip().splitlines() or [""])[0]
        raise UsageError(f"{spec}: importing {module_part} raised {type(exc).__name__}"
                         + (f": {line}" if line else "")) from None
    obj = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{spec}: {module_part} has no {name!r}") from None
    return obj


def _option_names(options) -> list[str]:
    """The convention options of every function, in order of first appearance."""
    return list(dict.fromkeys(k for opts in options.values() for k in opts))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``cnn check``, added to ``parser`` (a subparser of ``cnn``)."""
    from . import DEFAULT_TIMEOUT, FUNCTIONS, OPTIONS
    from ..cli.options import positive_float
    parser.epilog = "Exit status: 0 right, 1 wrong, 2 usage error."
    parser.add_argument("function", choices=FUNCTIONS, metavar="FUNCTION",
                        help="what your function implements: " + ", ".join(FUNCTIONS))
    parser.add_argument("target", metavar="MODULE:NAME",
                        help="your function: an importable module and a name in it, or "
                             "path/to/file.py:NAME")
    for key in _option_names(OPTIONS):
        takes = {f: o[key] for f, o in OPTIONS.items() if key in o}
        values = list(dict.fromkeys(v for vals in takes.values() for v in vals))
        parser.add_argument(f"--{key}", choices=values, default=None, help=(
            f"your function's {key} convention (the library's first): " + "; ".join(
                f"{f}: {' or '.join(vals)}" for f, vals in takes.items())))
    parser.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT,
                        metavar="SECONDS", help=f"time limit per probe (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON object on stdout, and nothing else")


def run(args):
    """``cnn check`` on parsed arguments: an :class:`~cnn.cli.output.Outcome`, exit 0 or 1.

    A target that cannot be loaded or called is a usage error: exit status 2.
    """
    from . import OPTIONS, check
    from ..cli.output import CLIError, Outcome
    options = {k: getattr(args, k) for k in _option_names(OPTIONS)
               if getattr(args, k) is not None}
    try:
        fn = load_function(args.target)
        report = check(args.function, fn, timeout=args.timeout, **options)
    except (UsageError, TypeError, ValueError) as exc:
        raise CLIError(str(exc), status=2, prog="cnn check") from exc
    return Outcome(report.to_dict(), str(report), 0 if report.ok else 1)


def main(argv=None) -> int:
    """Run ``cnn check``; returns the exit status (0 right, 1 wrong, 2 usage error)."""
    from ..cli import main as cnn_main
    try:
        return cnn_main(["check", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as exc:                    # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)


if __name__ == "__main__":                        # python -m cnn.check.cli
    sys.exit(main())
