"""How long the rest of the project takes: deriving every formula, building the site."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["ROOT", "derivations_time", "docs_time"]

#: The checkout: the benchmark runs from a source tree, never from an installed package.
ROOT = Path(__file__).resolve().parents[1]

_DERIVE = """\
import importlib, sys, time
from pathlib import Path
from derivations import SUBJECTS
for s in SUBJECTS:
    t = time.perf_counter()
    importlib.import_module(f"derivations.{s}").main(Path(sys.argv[1]))
    print(s, time.perf_counter() - t)
"""


def derivations_time() -> dict:
    """Seconds of deriving and exporting every subject in a fresh interpreter (into a
    temporary directory), per subject, and whether each export equals the committed one."""
    committed = ROOT / "derivations" / "exported"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _DERIVE, tmp], cwd=ROOT,
                              capture_output=True, text=True, timeout=1800)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            return {"ok": False, "seconds": seconds, "error": proc.stderr[-2000:]}
        subjects = {line.split()[0]: float(line.split()[1]) for line in proc.stdout.splitlines()}
        same = {p.name: p.read_bytes() == (committed / p.name).read_bytes()
                for p in sorted(Path(tmp).glob("*.json")) if (committed / p.name).exists()}
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
