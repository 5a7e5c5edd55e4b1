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
from typing import Any, NamedTuple

import numpy as np

from . import toy_net
from ._validate import check_finite
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
        da1 = pool_backward_variant(self.into_layer1(dp1), c["a1"], variant)
        dz1 = _per_channel_backward(self.L1_ACTIVATIONS, da1, c["z1"])
        _, g["w1"], g["b1"] = conv2d_backward(dz1, c["x"], p["w1"], padding=1)
        return {k: g[k] for k in p}

    def into_layer1(self, dp1):
        r"""The gradient $\partial L/\partial p_1$ (N, 2, 4, 4) as layer 1 receives it.

        The identity here; a study overrides it to reproduce seed 000's fault
        of rotating it (:class:`cnn.studies.broken_backprop.Layer1RotatedNet`).
        """
        return dp1

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


#: Every network by its CLI name.
NETWORKS: dict[str, type[Network]] = {cls.name: cls for cls in (ToyNet, Digits01Net, MnistNet)}
