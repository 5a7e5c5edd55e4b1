r"""Learning-rate schedules: functions ``step -> factor``.

The rate of step $t$ (counted from 0) is $\eta_t = \eta \cdot \mathrm{factor}(t)$, for
every optimiser of :mod:`cnn.optim` (which re-exports these names), as PyTorch's
``LambdaLR`` applies a factor to the base rate.
"""

from __future__ import annotations

import math
from typing import Callable

__all__ = ["constant_schedule", "cosine_schedule", "make_schedule", "SCHEDULES"]

#: Names accepted by :func:`make_schedule` (and the CLI's ``--schedule``).
SCHEDULES = ("constant", "cosine")


def constant_schedule() -> Callable[[int], float]:
    """$\\mathrm{factor}(t) = 1$."""
    return lambda step: 1.0


def cosine_schedule(total_steps: int, warmup_steps: int = 0,
                    final_factor: float = 0.0) -> Callable[[int], float]:
    r"""Linear warm-up, then cosine decay to ``final_factor`` at ``total_steps``.

    $$\mathrm{factor}(t) = \begin{cases} (t+1)/T_w & t < T_w \\
      f + (1 - f)\,\tfrac12\big(1 + \cos(\pi\,\tfrac{t - T_w}{T - T_w})\big) & t \ge T_w
      \end{cases}$$

    with $T$ = ``total_steps``, $T_w$ = ``warmup_steps``, $f$ = ``final_factor``.
    Steps past $T$ keep the factor $f$.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps: got {total_steps}; expected >= 1")
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warmup_steps: got {warmup_steps}; expected 0 <= warmup_steps "
                         f"< total_steps = {total_steps}")
    if not 0 <= final_factor <= 1:
        raise ValueError(f"final_factor: got {final_factor}; expected a number in [0, 1]")
    span = total_steps - warmup_steps

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(step - warmup_steps, span) / span
        return final_factor + (1 - final_factor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def make_schedule(name: str, total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """A schedule by name: ``"constant"`` or ``"cosine"`` (see :func:`cosine_schedule`)."""
    if name == "constant":
        return constant_schedule()
    if name == "cosine":
        return cosine_schedule(total_steps, min(warmup_steps, total_steps - 1))
    raise ValueError(f"schedule: got {name!r}; expected one of {SCHEDULES}")
