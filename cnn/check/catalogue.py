"""The catalogue of known mistakes: each one a wrong output computed from the right one.

Every :class:`Mistake` has a key, one sentence, the site page that explains
the right formula, and, per checkable function it applies to, a function
``wrong(probe, right) -> outputs`` that produces what code with that mistake
returns on the probe, built from the library's own (verified) functions. It
returns ``None`` on a probe where the mistake is not defined (the seed's
transposed pooling mask on a rectangular map, say); such a probe neither
confirms nor rules out that mistake.

A function is diagnosed with a mistake only when its outputs equal that
mistake's on *every* probe where the mistake is defined, to floating-point
accuracy (:data:`cnn.check.MATCH_TOLERANCE`). The probes are chosen so that
every two entries differ somewhere and every entry differs from the right
answer somewhere (``tests/test_check.py`` proves it), so a match is unique.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import toy_net
from ..activations import ACTIVATIONS
from ..conv import _pad, conv2d_backward
from ..pooling import max_pool2d_backward

__all__ = ["CATALOGUE", "Mistake", "for_target"]


@dataclass(frozen=True)
class Mistake:
    """One known mistake: ``key``, ``sentence``, ``page`` and ``wrong[target](probe, right)``."""

    key: str
    sentence: str
    page: str
    wrong: dict[str, Callable]

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.wrong)


def _rot(a):
    return np.ascontiguousarray(a[..., ::-1, ::-1])


def _swap(a):
    return np.ascontiguousarray(np.swapaxes(a, -1, -2))


# ----------------------------------------------------------------------------- conv2d

def _conv_dx_contiguous(probe):
    """dx with every window's gradient added back at contiguous positions (stride ignored)."""
    dy, x, w = probe.args
    p = probe.kwargs["padding"]
    N, C, H, W = x.shape
    OH, OW = dy.shape[2:]
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p))
    for a in range(w.shape[2]):
        for e in range(w.shape[3]):
            dxp[:, :, a:a + OH, e:e + OW] += np.einsum("fc,nfij->ncij", w[:, :, a, e], dy)
    return dxp[:, :, p:p + H, p:p + W].copy()


def _conv_dx_rotated_kernel(probe):
    dy, x, w = probe.args
    return conv2d_backward(dy, x, _rot(w), **probe.kwargs)[0]


def _conv_dx_padded(probe):
    dy, x, w = probe.args
    return conv2d_backward(dy, _pad(x, probe.kwargs["padding"]), w,
                           stride=probe.kwargs["stride"], padding=0)[0]


# ----------------------------------------------------------------------------- pooling

def _seed_style(probe, square=False):
    """Seed 000's case, where its mask code is defined: 2x2 windows, stride 2, even
    sides, no ties (and square maps for a transpose)."""
    H, W = probe.args[1].shape[2:]
    return (probe.kwargs == {"size": 2, "stride": 2} and not probe.info["ties"]
            and H % 2 == 0 and W % 2 == 0 and (H == W or not square))


def _mask_and_upsampled(probe):
    dy, x = probe.args
    mask = max_pool2d_backward(np.ones_like(dy), x, size=2, stride=2)
    return mask, np.repeat(np.repeat(dy, 2, axis=2), 2, axis=3)


def _pool_mask_transposed(probe, right):
    if not _seed_style(probe, square=True):
        return None
    mask, up = _mask_and_upsampled(probe)
    return (_swap(mask) * up,)


def _pool_mask_rotated(probe, right):
    if not _seed_style(probe):
        return None
    mask, up = _mask_and_upsampled(probe)
    return (_rot(mask) * up,)


def _pool_routed(probe, order, add_all=False, overwrite=False):
    """Each window's gradient to its maximum, offsets visited in ``order``: the first
    maximum met takes it all (or every maximum does, ``add_all``); ``overwrite``
    assigns each window's slice in turn instead of adding."""
    dy, x = probe.args
    k, s = probe.kwargs["size"], probe.kwargs["stride"]
    OH, OW = dy.shape[2:]
    dx = np.zeros_like(x)
    if overwrite:
        for i in range(OH):
            for j in range(OW):
                win = x[:, :, s * i:s * i + k, s * j:s * j + k].reshape(x.shape[:2] + (-1,))
                first = np.eye(k * k)[win.argmax(axis=-1)].reshape(x.shape[:2] + (k, k))
                dx[:, :, s * i:s * i + k, s * j:s * j + k] = first * dy[:, :, i:i + 1, j:j + 1]
        return (dx,)
    y = np.full(dy.shape, -np.inf)
    idx = [(slice(None), slice(None), slice(a, a + s * (OH - 1) + 1, s),
            slice(e, e + s * (OW - 1) + 1, s)) for a in range(k) for e in range(k)]
    for i in idx:
        y = np.maximum(y, x[i])
    remaining = dy.copy()
    for i in (idx if order == "first" else idx[::-1]):
        routed = (dy if add_all else remaining) * (x[i] == y)
        dx[i] += routed
        remaining = remaining - routed
    return (dx,)


# ----------------------------------------------------------------------------- toy net

def _toy_kernel_only(change):
    return lambda probe, right: (change(right[0]), right[1])


def _toy_cross_correlation(probe, right):
    image, label, kernel, weights = probe.args
    dk, dw = toy_net.gradients(image, label, _rot(kernel), weights, **probe.kwargs)
    return _rot(dk), dw


def _toy_tanh_not_squared(probe, right):
    image, label, kernel, weights = probe.args
    fwd = toy_net.forward(image, kernel, weights, **probe.kwargs)
    d_z2 = (fwd.out - label) * fwd.out * (1.0 - fwd.out)
    delta = d_z2 * weights[:, 0].reshape(fwd.a1.shape) * (1.0 - fwd.a1)
    return toy_net.kernel_gradient(fwd.padded, delta), right[1]


# ----------------------------------------------------------------------------- the entries

def _forward_of(name):
    return lambda probe, right: (ACTIVATIONS[name].forward(probe.args[0]),)


def _negate_all(probe, right):
    return tuple(-r for r in right)


def _loss_grad(scale_loss, scale_grad):
    def wrong(probe, right):
        N = probe.info["N"]
        return right[0] * scale_loss(N), right[1] * scale_grad(N)
    return wrong


_ACTIVATION_TARGETS = tuple(f"{name}_derivative" for name in ACTIVATIONS)
_CONV, _TOY = "layers/conv2d.md", "toy_net.md"
_POOL = "layers/max_pool.md"

CATALOGUE: tuple[Mistake, ...] = (
    Mistake("kernel_grad_rot180",
            "The kernel gradient is the right one rotated by 180 degrees: the input and the "
            "upstream gradient met in a true convolution (or a correlation with its arguments "
            "swapped) where the layer's own convention was needed, as in seed 004's first code.",
            f"{_CONV}#the-gradients-are-convolutions-too",
            {"conv2d_backward": lambda p, r: (r[0], _rot(r[1]), r[2]),
             "toy_gradients": _toy_kernel_only(_rot)}),
    Mistake("kernel_grad_transposed",
            "The kernel gradient is the right one mirrored across its anti-diagonal: a "
            "transpose was applied where a 180-degree rotation was needed, as the text of "
            "seed 004's update says.",
            f"{_TOY}#what-the-seed-got-wrong-and-why-it-never-showed",
            {"conv2d_backward": lambda p, r: (r[0], _swap(_rot(r[1])), r[2]),
             "toy_gradients": _toy_kernel_only(lambda d: _swap(_rot(d)))}),
    Mistake("kernel_grad_swapped_axes",
            "The kernel gradient is the right one transposed (its last two axes swapped): rows "
            "of the kernel were paired with columns of the input.",
            f"{_CONV}#gradients-entry-by-entry",
            {"conv2d_backward": lambda p, r: (r[0], _swap(r[1]), r[2]),
             "toy_gradients": _toy_kernel_only(_swap)}),
    Mistake("input_grad_kernel_not_rotated",
            "dx is a full cross-correlation of the upstream gradient with the kernel as it is: "
            "a correlation needs the kernel rotated by 180 degrees (a true convolution needs it "
            "unrotated; rotating and convolving flips twice, which gives the same wrong result).",
            f"{_CONV}#the-gradients-are-convolutions-too",
            {"conv2d_backward": lambda p, r: (_conv_dx_rotated_kernel(p), r[1], r[2])}),
    Mistake("true_convolution_instead_of_cross_correlation",
            "Every gradient is right for a true convolution (kernel flipped, as "
            "scipy.signal.convolve2d) while the layer is a cross-correlation: check it with "
            "convolution='true' if that is your layer.",
            "conventions.md#convolution-and-cross-correlation",
            {"conv2d_backward": lambda p, r: (_conv_dx_rotated_kernel(p), _rot(r[1]), r[2])}),
    Mistake("stride_dilation_missing",
            "With stride > 1, dx adds each output's gradient back at contiguous positions "
            "instead of the strided positions its window was read from: the upstream gradient "
            "must be dilated (s - 1 zeros between entries) first.",
            f"{_CONV}#the-backward-pass-frame-by-frame",
            {"conv2d_backward": lambda p, r: (_conv_dx_contiguous(p), r[1], r[2])}),
    Mistake("padding_not_cropped",
            "dx still has the padding on (shape H + 2p by W + 2p): the gradient with respect "
            "to the padded input must be cropped to the input's interior.",
            f"{_CONV}#the-gradients-are-convolutions-too",
            {"conv2d_backward": lambda p, r: (_conv_dx_padded(p), r[1], r[2])}),
    Mistake("bias_grad_not_summed",
            "The bias gradient is per sample, shape (N, ...), not summed over the batch: every "
            "sample's gradient adds up into the one shared bias.",
            "layers/dense_softmax.md#the-dense-layer",
            {"conv2d_backward": lambda p, r: (r[0], r[1], p.args[0].sum(axis=(2, 3))),
             "dense_backward": lambda p, r: (r[0], r[1], p.args[0].copy())}),
    Mistake("dense_grad_not_transposed",
            "dW is dy^T x, shape (D_out, D_in): with one example per row the weight gradient "
            "is x^T dy, shape (D_in, D_out) like W.",
            "layers/dense_softmax.md#the-dense-layer",
            {"dense_backward": lambda p, r: (r[0], p.args[0].T @ p.args[1], r[2])}),
    Mistake("mean_missing",
            "The loss is the batch mean but its gradient is not divided by N, so it is N times "
            "too large.",
            "layers/l2_loss.md#sum-or-mean-over-the-batch",
            {t: _loss_grad(lambda N: 1, lambda N: N) for t in ("softmax_cross_entropy", "l2_loss")}),
    Mistake("mean_twice",
            "The gradient is divided by N twice (N times too small): the batch mean was taken "
            "in the loss's gradient and again later.",
            "layers/l2_loss.md#sum-or-mean-over-the-batch",
            {t: _loss_grad(lambda N: 1, lambda N: 1 / N)
             for t in ("softmax_cross_entropy", "l2_loss")}),
    Mistake("sum_instead_of_mean",
            "Loss and gradient are both the batch sum, N times the batch mean: right for a "
            "summed loss, so check it with reduction='sum' if that is what you meant.",
            "layers/l2_loss.md#sum-or-mean-over-the-batch",
            {t: _loss_grad(lambda N: N, lambda N: N) for t in ("softmax_cross_entropy", "l2_loss")}),
    Mistake("half_missing",
            "The gradient is 2(o - y)/N, the derivative of (o - y)^2: the cost has the factor "
            "1/2 precisely so that its derivative is (o - y)/N.",
            "layers/l2_loss.md",
            {"l2_loss": _loss_grad(lambda N: 1, lambda N: 2)}),
    Mistake("softmax_derivative_applied_twice",
            "The gradient is (p - y) multiplied again by p(1 - p): p - y already is the "
            "derivative of cross-entropy with respect to the logits, softmax included.",
            "layers/dense_softmax.md#softmax-and-cross-entropy",
            {"softmax_cross_entropy": lambda p, r: (
                r[0], r[1] * _softmax(p.args[0]) * (1 - _softmax(p.args[0])))}),
    Mistake("one_hot_not_subtracted",
            "The gradient is p/N without the one-hot labels subtracted: the derivative of "
            "-log p[t] is p - onehot(t).",
            "layers/dense_softmax.md#softmax-and-cross-entropy",
            {"softmax_cross_entropy": lambda p, r: (r[0], _softmax(p.args[0]) / p.info["N"])}),
    Mistake("pool_mask_transposed",
            "The pooling mask is transposed, so each window's gradient lands where the "
            "mirrored window had its maximum, as in seed 000's broken net (its text).",
            f"{_POOL}#where-the-gradient-goes", {"max_pool2d_backward": _pool_mask_transposed}),
    Mistake("pool_mask_rotated",
            "The pooling mask is rotated by 180 degrees, so each window's gradient lands where "
            "the mirrored window had its maximum, as in seed 000's broken net (its code).",
            f"{_POOL}#where-the-gradient-goes", {"max_pool2d_backward": _pool_mask_rotated}),
    Mistake("pool_grad_transposed",
            "The gradient after the pooling layer is transposed: the right dx, mirrored across "
            "its diagonal, as in seed 000's broken net (its text).",
            f"{_POOL}#where-the-gradient-goes",
            {"max_pool2d_backward": lambda p, r: (_swap(r[0]),) if _seed_style(p, True) else None}),
    Mistake("pool_grad_rotated",
            "The gradient after the pooling layer is rotated by 180 degrees, as in seed 000's "
            "broken net (its code).",
            f"{_POOL}#where-the-gradient-goes",
            {"max_pool2d_backward": lambda p, r: (_rot(r[0]),) if _seed_style(p) else None}),
    Mistake("pool_grad_to_all_ties",
            "On a tie every maximal entry gets the window's whole gradient, so it is counted "
            "several times; the library gives it to the first maximum only, as PyTorch does.",
            f"{_POOL}#ties",
            {"max_pool2d_backward": lambda p, r: _pool_routed(p, "first", add_all=True)}),
    Mistake("pool_grad_to_last_tie",
            "On a tie the window's gradient goes to the last maximal entry; the library (and "
            "PyTorch on NCHW) gives it to the first in row-major order. Both are valid "
            "subgradients: this differs only by convention.",
            f"{_POOL}#ties", {"max_pool2d_backward": lambda p, r: _pool_routed(p, "last")}),
    Mistake("pool_overlap_overwritten",
            "With overlapping windows (stride < size) each window's gradient overwrites the "
            "previous window's instead of adding to it.",
            f"{_POOL}#where-the-gradient-goes",
            {"max_pool2d_backward": lambda p, r: _pool_routed(p, "first", overwrite=True)}),
    Mistake("relu_grad_at_zero_one",
            "ReLU'(0) is taken as 1; the library, like PyTorch, uses 0. Both are conventions "
            "(ReLU has no derivative at 0) and they differ only where z is exactly 0.",
            "layers/activations.md#relu-at-0",
            {"relu_derivative": lambda p, r: ((p.args[0] >= 0).astype(float),)}),
    Mistake("tanh_grad_not_squared",
            "tanh'(z) is written 1 - tanh(z) instead of 1 - tanh(z)^2.",
            "layers/activations.md#derivatives-written-with-the-output",
            {"tanh_derivative": lambda p, r: (1 - np.tanh(p.args[0]),)}),
    Mistake("derivative_in_output_form",
            "The derivative is written with the output a = f(z) (1 - a^2, a(1 - a)) but "
            "evaluated at z: pass the activation's output, or write it with z.",
            "layers/activations.md#derivatives-written-with-the-output",
            {"tanh_derivative": lambda p, r: (1 - p.args[0] ** 2,),
             "logistic_derivative": lambda p, r: (p.args[0] * (1 - p.args[0]),)}),
    Mistake("forward_instead_of_derivative",
            "The function returns the activation f(z) itself, not its derivative f'(z).",
            "layers/activations.md#forward-derivative-backward",
            {t: _forward_of(t.removesuffix("_derivative")) for t in _ACTIVATION_TARGETS}),
    Mistake("cross_correlation_instead_of_convolution",
            "The gradients are right for a net whose layer 1 is a cross-correlation, but the "
            "toy net convolves (kernel flipped, scipy.signal.convolve2d).",
            f"{_TOY}#the-kernel-gradient-is-a-convolution",
            {"toy_gradients": _toy_cross_correlation}),
    Mistake("toy_tanh_grad_not_squared",
            "The layer-1 deltas use 1 - a1 instead of tanh's derivative 1 - a1^2, so the kernel "
            "gradient is wrong (the dense weights' gradient is not affected).",
            f"{_TOY}#backward-pass-step-by-step", {"toy_gradients": _toy_tanh_not_squared}),
    Mistake("sign_flipped",
            "Every gradient has the wrong sign: descending along it would climb the loss.",
            "verification.md",
            {"conv2d_backward": _negate_all, "max_pool2d_backward": _negate_all,
             "dense_backward": _negate_all, "toy_gradients": _negate_all,
             "softmax_cross_entropy": lambda p, r: (r[0], -r[1]),
             "l2_loss": lambda p, r: (r[0], -r[1]),
             **{t: _negate_all for t in _ACTIVATION_TARGETS}}),
)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def for_target(name: str) -> tuple[Mistake, ...]:
    """The entries that apply to the checkable function ``name``."""
    return tuple(m for m in CATALOGUE if name in m.wrong)
