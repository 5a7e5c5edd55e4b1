r"""The MNIST network of seed 003 written with the public layer functions, as a user writes it.

One definition, shared by the tests (:class:`cnn.MnistNet` must give the same
numbers), the benchmark (the "public API" step) and the loop study (the same
chain with the loop layers of :mod:`cnn.reference`)::

    z = conv2d(x, K, c)          a = relu(z)        p = max_pool2d(a)
    f = flatten(p)               h = relu(f W1 + b1)
    s = h W2 + b2                L = softmax_cross_entropy(s, y)

and back through each layer's backward function in reverse order. The
convolution and the pooling hand their backward passes what their forward
passes computed (``cache=``), and the first convolution's backward pass is
called with ``need_dx=False``: nothing needs the gradient with respect to
the images.
"""

from __future__ import annotations

import functools
import inspect
from types import SimpleNamespace

from ..activations import relu
from ..conv import conv2d, conv2d_backward
from ..dense import dense, dense_backward
from ..losses import softmax_cross_entropy
from ..pooling import max_pool2d, max_pool2d_backward

__all__ = ["LIBRARY", "composed_loss_and_grads"]

#: The layer functions :func:`composed_loss_and_grads` calls by default: the public API.
LIBRARY = SimpleNamespace(
    conv2d=conv2d, conv2d_backward=conv2d_backward,
    max_pool2d=max_pool2d, max_pool2d_backward=max_pool2d_backward,
    dense=dense, dense_backward=dense_backward, softmax_cross_entropy=softmax_cross_entropy)


@functools.lru_cache(maxsize=16)
def _takes_cache(fn) -> bool:
    return "cache" in inspect.signature(fn).parameters


def _cache(fn) -> dict:
    """``{"cache": {}}`` for a layer function that takes a cache (the library's), else
    ``{}`` (e.g. the loop layers of :mod:`cnn.reference`)."""
    return {"cache": {}} if _takes_cache(fn) else {}


def composed_loss_and_grads(params: dict, x, y, *, pool: int = 2, layers=LIBRARY):
    r"""Loss, gradients and logits of the seed-003 MNIST network, one public call per layer.

    $z = \mathrm{conv}(x, K) + c$, $a = \mathrm{ReLU}(z)$, $p = \mathrm{maxpool}(a)$
    (``pool`` x ``pool``, stride ``pool``), $f = \mathrm{flatten}(p)$,
    $h = \mathrm{ReLU}(f W_1 + b_1)$, $s = h W_2 + b_2$,
    $L = -\frac1N \sum_n \log \mathrm{softmax}(s_n)[y_n]$; then the chain rule
    backwards, layer by layer.

    Parameters
    ----------
    params : dict
        ``conv_w`` (F, 1, kh, kw), ``conv_b`` (F,), ``w1`` (D, hidden),
        ``b1`` (hidden,), ``w2`` (hidden, K), ``b2`` (K,): the layout of
        :attr:`cnn.MnistNet.params`.
    x : ndarray, shape (N, 1, H, W)
        Images, already standardised (this function does no input scaling).
    y : ndarray of int, shape (N,)
        Class indices.
    pool : int, keyword-only
        Pool window and stride (:attr:`cnn.MnistNet.pool`).
    layers : namespace, keyword-only
        Where ``conv2d``, ``conv2d_backward``, ``max_pool2d``,
        ``max_pool2d_backward``, ``dense``, ``dense_backward`` and
        ``softmax_cross_entropy`` come from: :data:`LIBRARY` (the public API)
        or e.g. :mod:`cnn.reference` (the loops). ``conv2d_backward`` must
        accept ``need_dx``; ``cache`` is passed to the conv and pooling
        functions whose signatures have it.

    Returns
    -------
    loss : numpy scalar
    grads : dict
        Same keys and shapes as ``params``.
    logits : ndarray, shape (N, K)
    """
    p = params
    conv, pooling = _cache(layers.conv2d), _cache(layers.max_pool2d)   # forward -> backward
    z = layers.conv2d(x, p["conv_w"], p["conv_b"], **conv)
    a = relu(z)
    pooled = layers.max_pool2d(a, size=pool, stride=pool, **pooling)
    f = pooled.reshape(len(pooled), -1)
    z1 = layers.dense(f, p["w1"], p["b1"])
    h = relu(z1)
    logits = layers.dense(h, p["w2"], p["b2"])
    loss, dlogits = layers.softmax_cross_entropy(logits, y)
    g = {}
    dh, g["w2"], g["b2"] = layers.dense_backward(dlogits, h, p["w2"])
    df, g["w1"], g["b1"] = layers.dense_backward(relu.backward(dh, z1), f, p["w1"])
    da = layers.max_pool2d_backward(df.reshape(pooled.shape), a, size=pool, stride=pool,
                                    **pooling)
    _, g["conv_w"], g["conv_b"] = layers.conv2d_backward(relu.backward(da, z), x, p["conv_w"],
                                                         need_dx=False, **conv)
    return loss, {k: g[k] for k in p}, logits
