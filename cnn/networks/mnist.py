"""N4, the MNIST CNN of seed 003, with a fast fused training step."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._validate import check_finite
from ..losses import softmax_cross_entropy
from .base import Network, _check_param_count, _dtype_name, _positive_int, _shape2, softmax


class _MnistGeometry(NamedTuple):
    """Sizes of one :class:`MnistNet`: input H x W, F kernels kh x kw, conv output
    oh x ow, pool window and stride s, pool output ph x pw."""
    H: int
    W: int
    F: int
    kh: int
    kw: int
    oh: int
    ow: int
    s: int
    ph: int
    pw: int


class _MnistBuffers:
    """Every array one :class:`MnistNet` pass writes, for a batch of ``n`` images.

    A training step reuses one set (:meth:`MnistNet.sgd_step`): a fresh
    multi-MB array per step costs page faults worth more than the arithmetic.

    The conv output is laid out by pool-window offset: ``z[a, n, I, e, f, J]``
    is the conv of image ``n`` with kernel ``f`` (plus bias) at pixel
    ``(s I + a, s J + e)``. Element ``(a, e)`` of every pool window is then
    the (n, ph, F, pw) view ``z[a, :, :, e]``, made of runs of F pw
    contiguous numbers, and pooling and its backward are a few whole-view
    operations; the pooled arrays share that (n, ph, F, pw) layout. Pixels
    outside every pool window (an odd last row or column) are not computed:
    they get no gradient.
    """

    def __init__(self, geo: _MnistGeometry, n: int, hidden: int, n_classes: int, dtype):
        F, s, ph, pw = geo.F, geo.s, geo.ph, geo.pw
        zeros = lambda *shape: np.zeros(shape, dtype)   # noqa: E731
        self.n = n
        # Row (a, n, I): image rows s I + a .. s I + a + kh - 1 side by side, then a 1
        # (which meets the biases in the banded matrix), then zeros up to a multiple
        # of 16 columns (which measured ~5% faster in the matrix products).
        K = geo.kh * geo.W
        self.rows = zeros(s, n, ph, -(-(K + 1) // 16) * 16)
        self.rows[..., K] = 1
        self.z = zeros(s, n, ph, s, F, pw)              # conv output z, by window offset
        self.pz = zeros(n, ph, F, pw)                   # max of z over each pool window
        self.f = zeros(n, F * ph * pw)                  # flattened pool output, relu(pz)
        self.z1, self.h, self.dh = zeros(n, hidden), zeros(n, hidden), zeros(n, hidden)
        self.logits = zeros(n, n_classes)
        self.p = zeros(n, n_classes)                    # softmax, then dL/dlogits
        self.df = zeros(n, F * ph * pw)
        self.dpz = zeros(n, ph, F, pw)                  # dL/dz at each window's maximum
        self.eq = np.zeros((s, n, ph, s, F, pw), bool)  # z equals its window's max
        self.first = zeros(s, n, ph, s, F, pw)          # 1 at each window's first max, else 0
        self.dz = zeros(s, n, ph, s, F, pw)             # dL/dz, laid out like z


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

    How the step is computed (the same numbers as composing
    :func:`cnn.conv2d`, :data:`cnn.relu`, :func:`cnn.max_pool2d`,
    :func:`cnn.dense` and their backward functions, which the tests check,
    but several times faster; ``python -m cnn.bench`` measures it):

    * **Pool before ReLU.** ReLU is non-decreasing, so
      $\max_w \mathrm{ReLU}(z_w) = \mathrm{ReLU}(\max_w z_w)$, exactly (also
      in floating point: no rounding is involved): ReLU acts on the 4x
      smaller pool output.
    * **The same gradient routing, ties included.** :func:`cnn.max_pool2d_backward`
      sends a window's gradient to the first element (row-major) equal to
      the window's maximum of $a = \mathrm{ReLU}(z)$. If that maximum is
      positive, the elements equal to it are those whose $z$ equals the
      pooled $z$, so the backward pass compares $z$ (with its bias: two
      different conv outputs can round to the same $z$) with the pooled $z$,
      in the same order. If the maximum is 0, ReLU' is 0 at every candidate
      and the window passes no gradient either way.
    * **The conv as one matrix product with a banded matrix.** Each output
      row $(n, i)$ takes the $k$ image rows $i .. i+k-1$ side by side (a
      copy 5x the image, where im2col's columns are 25x), and multiplies them
      by a $(kW + 1) \times (F\,O_W)$ matrix that holds the kernels on its
      diagonals and the biases in its last row (against a column of ones);
      $\partial L/\partial K$ and $\partial L/\partial c$ are the transposed
      product, read back along the same diagonals and row. The matrix is
      mostly zeros, but one well-shaped matrix product beats both a 2-row
      product (a slow path in OpenBLAS) and one matrix-vector product per
      kernel over im2col's columns (memory-bound). Its rows and columns are
      ordered so that each pool window offset is a regular slice of the
      output.
    * **Preallocated buffers and a fused update** in :meth:`sgd_step`;
      float32 stays float32 throughout.

    :meth:`forward` allocates fresh buffers on every call (its cache stays
    valid whatever runs later); :meth:`loss_and_grads` and :meth:`sgd_step`
    reuse the network's own, and :meth:`loss_and_grads` returns copies.

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
        s = self.pool
        self._geo = _MnistGeometry(H, W, F, kh, kw, oh, ow, s, oh // s, ow // s)
        n_flat = F * (oh // s) * (ow // s)
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
        self._init_workspace()

    # Working memory: rebuilt, never pickled (a copy or a pickle carries the
    # config and the parameters only; momentum of sgd_step starts again at 0).
    _WORKSPACE = ("_band", "_band_grad", "_band_index", "_buffer_sets", "_flat", "_flat_grads",
                  "_velocity", "_packed", "_packed_grads")

    def _init_workspace(self) -> None:
        g = self._geo
        # The banded matrix of the conv (see _forward_into; row kh W holds the
        # biases, later rows are 0) and the flat index of
        # band[a' W + s J + e + e', (e, f, J)] for every (e, f, a', e', J).
        rows = -(-(g.kh * g.W + 1) // 16) * 16             # as in _MnistBuffers.rows
        self._band = np.zeros((rows, g.s * g.F * g.pw), self.dtype)
        self._band_grad = np.zeros_like(self._band)
        e_, f_, a_, c_, j_ = np.ix_(range(g.s), range(g.F), range(g.kh), range(g.kw), range(g.pw))
        self._band_index = np.ravel_multi_index(
            (a_ * g.W + g.s * j_ + e_ + c_, (e_ * g.F + f_) * g.pw + j_), self._band.shape)
        self._buffer_sets: dict[int, _MnistBuffers] = {}
        self._flat = self._flat_grads = self._velocity = None
        self._packed: dict[str, np.ndarray] = {}        # views of _flat: the params
        self._packed_grads: dict[str, np.ndarray] = {}  # views of _flat_grads

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._WORKSPACE}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_workspace()

    # -- the two passes, into a set of buffers ----------------------------------------
    def _offsets(self):
        """The pool window offsets (a, e) in row-major order, the tie rule's order."""
        return [(a, e) for a in range(self._geo.s) for e in range(self._geo.s)]

    def _forward_into(self, x, buf: _MnistBuffers) -> np.ndarray:
        """Logits for standardised images ``x`` (N, 1, H, W); intermediates go to ``buf``."""
        p, g = self.params, self._geo
        n = len(x)
        # The conv as one matrix product with a banded matrix. Row (a, n, I) of
        # `rows` holds image rows s I + a .. s I + a + kh - 1 side by side (they
        # are contiguous in x: one copy of kh W numbers) and a 1. Column (e, f, J)
        # of `band` holds kernel f placed at column s J + e of each of those kh
        # rows, band[a' W + s J + e + e', (e, f, J)] = K[f, 0, a', e'], and c[f]
        # against the 1; so (rows @ band)[(a, n, I), (e, f, J)] is z[n, f, i, j]
        # at i = s I + a, j = s J + e.
        x = np.ascontiguousarray(x[:, 0])
        for a in range(g.s):
            image_rows = np.ndarray((n, g.ph, g.kh * g.W), x.dtype, buffer=x,
                                    offset=a * x.strides[1],
                                    strides=(x.strides[0], g.s * x.strides[1], x.strides[2]))
            buf.rows[a, :, :, :g.kh * g.W] = image_rows
        self._band.reshape(-1)[self._band_index] = p["conv_w"][:, 0, :, :, None]
        self._band[g.kh * g.W].reshape(g.s, g.F, g.pw)[...] = p["conv_b"][:, None]
        rows = buf.rows.reshape(-1, buf.rows.shape[-1])
        np.matmul(rows, self._band, out=buf.z.reshape(len(rows), -1))
        # Max pool of z, then ReLU on the 4x smaller result (the two commute).
        np.copyto(buf.pz, buf.z[0, :, :, 0])
        for a, e in self._offsets()[1:]:
            np.maximum(buf.pz, buf.z[a, :, :, e], out=buf.pz)
        channel_major = buf.f.reshape(n, g.F, g.ph, g.pw).transpose(0, 2, 1, 3)
        np.maximum(buf.pz, 0, out=channel_major)     # f = flatten(relu(pz)), as (N, F, ph, pw)
        np.matmul(buf.f, p["w1"], out=buf.z1)        # dense 1 + ReLU
        buf.z1 += p["b1"]
        np.maximum(buf.z1, 0, out=buf.h)
        np.matmul(buf.h, p["w2"], out=buf.logits)    # dense 2: the logits
        buf.logits += p["b2"]
        return buf.logits

    def _backward_into(self, dlogits, buf: _MnistBuffers, grads: dict) -> None:
        """Write every parameter's gradient into ``grads`` (arrays of the params' shapes)."""
        p, g = self.params, self._geo
        n = len(dlogits)
        np.matmul(buf.h.T, dlogits, out=grads["w2"])        # dense 2 (cnn.dense_backward)
        np.sum(dlogits, axis=0, out=grads["b2"])
        np.matmul(dlogits, p["w2"].T, out=buf.dh)
        np.multiply(buf.dh, buf.z1 > 0, out=buf.dh)         # ReLU', 0 at 0
        np.matmul(buf.f.T, buf.dh, out=grads["w1"])         # dense 1
        np.sum(buf.dh, axis=0, out=grads["b1"])
        np.matmul(buf.dh, p["w1"].T, out=buf.df)
        dpooled = buf.df.reshape(n, g.F, g.ph, g.pw).transpose(0, 2, 1, 3)
        np.multiply(dpooled, buf.pz > 0, out=buf.dpz)       # ReLU' at each window's max
        # Route each window's gradient to its first maximum in row-major order,
        # the tie rule of max_pool2d_backward: the first maximum takes the whole
        # gradient, leaving 0 (dpz - dpz, exactly) for any later one. (The 0/1
        # mask as floats: float * bool multiplies measured ~1.5x slower.)
        np.equal(buf.z, buf.pz.reshape(1, n, g.ph, 1, g.F, g.pw), out=buf.eq)
        np.copyto(buf.first, buf.eq)
        remaining = buf.dpz                                 # used up here
        for a, e in self._offsets():
            np.multiply(remaining, buf.first[a, :, :, e], out=buf.dz[a, :, :, e])
            if (a, e) != (g.s - 1, g.s - 1):            # nothing comes after the last
                remaining -= buf.dz[a, :, :, e]
        # dL/dK[f, 0, a', e'] = sum dz[n, f, i, j] x[n, i + a', j + e'] and
        # dL/dc[f] = sum dz[n, f, i, j]: the product rows^T dz, read back along
        # the band's diagonals and its bias row.
        rows = buf.rows.reshape(-1, buf.rows.shape[-1])
        np.matmul(buf.dz.reshape(len(rows), -1).T, rows, out=self._band_grad.T)
        np.sum(self._band_grad.reshape(-1)[self._band_index], axis=(0, 4),
               out=grads["conv_w"][:, 0])
        np.sum(self._band_grad[g.kh * g.W].reshape(g.s, g.F, g.pw), axis=(0, 2),
               out=grads["conv_b"])

    def _buffers(self, n: int) -> _MnistBuffers:
        """This network's reusable buffers for batches of ``n`` (the two latest sizes kept:
        an epoch's full batches and its last, smaller one)."""
        buf = self._buffer_sets.get(n)
        if buf is None:
            if len(self._buffer_sets) >= 2:
                self._buffer_sets.pop(next(iter(self._buffer_sets)))
            buf = _MnistBuffers(self._geo, n, self.config["hidden"], self.config["n_classes"],
                                self.dtype)
            self._buffer_sets[n] = buf
        return buf

    def _new_buffers(self, n: int) -> _MnistBuffers:
        return _MnistBuffers(self._geo, n, self.config["hidden"], self.config["n_classes"],
                             self.dtype)

    def _grad_arrays(self) -> dict:
        """Fresh gradient arrays, one per parameter, slices of one flat array."""
        flat = np.empty(self.n_params(), self.dtype)
        return self._split(flat)

    def _split(self, flat: np.ndarray) -> dict:
        """Views of ``flat``, one per parameter, in the parameters' shapes."""
        out, start = {}, 0
        for name, shape in self._shapes.items():
            size = math.prod(shape)
            out[name] = flat[start:start + size].reshape(shape)
            start += size
        return out

    def _images(self, x) -> np.ndarray:
        """``x`` checked, standardised and in this network's dtype; also checks the params."""
        for name, shape in self._shapes.items():
            if np.shape(self.params.get(name)) != shape:
                raise ValueError(f"params[{name!r}]: got shape {np.shape(self.params.get(name))}; "
                                 f"expected {shape} for this network's config")
        return self._input(x)

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
        """Logits (N, K) and the cache for :meth:`backward` (buffers of its own)."""
        x = self._images(x)
        buf = self._new_buffers(len(x))
        logits = self._forward_into(x, buf)
        self._check_finite_result(x, logits)
        return logits, buf

    def backward(self, doutput, cache):
        r"""Gradients of the loss w.r.t. every parameter, given $\partial L/\partial s$ (N, K)."""
        if not isinstance(cache, _MnistBuffers):
            raise TypeError(f"cache: got {type(cache).__name__}; expected the cache returned "
                            f"by this network's forward()")
        d = np.asarray(doutput)
        if d.shape != cache.logits.shape:
            raise ValueError(f"doutput: got shape {d.shape}; expected {cache.logits.shape}, "
                             f"the shape of the logits of forward()")
        grads = self._grad_arrays()
        self._backward_into(d.astype(self.dtype, copy=False), cache, grads)
        return grads

    def loss_and_grads(self, x, y):
        """One forward and backward pass in the reusable buffers: ``(loss, grads, logits)``,
        all freshly allocated (later calls do not change them)."""
        x = self._images(x)
        buf = self._buffers(len(x))
        loss, dlogits = self._loss_into(self._forward_into(x, buf), y, buf)
        self._check_finite_result(x, loss)
        grads = self._grad_arrays()
        self._backward_into(dlogits, buf, grads)
        return loss, grads, buf.logits.copy()

    def sgd_step(self, x, y, lr: float, momentum: float = 0.0):
        r"""One training step in place: forward, backward and one fused SGD update.

        $v \leftarrow \mu v + \eta g$, $w \leftarrow w - v$ (:class:`cnn.optim.SGD`'s rule,
        $\mu = 0$: plain SGD), applied to all parameters at once: they are
        slices of one flat array (packed on the first call, and again whenever a
        parameter array was replaced). Nothing is checked for divergence; the
        training loop (:func:`cnn.training.train`) does that.

        Returns
        -------
        loss : numpy scalar
            The batch loss before the update.
        """
        lr, momentum = float(lr), float(momentum)
        if not (math.isfinite(lr) and lr > 0) or not 0 <= momentum < 1:
            raise ValueError(f"lr, momentum: got {lr}, {momentum}; expected lr > 0 and "
                             f"0 <= momentum < 1")
        x = self._images(x)
        flat = self._packed_params()
        buf = self._buffers(len(x))
        loss, dlogits = self._loss_into(self._forward_into(x, buf), y, buf)
        self._check_finite_result(x, loss)
        self._backward_into(dlogits, buf, self._packed_grads)
        step = self._flat_grads
        if momentum:
            self._velocity *= momentum
            self._velocity += lr * step
            step = self._velocity
        else:
            step *= lr
        flat -= step
        return loss

    def _packed_params(self) -> np.ndarray:
        """All parameters as one flat array of which ``self.params`` are views."""
        if self._flat is None or any(self.params[k] is not v for k, v in self._packed.items()):
            flat = np.concatenate([np.asarray(self.params[k], self.dtype).ravel()
                                   for k in self._shapes])
            self._packed = self._split(flat)
            self.params.update(self._packed)
            self._flat = flat
            self._flat_grads = np.zeros_like(flat)
            self._packed_grads = self._split(self._flat_grads)
            self._velocity = np.zeros_like(flat)
        return self._flat

    def loss(self, output, y):
        """Softmax cross-entropy (batch mean) and its gradient w.r.t. the logits."""
        return softmax_cross_entropy(output, self._labels(y, len(output)))

    def _labels(self, y, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"y: got shape {y.shape}; expected ({n},), one class "
                             f"index per image")
        return y

    def _loss_into(self, logits, y, buf: _MnistBuffers):
        r""":func:`cnn.softmax_cross_entropy` on the step's buffers: the batch-mean loss
        $\log\sum_k e^{s_k - m} - (s_t - m)$ and $\partial L/\partial s = (p - [k = t])/N$
        (in ``buf.p``), without the general function's checks and its log1p refinement
        of losses near 0: ~3x faster at batch 64, equal to it up to float rounding."""
        y = self._labels(y, len(logits))
        K = logits.shape[1]
        if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= K:
            softmax_cross_entropy(logits, y)        # raises its clear message
        rows = np.arange(len(y))
        np.subtract(logits, logits.max(axis=1, keepdims=True), out=buf.p)
        target = buf.p[rows, y]
        np.exp(buf.p, out=buf.p)
        total = buf.p.sum(axis=1)
        loss = np.mean(np.log(total) - target)
        buf.p /= total[:, None]                     # softmax
        buf.p[rows, y] -= 1
        buf.p /= len(y)
        return loss, buf.p

    def predict_from_output(self, output):
        return np.asarray(output).argmax(axis=1)

    def predict_proba(self, x, *, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities, softmax of the logits, shape (N, K)."""
        return softmax(self.output(x, batch_size=batch_size))
