r"""The networks of the broken back-prop study: seed 000's fault alone, and two controls.

:class:`cnn.Digits01Net` itself offers seed 000's broken variants
(:data:`cnn.networks.BACKPROP_VARIANTS`); this module adds the rows that
measure how much the convolutional layers matter:

``correct_rot180_into_layer1`` (:class:`Layer1RotatedNet`)
    Seed 000's own "original" net back-propagates $\mathrm{rot180}(\partial
    L/\partial p_1)$ into layer 1; this is the correct network with only that
    fault.
``frozen_conv`` (:class:`FrozenConvNet`)
    The correct network with both convolutional layers frozen at their
    random initialisation, so only the dense layers learn, on random conv
    features.
``dense_only`` (:class:`DenseOnlyNet`)
    No convolution at all: the same dense head on the raw 8x8 pixels.

Each is a subclass of a :mod:`cnn` network, written with the public layer
functions, so ``cnn.train`` trains it like any other.
"""

from __future__ import annotations

import math

import numpy as np

from cnn import arctan, dense, dense_backward, logistic, tanh
from cnn.networks import BACKPROP_VARIANTS, Digits01Net, Network

__all__ = ["VARIANTS", "CONTROLS", "CONV_PARAMS", "Layer1RotatedNet", "FrozenConvNet",
           "DenseOnlyNet", "make_net"]

#: The network's back-propagation options: the correct one first, then seed 000's broken ones.
VARIANTS = tuple(BACKPROP_VARIANTS)
#: The extra rows, see the module docstring.
CONTROLS = ("correct_rot180_into_layer1", "frozen_conv", "dense_only")
#: The parameters of the two convolutional layers of :class:`cnn.Digits01Net`.
CONV_PARAMS = ("w1", "b1", "w2", "b2")

class Layer1RotatedNet(Digits01Net):
    r"""Digits01Net whose layer 1 receives $\mathrm{rot180}(\partial L/\partial p_1)$.

    Seed 000's "original" net computes the gradient that flows from layer 2
    back into layer 1 as ``convolve2d(np.pad(w2, 2), np.rot90(delta, 2), 'valid')``,
    the true $\partial L/\partial p_1$ rotated by 180 degrees in every map.
    Everything else is correct. Same constructor as :class:`cnn.Digits01Net`.
    """

    name = "digits01_rot180_into_layer1"

    def into_layer1(self, dp1):
        return np.ascontiguousarray(dp1[..., ::-1, ::-1])


class FrozenConvNet(Digits01Net):
    """Digits01Net whose two conv layers keep their random initialisation.

    The gradients of ``w1, b1, w2, b2`` are set to zero, so SGD with momentum
    never moves them (the velocity stays zero); only the dense layers learn.
    Same constructor as :class:`cnn.Digits01Net`.
    """

    name = "digits01_frozen_conv"

    def backward(self, doutput, cache):
        grads = super().backward(doutput, cache)
        for k in CONV_PARAMS:
            grads[k] = np.zeros_like(grads[k])
        return grads


class DenseOnlyNet(Network):
    r"""The dense head of :class:`cnn.Digits01Net` on the raw pixels, no convolution.

    $a_3 = \arctan(x W_3 + b_3)$, $a_4 = \tanh(a_3 W_4 + b_4)$,
    $o = \sigma(a_4 W_5 + b_5)$ with $x$ the flattened, standardised image
    (N, H W) = (N, 64); L2 cost and prediction $[o \ge 0.5]$ as in
    :class:`cnn.Digits01Net`, weights $\mathcal N(0, 1/\mathrm{fan\_in})$, biases 0.

    Parameters
    ----------
    dense_sizes : (int, int)
        $(h_1, h_2)$: W3 is 64 x $h_1$, W4 $h_1$ x $h_2$, W5 $h_2$ x 1.
    dtype : {"float32", "float64"}
    seed : int
    input_shape : (int, int)
    """

    name = "dense_only"

    def __init__(self, dense_sizes=(28, 36), dtype: str = "float64", seed: int = 0,
                 input_shape=(8, 8)):
        # Digits01Net validates the same arguments; borrow its checks and dtype name.
        ref = Digits01Net(dense_sizes=dense_sizes, dtype=dtype, seed=seed,
                          input_shape=input_shape)
        h1, h2 = ref.config["dense_sizes"]
        H, W = ref.config["input_shape"]
        self.config = {"dense_sizes": [h1, h2], "dtype": ref.config["dtype"],
                       "seed": int(seed), "input_shape": [H, W],
                       "input_mean": 0.0, "input_std": 1.0}
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, shape in enumerate([(H * W, h1), (h1, h2), (h2, 1)], start=3):
            self.params[f"w{i}"] = (rng.standard_normal(shape) / math.sqrt(shape[0])
                                    ).astype(self.dtype)
            self.params[f"b{i}"] = np.zeros(shape[1], self.dtype)

    def forward(self, x):
        p = self.params
        x = self.prepare_input(x)
        f = x.reshape(len(x), -1)
        z3 = dense(f, p["w3"], p["b3"])
        a3 = arctan(z3)
        z4 = dense(a3, p["w4"], p["b4"])
        a4 = tanh(z4)
        z5 = dense(a4, p["w5"], p["b5"])
        return logistic(z5), dict(f=f, z3=z3, a3=a3, z4=z4, a4=a4, z5=z5)

    def backward(self, doutput, cache):
        p, c, g = self.params, cache, {}
        dz5 = logistic.backward(doutput, c["z5"])
        da4, g["w5"], g["b5"] = dense_backward(dz5, c["a4"], p["w5"])
        dz4 = tanh.backward(da4, c["z4"])
        da3, g["w4"], g["b4"] = dense_backward(dz4, c["a3"], p["w4"])
        dz3 = arctan.backward(da3, c["z3"])
        _, g["w3"], g["b3"] = dense_backward(dz3, c["f"], p["w3"])
        return {k: g[k] for k in p}

    # Same cost, decision rule and labels (0 or 1) as the CNN. (The input and
    # label hooks, ``Network.prepare_input`` and ``label_error``, are the base class's
    # extension points for a subclass.)
    loss = Digits01Net.loss
    predict_from_output = Digits01Net.predict_from_output
    label_error = Digits01Net.label_error


def make_net(variant: str, dense_sizes, seed: int, dtype: str = "float64") -> Network:
    """The network of one row of the study: a back-prop variant or a control."""
    if variant in VARIANTS:
        return Digits01Net(dense_sizes=dense_sizes, backprop=variant, dtype=dtype, seed=seed)
    if variant == "correct_rot180_into_layer1":
        return Layer1RotatedNet(dense_sizes=dense_sizes, dtype=dtype, seed=seed)
    if variant == "frozen_conv":
        return FrozenConvNet(dense_sizes=dense_sizes, dtype=dtype, seed=seed)
    if variant == "dense_only":
        return DenseOnlyNet(dense_sizes=dense_sizes, dtype=dtype, seed=seed)
    raise ValueError(f"variant: got {variant!r}; expected one of {VARIANTS + CONTROLS}")

