"""Shared fixtures: one strict build of the real site per test session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mkdocs_build(config: Path, site_dir: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ,
           "CNN_DOCS_NOTEBOOK_CACHE": "false",   # really execute the notebooks
           "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(config), "--site-dir", str(site_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return result, time.perf_counter() - start


@pytest.fixture(scope="session")
def site_build(tmp_path_factory):
    """(result, seconds, site_dir) of one strict build of the real site."""
    site_dir = tmp_path_factory.mktemp("site")
    result, seconds = mkdocs_build(ROOT / "mkdocs.yml", site_dir)
    return result, seconds, site_dir


@pytest.fixture(scope="session")
def built_site(site_build) -> Path:
    """The built site's directory; skips dependants if the build failed (its own test fails)."""
    result, _, site_dir = site_build
    if result.returncode != 0:
        pytest.skip("the site did not build: see test_mkdocs_build_strict_succeeds")
    return site_dir
