"""The records behind the site's numbers: where they live, how they are written.

A record is one JSON file in ``docs/results/`` written by one command of
this checkout (a study or the benchmark). Each stores the exact command that
made it (:func:`command_line`), the date, the versions and the commit of the
code (:func:`versions`). The site's notebooks read them with
:func:`load_record`, and the README's "Reproduce" commands are those stored
commands (``tests/test_studies.py`` holds the README to them).

This module, like everything under ``studies/`` and ``benchmarks/``, lives in
the source checkout, not in the installed :mod:`cnn` package: it finds the
checkout, runs git and writes into ``docs/``, which the package never does.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["ROOT", "RESULTS", "CODE_DIRS", "load_record", "write_record", "versions",
           "command_line"]

#: The checkout this module sits in.
ROOT = Path(__file__).resolve().parents[1]
#: Where the committed records live.
RESULTS = ROOT / "docs" / "results"
#: The code a record depends on: its commit and modified files are recorded.
CODE_DIRS = ("cnn", "studies", "benchmarks")


def load_record(name: str) -> dict:
    """The committed record ``docs/results/<name>`` (e.g. ``"bench.json"``), parsed."""
    path = RESULTS / name
    if not path.is_file():
        known = sorted(p.name for p in RESULTS.glob("*.json"))
        raise FileNotFoundError(f"name: got {name!r}; no such record in {RESULTS} "
                                f"(there are {known})")
    return json.loads(path.read_text(encoding="utf-8"))


def command_line(prog: str, argv) -> str:
    """The command a reader types to repeat a run: ``prog`` then ``argv``, shell-quoted."""
    return " ".join([prog, *map(shlex.quote, argv)])


def versions() -> dict:
    """Python, NumPy, scikit-learn and cnn versions; the git commit of this checkout and
    the tracked files of ``cnn/``, ``studies/``, ``benchmarks/`` that differ from it."""
    import sklearn

    import cnn
    out = {"python": platform.python_version(), "numpy": np.__version__,
           "scikit-learn": sklearn.__version__, "cnn": cnn.__version__}
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        # New (untracked) files do not count: the commit names what was committed.
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no", "--", *CODE_DIRS],
                               capture_output=True, text=True, timeout=10)
        if rev.returncode == 0:
            out["git_commit"] = rev.stdout.strip()
            out["modified_files"] = [line[3:] for line in dirty.stdout.splitlines()]
    except (OSError, subprocess.SubprocessError):   # not a git checkout, or no git
        pass
    return out


def write_record(path, record: dict, *, sort_keys: bool = False) -> Path:
    """Write ``record`` as indented JSON to ``path`` atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, indent=1, sort_keys=sort_keys, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
