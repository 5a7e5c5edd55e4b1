"""N1, the toy net of seed 004, with the interface of the other networks."""

from __future__ import annotations


import numpy as np

from .. import toy_net
from .base import Network, _dtype_name, _positive_int


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
    trained_by = "per sample with cnn.toy_net.train (or `cnn train toy`)"

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
        x = self.prepare_input(x)[:, 0]
        out = np.array([[toy_net.forward(img, self.params["kernel"], self.params["weights"]).out]
                        for img in x])
        return out, x

    def backward(self, doutput, cache):
        raise NotImplementedError("the toy net trains with cnn.toy_net.train (per-sample SGD); "
                                  "see cnn.toy_net.gradients for its gradients")

    def loss(self, output, y):
        r"""The seed's cost, summed over the images: $\sum_n \tfrac12 (o_n - y_n)^2$."""
        o = np.asarray(output, dtype=float).reshape(-1)
        y = self.check_labels(np.reshape(y, -1), len(o)).astype(float)
        return float(0.5 * np.sum((o - y) ** 2)), (o - y).reshape(-1, 1)

    def predict_from_output(self, output):
        """The toy net regresses: its "prediction" is the output itself, (N,)."""
        return np.asarray(output).reshape(-1)
