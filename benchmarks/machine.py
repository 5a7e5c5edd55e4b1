"""What the benchmark ran on: CPU, versions, thread pools, and the machine's GEMM peak."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from .timing import torch_or_none

__all__ = ["environment", "loadavg", "gemm_peak"]


def _cpuinfo(key: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def loadavg() -> list | None:
    """The 1, 5 and 15 minute load averages, where the OS has them."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def environment() -> dict:
    """Machine, versions and the default thread pools (threadpoolctl's view)."""
    import threadpoolctl
    torch = torch_or_none()
    flags = (_cpuinfo("flags") or "").split()
    env = {
        "machine": {"cpu": _cpuinfo("model name") or platform.processor() or platform.machine(),
                    "cpu_flags": sorted(f for f in set(flags)
                                        if f.startswith(("avx", "fma", "sse4"))),
                    "logical_cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_start": loadavg()},
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "torch": torch.__version__ if torch else None,
                     "threadpoolctl": threadpoolctl.__version__},
        "threadpools_default": threadpoolctl.threadpool_info(),
    }
    blas = [p for p in env["threadpools_default"] if p.get("user_api") == "blas"]
    env["versions"]["blas"] = [f"{p.get('internal_api')} {p.get('version')} "
                               f"({p.get('architecture')}, {p.get('threading_layer')})"
                               for p in blas]
    return env


def gemm_peak(dtype: str, n: int, reps: int) -> dict:
    """GFLOP/s of one n x n @ n x n product (best of ``reps`` after one warm-up)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    np.matmul(a, b, out=out)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    best, median = min(times), float(np.median(times))
    return {"n": n, "best_s": best, "median_s": median,
            "gflops": 2 * n ** 3 / best / 1e9, "gflops_median": 2 * n ** 3 / median / 1e9}
