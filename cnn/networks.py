r"""The seed networks, assembled from the layer functions of :mod:`cnn`.

Every network here is a small object with the same interface, which the
training loop (:mod:`cnn.training`), the model files (:mod:`cnn.serialize`),
the CLI and the estimator rely on:

* ``name`` (class attribute) and ``config`` (a JSON-able dict: everything
  needed to rebuild the network, see :meth:`Network.from_state`);
* ``params``: a dict of named parameter arrays, all in ``config["dtype"]``;
* ``forward(x) -> (output, cache)`` and ``backward(doutput, cache) -> grads``
  (a dict with the keys of ``params``), each layer's backward call written
  right under the matching forward call's position in reverse order;
* ``loss(output, y) -> (loss, doutput)`` and ``loss_and_grads(x, y)``;
* ``predict(x)`` (class labels) and ``evaluate(x, y)`` (mean loss, accuracy).

Inputs are images in NCHW layout, ``(N, 1, H, W)`` (``(N, H, W)`` is accepted
and given a channel axis), with pixel values in $[0, 1]$. Each network
standardises its input with two scalars kept in its config,
$\hat x = (x - \mu)/\sigma$ (``input_mean``, ``input_std``; 0 and 1 unless
set with :meth:`Network.set_input_scaling`), so a saved model carries its
own preprocessing.

Networks
--------
:class:`ToyNet`
    N1, the seed 004 toy net; a thin wrapper around :mod:`cnn.toy_net`.
:class:`Digits01Net`
    N2, the multi-channel CNN of seed 000 for digits 0 vs 1, with the seed's
    per-channel activations, an L2 cost, and the seed's deliberately broken
    back-propagation variants as named options.
:class:`MnistNet`
    N4, the MNIST CNN of seed 003: conv (2, 1, 5, 5) + b, ReLU, 2x2 max pool,
    dense 288 -> 60, ReLU, dense 60 -> 10, softmax cross-entropy. Its dense
    size adapts to the input size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import toy_net
from .activations import arctan, logistic, relu, tanh
from .conv import conv2d, conv2d_backward
from .dense import dense, dense_backward
from .losses import l2_loss, softmax_cross_entropy
from .pooling import max_pool2d, max_pool2d_backward

__all__ = ["Network", "ToyNet", "Digits01Net", "MnistNet", "NETWORKS",
           "BACKPROP_VARIANTS", "SEED_DENSE_SIZES", "pool_backward_variant", "softmax"]

_DTYPES = {"float32": np.float32, "float64": np.float64}

#: The ``backprop`` options of :class:`Digits01Net`; see :func:`pool_backward_variant`.
BACKPROP_VARIANTS = ("correct", "transposed_after_pool", "rotated_after_pool",
                     "transposed_pool_mask", "rotated_pool_mask")
#: Hidden sizes (W3 columns, W4 columns) of the seed's three broken-back-prop runs:
#: W3 16x18, W4 18x20, W5 20x1; 16x28, 28x36, 36x1 (the article's); 16x48, 48x56, 56x1.
SEED_DENSE_SIZES = ((18, 20), (28, 36), (48, 56))


# ----------------------------------------------------------------------------- helpers

def _dtype_name(dtype) -> str:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ValueError(f"dtype: got {dtype!r}; expected 'float32' or 'float64'")
    return name


def _positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: got {value!r} of type {type(value).__name__}; "
                        f"expected a positive integer")
    if value < 1:
        raise ValueError(f"{name}: got {value}; expected a positive integer")
    return int(value)


def _shape2(value, name: str) -> tuple[int, int]:
    try:
        h, w = value
    except (TypeError, ValueError):
        raise ValueError(f"{name}: got {value!r}; expected a pair (H, W) of "
                         f"positive integers") from None
    return _positive_int(h, f"{name}[0]"), _positive_int(w, f"{name}[1]")


def softmax(logits) -> np.ndarray:
    r"""Row-wise softmax, $p[n,k] = e^{z[n,k] - m_n} / \sum_j e^{z[n,j] - m_n}$,
    $m_n = \max_j z[n,j]$ (no overflow). ``logits`` (N, K) -> (N, K)."""
    z = np.asarray(logits)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _per_channel(acts, z: np.ndarray) -> np.ndarray:
    """Activation ``acts[c]`` on channel ``c`` of ``z`` (N, C, H, W)."""
    out = np.empty_like(z)
    for c, act in enumerate(acts):
        out[:, c] = act(z[:, c])
    return out


def _per_channel_backward(acts, dy: np.ndarray, z: np.ndarray) -> np.ndarray:
    r"""$\partial L/\partial z[:, c] = \delta[:, c] \odot f_c'(z[:, c])$ for every channel."""
    dz = np.empty_like(dy)
    for c, act in enumerate(acts):
        dz[:, c] = act.backward(dy[:, c], z[:, c])
    return dz


def pool_backward_variant(dy, a, variant: str = "correct") -> np.ndarray:
    r"""Backward of a 2x2, stride-2 max pool, correct or broken as in seed 000.

    With $M$ the pooling mask (1 at each window's maximum, 0 elsewhere) and
    $U(\delta)$ the upstream gradient repeated over each 2x2 window, the
    correct gradient is $\partial L/\partial a = M \odot U(\delta)$
    (:func:`cnn.max_pool2d_backward`). Seed 000's "broken back prop net"
    changes this one step, then multiplies by the activation derivative as
    usual:

    ``"transposed_after_pool"``
        $(M \odot U(\delta))^\top$: the derivative after the max-pooling layer,
        transposed (the post's text: "Transpose on Calculated Derivative after
        Max Pooling Layer").
    ``"rotated_after_pool"``
        $\mathrm{rot180}(M \odot U(\delta))$: the same, rotated by 180 degrees,
        which is what the post's code does (``np.rot90(mask * window, 2)``).
    ``"transposed_pool_mask"``
        $M^\top \odot U(\delta)$: the mask transposed (the text: "Transpose on
        Mask of Max Pooling Layer").
    ``"rotated_pool_mask"``
        $\mathrm{rot180}(M) \odot U(\delta)$: the mask rotated, as the code
        does for one channel (``np.rot90(mask, 2) * window``).

    The seed's broken net mixes them: rotated after the pool at layer 1 and
    on three of the four layer-2 channels, rotated mask on the fourth; here
    one variant applies at every pool and channel. Transpose and rotation
    act on the last two axes of each (image, channel) map. With a transposed or rotated mask a window's gradient lands where a
    *mirrored* window had its maximum: possibly on no element, so gradient is
    lost, or (through ties) on several.

    Parameters
    ----------
    dy : ndarray, shape (N, C, H/2, W/2)
        Upstream gradient $\delta = \partial L/\partial\,\mathrm{pool}(a)$.
    a : ndarray, shape (N, C, H, W)
        The pooling layer's input; H and W even (the transposes need H = W).
    variant : str
        One of :data:`BACKPROP_VARIANTS`.

    Returns
    -------
    da : ndarray, shape (N, C, H, W)
    """
    if variant not in BACKPROP_VARIANTS:
        raise ValueError(f"variant: got {variant!r}; expected one of {BACKPROP_VARIANTS}")
    if variant == "correct":
        return max_pool2d_backward(dy, a)
    if variant.startswith("transposed") and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"a: got maps of {a.shape[-2]}x{a.shape[-1]} (a.shape = {a.shape}); "
                         f"expected square maps for the {variant!r} variant")

    def flip(m):
        return m.swapaxes(-1, -2) if variant.startswith("transposed") else m[..., ::-1, ::-1]

    if variant.endswith("after_pool"):
        return np.ascontiguousarray(flip(max_pool2d_backward(dy, a)))
    # The mask is the pool backward of a gradient of ones: 1 where a window's
    # (first) maximum is, 0 elsewhere; U(dy) repeats each gradient over its window.
    mask = max_pool2d_backward(np.ones_like(dy), a)
    up = np.repeat(np.repeat(dy, 2, axis=-2), 2, axis=-1)
    return np.ascontiguousarray(flip(mask)) * up


# ----------------------------------------------------------------------------- base class

class Network:
    """Shared plumbing: config, params, dtype, input checks and scaling, evaluation.

    Subclasses set ``name``, build ``self.config``/``self.params`` and define
    ``forward``, ``backward``, ``loss`` and ``predict_from_output``.
    """

    name = "network"
    config: dict[str, Any]
    params: dict[str, np.ndarray]

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_state(cls, config: dict, params: dict) -> "Network":
        """Rebuild a network from its ``config`` and parameter arrays (no random init).

        Raises ValueError when a parameter is missing, extra, or of the wrong
        shape or dtype for ``config``.
        """
        net = cls(**{k: v for k, v in config.items() if k not in ("input_mean", "input_std")})
        net.set_input_scaling(config.get("input_mean", 0.0), config.get("input_std", 1.0))
        expected = {k: (v.shape, v.dtype) for k, v in net.params.items()}
        if set(params) != set(expected):
            raise ValueError(f"params: got names {sorted(params)}; expected "
                             f"{sorted(expected)} for a {cls.name} network with config {config}")
        for k, arr in params.items():
            arr = np.asarray(arr)
            if (arr.shape, arr.dtype) != expected[k]:
                raise ValueError(f"params[{k!r}]: got shape {arr.shape} and dtype {arr.dtype}; "
                                 f"expected shape {expected[k][0]} and dtype {expected[k][1]}")
            net.params[k] = arr.copy()
        return net

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.config["dtype"])

    def set_input_scaling(self, mean: float, std: float) -> None:
        r"""Set the input standardisation $\hat x = (x - \mu)/\sigma$ (two scalars)."""
        mean, std = float(mean), float(std)
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise ValueError(f"input scaling: got mean={mean}, std={std}; expected finite "
                             f"numbers with std > 0")
        self.config["input_mean"], self.config["input_std"] = mean, std

    def fit_input_scaling(self, x) -> None:
        r"""Standardise with the mean and standard deviation of all pixels of ``x``."""
        x = np.asarray(x)
        mean = float(x.mean(dtype=np.float64))
        std = float(x.std(dtype=np.float64))
        self.set_input_scaling(mean, std if std > 0 else 1.0)

    # -- shared steps --------------------------------------------------------------------
    def _input(self, x) -> np.ndarray:
        """``x`` checked as (N, 1, H, W) images of this network, standardised, in its dtype."""
        x = np.asarray(x)
        H, W = self.config["input_shape"]
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or x.shape[1:] != (1, H, W) or x.shape[0] == 0:
            raise ValueError(f"x: got shape {x.shape}; expected (N, 1, {H}, {W}) or "
                             f"(N, {H}, {W}) with N >= 1, images of this {self.name} network")
        if x.dtype.kind not in "fiub":
            raise TypeError(f"x: got dtype {x.dtype}; expected real numbers")
        dtype = self.dtype
        mean, std = self.config.get("input_mean", 0.0), self.config.get("input_std", 1.0)
        x = x.astype(dtype, copy=False)
        if mean != 0.0 or std != 1.0:
            x = (x - dtype.type(mean)) * dtype.type(1.0 / std)
        return x

    def loss_and_grads(self, x, y):
        """One forward and backward pass: ``(loss, grads, output)``."""
        out, cache = self.forward(x)
        loss, dout = self.loss(out, y)
        return loss, self.backward(dout, cache), out

    def output(self, x, *, batch_size: int = 1000) -> np.ndarray:
        """The network output for every image, computed ``batch_size`` images at a time."""
        x = np.asarray(x)
        return np.concatenate([self.forward(x[i:i + batch_size])[0]
                               for i in range(0, len(x), batch_size)])

    def predict(self, x, *, batch_size: int = 1000) -> np.ndarray:
        """Predicted class of every image, shape (N,)."""
        return self.predict_from_output(self.output(x, batch_size=batch_size))

    def evaluate(self, x, y, *, batch_size: int = 1000) -> dict:
        """Mean loss and accuracy over ``(x, y)``: ``{"loss": float, "accuracy": float}``."""
        out = self.output(x, batch_size=batch_size)
        loss, _ = self.loss(out, y)
        acc = float(np.mean(self.predict_from_output(out) == np.asarray(y)))
        return {"loss": float(loss), "accuracy": acc}

    def n_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({cfg})"


# ----------------------------------------------------------------------------- N1

class ToyNet(Network):
    r"""N1, the toy net of seed 004: $o = \sigma(\mathrm{vec}(\tanh(x * K))^\top W)$.

    A wrapper that gives :mod:`cnn.toy_net` (true convolution, one 3x3 image
    at a time, float64) the interface of the other networks, so that the CLI
    and the model files handle it the same way. Training uses
    :func:`cnn.toy_net.train`, the seed's per-sample SGD.

    Parameters
    ----------
    kernel_size : int
        $k$ (the seed: 2); the image is 3x3 and not padded, so $W$ has
        $(4 - k)^2$ rows.
    seed : int
        :func:`cnn.toy_net.seed_init` seed (the seed's 598765).
    scale : float
        Initialisation scale (the seed's 4.0).
    """

    name = "toy"

    def __init__(self, kernel_size: int = 2, seed: int = 598765, scale: float = 4.0,
                 dtype: str = "float64", input_shape=(3, 3)):
        if _dtype_name(dtype) != "float64":
            raise ValueError(f"dtype: got {dtype!r}; the toy net (cnn.toy_net) computes in "
                             f"float64 only")
        k = _positive_int(kernel_size, "kernel_size")
        if tuple(input_shape) != (3, 3) or k > 3:
            raise ValueError(f"kernel_size/input_shape: got {k} and {input_shape}; expected "
                             f"a kernel of at most 3x3 on the seed's 3x3 images")
        self.config = {"kernel_size": k, "seed": int(seed), "scale": float(scale),
                       "dtype": "float64", "input_shape": [3, 3],
                       "input_mean": 0.0, "input_std": 1.0}
        m = 3 - k + 1
        kernel, weights = toy_net.seed_init(seed, scale, kernel_size=k, n_nodes=m * m)
        self.params = {"kernel": kernel, "weights": weights}

    def forward(self, x):
        """Outputs (N, 1) for images ``x`` (N, 3, 3) or (N, 1, 3, 3); the cache is ``x``."""
        x = self._input(x)[:, 0]
        out = np.array([[toy_net.forward(img, self.params["kernel"], self.params["weights"]).out]
                        for img in x])
        return out, x

    def backward(self, doutput, cache):
        raise NotImplementedError("the toy net trains with cnn.toy_net.train (per-sample SGD); "
                                  "see cnn.toy_net.gradients for its gradients")

    def loss(self, output, y):
        r"""The seed's cost, summed over the images: $\sum_n \tfrac12 (o_n - y_n)^2$."""
        o = np.asarray(output, dtype=float).reshape(-1)
        y = np.asarray(y, dtype=float).reshape(-1)
        return float(0.5 * np.sum((o - y) ** 2)), (o - y).reshape(-1, 1)

    def predict_from_output(self, output):
        """The toy net regresses: its "prediction" is the output itself, (N,)."""
        return np.asarray(output).reshape(-1)


# ----------------------------------------------------------------------------- N2

class Digits01Net(Network):
    r"""N2, the multi-channel CNN of seed 000 for sklearn digits 0 vs 1.

    Layers (shapes for 8x8 inputs; every conv is 3x3 with zero padding 1,
    every pool 2x2 with stride 2):

    | step | operation | output |
    |---|---|---|
    | 1 | $z_1 = \mathrm{conv}(x, W_1) + b_1$ | (N, 2, 8, 8) |
    | | $a_1 = (\mathrm{ReLU}, \arctan)$ per channel; $p_1 = \mathrm{pool}(a_1)$ | (N, 2, 4, 4) |
    | 2 | $z_2 = \mathrm{conv}(p_1, W_2) + b_2$, each output channel summing over both inputs | (N, 4, 4, 4) |
    | | $a_2 = (\arctan, \mathrm{ReLU}, \arctan, \tanh)$ per channel; $p_2 = \mathrm{pool}(a_2)$ | (N, 4, 2, 2) |
    | 3 | $f = \mathrm{flatten}(p_2)$ (channel-major, as the seed's ``hstack``) | (N, 16) |
    | 4 | $a_3 = \arctan(f W_3 + b_3)$ | (N, $h_1$) |
    | 5 | $a_4 = \tanh(a_3 W_4 + b_4)$ | (N, $h_2$) |
    | 6 | $o = \sigma(a_4 W_5 + b_5)$, the logistic | (N, 1) |

    Cost: $L = \frac1N \sum_n \tfrac12 (o_n - y_n)^2$ with $y_n \in \{0, 1\}$
    (:func:`cnn.l2_loss`); the prediction is $[o_n \ge 0.5]$.

    Differences from the seed's code, on purpose: layer 2 is a standard
    multi-channel convolution (the seed feeds each layer-2 channel one
    layer-1 map, ad hoc, and by a bug convolves all four with ``w1b`` while
    updating ``w2a..w2d``); every layer has a bias (the seed has none; they
    start at 0); the seed's ``tanh`` derivative on its ReLU channel is not
    copied; weights start at $\mathcal N(0, 1/\mathrm{fan\_in})$ (``init="lecun"``)
    unless ``init="seed"`` ($\mathcal N(0, 1)$, the seed's ``randn``). The
    seed's own ``scipy.signal.convolve2d`` is a true convolution; this is
    a cross-correlation (:func:`cnn.conv2d`), the same model with flipped kernels.

    Two more faults of the seed's code, not copied either: its "original"
    (correct) net back-propagates into layer 1 with
    ``convolve2d(np.pad(w2, 2), np.rot90(delta, 2), 'valid')``, which is the
    true $\partial L/\partial p_1$ rotated by 180 degrees (checked numerically
    with SciPy), so even the original net trains its layer-1 kernels on a
    wrong gradient; and its broken net, besides rotating the derivative after
    the pool, drops the ``np.rot90`` inside its kernel-gradient formula, so
    the layer-2 kernels effectively see $M \odot U(\delta) \odot \mathrm{rot180}(f'(z))$.
    The ``backprop`` options isolate the one change the post describes.

    Parameters
    ----------
    dense_sizes : (int, int)
        $(h_1, h_2)$: W3 is 16 x $h_1$, W4 $h_1$ x $h_2$, W5 $h_2$ x 1. The
        article's (28, 36) by default; :data:`SEED_DENSE_SIZES` lists the
        seed's three.
    backprop : str
        ``"correct"`` or one of the seed's broken variants, applied at both
        pooling layers, every channel; see :func:`pool_backward_variant`.
        Only the backward pass changes.
    dtype : {"float32", "float64"}
    seed : int
        Seed of the weight initialisation (``numpy.random.default_rng``).
    init : {"lecun", "seed"}
    input_shape : (int, int)
        (H, W), both multiples of 4; (8, 8) for sklearn digits.
    """

    name = "digits01"
    L1_ACTIVATIONS = (relu, arctan)
    L2_ACTIVATIONS = (arctan, relu, arctan, tanh)
    DENSE_ACTIVATIONS = (arctan, tanh, logistic)

    def __init__(self, dense_sizes=(28, 36), backprop: str = "correct",
                 dtype: str = "float64", seed: int = 0, init: str = "lecun",
                 input_shape=(8, 8)):
        h1, h2 = _shape2(dense_sizes, "dense_sizes")
        H, W = _shape2(input_shape, "input_shape")
        if H % 4 or W % 4:
            raise ValueError(f"input_shape: got {(H, W)}; expected H and W multiples of 4 "
                             f"(two 2x2 pools)")
        if backprop not in BACKPROP_VARIANTS:
            raise ValueError(f"backprop: got {backprop!r}; expected one of {BACKPROP_VARIANTS}")
        if backprop.startswith("transposed") and H != W:
            raise ValueError(f"backprop: {backprop!r} needs square images; got input_shape "
                             f"{(H, W)}")
        if init not in ("lecun", "seed"):
            raise ValueError(f"init: got {init!r}; expected 'lecun' or 'seed'")
        dtype = _dtype_name(dtype)
        self.config = {"dense_sizes": [h1, h2], "backprop": backprop, "dtype": dtype,
                       "seed": int(seed), "init": init, "input_shape": [H, W],
                       "input_mean": 0.0, "input_std": 1.0}
        n_flat = 4 * (H // 4) * (W // 4)
        shapes = {"w1": (2, 1, 3, 3), "w2": (4, 2, 3, 3), "w3": (n_flat, h1),
                  "w4": (h1, h2), "w5": (h2, 1)}
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (k, shape) in enumerate(shapes.items(), start=1):
            fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
            std = 1.0 if init == "seed" else 1.0 / math.sqrt(fan_in)
            self.params[k] = (rng.standard_normal(shape) * std).astype(dtype)
            self.params[f"b{i}"] = np.zeros(shape[0] if len(shape) == 4 else shape[1], dtype)

    def forward(self, x):
        """Output $o$ (N, 1) and the cache of every intermediate for :meth:`backward`."""
        p = self.params
        x = self._input(x)
        z1 = conv2d(x, p["w1"], p["b1"], padding=1)
        a1 = _per_channel(self.L1_ACTIVATIONS, z1)
        p1 = max_pool2d(a1)
        z2 = conv2d(p1, p["w2"], p["b2"], padding=1)
        a2 = _per_channel(self.L2_ACTIVATIONS, z2)
        p2 = max_pool2d(a2)
        f = p2.reshape(len(x), -1)
        z3 = dense(f, p["w3"], p["b3"])
        a3 = arctan(z3)
        z4 = dense(a3, p["w4"], p["b4"])
        a4 = tanh(z4)
        z5 = dense(a4, p["w5"], p["b5"])
        out = logistic(z5)
        return out, dict(x=x, z1=z1, a1=a1, p1=p1, z2=z2, a2=a2, p2=p2, f=f,
                         z3=z3, a3=a3, z4=z4, a4=a4, z5=z5)

    def backward(self, doutput, cache):
        r"""Gradients of the loss w.r.t. every parameter, given $\partial L/\partial o$ (N, 1).

        The chain rule layer by layer, in reverse; only the two pooling steps
        depend on ``backprop`` (:func:`pool_backward_variant`).
        """
        p, c, variant = self.params, cache, self.config["backprop"]
        g = {}
        dz5 = logistic.backward(doutput, c["z5"])
        da4, g["w5"], g["b5"] = dense_backward(dz5, c["a4"], p["w5"])
        dz4 = tanh.backward(da4, c["z4"])
        da3, g["w4"], g["b4"] = dense_backward(dz4, c["a3"], p["w4"])
        dz3 = arctan.backward(da3, c["z3"])
        df, g["w3"], g["b3"] = dense_backward(dz3, c["f"], p["w3"])
        dp2 = df.reshape(c["p2"].shape)
        da2 = pool_backward_variant(dp2, c["a2"], variant)
        dz2 = _per_channel_backward(self.L2_ACTIVATIONS, da2, c["z2"])
        dp1, g["w2"], g["b2"] = conv2d_backward(dz2, c["p1"], p["w2"], padding=1)
        da1 = pool_backward_variant(dp1, c["a1"], variant)
        dz1 = _per_channel_backward(self.L1_ACTIVATIONS, da1, c["z1"])
        _, g["w1"], g["b1"] = conv2d_backward(dz1, c["x"], p["w1"], padding=1)
        return {k: g[k] for k in p}

    def loss(self, output, y):
        r"""$L = \frac1N \sum_n \tfrac12 (o_n - y_n)^2$ and $\partial L/\partial o$ (N, 1)."""
        y = np.asarray(y)
        if y.shape != (len(output),):
            raise ValueError(f"y: got shape {y.shape}; expected ({len(output)},), one 0/1 "
                             f"label per image")
        return l2_loss(output, y.astype(output.dtype).reshape(-1, 1))

    def predict_from_output(self, output):
        return (np.asarray(output)[:, 0] >= 0.5).astype(np.int64)


# ----------------------------------------------------------------------------- N4

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

    def forward(self, x):
        """Logits (N, K) and the cache for :meth:`backward`."""
        p, s = self.params, self.pool
        x = self._input(x)
        z = conv2d(x, p["conv_w"], p["conv_b"])
        a = relu(z)
        pooled = max_pool2d(a, size=s, stride=s)
        f = pooled.reshape(len(x), -1)
        z1 = dense(f, p["w1"], p["b1"])
        h = relu(z1)
        logits = dense(h, p["w2"], p["b2"])
        return logits, dict(x=x, z=z, a=a, pooled_shape=pooled.shape, f=f, z1=z1, h=h)

    def backward(self, doutput, cache):
        r"""Gradients of the loss w.r.t. every parameter, given $\partial L/\partial s$ (N, K)."""
        p, c, s = self.params, cache, self.pool
        g = {}
        dh, g["w2"], g["b2"] = dense_backward(doutput, c["h"], p["w2"])
        dz1 = relu.backward(dh, c["z1"])
        df, g["w1"], g["b1"] = dense_backward(dz1, c["f"], p["w1"])
        da = max_pool2d_backward(df.reshape(c["pooled_shape"]), c["a"], size=s, stride=s)
        dz = relu.backward(da, c["z"])
        _, g["conv_w"], g["conv_b"] = conv2d_backward(dz, c["x"], p["conv_w"])
        return {k: g[k] for k in p}

    def loss(self, output, y):
        """Softmax cross-entropy (batch mean) and its gradient w.r.t. the logits."""
        y = np.asarray(y)
        if y.shape != (len(output),):
            raise ValueError(f"y: got shape {y.shape}; expected ({len(output)},), one class "
                             f"index per image")
        return softmax_cross_entropy(output, y)

    def predict_from_output(self, output):
        return np.asarray(output).argmax(axis=1)

    def predict_proba(self, x, *, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities, softmax of the logits, shape (N, K)."""
        return softmax(self.output(x, batch_size=batch_size))


#: Every network by its CLI name.
NETWORKS: dict[str, type[Network]] = {cls.name: cls for cls in (ToyNet, Digits01Net, MnistNet)}
