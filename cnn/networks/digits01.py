"""N2, the digits 0/1 CNN of seed 000, and its broken back-propagation variants."""

from __future__ import annotations

import math

import numpy as np

from ..activations import arctan, logistic, relu, tanh
from ..conv import conv2d, conv2d_backward
from ..dense import dense, dense_backward
from ..losses import l2_loss
from ..pooling import max_pool2d, max_pool2d_backward
from .base import (Network, _check_param_count, _dtype_name, _out_of_range, _per_channel,
                   _per_channel_backward, _shape2)

#: The ``backprop`` options of :class:`Digits01Net`; see :func:`pool_backward_variant`.
BACKPROP_VARIANTS = ("correct", "transposed_after_pool", "rotated_after_pool",
                     "transposed_pool_mask", "rotated_pool_mask")
#: Hidden sizes (W3 columns, W4 columns) of the seed's three broken-back-prop runs:
#: W3 16x18, W4 18x20, W5 20x1; 16x28, 28x36, 36x1 (the article's); 16x48, 48x56, 56x1.
SEED_DENSE_SIZES = ((18, 20), (28, 36), (48, 56))


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
        _check_param_count(shapes, f"dense_sizes {[h1, h2]}")
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
        x = self.prepare_input(x)
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
        of rotating it (``Layer1RotatedNet`` in the checkout's ``studies/broken_nets.py``).
        """
        return dp1

    def loss(self, output, y):
        r"""$L = \frac1N \sum_n \tfrac12 (o_n - y_n)^2$ and $\partial L/\partial o$ (N, 1)."""
        y = self.check_labels(y, len(output))
        return l2_loss(output, y.astype(output.dtype).reshape(-1, 1))

    def label_error(self, y, name):
        """Labels are 0 or 1 (as integers, booleans or floats): the logistic output's range."""
        return _out_of_range(y, ~np.isin(y, (0, 1)), "0 or 1", name, self.name)

    def predict_from_output(self, output):
        return (np.asarray(output)[:, 0] >= 0.5).astype(np.int64)
