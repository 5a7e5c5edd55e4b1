"""N4, the MNIST CNN of seed 003, as a composition of the library's layer kernels."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._conv_pool import conv_pool_relu, conv_pool_relu_backward
from .._flat import views
from .._validate import check_finite
from ..activations import relu_derivative_kernel, relu_kernel
# The layers' unchecked kernels (cnn.dense and cnn.conv name the public functions).
from ..conv import _geometry
from ..dense import _backward as dense_backward
from ..dense import _forward as dense_forward
from ..losses import _softmax_cross_entropy, softmax_cross_entropy
from .base import Network, _check_param_count, _dtype_name, _positive_int, _shape2, softmax


class _Cache(NamedTuple):
    """What :meth:`MnistNet.forward` computed, for :meth:`MnistNet.backward`."""
    x: np.ndarray            # standardised images (N, 1, H, W)
    conv: dict               # the conv layer's cache (its rows)
    pool: tuple              # what conv_pool_relu keeps: the conv output, its window maxima
    pooled_shape: tuple      # (N, F, PH, PW)
    f: np.ndarray            # flattened ReLU(maxpool(z)) (N, F*PH*PW)
    z1: np.ndarray           # first dense layer's pre-activation (N, hidden)
    h: np.ndarray            # ReLU(z1)
    logits: np.ndarray       # (N, K)

    @property
    def m(self) -> np.ndarray:
        """The conv output's window maxima (N, F, PH, PW), whatever layout ``pool`` has."""
        m = self.pool[1]
        if m.ndim == 5:                      # (n, I, block, f, J'): cnn._conv_pool's layout
            m = m.transpose(0, 3, 1, 2, 4).reshape(m.shape[0], m.shape[3], m.shape[1], -1)
        return m[..., :self.pooled_shape[3]]


class MnistNet(Network):
    r"""N4, the batched MNIST CNN of seed 003, in row layout (one image per row).

    | step | operation | output (28x28 input) |
    |---|---|---|
    | 1 | $z = \mathrm{conv}(\hat x, K) + c$, $F$ kernels $k \times k$, no padding | (N, 2, 24, 24) |
    | 2 | $a = \mathrm{ReLU}(z)$; $p = \mathrm{pool}(a)$, 2x2 stride 2 | (N, 2, 12, 12) |
    | 3 | $f = \mathrm{flatten}(p)$ | (N, 288) |
    | 4 | $h = \mathrm{ReLU}(f W_1 + b_1)$ | (N, 60) |
    | 5 | $s = h W_2 + b_2$, logits | (N, 10) |

    Cost: softmax cross-entropy averaged over the batch,
    $L = -\frac1N\sum_n \log \mathrm{softmax}(s_n)[t_n]$ (:func:`cnn.softmax_cross_entropy`).
    Seed 003 writes the dense layers in column layout ($W_1 x + B_0$ with
    $W_1$ 60 x 288); here $W_1$ is its transpose, 288 x 60.

    The architecture adapts to other input sizes: the kernel is clipped to
    the image ($\min(k, H) \times \min(k, W)$), the pool window to the conv
    output ($\min(2, O_H, O_W)$), and the first dense layer takes whatever
    the flattened pool output holds (on 8x8 images: conv 4x4, pool 2x2, so
    8 features; :class:`cnn.CNNClassifier` relies on this for any image
    shape). For sklearn's 8x8 digits the CLI instead keeps this exact
    288 -> 60 -> 10 network and enlarges the digits onto a 28x28 canvas
    (:func:`cnn.data.to_mnist_canvas`), which measured 98% test accuracy
    against 90% for the shrunk 8-feature network.

    Initialisation (He et al.): $K \sim \mathcal N(0, 2/k^2)$,
    $W_1 \sim \mathcal N(0, 2/D)$, $W_2 \sim \mathcal N(0, 1/60)$, biases 0.

    How the step is computed: a composition of the library's layer kernels
    (the functions behind :func:`cnn.conv2d`, :func:`cnn.max_pool2d_relu`,
    :func:`cnn.dense`, :data:`cnn.relu` and :func:`cnn.softmax_cross_entropy`,
    and their backward passes), called without re-validating what the
    previous layer returned; the same numbers as composing the public
    functions (:func:`cnn.networks.composed.composed_loss_and_grads`), which
    the tests check. The fast algorithms live in those layers:

    * the convolution is the banded GEMM :func:`cnn.conv2d` picks for one
      input channel (see :mod:`cnn.conv`), its rows reused from forward in
      backward (the layer's cache); the backward pass skips
      $\partial L/\partial x$;
    * pooling comes before ReLU (:func:`cnn.max_pool2d_relu`, which states
      why the two orders give the same values and the same gradient routing,
      ties included), so ReLU acts on the 4x smaller pool output;
    * between the two, the conv output is laid out by pool-window offset
      instead of NCHW (:mod:`cnn._conv_pool`, the same functions on the same
      numbers, bit for bit), so pooling and its routing run over contiguous
      blocks (conv + pool, forward and backward: 670 -> 625 us);
    * the loss is :func:`cnn.softmax_cross_entropy` itself (its kernel), so
      training and :meth:`evaluate` compute the same loss; the update is the
      optimiser's (:class:`cnn.optim.SGD`), called by :func:`cnn.train`;
    * the parameters, and the gradients :meth:`loss_and_grads` returns, are
      views of one flat array each (``params`` stays a dict of arrays), so the
      optimiser updates them with one set of NumPy calls (:mod:`cnn._flat`:
      ``SGD.step`` 60 -> 15 us, the same numbers).

    :meth:`forward` returns a cache of its own (valid whatever runs later);
    :meth:`loss_and_grads` returns fresh arrays. The conv's multi-MB row
    buffer is reused from one step to the next by the layer itself, once
    nothing holds it (see :mod:`cnn._conv_banded`).

    Parameters
    ----------
    input_shape : (int, int)
        (H, W): (28, 28) for MNIST, (8, 8) for sklearn digits.
    n_filters, kernel_size, hidden, n_classes : int
        $F$ = 2, $k$ = 5, 60 and 10 in the seed.
    dtype : {"float32", "float64"}
    seed : int
        Seed of the weight initialisation.
    """

    name = "mnist"

    def __init__(self, input_shape=(28, 28), n_filters: int = 2, kernel_size: int = 5,
                 hidden: int = 60, n_classes: int = 10, dtype: str = "float32", seed: int = 0):
        H, W = _shape2(input_shape, "input_shape")
        F = _positive_int(n_filters, "n_filters")
        k = _positive_int(kernel_size, "kernel_size")
        hidden = _positive_int(hidden, "hidden")
        K = _positive_int(n_classes, "n_classes")
        dtype = _dtype_name(dtype)
        self.config = {"input_shape": [H, W], "n_filters": F, "kernel_size": k,
                       "hidden": hidden, "n_classes": K, "dtype": dtype, "seed": int(seed),
                       "input_mean": 0.0, "input_std": 1.0}
        kh, kw = min(k, H), min(k, W)
        oh, ow = H - kh + 1, W - kw + 1
        self.pool = min(2, oh, ow)
        n_flat = F * (oh // self.pool) * (ow // self.pool)
        _check_param_count({"conv": (F, kh * kw + 1), "dense1": (n_flat + 1, hidden),
                            "dense2": (hidden + 1, K)}, "mnist network")
        rng = np.random.default_rng(seed)

        def normal(shape, var):
            return (rng.standard_normal(shape) * math.sqrt(var)).astype(dtype)

        self.params = {
            "conv_w": normal((F, 1, kh, kw), 2.0 / (kh * kw)),
            "conv_b": np.zeros(F, dtype),
            "w1": normal((n_flat, hidden), 2.0 / n_flat),
            "b1": np.zeros(hidden, dtype),
            "w2": normal((hidden, K), 1.0 / hidden),
            "b2": np.zeros(K, dtype),
        }
        self._shapes = {k: v.shape for k, v in self.params.items()}
        self._packed: dict = {}
        self._pack()

    # -- parameters and gradients as views of one flat array ------------------------------
    # An optimiser updates such parameters with one set of NumPy calls instead of a
    # few per parameter (cnn._flat): SGD.step measured 60 -> 15 us at the seed's
    # network (batch 64, float32, one thread), the same numbers. net.params stays a
    # dict of arrays; a pickle or a copy holds them as separate arrays, repacked at
    # the next pass.

    def _pack(self) -> None:
        """Make ``self.params`` views of one flat array again if an entry was replaced
        (by :meth:`set_params`, a resume, a user); their values are kept."""
        if self._packed and all(self.params[k] is v for k, v in self._packed.items()):
            return
        names = list(self._shapes)
        flat = np.concatenate([np.asarray(self.params[k], self.dtype).reshape(-1)
                               for k in names])
        self._packed = views(flat, self.params, names)
        self.params.update(self._packed)

    def _flat_grads(self, grads: dict) -> dict:
        """``grads`` copied into views of one fresh flat array, in the params' order."""
        flat = np.empty(sum(g.size for g in grads.values()), self.dtype)
        out = views(flat, grads, list(self._shapes))
        for k, g in out.items():
            g[...] = grads[k]
        return out

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_packed"}

    def __setstate__(self, state):
        self.__dict__.update(state, _packed={})

    # -- the two passes: library kernels on already validated arrays -----------------
    def _forward(self, x, conv_cache: dict) -> _Cache:
        p, s = self.params, self.pool
        g = _geometry(x.shape, p["conv_w"].shape, 1, 0)
        # conv2d then max_pool2d_relu (ReLU after pooling, on the 4x smaller array),
        # with the conv output laid out by window offset between them (cnn._conv_pool).
        pooled, pool = conv_pool_relu(x, p["conv_w"], p["conv_b"], g, s, conv_cache)
        f = pooled.reshape(len(x), -1)
        z1 = dense_forward(f, p["w1"], p["b1"])
        h = relu_kernel(z1)
        logits = dense_forward(h, p["w2"], p["b2"])
        return _Cache(x, conv_cache, pool, pooled.shape, f, z1, h, logits)

    def _backward(self, dlogits, c: _Cache) -> dict:
        p, s = self.params, self.pool
        g = {}
        dh, g["w2"], g["b2"] = dense_backward(dlogits, c.h, p["w2"])
        dz1 = dh * relu_derivative_kernel(c.z1)
        df, g["w1"], g["b1"] = dense_backward(dz1, c.f, p["w1"])
        geo = _geometry(c.x.shape, p["conv_w"].shape, 1, 0)
        g["conv_w"], g["conv_b"] = conv_pool_relu_backward(df.reshape(c.pooled_shape), c.x,
                                                           p["conv_w"], geo, s, c.conv, c.pool)
        return self._flat_grads(g)

    def _images(self, x) -> np.ndarray:
        """``x`` checked, standardised and in this network's dtype; also checks the params."""
        for name, shape in self._shapes.items():
            if np.shape(self.params.get(name)) != shape:
                raise ValueError(f"params[{name!r}]: got shape {np.shape(self.params.get(name))}; "
                                 f"expected {shape} for this network's config")
        self._pack()
        x = self.prepare_input(x)
        return np.ascontiguousarray(x)

    @staticmethod
    def _check_finite_result(x, result) -> None:
        """A non-finite loss or logits: blame ``x`` if it holds NaN or inf (a ValueError
        naming it); otherwise the weights or an overflow did it, and the caller sees
        the NaN/inf (the training loop stops on it). Checking ``x`` only then keeps
        the check off the fast path."""
        if not np.isfinite(result).all():
            check_finite(x, "x")

    # -- public passes --------------------------------------------------------------------
    def forward(self, x):
        """Logits (N, K) and the cache for :meth:`backward` (arrays of its own)."""
        x = self._images(x)
        with np.errstate(over="ignore", invalid="ignore"):
            cache = self._forward(x, {})
        self._check_finite_result(x, cache.logits)
        return cache.logits, cache

    def backward(self, doutput, cache):
        r"""Gradients of the loss w.r.t. every parameter, given $\partial L/\partial s$ (N, K)."""
        if not isinstance(cache, _Cache):
            raise TypeError(f"cache: got {type(cache).__name__}; expected the cache returned "
                            f"by this network's forward()")
        d = np.asarray(doutput)
        if d.shape != cache.logits.shape:
            raise ValueError(f"doutput: got shape {d.shape}; expected {cache.logits.shape}, "
                             f"the shape of the logits of forward()")
        with np.errstate(over="ignore", invalid="ignore"):
            return self._backward(np.ascontiguousarray(d, self.dtype), cache)

    def loss_and_grads(self, x, y):
        """One forward and backward pass: ``(loss, grads, logits)``, all freshly allocated
        (later calls do not change them). The loss is :func:`cnn.softmax_cross_entropy`."""
        x = self._images(x)
        y = self.check_labels(y, len(x))
        with np.errstate(over="ignore", invalid="ignore"):
            cache = self._forward(x, {})
            loss, dlogits = _softmax_cross_entropy(cache.logits, y)
            self._check_finite_result(x, loss)
            return loss, self._backward(dlogits, cache), cache.logits

    def loss(self, output, y):
        """Softmax cross-entropy (batch mean) and its gradient w.r.t. the logits."""
        return softmax_cross_entropy(output, self.check_labels(y, len(output)))

    def predict_from_output(self, output):
        return np.asarray(output).argmax(axis=1)

    def predict_proba(self, x, *, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities, softmax of the logits, shape (N, K)."""
        return softmax(self.output(x, batch_size=batch_size))
