"""The mini-batch training loop shared by the CLI and the estimator.

One epoch visits every training image once, in an order drawn from
``numpy.random.default_rng(seed)``; each step takes the next ``batch_size``
images (the last batch of an epoch may be smaller), runs
:meth:`~cnn.networks.Network.loss_and_grads` and one :class:`~cnn.optim.SGD`
update. Same network initialisation, same data and same seed give the same
numbers, bit for bit, on the same machine and thread count (across BLAS
thread counts too at the default batch sizes: ``docs/reliability.md``).

Divergence: a non-finite loss or gradient, or an update that would make a
weight non-finite, stops training with :class:`TrainingDivergedError`,
which names the step; the network keeps the weights of the last good step.
A loss that stays finite but grows by orders of magnitude (an epoch's mean
more than 100 times the first step's loss) gets one
:class:`TrainingUnstableWarning` naming the learning rate.

Checkpoints: ``checkpoint=callable`` receives a :class:`TrainState` at the
end of every epoch; ``resume=state`` continues from one. The state holds
everything besides the weights that the rest of the run depends on (the
momentum buffers, the step count that drives the schedule, the shuffling
RNG, the history), so a resumed run ends with the same weights, bit for bit,
as one that was never interrupted (:func:`cnn.serialize.save_checkpoint`
writes it to a file).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import numbers
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._validate import as_array, as_int, check_finite
from .networks.base import _check_fits
from .optim import SGD, make_schedule

__all__ = ["train", "TrainHistory", "TrainState", "TrainingDivergedError",
           "TrainingUnstableWarning"]


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss, gradient or weight.

    Attributes
    ----------
    step, epoch : int
        The global step (from 0) and epoch (from 1) that failed.
    """

    def __init__(self, message: str, *, step: int, epoch: int):
        super().__init__(message)
        self.step, self.epoch = step, epoch


@dataclass
class TrainHistory:
    """What :func:`train` measured.

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
    """Where a run stands after a whole epoch: what :func:`train` needs to resume it.

    Attributes
    ----------
    epoch : int
        Epochs completed (1 after the first).
    steps : int
        SGD steps taken; the learning-rate schedule is a function of it.
    velocity : dict of ndarray
        The momentum buffers $v$ of :class:`cnn.optim.SGD`, one per parameter
        (empty before the first step or without momentum).
    rng_state : dict
        ``numpy.random.default_rng(seed).bit_generator.state`` after the
        epoch's shuffle: the next epoch's order follows from it.
    history : list of dict
        :attr:`TrainHistory.epochs` so far.
    seconds : float
        Wall-clock seconds of the run so far.
    run : dict
        The arguments that fix the rest of the run (``epochs``, ``batch_size``,
        ``lr``, ``momentum``, ``schedule``, ``warmup_steps``, ``seed``,
        ``n_train`` and ``data_sha256``, a digest of ``X`` and ``y``):
        resuming with other values would not give the uninterrupted result,
        so :func:`train` refuses.
    """

    epoch: int
    steps: int
    velocity: dict
    rng_state: dict
    history: list
    seconds: float
    run: dict


def _progress(total: int, desc: str, enabled: bool, initial: int = 0):
    """A tqdm bar on stderr, or a stand-in when tqdm is missing or progress is off."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:   # tqdm is optional: training works without a bar
            pass
        else:
            return tqdm(total=total, initial=initial, desc=desc, file=sys.stderr, unit="step",
                        mininterval=0.5, leave=False, dynamic_ncols=True)

    class _Null:
        def update(self, n=1): pass
        def set_postfix_str(self, s, refresh=True): pass
        def close(self): pass
    return _Null()


def _blas_threads(threads):
    """Enter a BLAS thread limit (a context manager, already entered)."""
    if threads is None:
        return contextlib.nullcontext()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads: got {threads!r}; expected an integer >= 1 or None")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:   # scikit-learn depends on it, but stay usable without
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(threads), user_api="blas")


def _all_finite(grads: dict) -> str | None:
    """Name of the first gradient with a NaN or inf, or None."""
    for name, g in grads.items():
        if not np.isfinite(g).all():
            return name
    return None


# ----------------------------------------------------------------------------- checks

def _positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: got {value!r}; expected an integer >= 1")
    return int(value)


def _real(value, name: str) -> float:
    """A real hyper-parameter such as ``lr`` as a float (range checks are SGD's)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: got {value!r} of type {type(value).__name__}; "
                        f"expected a real number")
    return float(value)


def _check_images(X, net, name: str = "X") -> np.ndarray:
    """``X`` as (N, 1, H, W) or (N, H, W) real, finite images of ``net``'s size, N >= 1
    (not converted: the network casts them to its own dtype)."""
    X = as_array(X, name)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name}: got dtype {X.dtype}; expected real numbers (integers, float32 "
                        f"or float64; the network converts them to its own dtype)")
    if X.ndim not in (3, 4) or (X.ndim == 4 and X.shape[1] != 1):
        raise ValueError(f"{name}: got a {X.ndim}-D array of shape {X.shape}; expected "
                         f"one-channel images (N, 1, H, W) or (N, H, W)")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: got shape {X.shape}, no images; expected at least 1")
    size = getattr(net, "config", {}).get("input_shape")
    if size is not None and tuple(X.shape[-2:]) != tuple(size):
        raise ValueError(f"{name}: got images of {X.shape[-2]}x{X.shape[-1]} ({name}.shape = "
                         f"{X.shape}); expected {size[0]}x{size[1]}, the input_shape of this "
                         f"{net.name} network")
    if X.dtype.kind == "f":
        check_finite(X, name)   # bad data is not a divergence: say so before training
        dtype = getattr(net, "dtype", X.dtype)
        if X.dtype.itemsize > dtype.itemsize:
            _check_fits(X, dtype, name)
    return X


def _check_labels(net, y, n: int, name: str = "y") -> np.ndarray:
    """``y`` (N,) checked against what ``net`` can learn."""
    y = as_array(y, name)
    images = "X_test" if name == "y_test" else "X"
    if y.shape != (n,):
        raise ValueError(f"{name}: got shape {y.shape}; expected ({n},), one label per image "
                         f"of {images}")
    if y.dtype.kind not in "iubf":
        raise TypeError(f"{name}: got dtype {y.dtype}; expected integer class labels")
    network = getattr(net, "name", None)
    if network == "mnist":
        k = int(net.config["n_classes"])
        if y.dtype.kind == "f":
            raise TypeError(f"{name}: got dtype {y.dtype}; expected integer class indices "
                            f"0..{k - 1} for the mnist network")
        bad = (y < 0) | (y >= k)
    elif network == "digits01":
        bad = ~np.isin(y, (0, 1))
    else:
        return y
    if bad.any():
        i = int(np.argmax(bad))
        expected = "0 or 1" if network == "digits01" else f"an integer in [0, {k})"
        raise ValueError(f"{name}: got label {y[i].item()!r} at index {i}; expected {expected} "
                         f"for the {network} network ({int(bad.sum())} label(s) out of range)")
    return y


def _data_digest(X: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of the training data (dtype, shape and bytes of X and y)."""
    h = hashlib.sha256()
    for a in (X, y):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def _restore(state: TrainState, run: dict, net, opt: SGD, rng) -> TrainHistory:
    """Put ``opt`` and ``rng`` where ``state`` left them; the history so far."""
    if not isinstance(state, TrainState):
        raise TypeError(f"resume: got {type(state).__name__}; expected a TrainState "
                        f"(cnn.serialize.load_checkpoint(path).state)")
    for key, value in run.items():
        if state.run.get(key) != value:
            what = "the training data differ" if key == "data_sha256" else \
                f"{key}={state.run.get(key)!r} there, {key}={value!r} here"
            raise ValueError(f"resume: the checkpoint comes from a different run ({what}); "
                             f"expected the arguments of the interrupted run, so that the "
                             f"result is the one it would have given")
    if not 0 <= state.epoch <= run["epochs"] or len(state.history) != state.epoch:
        raise ValueError(f"resume: got a state after epoch {state.epoch} with "
                         f"{len(state.history)} history records; expected 0..{run['epochs']} "
                         f"epochs, one record each")
    for name, v in state.velocity.items():
        p = net.params.get(name)
        if p is None or np.shape(v) != p.shape or np.asarray(v).dtype != p.dtype:
            raise ValueError(f"resume: velocity[{name!r}] has shape {np.shape(v)} and dtype "
                             f"{np.asarray(v).dtype}; expected those of the parameter "
                             f"({None if p is None else (p.shape, p.dtype)})")
    opt.velocity = {k: np.array(v) for k, v in state.velocity.items()}
    opt.steps = int(state.steps)
    try:
        rng.bit_generator.state = state.rng_state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"resume: rng_state is not a state of numpy's "
                         f"{type(rng.bit_generator).__name__} ({exc})") from exc
    return TrainHistory(epochs=[dict(e) for e in state.history], steps=opt.steps,
                        seconds=float(state.seconds))


# ----------------------------------------------------------------------------- the loop

def train(net, X, y, *, epochs: int, batch_size: int, lr: float, momentum: float = 0.0,
          schedule: str = "constant", warmup_steps: int = 0, seed: int = 0,
          X_test=None, y_test=None, progress: bool = False,
          desc: str | None = None, threads: int | None = 1,
          on_epoch=None, checkpoint=None, resume: TrainState | None = None) -> TrainHistory:
    r"""Train ``net`` in place by mini-batch SGD with momentum.

    Parameters
    ----------
    net : cnn.networks.Network
        Updated in place (:class:`~cnn.networks.Digits01Net`,
        :class:`~cnn.networks.MnistNet`; the toy net trains with
        :func:`cnn.toy_net.train`).
    X : ndarray, shape (N, 1, H, W) or (N, H, W)
        Real, finite images; integers and any float dtype are converted to the
        network's dtype by the network.
    y : ndarray, shape (N,)
        Labels: 0/1 for digits01, class indices in ``[0, n_classes)`` for mnist.
    epochs, batch_size : int
        Passes over the data, images per step (>= 1).
    lr, momentum : float
        :class:`cnn.optim.SGD`: $v \leftarrow \mu v + \eta_t g$, $w \leftarrow w - v$.
    schedule : {"constant", "cosine"}
        Learning-rate schedule over all ``epochs * ceil(N / batch_size)`` steps,
        see :func:`cnn.optim.make_schedule`; ``warmup_steps`` for "cosine".
    seed : int
        Seed of the shuffling (>= 0).
    X_test, y_test : optional
        Evaluated after every epoch (loss and accuracy in the history).
    progress : bool
        Show a tqdm progress bar on stderr.
    on_epoch : callable, optional
        Called with each epoch's history record as soon as the epoch ends
        (after ``checkpoint``).
    checkpoint : callable, optional
        Called with a :class:`TrainState` at the end of every epoch, e.g. to
        write it with :func:`cnn.serialize.save_checkpoint`.
    resume : TrainState, optional
        Continue a run from a state its ``checkpoint`` received, with
        ``net`` holding the weights of that moment and the same arguments
        as the interrupted run (checked, including a digest of ``X`` and
        ``y``). The result equals the uninterrupted run's bit for bit.
    threads : int or None
        BLAS threads while training (via ``threadpoolctl``; ``None`` leaves
        the setting alone). The default 1 is deliberate: these matrices are
        small, and on a shared 2-core machine a second OpenBLAS thread spinning
        against other processes made the MNIST step up to 15x slower (110 ms
        against 6-10 ms measured for a batch of 64), never reliably faster.

    Returns
    -------
    TrainHistory

    Raises
    ------
    TypeError, ValueError
        For bad arguments, before any step: non-real, non-finite or empty
        ``X``, labels of the wrong length or out of range, bad
        hyper-parameters, a ``resume`` state from a different run.
    TrainingDivergedError
        On a non-finite loss, gradient or update; ``net`` keeps the last good weights.
    """
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    warmup_steps = as_int(warmup_steps, "warmup_steps", minimum=0)
    lr, momentum = _real(lr, "lr"), _real(momentum, "momentum")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: got {seed!r}; expected an integer >= 0")
    if getattr(net, "name", None) == "toy":
        raise TypeError("net: got the toy net; it trains per sample with cnn.toy_net.train "
                        "(or `cnn train toy`), not with cnn.training.train")
    X = _check_images(X, net)
    n = len(X)
    y = _check_labels(net, y, n)
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test: got only one of them; expected both or neither")
    if X_test is not None:
        X_test = _check_images(X_test, net, "X_test")
        y_test = _check_labels(net, y_test, len(X_test), "y_test")
    steps_per_epoch = -(-n // batch_size)
    total = epochs * steps_per_epoch
    opt = SGD(lr, momentum, make_schedule(schedule, total, warmup_steps))
    rng = np.random.default_rng(int(seed))
    run = None
    if checkpoint is not None or resume is not None:
        run = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "momentum": momentum,
               "schedule": schedule, "warmup_steps": int(warmup_steps), "seed": int(seed),
               "n_train": n, "data_sha256": _data_digest(X, y)}
    history = _restore(resume, run, net, opt, rng) if resume is not None else TrainHistory()
    first = len(history.epochs) + 1
    start = time.perf_counter() - history.seconds
    bar = _progress(total, desc or f"train {getattr(net, 'name', '')}", progress,
                    initial=opt.steps)
    limits = _blas_threads(threads)
    first_loss, warned = None, False     # the first step's loss; the growth warning given
    try:
        for epoch in range(first, epochs + 1):
            t0 = time.perf_counter()
            order = rng.permutation(n)
            loss_sum = 0.0
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                loss = _step(net, opt, X[idx], y[idx], epoch)
                if first_loss is None:
                    first_loss = loss
                loss_sum += loss * len(idx)
                bar.update()
                if opt.steps % 50 == 0:
                    bar.set_postfix_str(f"epoch {epoch} loss {loss_sum / (i + len(idx)):.4f}",
                                        refresh=False)
            warned = warned or _warn_if_growing(first_loss, loss_sum / n, epoch, lr)
            record = {"epoch": epoch, "train_loss": loss_sum / n,
                      "lr": opt.lr * opt.schedule(opt.steps - 1),
                      "seconds": time.perf_counter() - t0}
            if X_test is not None:
                record.update({f"test_{k}": v for k, v in net.evaluate(X_test, y_test).items()})
            history.epochs.append(record)
            if checkpoint is not None:
                checkpoint(TrainState(
                    epoch=epoch, steps=opt.steps,
                    velocity={k: v.copy() for k, v in opt.velocity.items()},
                    rng_state=rng.bit_generator.state, history=[dict(e) for e in history.epochs],
                    seconds=time.perf_counter() - start, run=dict(run)))
            if on_epoch is not None:
                on_epoch(record)
    finally:
        limits.__exit__(None, None, None)
        bar.close()
        history.steps = opt.steps
        history.seconds = time.perf_counter() - start
    return history


class TrainingUnstableWarning(RuntimeWarning):
    """The training loss grew by orders of magnitude: the learning rate is probably too large."""


#: An epoch's mean loss this many times the first step's loss is worth a warning.
GROWTH_WARNING = 100.0


def _warn_if_growing(first: float, mean: float, epoch: int, lr: float) -> bool:
    """Warn when an epoch's mean loss exceeds ``GROWTH_WARNING`` x the first step's; True if so."""
    if not mean > GROWTH_WARNING * max(first, 1e-12):
        return False
    warnings.warn(TrainingUnstableWarning(
        f"the training loss grew from {first:.4g} (first step) to {mean:.4g} (mean of epoch "
        f"{epoch}): the learning rate lr={lr:g} is probably too large; try a smaller one "
        f"(e.g. lr={lr / 10:g})"), stacklevel=3)
    return True


def _step(net, opt, xb, yb, epoch) -> float:
    """One forward/backward/update; returns the batch loss."""
    step = opt.steps
    where = f"at step {step} (epoch {epoch})"
    try:
        # An overflow here is reported below as a divergence naming the step;
        # NumPy's own RuntimeWarning would only say less, earlier.
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grads, _ = net.loss_and_grads(xb, yb)
    except (ValueError, FloatingPointError) as exc:
        # The inputs were checked finite before the first step and the weights
        # are finite after every good step, so a "non-finite" ValueError from a
        # layer means an intermediate value overflowed.
        if "non-finite" not in str(exc) and not isinstance(exc, FloatingPointError):
            raise
        raise TrainingDivergedError(f"training diverged {where}: a forward/backward value "
                                    f"became non-finite ({exc}); the network keeps the weights "
                                    f"of the last good step. Try a smaller learning rate.",
                                    step=step, epoch=epoch) from exc
    loss = float(loss)
    if not math.isfinite(loss):
        raise TrainingDivergedError(f"training diverged {where}: the loss is {loss}; the "
                                    f"network keeps the weights of the last good step. Try a "
                                    f"smaller learning rate.", step=step, epoch=epoch)
    bad = _all_finite(grads)
    if bad is not None:
        raise TrainingDivergedError(f"training diverged {where}: the gradient of {bad!r} is "
                                    f"not finite; the network keeps the weights of the last good "
                                    f"step. Try a smaller learning rate.", step=step, epoch=epoch)
    try:
        opt.step(net.params, grads)
    except FloatingPointError as exc:
        raise TrainingDivergedError(f"training diverged {where}: {exc}; the network keeps the "
                                    f"weights of the last good step. Try a smaller learning "
                                    f"rate.", step=step, epoch=epoch) from exc
    return loss
