r"""Optimisers as objects with state (SGD with momentum, Adam), and learning-rate schedules.

An optimiser updates a dict of named parameter arrays in place from a dict
of gradients with the same names, ``opt.step(params, grads)``. Its state is
the step count $t$ (which drives the schedule and Adam's bias correction)
and one buffer per parameter for each of its :attr:`Optimizer.BUFFERS`;
``opt.state_dict()`` returns it flat, ``{"steps": t, "<buffer>/<param>":
array}``, every array of the shape and dtype of its parameter, which is all
a checkpoint (:mod:`cnn.serialize`) needs to save and restore any optimiser
without knowing which one it is.

**SGD** is the seeds' momentum rule (seed 000: ``v = alpha*v + lr*grad;
w -= v``), per parameter array:

$$v_t = \mu\, v_{t-1} + \eta_t\, g_t,\qquad w_t = w_{t-1} - v_t,$$

with $\mu$ the momentum (the seed's ``alpha``), $\eta_t$ the learning rate
of step $t$ and $g_t$ the gradient. $\mu = 0$ is plain SGD. With a constant
rate this is PyTorch's ``SGD(momentum=mu)`` up to rounding: its velocity
$u_t = \mu u_{t-1} + g_t$ is $v_t/\eta$; under a schedule the two differ
in whether a rate change applies to the accumulated velocity (PyTorch) or
to new gradients only (here).

**Adam** (Kingma & Ba, 2015), as ``torch.optim.Adam`` computes it (no weight
decay, no AMSGrad), with $t$ counted from 1 here (so $\eta_t$ is the rate the
schedule gives step $t - 1$ counted from 0):

$$m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t,\qquad
  v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2,$$

$$w_t = w_{t-1} - \frac{\eta_t}{1 - \beta_1^t}\,
  \frac{m_t}{\sqrt{v_t}/\sqrt{1 - \beta_2^t} + \epsilon},$$

$m_0 = v_0 = 0$: $\epsilon$ is added to the bias-corrected $\sqrt{\hat v_t}$, as
in the paper's Algorithm 1 and in PyTorch (not to the uncorrected $\sqrt{v_t}$, as
the paper's faster form in its Section 2 does when it folds the corrections
into the step size).

Both refuse a step that would make a parameter or a buffer non-finite:
``FloatingPointError``, with parameters and state left as they were, so the
last good weights survive a divergence.

A schedule is a function ``step -> factor``; the rate of step $t$ (counted
from 0) is $\eta_t = \eta \cdot \mathrm{factor}(t)$ (:mod:`cnn.schedules`).
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Callable

import numpy as np

from ._flat import FLAT, finite, owner, tiling, views
from ._validate import _all_finite, as_real
from .schedules import SCHEDULES, constant_schedule, cosine_schedule, make_schedule

__all__ = ["Optimizer", "SGD", "Adam", "OPTIMIZERS", "make_optimizer", "constant_schedule",
           "cosine_schedule", "make_schedule", "SCHEDULES"]

# ----------------------------------------------------------------------------- optimisers

def _rate(value, name: str, low: float, high: float, *, closed_high: bool = False) -> float:
    """A coefficient such as ``momentum`` in ``[low, high)`` (or ``[low, high]``) as a float."""
    value = as_real(value, name)
    if not (low <= value < high or (closed_high and value == high)):
        bracket = "]" if closed_high else ")"
        raise ValueError(f"{name}: got {value}; expected a number in [{low:g}, {high:g}{bracket}")
    return value


class Optimizer:
    r"""The shared part of an optimiser: rate, schedule, step count, buffers, state.

    A subclass names itself (``name``, the key in :data:`OPTIMIZERS`), lists
    its per-parameter ``BUFFERS`` and implements :meth:`_propose` (the new
    values of one parameter and its buffers, without touching either) and,
    optionally, :meth:`hyperparameters`. :meth:`step` does the rest: checks,
    the all-or-nothing finite rule, the commit and the step count.

    Parameters
    ----------
    lr : float
        Base learning rate $\eta > 0$.
    schedule : callable, optional
        ``step -> factor`` (default: constant 1); step $t$ uses $\eta\,\mathrm{factor}(t)$.
    """

    name = "optimizer"
    BUFFERS: tuple[str, ...] = ()

    def __init__(self, lr: float, schedule: Callable[[int], float] | None = None):
        lr = as_real(lr, "lr")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr: got {lr}; expected a finite number > 0")
        if schedule is not None and not callable(schedule):
            raise TypeError(f"schedule: got {type(schedule).__name__}; expected a function "
                            f"step -> factor (see cnn.optim.make_schedule)")
        self.lr = lr
        self.schedule = schedule or constant_schedule()
        self.steps = 0
        #: ``{buffer: {param: array}}``; a buffer appears at the first step that needs it.
        self.buffers: dict[str, dict[str, np.ndarray]] = {b: {} for b in self.BUFFERS}
        self._tilings: dict[str, tuple] = {}

    def hyperparameters(self) -> dict:
        """The numbers that fix the update (the base rate here; subclasses add theirs)."""
        return {"lr": self.lr}

    def lr_at(self, step: int) -> float:
        r"""$\eta_t$, the rate of step ``step`` (counted from 0)."""
        return self.lr * self.schedule(step)

    def current_lr(self) -> float:
        r"""$\eta_t$ for the next step."""
        return self.lr_at(self.steps)

    # -- the update ---------------------------------------------------------------------
    def step(self, params: dict, grads: dict) -> None:
        """Apply one update to ``params`` (in place) from ``grads`` (same names and shapes).

        Raises ValueError for gradients of other names or shapes, and
        FloatingPointError, with ``params`` and the state untouched, when a
        new parameter or buffer value would be NaN or inf.

        When the parameters are consecutive views of one flat array, and the
        gradients too (as :class:`cnn.MnistNet` packs them), the update runs
        once on the flat arrays: the same operations on the same elements, so
        the same numbers, with a few NumPy calls instead of a few per parameter.
        """
        if grads.keys() != params.keys():
            raise ValueError(f"grads: got names {sorted(grads)}; expected {sorted(params)}")
        for name, w in params.items():
            if grads[name].shape != w.shape:
                raise ValueError(f"grads[{name!r}]: got shape {grads[name].shape}; expected "
                                 f"{w.shape}")
        names = list(params)
        flat_w = self._tiled("params", params, names)
        flat_g = self._tiled("grads", grads, names) if flat_w is not None else None
        if flat_g is not None and flat_g.dtype == flat_w.dtype:
            groups = {FLAT: (flat_w, flat_g)}
        else:
            groups = {n: (params[n], grads[n].astype(params[n].dtype, copy=False)) for n in names}
        old = {b: self._old_buffer(b, params, names, FLAT in groups) for b in self.BUFFERS}
        lr = self.current_lr()
        proposals = {}
        # An overflow is reported below, naming the parameter, not as NumPy's warning.
        with np.errstate(over="ignore", invalid="ignore"):
            for key, (w, g) in groups.items():
                new_w, new_buffers = self._propose(key, w, g, lr,
                                                   {b: old[b].get(key) for b in self.BUFFERS})
                if not finite(new_w):
                    self._refuse(key, "", new_w, params, names, lr)
                for buffer, value in new_buffers.items() if self.CHECK_BUFFERS else ():
                    if not finite(value):
                        self._refuse(key, f" ({buffer})", value, params, names, lr)
                proposals[key] = new_w, new_buffers
        for key, (new_w, new_buffers) in proposals.items():
            np.copyto(groups[key][0], new_w)
            for b, value in new_buffers.items():
                self._store(b, key, value, old[b].get(key), params, names)
        self.steps += 1

    def _refuse(self, key, what, value, params, names, lr):
        name = key if key != FLAT else owner(value, params, names)
        raise FloatingPointError(f"the update of parameter {name!r}{what} at step "
                                 f"{self.steps} is not finite (lr = {lr:g})")

    #: Whether :meth:`step` checks the new buffers too (not only the new parameters).
    CHECK_BUFFERS = True

    def _propose(self, key: str, w: np.ndarray, g: np.ndarray, lr: float, old: dict):
        """``(new w, {buffer: new value})`` for parameter ``key`` (or all at once, flat)
        from its buffers ``old`` (None before the first step); must modify neither
        ``w`` nor the state (the step may still be refused)."""
        raise NotImplementedError

    def _old_buffer(self, buffer: str, params: dict, names: list, flat: bool) -> dict:
        """``{key: array}`` of ``buffer``: per parameter, or one flat array (``FLAT``)."""
        arrays = self.buffers[buffer]
        if not flat or not arrays:
            return arrays
        tiled = self._tiled(buffer, arrays, names) if set(arrays) == set(names) else None
        if tiled is None:        # e.g. just loaded: lay it out flat once (a missing one is 0)
            tiled = np.concatenate([arrays.get(n, np.zeros_like(params[n])).reshape(-1)
                                    for n in names])
            arrays.update(views(tiled, params, names))
        return {FLAT: tiled}

    def _tiled(self, role: str, arrays: dict, names: list) -> np.ndarray | None:
        """:func:`cnn._flat.tiling`, remembered while the arrays stay the same objects (the
        parameters and buffers do from step to step; the gradients are new each time)."""
        current = [arrays[n] for n in names]
        seen, tiled = self._tilings.get(role, ((), None))
        if len(seen) != len(current) or any(a is not b for a, b in zip(seen, current)):
            tiled = tiling(arrays, names)
            self._tilings[role] = current, tiled
        return tiled

    def _store(self, buffer: str, key: str, value: np.ndarray, old, params: dict,
               names: list) -> None:
        """Copy the accepted ``value`` into the buffer (made on its first step)."""
        if old is not None:
            np.copyto(old, value)
        elif key == FLAT:
            self.buffers[buffer] = views(value.copy(), params, names)
        else:
            self.buffers[buffer][key] = value.copy()

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"steps": t, "<buffer>/<param>": array copy, ...}``: everything but the
        hyper-parameters that the next steps depend on."""
        state = {"steps": self.steps}
        for buffer, arrays in self.buffers.items():
            state.update({f"{buffer}/{p}": a.copy() for p, a in arrays.items()})
        return state

    def load_state_dict(self, state: dict, params: dict | None = None) -> None:
        """Continue from ``state``, a :meth:`state_dict` of an optimiser of this kind.

        With ``params`` (the parameter arrays it will update), every buffer is
        checked to belong to one of them, with its shape and dtype. Raises
        TypeError or ValueError naming the key, leaving this optimiser as it was.
        """
        kind = type(self).__name__
        if not isinstance(state, dict):
            raise TypeError(f"state: got {type(state).__name__}; expected the state_dict() "
                            f"of a {kind} optimiser")
        steps = state.get("steps")
        if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral) \
                or steps < 0:
            raise ValueError(f"state['steps']: got {steps!r}; expected the step count of a "
                             f"{kind} optimiser, an integer >= 0")
        expected = " and ".join(f"'{b}/<param>'" for b in self.BUFFERS) or "no buffers"
        buffers: dict[str, dict[str, np.ndarray]] = {b: {} for b in self.BUFFERS}
        for key, value in state.items():
            if key == "steps":
                continue
            buffer, _, param = key.partition("/")
            if buffer not in buffers or not param:
                raise ValueError(f"state: got the key {key!r}, which is not in the state of "
                                 f"a {kind} optimiser ({expected} besides 'steps'); expected "
                                 f"the state_dict() of a {kind}")
            value = np.asarray(value)
            if params is not None:
                _check_buffer(key, value, params.get(param), param, params)
            buffers[buffer][param] = value.copy()
        covered = {b: set(a) for b, a in buffers.items()}
        if len({frozenset(c) for c in covered.values()}) > 1:
            raise ValueError(f"state: got buffers for the parameters {covered}; expected each "
                             f"of {self.BUFFERS} for the same parameters")
        self.steps, self.buffers = int(steps), buffers


def _check_buffer(key: str, value: np.ndarray, p, param: str, params: dict) -> None:
    if p is None:
        raise ValueError(f"state[{key!r}]: no parameter {param!r}; expected one of "
                         f"{sorted(params)}")
    if value.shape != p.shape or value.dtype != p.dtype:
        raise ValueError(f"state[{key!r}]: got shape {value.shape} and dtype {value.dtype}; "
                         f"expected shape {p.shape} and dtype {p.dtype}, those of the parameter")
    if value.dtype.kind != "f" or not _all_finite(value):
        raise ValueError(f"state[{key!r}]: got non-finite values; expected finite numbers")


class SGD(Optimizer):
    r"""SGD with momentum in the seed's form, $v \leftarrow \mu v + \eta_t g$, $w \leftarrow w - v$.

    Parameters
    ----------
    lr : float
        Base learning rate $\eta > 0$.
    momentum : float
        $\mu \in [0, 1)$; 0 is plain SGD (and keeps no velocity).
    schedule : callable, optional
        ``step -> factor`` (default: constant 1).

    Notes
    -----
    The update is computed into scratch arrays kept from step to step (no
    allocation per step) and copied into the parameters only once every new
    value is known to be finite; the new velocity then trades places with
    the old one. The numbers are those of ``v = lr*g; v += mu*v_old; w - v``.
    """

    name = "sgd"
    BUFFERS = ("velocity",)

    def __init__(self, lr: float, momentum: float = 0.0,
                 schedule: Callable[[int], float] | None = None):
        super().__init__(lr, schedule)
        self.momentum = _rate(momentum, "momentum", 0.0, 1.0)
        self._scratch: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def velocity(self) -> dict[str, np.ndarray]:
        """The momentum buffers $v$ by parameter name (empty before the first step, or
        with momentum 0)."""
        return self.buffers["velocity"]

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum}

    def _propose(self, key, w, g, lr, old):
        scratch = self._scratch.get(key)
        if scratch is None or scratch[0].shape != w.shape or scratch[0].dtype != w.dtype:
            scratch = self._scratch[key] = tuple(np.empty_like(w) for _ in range(3))
        v, mv, new_w = scratch
        np.multiply(g, w.dtype.type(lr), out=v)
        if self.momentum and old["velocity"] is not None:
            v += np.multiply(old["velocity"], w.dtype.type(self.momentum), out=mv)
        np.subtract(w, v, out=new_w)
        return new_w, ({"velocity": v} if self.momentum else {})

    # A non-finite v makes w - v non-finite, so checking the new w is enough.
    CHECK_BUFFERS = False

    def _store(self, buffer, key, value, old, params, names):
        if key == FLAT or old is None:
            return super()._store(buffer, key, value, old, params, names)
        # One parameter: keep the new velocity itself (a scratch array) and make the
        # old one the next step's scratch, instead of copying it over.
        v, mv, new_w = self._scratch[key]
        self.velocity[key] = v
        self._scratch[key] = old, mv, new_w


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), bias-corrected, with $\epsilon$ where ``torch.optim.Adam`` has it.

    Parameters
    ----------
    lr : float
        Base learning rate $\eta > 0$ (PyTorch's default: 1e-3).
    momentum : float
        $\beta_1 \in [0, 1)$, the decay of the first moment $m$: Adam's momentum
        (fastai calls it ``mom``), so one ``momentum`` argument serves both optimisers.
    beta2 : float
        $\beta_2 \in [0, 1)$, the decay of the second moment $v$.
    eps : float
        $\epsilon > 0$, added to $\sqrt{v_t}/\sqrt{1-\beta_2^t}$.
    schedule : callable, optional
        ``step -> factor`` (default: constant 1), as PyTorch's ``LambdaLR``.
    """

    name = "adam"
    BUFFERS = ("m", "v")

    def __init__(self, lr: float, momentum: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, schedule: Callable[[int], float] | None = None):
        super().__init__(lr, schedule)
        self.momentum = _rate(momentum, "momentum", 0.0, 1.0)
        self.beta2 = _rate(beta2, "beta2", 0.0, 1.0)
        self.eps = as_real(eps, "eps")
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"eps: got {self.eps}; expected a finite number > 0")

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "beta2": self.beta2, "eps": self.eps}

    def _propose(self, key, w, g, lr, old):
        b1, b2, t = self.momentum, self.beta2, self.steps + 1
        m = (1 - b1) * g if old["m"] is None else b1 * old["m"] + (1 - b1) * g
        v = (1 - b2) * (g * g) if old["v"] is None else b2 * old["v"] + (1 - b2) * (g * g)
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + self.eps
        new_w = w - (lr / (1 - b1 ** t)) * (m / denom)
        return new_w.astype(w.dtype, copy=False), {"m": m.astype(w.dtype, copy=False),
                                                   "v": v.astype(w.dtype, copy=False)}


#: Every optimiser by name (the CLI's ``--optimizer`` choices, the estimator's ``optimizer``).
OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adam)}


def make_optimizer(name: str, *, lr: float, momentum: float | None = None,
                   schedule: Callable[[int], float] | None = None, **options) -> Optimizer:
    """The optimiser ``name`` of :data:`OPTIMIZERS`, e.g. ``make_optimizer("adam", lr=1e-3)``.

    ``momentum`` None takes the optimiser's default (SGD: 0, plain SGD; Adam:
    $\\beta_1 = 0.9$); ``options`` are the class's other arguments (Adam's
    ``beta2``, ``eps``).
    """
    cls = OPTIMIZERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"optimizer: got {name!r}; expected one of {tuple(OPTIMIZERS)}")
    if momentum is not None:
        options["momentum"] = momentum
    takes = [p for p in inspect.signature(cls).parameters if p not in ("lr", "schedule")]
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise TypeError(f"options: got {unknown}; the {name} optimiser takes {takes} "
                        f"(besides lr and schedule)")
    return cls(lr, schedule=schedule, **options)
