"""Drift: re-deriving reproduces the committed exports byte for byte.

Each subject is re-derived in a fresh interpreter with a different hash seed
(set iteration order must not leak into the exports) into a temporary
directory, and compared with ``derivations/exported/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import derivations
from derivations.export import EXPORT_DIR


def changed_entries(old: dict, new: dict) -> list[str]:
    """Names of the formulas and facts that differ between two exports."""
    out = []
    for case in sorted(set(old.get("cases", {})) | set(new.get("cases", {}))):
        a = old.get("cases", {}).get(case, {}).get("formulas", {})
        b = new.get("cases", {}).get(case, {}).get("formulas", {})
        out += [f"{case}/{n}" for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]
    a, b = old.get("facts", {}), new.get("facts", {})
    out += [f"fact {n}" for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]
    return out or ["(metadata or formatting)"]


@pytest.mark.parametrize("subject", derivations.SUBJECTS)
def test_rederiving_reproduces_committed_export(subject, tmp_path):
    code = (f"from pathlib import Path; import derivations.{subject} as m; "
            f"m.main(Path({str(tmp_path)!r}))")
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    committed = EXPORT_DIR / f"{subject}.json"
    fresh = Path(tmp_path) / f"{subject}.json"
    if committed.read_bytes() != fresh.read_bytes():
        changed = changed_entries(json.loads(committed.read_text()), json.loads(fresh.read_text()))
        pytest.fail(f"{committed} differs from a fresh derivation in: {', '.join(changed[:20])}"
                    f"{' ...' if len(changed) > 20 else ''}. Run `python -m derivations.{subject}` "
                    "and commit the result if the change is intended.")
