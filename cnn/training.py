"""The mini-batch training loop shared by the CLI and the estimator.

One epoch visits every training image once, in an order drawn from
``numpy.random.default_rng(seed)``; each step takes the next ``batch_size``
images (the last batch of an epoch may be smaller), runs
:meth:`~cnn.networks.Network.loss_and_grads` and one :class:`~cnn.optim.SGD`
update. Same network initialisation, same data and same seed give the same
numbers, bit for bit, on the same machine and thread count.

Divergence: a non-finite loss or gradient, or an update that would make a
weight non-finite, stops training with :class:`TrainingDivergedError`,
which names the step; the network keeps the weights of the last good step.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .optim import SGD, make_schedule

__all__ = ["train", "TrainHistory", "TrainingDivergedError"]


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
    given, ``test_loss`` and ``test_accuracy``.
    """

    epochs: list = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0

    @property
    def train_seconds(self) -> float:
        """Seconds spent in training steps (without the per-epoch test evaluation)."""
        return float(sum(e["seconds"] for e in self.epochs))


def _progress(total: int, desc: str, enabled: bool):
    """A tqdm bar on stderr, or a stand-in when tqdm is missing or progress is off."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:   # tqdm is optional: training works without a bar
            pass
        else:
            return tqdm(total=total, desc=desc, file=sys.stderr, unit="step",
                        mininterval=0.5, leave=False, dynamic_ncols=True)

    class _Null:
        def update(self, n=1): pass
        def set_postfix_str(self, s, refresh=True): pass
        def close(self): pass
    return _Null()


def _blas_threads(threads):
    """Enter a BLAS thread limit (a context manager, already entered)."""
    import contextlib
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


def train(net, X, y, *, epochs: int, batch_size: int, lr: float, momentum: float = 0.0,
          schedule: str = "constant", warmup_steps: int = 0, seed: int = 0,
          X_test=None, y_test=None, progress: bool = False,
          desc: str | None = None, threads: int | None = 1,
          on_epoch=None) -> TrainHistory:
    r"""Train ``net`` in place by mini-batch SGD with momentum.

    Parameters
    ----------
    net : cnn.networks.Network
        Updated in place.
    X : ndarray, shape (N, 1, H, W)
    y : ndarray, shape (N,)
    epochs, batch_size : int
        Passes over the data, images per step (>= 1).
    lr, momentum : float
        :class:`cnn.optim.SGD`: $v \leftarrow \mu v + \eta_t g$, $w \leftarrow w - v$.
    schedule : {"constant", "cosine"}
        Learning-rate schedule over all ``epochs * ceil(N / batch_size)`` steps,
        see :func:`cnn.optim.make_schedule`; ``warmup_steps`` for "cosine".
    seed : int
        Seed of the shuffling.
    X_test, y_test : optional
        Evaluated after every epoch (loss and accuracy in the history).
    progress : bool
        Show a tqdm progress bar on stderr.
    on_epoch : callable, optional
        Called with each epoch's history record as soon as the epoch ends.
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
    TrainingDivergedError
        On a non-finite loss, gradient or update; ``net`` keeps the last good weights.
    """
    for value, name in ((epochs, "epochs"), (batch_size, "batch_size")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: got {value!r}; expected an integer >= 1")
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X and y: got {len(X)} images and {len(y)} labels; expected the "
                         f"same number, at least 1")
    n = len(X)
    steps_per_epoch = -(-n // batch_size)
    total = epochs * steps_per_epoch
    opt = SGD(lr, momentum, make_schedule(schedule, total, warmup_steps))
    rng = np.random.default_rng(seed)
    history = TrainHistory()
    start = time.perf_counter()
    bar = _progress(total, desc or f"train {getattr(net, 'name', '')}", progress)
    limits = _blas_threads(threads)
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = rng.permutation(n)
            loss_sum = 0.0
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                loss_sum += _step(net, opt, X[idx], y[idx], epoch) * len(idx)
                bar.update()
                if opt.steps % 50 == 0:
                    bar.set_postfix_str(f"epoch {epoch} loss {loss_sum / (i + len(idx)):.4f}",
                                        refresh=False)
            record = {"epoch": epoch, "train_loss": loss_sum / n,
                      "lr": opt.lr * opt.schedule(opt.steps - 1),
                      "seconds": time.perf_counter() - t0}
            if X_test is not None:
                record.update({f"test_{k}": v for k, v in net.evaluate(X_test, y_test).items()})
            history.epochs.append(record)
            if on_epoch is not None:
                on_epoch(record)
    finally:
        limits.__exit__(None, None, None)
        bar.close()
        history.steps = opt.steps
        history.seconds = time.perf_counter() - start
    return history


def _step(net, opt, xb, yb, epoch) -> float:
    """One forward/backward/update; returns the batch loss."""
    step = opt.steps
    where = f"at step {step} (epoch {epoch})"
    try:
        loss, grads, _ = net.loss_and_grads(xb, yb)
    except (ValueError, FloatingPointError) as exc:
        # The layers reject non-finite arrays with a ValueError; with finite
        # weights and inputs that means an intermediate overflowed.
        if "non-finite" not in str(exc) and not isinstance(exc, FloatingPointError):
            raise
        raise TrainingDivergedError(f"training diverged {where}: a forward/backward value "
                                    f"became non-finite ({exc}); the network keeps the weights "
                                    f"of the last good step. Try a smaller learning rate.",
                                    step=step, epoch=epoch) from exc
    loss = float(loss)
    if not np.isfinite(loss):
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
