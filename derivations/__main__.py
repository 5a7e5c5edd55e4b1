"""``python -m derivations [SUBJECT ...]``: derive and export subjects (all of them by default).

Each subject is derived in the order given (without a name: every subject, in
the order of :data:`derivations.SUBJECTS`) and written as
``<directory>/<subject>.json``; a derivation whose proof fails writes nothing
and the command stops with its error. ``--list`` prints the subjects. An
unknown subject or option is refused with exit status 2 (argparse's usage
error), before anything is derived.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from . import SUBJECTS
from .export import EXPORT_DIR


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m derivations",
        description="Derive gradient formulas with SymPy, prove their facts and chains, and "
                    "export each subject as JSON (the same bytes on every run).",
        epilog="subjects: " + ", ".join(SUBJECTS))
    p.add_argument("subjects", nargs="*", metavar="SUBJECT",
                   help="subjects to derive, in this order (default: all of them)")
    p.add_argument("--list", action="store_true",
                   help="print the subjects, one a line, and derive nothing")
    p.add_argument("--directory", type=Path, default=EXPORT_DIR, metavar="DIR",
                   help="where to write <subject>.json (default: the committed exports, "
                        "derivations/exported)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    unknown = [s for s in args.subjects if s not in SUBJECTS]
    if unknown:
        p.error(f"unknown subject{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}: the subjects are {', '.join(SUBJECTS)}")
    if args.list:
        if args.subjects:
            p.error("--list takes no subjects")
        print("\n".join(SUBJECTS))
        return 0
    chosen = list(dict.fromkeys(args.subjects)) or SUBJECTS    # each once, in the order given
    for subject in chosen:
        start = time.perf_counter()
        path = importlib.import_module(f"derivations.{subject}").main(args.directory)
        print(f"{subject:<24} -> {_shown(path)} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
