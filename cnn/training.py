"""The mini-batch training loop shared by the CLI and the estimator.

One epoch visits every training image once, in an order drawn from
``numpy.random.default_rng(seed)``; each step takes the next ``batch_size``
images (the last batch of an epoch may be smaller), runs
:meth:`~cnn.networks.Network.loss_and_grads` and one update of the optimiser
(:class:`~cnn.optim.SGD` by default, :class:`~cnn.optim.Adam`, or any
:class:`~cnn.optim.Optimizer`). Same network initialisation, same data and same seed give the same
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
optimiser's ``state_dict()``: its buffers and the step count that drives the
schedule; the shuffling RNG; the history: :mod:`cnn.train_state`), so a
resumed run ends with the same weights, bit for bit, as one that was never
interrupted (:func:`cnn.serialize.save_checkpoint` writes it to a file).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings

import numpy as np

from ._validate import as_array, as_int, as_real, check_finite, check_fits, check_real
from .optim import OPTIMIZERS, Optimizer, make_optimizer, make_schedule
from .train_state import TrainHistory, TrainState, data_digest, restore

__all__ = ["train", "train_step", "TrainHistory", "TrainState", "TrainingDivergedError",
           "TrainingUnstableWarning"]   # TrainHistory, TrainState: from cnn.train_state


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
    threads = as_int(threads, "threads", minimum=1)
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

def _check_images(X, net, name: str = "X") -> np.ndarray:
    """``X`` as (N, 1, H, W) or (N, H, W) real, finite images of ``net``'s size, N >= 1
    (not converted: the network casts them to its own dtype)."""
    X = as_array(X, name)
    check_real(X, name)
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
            check_fits(X, dtype, name)
    return X


def _optimizer(optimizer, lr, momentum, schedule: str, warmup_steps: int, total: int):
    """The run's :class:`~cnn.optim.Optimizer`: ``optimizer`` itself, or the one of that name."""
    if isinstance(optimizer, Optimizer):
        given = [k for k, v in (("lr", lr), ("momentum", momentum)) if v is not None]
        if given or schedule != "constant" or warmup_steps:
            raise ValueError(f"optimizer: got an {type(optimizer).__name__} instance together "
                             f"with {', '.join(given) or 'schedule/warmup_steps'}; expected "
                             f"either an optimiser (which has its own rate and schedule) or "
                             f"a name with lr, momentum and schedule")
        return optimizer
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: got {optimizer!r}; expected one of {tuple(OPTIMIZERS)} "
                         f"or a cnn.optim.Optimizer")
    if lr is None:
        raise TypeError("lr: missing; expected the base learning rate of the "
                        f"{optimizer} optimiser")
    lr = as_real(lr, "lr")
    momentum = None if momentum is None else as_real(momentum, "momentum")
    return make_optimizer(optimizer, lr=lr, momentum=momentum,
                          schedule=make_schedule(schedule, total, warmup_steps))


# ----------------------------------------------------------------------------- the loop

def train(net, X, y, *, epochs: int, batch_size: int, optimizer="sgd", lr: float | None = None,
          momentum: float | None = None, schedule: str = "constant", warmup_steps: int = 0,
          seed: int = 0, X_test=None, y_test=None, progress: bool = False,
          desc: str | None = None, threads: int | None = 1,
          on_epoch=None, checkpoint=None, resume: TrainState | None = None) -> TrainHistory:
    r"""Train ``net`` in place by mini-batch gradient descent.

    Parameters
    ----------
    net : cnn.networks.Network
        Updated in place (:class:`~cnn.networks.Digits01Net`,
        :class:`~cnn.networks.MnistNet`; the toy net trains with
        :func:`cnn.toy_net.train`).
    X : ndarray, shape (N, 1, H, W) or (N, H, W)
        Real, finite images (float32, float64 or integers, as the layers take:
        float16 is refused); the network converts them to its dtype.
    y : ndarray, shape (N,)
        Labels, checked by ``net.check_labels``: 0/1 for digits01, class
        indices in ``[0, n_classes)`` for mnist.
    epochs, batch_size : int
        Passes over the data, images per step (>= 1).
    optimizer : str or cnn.optim.Optimizer
        A name of :data:`cnn.optim.OPTIMIZERS` (``"sgd"``, ``"adam"``), built
        with ``lr``, ``momentum`` and the schedule; or an optimiser object,
        which brings its own (then leave ``lr``, ``momentum`` and ``schedule``
        unset).
    lr, momentum : float
        Base learning rate (required with a name) and momentum: SGD's
        $v \leftarrow \mu v + \eta_t g$, $w \leftarrow w - v$ (default 0);
        Adam's $\beta_1$ (default 0.9). See :func:`cnn.optim.make_optimizer`.
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
        ``y`` and the optimiser's hyper-parameters; an optimiser object's
        own schedule is not checked). The result equals the uninterrupted
        run's bit for bit.
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
    epochs = as_int(epochs, "epochs", minimum=1)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    warmup_steps = as_int(warmup_steps, "warmup_steps", minimum=0)
    seed = as_int(seed, "seed", minimum=0)
    if getattr(net, "trained_by", None):
        raise TypeError(f"net: got the {net.name} net; it trains {net.trained_by}, not with "
                        f"cnn.training.train")
    X = _check_images(X, net)
    n = len(X)
    y = net.check_labels(y, n, images="X")
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test: got only one of them; expected both or neither")
    if X_test is not None:
        X_test = _check_images(X_test, net, "X_test")
        y_test = net.check_labels(y_test, len(X_test), "y_test", images="X_test")
    total = epochs * -(-n // batch_size)
    opt = _optimizer(optimizer, lr, momentum, schedule, warmup_steps, total)
    rng = np.random.default_rng(seed)
    run = None
    if checkpoint is not None or resume is not None:
        run = {"epochs": epochs, "batch_size": batch_size, "optimizer": opt.name,
               **opt.hyperparameters(), "schedule": schedule, "warmup_steps": warmup_steps,
               "seed": seed, "n_train": n, "data_sha256": data_digest(X, y)}
    history = restore(resume, run, net, opt, rng) if resume is not None else TrainHistory()
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
                loss = train_step(net, opt, X[idx], y[idx], epoch)
                if first_loss is None:
                    first_loss = loss
                loss_sum += loss * len(idx)
                bar.update()
                if opt.steps % 50 == 0:
                    bar.set_postfix_str(f"epoch {epoch} loss {loss_sum / (i + len(idx)):.4f}",
                                        refresh=False)
            warned = warned or _warn_if_growing(first_loss, loss_sum / n, epoch, opt.lr)
            record = {"epoch": epoch, "train_loss": loss_sum / n,
                      "lr": opt.lr_at(opt.steps - 1), "seconds": time.perf_counter() - t0}
            if X_test is not None:
                record.update({f"test_{k}": v for k, v in net.evaluate(X_test, y_test).items()})
            history.epochs.append(record)
            if checkpoint is not None:
                checkpoint(TrainState(
                    epoch=epoch, optimizer=opt.name, optimizer_state=opt.state_dict(),
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


def train_step(net, opt, xb, yb, epoch: int = 1) -> float:
    """One step of :func:`train`: forward, backward and ``opt``'s update; the batch loss.

    ``xb`` (B, 1, H, W) and ``yb`` (B,) are one batch, already checked by
    :func:`train`. A non-finite loss, gradient or update raises
    :class:`TrainingDivergedError` naming the step (``opt.steps``) and
    ``epoch``, before any weight changes. The benchmark times this function.
    """
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
