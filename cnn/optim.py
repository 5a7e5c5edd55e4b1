r"""Stochastic gradient descent with momentum, and learning-rate schedules.

The update is the seeds' momentum rule (seed 000: ``v = alpha*v + lr*grad;
w -= v``), per parameter array:

$$v_t = \mu\, v_{t-1} + \eta_t\, g_t,\qquad w_t = w_{t-1} - v_t,$$

with $\mu$ the momentum (the seed's ``alpha``), $\eta_t$ the learning rate
of step $t$ and $g_t$ the gradient. $\mu = 0$ is plain SGD. With a constant
rate this is exactly PyTorch's ``SGD(momentum=mu)``, whose velocity
$u_t = \mu u_{t-1} + g_t$ is $v_t/\eta$; under a schedule the two differ only
in whether a rate change applies to the accumulated velocity (PyTorch) or
to new gradients only (here).

A schedule is a function ``step -> factor``; the rate of step $t$ (counted
from 0) is $\eta_t = \eta \cdot \mathrm{factor}(t)$.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["SGD", "constant_schedule", "cosine_schedule", "make_schedule", "SCHEDULES"]

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


class SGD:
    r"""SGD with momentum in the seed's form, $v \leftarrow \mu v + \eta g$, $w \leftarrow w - v$.

    Parameters
    ----------
    lr : float
        Base learning rate $\eta > 0$.
    momentum : float
        $\mu \in [0, 1)$; 0 is plain SGD.
    schedule : callable, optional
        ``step -> factor`` (default: constant 1).

    Notes
    -----
    :meth:`step` updates the parameter arrays in place, and only when every
    new value is finite: a step that would produce NaN or inf raises
    ``FloatingPointError`` and leaves parameters and velocities untouched,
    so the last good weights survive a divergence.
    """

    def __init__(self, lr: float, momentum: float = 0.0,
                 schedule: Callable[[int], float] | None = None):
        lr, momentum = float(lr), float(momentum)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr: got {lr}; expected a finite number > 0")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum: got {momentum}; expected a number in [0, 1)")
        self.lr, self.momentum = lr, momentum
        self.schedule = schedule or constant_schedule()
        self.velocity: dict[str, np.ndarray] = {}
        self.steps = 0

    def current_lr(self) -> float:
        """$\\eta_t$ for the next step."""
        return self.lr * self.schedule(self.steps)

    def step(self, params: dict, grads: dict) -> None:
        """Apply one update to ``params`` (in place) from ``grads`` (same keys)."""
        if set(grads) != set(params):
            raise ValueError(f"grads: got names {sorted(grads)}; expected {sorted(params)}")
        lr = self.current_lr()
        new_v, new_w = {}, {}
        for name, w in params.items():
            g = grads[name]
            if g.shape != w.shape:
                raise ValueError(f"grads[{name!r}]: got shape {g.shape}; expected {w.shape}")
            lr_t = w.dtype.type(lr)
            v = lr_t * g.astype(w.dtype, copy=False)
            if self.momentum and name in self.velocity:
                v += w.dtype.type(self.momentum) * self.velocity[name]
            new_v[name], new_w[name] = v, w - v
            if not np.isfinite(new_w[name]).all():
                raise FloatingPointError(f"the update of parameter {name!r} at step "
                                         f"{self.steps} is not finite (lr = {lr:g})")
        for name, w in params.items():
            w[...] = new_w[name]
        if self.momentum:
            self.velocity = new_v
        self.steps += 1
