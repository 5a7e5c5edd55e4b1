"""What a training run is at the end of an epoch, and how :func:`cnn.train` resumes from it.

A :class:`TrainState` holds everything besides the weights that the rest of
a run depends on: the optimiser's name and ``state_dict()`` (its buffers and
the step count that drives the schedule), the shuffling RNG, the history and
the arguments that fix the run. :func:`cnn.serialize.save_checkpoint` writes
one to a file, whichever optimiser made it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .optim import Optimizer

__all__ = ["TrainHistory", "TrainState"]


@dataclass
class TrainHistory:
    """What :func:`cnn.train` measured.

    ``epochs`` holds one dict per epoch: ``epoch``, ``train_loss`` (mean of
    the batch losses seen during the epoch, weighted by batch size), ``lr``
    (the rate of the epoch's last step), ``seconds`` and, when test data was
    given, ``test_loss`` and ``test_accuracy``. A resumed run's history
    starts with the epochs of the run it resumes.
    """

    epochs: list = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0

    @property
    def train_seconds(self) -> float:
        """Seconds spent in training steps (without the per-epoch test evaluation)."""
        return float(sum(e["seconds"] for e in self.epochs))


@dataclass
class TrainState:
    """Where a run stands after a whole epoch: what :func:`cnn.train` needs to resume it.

    Attributes
    ----------
    epoch : int
        Epochs completed (1 after the first).
    optimizer : str
        The optimiser's name, a key of :data:`cnn.optim.OPTIMIZERS`.
    optimizer_state : dict
        Its :meth:`~cnn.optim.Optimizer.state_dict`: ``"steps"`` (steps taken;
        the schedule is a function of it) and one array per buffer and
        parameter, ``"<buffer>/<param>"`` (SGD: ``velocity/w1``, ...; Adam:
        ``m/w1``, ``v/w1``, ...).
    rng_state : dict
        ``numpy.random.default_rng(seed).bit_generator.state`` after the
        epoch's shuffle: the next epoch's order follows from it.
    history : list of dict
        :attr:`TrainHistory.epochs` so far.
    seconds : float
        Wall-clock seconds of the run so far.
    run : dict
        The arguments that fix the rest of the run (``epochs``, ``batch_size``,
        ``optimizer`` and its hyper-parameters such as ``lr`` and ``momentum``,
        ``schedule``, ``warmup_steps``, ``seed``, ``n_train`` and
        ``data_sha256``, a digest of ``X`` and ``y``): resuming with other
        values would not give the uninterrupted result, so :func:`cnn.train`
        refuses.
    """

    epoch: int
    optimizer: str
    optimizer_state: dict
    rng_state: dict
    history: list
    seconds: float
    run: dict

    @property
    def steps(self) -> int:
        """Optimiser steps taken (``optimizer_state["steps"]``)."""
        return int(self.optimizer_state.get("steps", 0))


def data_digest(X: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of the training data (dtype, shape and bytes of X and y)."""
    h = hashlib.sha256()
    for a in (X, y):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def restore(state: TrainState, run: dict, net, opt: Optimizer, rng) -> TrainHistory:
    """Put ``opt`` and ``rng`` where ``state`` left them; the history so far.

    Refuses (ValueError, TypeError) a state of another run (any value of
    ``run`` differs), of another optimiser, or whose buffers do not fit
    ``net``'s parameters, before anything is changed.
    """
    if not isinstance(state, TrainState):
        raise TypeError(f"resume: got {type(state).__name__}; expected a TrainState "
                        f"(cnn.serialize.load_checkpoint(path).state)")
    # A value that differs says more than one the state lacks: name it first.
    differ = [k for k in run if k in state.run and state.run[k] != run[k]]
    for key in differ + [k for k in run if k not in state.run]:
        what = "the training data differ" if key == "data_sha256" else \
            f"{key}={state.run.get(key)!r} there, {key}={run[key]!r} here"
        raise ValueError(f"resume: the checkpoint comes from a different run ({what}); "
                         f"expected the arguments of the interrupted run, so that the "
                         f"result is the one it would have given")
    if not 0 <= state.epoch <= run["epochs"] or len(state.history) != state.epoch:
        raise ValueError(f"resume: got a state after epoch {state.epoch} with "
                         f"{len(state.history)} history records; expected 0..{run['epochs']} "
                         f"epochs, one record each")
    if state.optimizer != opt.name:
        raise ValueError(f"resume: got the state of the {state.optimizer!r} optimiser; "
                         f"expected one of {opt.name!r}, the optimiser of this run")
    try:
        probe = np.random.Generator(type(rng.bit_generator)())
        probe.bit_generator.state = state.rng_state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"resume: rng_state is not a state of numpy's "
                         f"{type(rng.bit_generator).__name__} ({exc})") from exc
    try:
        opt.load_state_dict(state.optimizer_state, net.params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"resume: {exc}") from exc
    rng.bit_generator.state = state.rng_state
    return TrainHistory(epochs=[dict(e) for e in state.history], steps=opt.steps,
                        seconds=float(state.seconds))
