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

__all__ = ["UsageError", "load_function", "main"]


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


def build_parser(functions, options) -> argparse.ArgumentParser:
    choices = sorted({v for opts in options.values() for vals in opts.values() for v in vals})
    p = argparse.ArgumentParser(
        prog="cnn check",
        description="Check your own backward function against the library, and name the "
                    "known mistake it makes. This imports and runs YOUR code.",
        epilog="options per function: " + "; ".join(
            f"{f}: " + ", ".join(f"--{k} {'|'.join(v)}" for k, v in o.items())
            for f, o in options.items()) + ". Exit status: 0 right, 1 wrong, 2 usage error.")
    p.add_argument("function", choices=functions, metavar="FUNCTION",
                   help="what your function implements: " + ", ".join(functions))
    p.add_argument("target", metavar="MODULE:NAME",
                   help="your function: an importable module and a name in it, or "
                        "path/to/file.py:NAME")
    for key in ("layout", "convolution", "reduction", "labels"):
        p.add_argument(f"--{key}", choices=[c for c in choices if any(
            c in o.get(key, ()) for o in options.values())], default=None)
    p.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS",
                   help="time limit per probe (default 2)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return p


def main(argv=None) -> int:
    """Run ``cnn check``; returns the exit status (0 right, 1 wrong, 2 usage error)."""
    from . import FUNCTIONS, OPTIONS, check
    parser = build_parser(list(FUNCTIONS), OPTIONS)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:                    # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    options = {k: getattr(args, k) for k in ("layout", "convolution", "reduction", "labels")
               if getattr(args, k) is not None}
    try:
        fn = load_function(args.target)
        report = check(args.function, fn, timeout=args.timeout, **options)
    except (UsageError, TypeError, ValueError) as exc:
        print(f"cnn check: error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report)
    return 0 if report.ok else 1


if __name__ == "__main__":                        # python -m cnn.check.cli
    sys.exit(main())
