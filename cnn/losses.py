r"""Losses, each returning the batch-mean loss and its gradient in one call.

Both losses average over the batch (the first axis), so their gradients
carry a factor $1/N$. The seed 003 deltas (``delta_2 = final_fc - y``, no
$1/N$) belong to the batch *sum* of the cross-entropy; multiply by $N$ to
compare.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_array, as_float, check_same_shape, checked, common_dtype

__all__ = ["softmax_cross_entropy", "l2_loss"]


@checked("softmax_cross_entropy", ("loss", "dlogits"), widen=("logits",))
def softmax_cross_entropy(logits, labels):
    r"""Softmax followed by cross-entropy, averaged over the batch.

    With $p = \mathrm{softmax}(z)$ row by row and $t_n$ the class of row $n$:

    $$L = -\frac1N \sum_n \log p[n, t_n]
        = \frac1N \sum_n \Big(\log\sum_k e^{z[n,k]} - z[n, t_n]\Big),$$

    $$\frac{\partial L}{\partial z[n,k]} = \frac{p[n,k] - [k = t_n]}{N}.$$

    The gradient $p - y$ uses $\sum_k y[n,k] = 1$, which one-hot labels satisfy.

    Stability: $\log p$ is computed as $z - \max z - \log\sum e^{z - \max z}$
    (log-sum-exp, the last term as ``log1p`` of the non-top classes' share),
    so logits of any finite size give a finite loss, and a probability that
    underflows to 0 (the $\log 0$ of seed 003) gives a large but finite
    $-\log p$ instead of inf. Loss and gradient stay accurate to a few units
    in the last place even when $p$ is within $10^{-12}$ of 1.

    Parameters
    ----------
    logits : array_like, shape (N, K)
        Unnormalised scores $z$.
    labels : array_like of int, shape (N,)
        Class indices in ``0 .. K-1`` (not one-hot).

    Returns
    -------
    loss : numpy scalar
        The batch mean, in the dtype of ``logits`` (float32 stays float32).
    dlogits : ndarray, shape (N, K)
        $\partial L / \partial z = (p - \mathrm{onehot}(t)) / N$.
    """
    z = as_float(logits, "logits", ndim=2, axes="(N, K)")
    N, K = z.shape
    t = as_array(labels, "labels")
    if t.dtype.kind not in "iu":
        raise TypeError(f"labels: got dtype {t.dtype}; expected integer class indices "
                        f"(not one-hot rows, not floats)")
    if t.shape != (N,):
        raise ValueError(f"labels: got shape {t.shape}; expected ({N},), one class index "
                         f"per row of logits (logits.shape = {z.shape})")
    if t.min() < 0 or t.max() >= K:
        bad = t[(t < 0) | (t >= K)][0]
        raise ValueError(f"labels: got class index {bad}; expected indices in "
                         f"0..{K - 1} for logits with {K} columns")
    return _softmax_cross_entropy(z, t)


def _softmax_cross_entropy(z: np.ndarray, t: np.ndarray):
    """Unchecked kernel of :func:`softmax_cross_entropy`: ``z`` (N, K) a validated float
    array, ``t`` (N,) integer labels in 0..K-1. The networks train with it."""
    N = len(z)
    rows = np.arange(N)
    shifted = z - z.max(axis=1, keepdims=True)         # max is 0: exp cannot overflow
    e = np.exp(shifted)
    # log sum_k e^shifted = log(1 + rest), rest = the other classes' share. log1p
    # keeps the loss accurate to the last digits when rest is tiny (p near 1).
    top = shifted.argmax(axis=1)
    e[rows, top] = 0
    rest = e.sum(axis=1)
    e[rows, top] = 1
    loss = np.mean(np.log1p(rest) - shifted[rows, t])
    dlogits = e / (1 + rest)[:, None]                  # softmax p
    dlogits[rows, t] -= 1
    # Where the label is the top class, p - 1 = 1/(1 + rest) - 1 would cancel
    # to 0 for tiny rest; -rest/(1 + rest) is the same number, kept accurate.
    hit = t == top
    dlogits[rows[hit], t[hit]] = -rest[hit] / (1 + rest[hit])
    dlogits /= N
    return loss, dlogits


@checked("l2_loss", ("loss", "doutput"), widen=("output", "target"))
def l2_loss(output, target):
    r"""Half squared error, summed over each example and averaged over the batch.

    $$L = \frac1N \sum_n \tfrac12 \sum_{k} (o[n,k] - y[n,k])^2,\qquad
      \frac{\partial L}{\partial o} = \frac{o - y}{N},$$

    where $k$ runs over every non-batch axis. For one example ($N = 1$) this is
    the seeds' cost $\tfrac12 (o - y)^2$.

    Parameters
    ----------
    output : array_like, shape (N, ...)
    target : array_like, same shape as ``output``

    Returns
    -------
    loss : numpy scalar
        In the common float dtype of the inputs.
    doutput : ndarray, shape of ``output``
    """
    o = as_float(output, "output", min_ndim=1)
    y = as_float(target, "target", min_ndim=1)
    check_same_shape(o, "output", y, "target")
    dtype = common_dtype(o, y)
    diff = o.astype(dtype, copy=False) - y.astype(dtype, copy=False)
    N = diff.shape[0]
    loss = 0.5 * np.sum(diff * diff) / N
    return dtype.type(loss), diff / N
