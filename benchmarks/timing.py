"""How the benchmark times things on a noisy, shared machine.

Timings drift by tens of percent within seconds, so implementations are
**interleaved**: after a warm-up, every round runs a block of calls of each
one, in alternating order; a time is the median over rounds of the
per-round median, and a ratio is computed within each round before its
median is taken. ``p10``/``p90`` over rounds show the spread.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

__all__ = ["stats", "ratio_stats", "interleaved", "threads", "torch_or_none"]


def stats(values) -> dict:
    """Median, 10th and 90th percentile, minimum and count of ``values``."""
    v = np.asarray(values, dtype=float)
    return {"median": float(np.median(v)), "p10": float(np.percentile(v, 10)),
            "p90": float(np.percentile(v, 90)), "min": float(v.min()), "n": int(v.size)}


def ratio_stats(num, den) -> dict:
    """:func:`stats` of the round-by-round ratios ``num[r] / den[r]``."""
    return stats(np.asarray(num) / np.asarray(den))


def interleaved(fns: dict, rounds: int, reps: int, warmup: int) -> dict:
    """Per-call seconds of each function, interleaved round by round.

    Returns ``{name: [round medians]}``; round ``r`` runs the functions in
    order when ``r`` is even and in reverse order when it is odd, each
    ``reps`` times in a row.
    """
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    out = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn, times = fns[name], []
            for _ in range(reps):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out[name].append(float(np.median(times)))
    return out


_TORCH = None


def torch_or_none():
    """PyTorch if it is installed (imported once), else None."""
    global _TORCH
    if _TORCH is None:
        try:
            import torch
        except ImportError:
            _TORCH = False
        else:
            _TORCH = torch
    return _TORCH or None


@contextlib.contextmanager
def threads(n: int):
    """Limit NumPy's BLAS and every OpenMP pool (PyTorch's too) to ``n`` threads.

    threadpoolctl sets the pools it finds; ``torch.set_num_threads`` sets
    PyTorch's intra-op pool, which threadpoolctl does not always reach.
    """
    from threadpoolctl import threadpool_limits
    torch = torch_or_none()
    old = torch.get_num_threads() if torch else None
    with threadpool_limits(limits=n):
        if torch:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(old)
