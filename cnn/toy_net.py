r"""The toy net of seed post 004: one convolution, tanh, one dense unit, logistic.

One image at a time:

* $x$ ($n \times n$) is zero padded by $p$ to $x_p$ ($P \times P$, $P = n + 2p$);
* $z_1 = x_p * K$, a TRUE 2-D convolution in 'valid' mode ($K$ is $k \times k$,
  $z_1$ is $m \times m$, $m = P - k + 1$);
* $a_1 = \tanh(z_1)$, flattened row-major to $m^2$ values;
* $z_2 = a_1 W$ with $W$ of shape $(m^2, 1)$; $o = \sigma(z_2)$, the logistic;
* $L = \tfrac12 (o - y)^2$.

Convolution convention. The seed uses ``scipy.signal.convolve2d``, which flips
the kernel:
$z_1[i,j] = \sum_{a,b} x_p[i+k-1-a,\, j+k-1-b]\, K[a,b]$,
whereas a cross-correlation (what deep-learning libraries call "convolution")
does not: $(x \star K)[i,j] = \sum_{a,b} x[i+a, j+b] K[a,b]$. So
$x * K = x \star \mathrm{rot180}(K)$. With $\delta = \partial L/\partial z_1$,

$$\frac{\partial L}{\partial K[a,b]} = \sum_{i,j} \delta[i,j]\, x_p[i+k-1-a,\, j+k-1-b]$$

$$= \mathrm{rot180}(x_p \star \delta)[a,b] = (\mathrm{rot180}(x_p) * \delta)[a,b].$$

The seed's first code computed $x_p * \mathrm{rot180}(\delta) = x_p \star \delta$,
the true gradient rotated by 180 degrees; see :func:`kernel_gradient` for the
variants. Nothing here imports SciPy or SymPy; the tests compare with both.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validate import as_array, as_int, as_real, check_finite, check_real

__all__ = [
    "SEED_IMAGES", "SEED_LABELS", "UNSATURATED_SCALE", "KERNEL_GRADIENT_VARIANTS",
    "seed_data", "seed_init", "convolve2d", "correlate2d", "rot180", "pad",
    "ToyForward", "forward", "cost", "layer1_deltas", "kernel_gradient",
    "gradients", "TrainResult", "train",
]

#: The seed's four 3x3 images: all zeros, top row ones, bottom two rows ones, all ones.
SEED_IMAGES = np.array([np.zeros((3, 3)), [[1, 1, 1], [0, 0, 0], [0, 0, 0]],
                        [[0, 0, 0], [1, 1, 1], [1, 1, 1]], np.ones((3, 3))], dtype=float)
#: The seed's labels (1.1 is out of the logistic's reach; the post knows).
SEED_LABELS = np.array([0.53, 0.77, 0.88, 1.1])
SEED_IMAGES.setflags(write=False)  # shared module state: read-only; seed_data() copies
SEED_LABELS.setflags(write=False)
#: An initialisation scale for :func:`seed_init` at which tanh is not saturated
#: and the kernel visibly learns on the seed data (the seed's 4.0 saturates it).
UNSATURATED_SCALE = 0.5
#: The kernel-gradient formulas of :func:`kernel_gradient`.
KERNEL_GRADIENT_VARIANTS = ("correct", "seed_original", "seed_transposed", "seed_rotated")


def _array(name, value, *, ndim=None, shape=None, square=False):
    """``value`` as a finite float64 array, or a ValueError/TypeError naming ``name``.

    The layers' front door (:mod:`cnn._validate`): masked arrays, ragged lists,
    None, strings and dtypes the layers refuse (float16, complex, ...) get the
    same errors; then the shape this function of the toy net needs.
    """
    a = as_array(value, name)
    check_real(a, name)
    a = a.astype(np.float64, copy=False)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: got shape {a.shape}; expected a {ndim}-D array")
    if square and a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: got shape {a.shape}; expected a square array")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name}: got shape {a.shape}; expected {shape}")
    check_finite(a, name)
    return a


def _label(label):
    return float(_array("label", label, ndim=0))


def seed_data():
    """The seed's images (4, 3, 3) and labels (4,), as fresh float64 copies."""
    return SEED_IMAGES.copy(), SEED_LABELS.copy()


def seed_init(seed=598765, scale=4.0, *, kernel_size=2, n_nodes=4):
    r"""The seed's initialisation: $K = 4\,\mathrm{randn}(2,2)$, then $W = 4\,\mathrm{randn}(4,1)$.

    Both come from one ``np.random.RandomState(seed)`` stream, in that order, as
    after the seed's ``np.random.seed(598765)``.

    Parameters
    ----------
    seed : int
    scale : float
        Multiplies both draws. The seed's 4.0 saturates tanh on the seed data
        ($|z_1| \approx 6$ to $17$), so the kernel hardly learns;
        :data:`UNSATURATED_SCALE` does not.
    kernel_size, n_nodes : int
        $k$ and $m^2$; e.g. ``kernel_size=3, n_nodes=9`` for a 3x3 kernel with padding 1.

    Returns
    -------
    kernel : (kernel_size, kernel_size) ndarray
    weights : (n_nodes, 1) ndarray
    """
    scale = float(_array("scale", scale, ndim=0))
    rng = np.random.RandomState(seed)
    k, n = as_int(kernel_size, "kernel_size", minimum=1), as_int(n_nodes, "n_nodes", minimum=1)
    kernel = rng.randn(k, k) * scale
    return kernel, rng.randn(n, 1) * scale


def rot180(a):
    """``a`` rotated by 180 degrees in its last two axes: $a[::-1, ::-1]$."""
    return np.asarray(a)[..., ::-1, ::-1]


def correlate2d(x, kernel):
    r"""Valid cross-correlation, $(x \star K)[i,j] = \sum_{a,b} x[i+a, j+b]\,K[a,b]$.

    ``x`` (H, W), ``kernel`` (kh, kw) -> (H - kh + 1, W - kw + 1); no flip.
    """
    x, kernel = _array("x", x, ndim=2), _array("kernel", kernel, ndim=2)
    if kernel.shape[0] > x.shape[0] or kernel.shape[1] > x.shape[1]:
        raise ValueError(f"kernel: got shape {kernel.shape}; expected no larger than x "
                         f"(x.shape = {x.shape})")
    # windows[i, j] is the (kh, kw) patch at (i, j); one contraction, no pixel loop.
    return np.einsum("ijab,ab->ij", sliding_window_view(x, kernel.shape), kernel)


def convolve2d(x, kernel):
    r"""Valid TRUE convolution (``scipy.signal.convolve2d(x, kernel, 'valid')``).

    $(x * K)[i,j] = \sum_{a,b} x[i+k_h-1-a,\, j+k_w-1-b]\,K[a,b] = (x \star \mathrm{rot180}(K))[i,j]$.
    """
    return correlate2d(x, rot180(_array("kernel", kernel, ndim=2)))


def pad(image, padding):
    """``image`` (n, n) with ``padding`` zeros on every side -> (n + 2p, n + 2p)."""
    p = as_int(padding, "padding", minimum=0)
    return np.pad(_array("image", image, ndim=2), p)


class ToyForward(NamedTuple):
    """Every value of one forward pass."""
    padded: np.ndarray  #: (P, P) the zero-padded image $x_p$
    z1: np.ndarray      #: (m, m) $x_p * K$
    a1: np.ndarray      #: (m, m) $\tanh(z_1)$
    z2: float           #: $\mathrm{vec}(a_1)^\top W$
    out: float          #: $\sigma(z_2)$


def _checked(image, kernel, weights, padding):
    """Validated (padded image, kernel, weights) for one forward pass."""
    image = _array("image", image, ndim=2, square=True)
    kernel = _array("kernel", kernel, ndim=2, square=True)
    xp = pad(image, padding)
    if kernel.shape[0] > xp.shape[0]:
        raise ValueError(f"kernel: got shape {kernel.shape}; expected no larger than the padded "
                         f"image (shape {xp.shape})")
    m = xp.shape[0] - kernel.shape[0] + 1
    return xp, kernel, _array("weights", weights, shape=(m * m, 1))


def forward(image, kernel, weights, *, padding=0):
    r"""Forward pass: $o = \sigma(\mathrm{vec}(\tanh(x_p * K))^\top W)$.

    Parameters
    ----------
    image : (n, n) array_like
    kernel : (k, k) array_like, $k \le n + 2p$
    weights : (m*m, 1) array_like, $m = n + 2p - k + 1$
    padding : int >= 0

    Returns
    -------
    ToyForward
    """
    xp, kernel, weights = _checked(image, kernel, weights, padding)
    z1 = convolve2d(xp, kernel)
    a1 = np.tanh(z1)
    z2 = float(a1.reshape(-1) @ weights[:, 0])
    # 0.5*(1+tanh(z/2)) is the logistic without overflow warnings for large |z|.
    return ToyForward(xp, z1, a1, z2, float(0.5 * (1.0 + np.tanh(0.5 * z2))))


def cost(out, label):
    r"""$L = \tfrac12 (o - y)^2$ for scalars ``out`` $o$ and ``label`` $y$."""
    return 0.5 * (float(_array("out", out, ndim=0)) - _label(label)) ** 2


def _backward(fwd, label, weights):
    """(dL/dz2, delta) from a forward pass."""
    d_z2 = (fwd.out - label) * fwd.out * (1.0 - fwd.out)
    # tanh' = 1 - a1^2 = sech^2(z1), written with e^{-2|z1|}: 1 - a1^2 loses all
    # relative precision once tanh saturates (the seed's |z1| ~ 17), this does not.
    e = np.exp(-2.0 * np.abs(fwd.z1))
    return d_z2, d_z2 * weights[:, 0].reshape(fwd.a1.shape) * (4.0 * e / (1.0 + e) ** 2)


def layer1_deltas(image, label, kernel, weights, *, padding=0):
    r"""Layer-1 deltas $\delta = \partial L/\partial z_1$, shape (m, m).

    $\delta = (o - y)\, o (1 - o)\; \mathrm{mat}(W) \odot (1 - a_1^2)$, with
    $\mathrm{mat}(W)$ the row-major (m, m) reshape of $W$.
    """
    fwd = forward(image, kernel, weights, padding=padding)
    return _backward(fwd, _label(label), np.asarray(weights, dtype=float))[1]


def kernel_gradient(padded_image, delta, *, variant="correct"):
    r"""$\partial L/\partial K$ (k, k) from the padded image (P, P) and the deltas (m, m).

    variant
        ``"correct"``: $\mathrm{rot180}(x_p \star \delta) = \mathrm{rot180}(x_p) * \delta$.
        ``"seed_original"``: $x_p * \mathrm{rot180}(\delta)$, the post's first code,
        the true gradient rotated 180 degrees (wrong).
        ``"seed_transposed"``: the same, transposed, as the Jan 28 update's text
        says (wrong unless the gradient happens to be symmetric).
        ``"seed_rotated"``: the same, rotated 180 degrees, as the update's code
        does; equal to the correct gradient.
    """
    if variant not in KERNEL_GRADIENT_VARIANTS:
        raise ValueError(f"variant: got {variant!r}; expected one of {KERNEL_GRADIENT_VARIANTS}")
    xp = _array("padded_image", padded_image, ndim=2, square=True)
    delta = _array("delta", delta, ndim=2, square=True)
    if delta.shape[0] > xp.shape[0]:
        raise ValueError(f"delta: got shape {delta.shape}; expected no larger than padded_image "
                         f"(shape {xp.shape})")
    if variant == "correct":
        return rot180(correlate2d(xp, delta)).copy()
    seed = convolve2d(xp, rot180(delta))
    return {"seed_original": seed, "seed_transposed": seed.T.copy(),
            "seed_rotated": rot180(seed).copy()}[variant]


def gradients(image, label, kernel, weights, *, padding=0, variant="correct"):
    r"""Both gradients of $L$ for one image.

    Returns
    -------
    d_kernel : (k, k) ndarray
        :func:`kernel_gradient` of the deltas, with the chosen ``variant``.
    d_weights : (m*m, 1) ndarray
        $\partial L/\partial W = (o - y)\, o(1 - o)\, \mathrm{vec}(a_1)$.
    """
    fwd = forward(image, kernel, weights, padding=padding)
    d_z2, delta = _backward(fwd, _label(label), np.asarray(weights, dtype=float))
    d_weights = d_z2 * fwd.a1.reshape(-1, 1)
    return kernel_gradient(fwd.padded, delta, variant=variant), d_weights


class TrainResult(NamedTuple):
    """What :func:`train` returns."""
    kernel: np.ndarray   #: (k, k) final kernel
    weights: np.ndarray  #: (m*m, 1) final dense weights
    costs: np.ndarray    #: (epochs,) cost of each epoch, see :func:`train`
    outputs: np.ndarray  #: (N,) outputs of the final weights on every image


def train(images, labels, kernel, weights, *, lr=0.7, epochs=1000, padding=0,
          variant="correct"):
    r"""Per-sample SGD as in the seed: $K \leftarrow K - \eta\,\partial L/\partial K$,
    $W \leftarrow W - \eta\,\partial L/\partial W$, image after image, in order.

    Both gradients of an image are computed at the current weights, then both
    are updated. ``costs[e]`` is the seed's running cost: the sum over the
    images of $\tfrac12 (o - y)^2$, each taken from the forward pass of its own
    update step during epoch ``e`` (so with the weights as they were just
    before that image's update). With :func:`seed_init` and the seed data this
    gives 1.28480 at the first epoch and 0.01262 at the last, the seed's
    1.2848 -> 0.0126. (The sum at the weights of the epoch's start or end,
    1.28481 and 0.01261, rounds the same: four digits cannot tell them apart.)

    Parameters
    ----------
    images : (N, n, n) array_like
    labels : (N,) array_like
    kernel : (k, k) array_like
    weights : (m*m, 1) array_like
    lr : float > 0
    epochs : int >= 0
    padding : int >= 0
    variant : str, one of :data:`KERNEL_GRADIENT_VARIANTS`

    Returns
    -------
    TrainResult
        New arrays; the inputs are not modified.
    """
    images = _array("images", images, ndim=3)
    if len(images) == 0:
        raise ValueError(f"images: got shape {images.shape}, no images; expected at least one")
    labels = _array("labels", labels, shape=images.shape[:1])
    lr = as_real(lr, "lr")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: got {lr}; expected a finite number > 0")
    epochs = as_int(epochs, "epochs", minimum=0)
    if variant not in KERNEL_GRADIENT_VARIANTS:
        raise ValueError(f"variant: got {variant!r}; expected one of {KERNEL_GRADIENT_VARIANTS}")
    _, kernel, weights = _checked(images[0], kernel, weights, padding)
    kernel, weights = kernel.copy(), weights.copy()
    costs = np.zeros(epochs)
    for epoch in range(epochs):
        for x, y in zip(images, labels):
            fwd = forward(x, kernel, weights, padding=padding)
            d_z2, delta = _backward(fwd, y, weights)
            costs[epoch] += cost(fwd.out, y)
            d_kernel = kernel_gradient(fwd.padded, delta, variant=variant)
            weights -= lr * d_z2 * fwd.a1.reshape(-1, 1)
            kernel -= lr * d_kernel
    outputs = np.array([forward(x, kernel, weights, padding=padding).out for x in images])
    return TrainResult(kernel, weights, costs, outputs)
