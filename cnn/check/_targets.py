"""What can be checked: each function's signature, its probes and the right answers.

A :class:`Target` names a checkable function of the library, the call the
checker makes (positional arguments, keyword options), the names and kinds
of its outputs, a fixed list of probes and the right outputs on a probe
(computed by the library's own function). Probes are float64, drawn from
one fixed seed each: random, asymmetric, non-square where the function
allows it, batch N >= 2, never saturated, so that a mistake which agrees
with the right answer on special inputs (a symmetric kernel, N = 1, a
stride of 1) is still visible on some probe. Probes that exercise one
convention only (exact zeros for ReLU, ties for max pooling) come last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import toy_net
from ..activations import ACTIVATIONS
from ..conv import conv2d_backward
from ..dense import dense_backward
from ..losses import l2_loss, softmax_cross_entropy
from ..pooling import max_pool2d_backward

__all__ = ["TARGETS", "Probe", "Target"]


@dataclass(frozen=True, eq=False)
class Probe:
    """One call of the checked function: its arguments and a readable description."""

    args: tuple                    # positional arguments (arrays, labels, scalars)
    kwargs: dict                   # keyword options (stride, padding, size)
    description: str
    info: dict = field(default_factory=dict)   # facts entries look at: N, ties, zeros, ...


@dataclass(frozen=True)
class Target:
    """A checkable function: signature, outputs, probes, right answers."""

    name: str
    signature: str                 # as the user should write it
    arg_names: tuple[str, ...]
    outputs: tuple[str, ...]       # names of the returned values, in order
    scalar_outputs: tuple[str, ...]   # outputs that are scalars (a loss)
    make_probes: Callable[[], list[Probe]]
    right: Callable[[Probe], tuple]
    defaults: dict                 # keyword options and the value a function without them has
    page: str                      # the site page of the right formula

    def probes(self) -> list[Probe]:
        return self.make_probes()


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(20261201 + seed)


def _shape(a) -> str:
    return "x".join(str(s) for s in np.shape(a)) if np.ndim(a) else "scalar"


def _describe(names, args, kwargs) -> str:
    parts = [f"{n} {_shape(a)}" for n, a in zip(names, args) if isinstance(a, np.ndarray)]
    parts += [f"{k}={v}" for k, v in kwargs.items()]
    return ", ".join(parts)


# ----------------------------------------------------------------------------- conv2d

#: (N, C, H, W, F, KH, KW, stride, padding): square and rectangular kernels,
#: strides 1 and 2, paddings 0 and 1, and a remainder no window reaches.
CONV_CONFIGS = ((2, 2, 5, 6, 3, 3, 3, 1, 0), (2, 3, 6, 7, 2, 3, 3, 2, 1),
                (3, 2, 5, 7, 2, 2, 3, 1, 1), (2, 2, 7, 6, 3, 3, 2, 2, 0),
                (2, 2, 6, 6, 2, 3, 3, 1, 1))


def _conv_probes() -> list[Probe]:
    probes = []
    for seed, (N, C, H, W, F, KH, KW, s, p) in enumerate(CONV_CONFIGS):
        rng = _rng(seed)
        OH, OW = (H + 2 * p - KH) // s + 1, (W + 2 * p - KW) // s + 1
        args = (rng.standard_normal((N, F, OH, OW)), rng.standard_normal((N, C, H, W)),
                rng.standard_normal((F, C, KH, KW)))
        kwargs = {"stride": s, "padding": p}
        probes.append(Probe(args, kwargs, _describe(("dy", "x", "w"), args, kwargs),
                            {"N": N, "stride": s, "padding": p}))
    return probes


def _conv_right(probe: Probe) -> tuple:
    return conv2d_backward(*probe.args, **probe.kwargs)


# ----------------------------------------------------------------------------- pooling

#: (N, C, H, W, size, stride, ties): 2x2 stride-2 pools on square and
#: rectangular maps (seed 000's case), 3x3 windows, overlapping windows, and
#: last the probes with ties (small integers, many equal maxima).
POOL_CONFIGS = ((2, 2, 4, 4, 2, 2, False), (2, 3, 6, 6, 2, 2, False),
                (2, 2, 4, 6, 2, 2, False), (2, 2, 6, 6, 3, 3, False),
                (2, 2, 5, 7, 3, 2, False), (2, 2, 4, 6, 2, 1, False),
                (2, 2, 4, 4, 2, 2, True), (2, 2, 5, 5, 3, 2, True))


def _pool_probes() -> list[Probe]:
    probes = []
    for seed, (N, C, H, W, k, s, ties) in enumerate(POOL_CONFIGS):
        rng = _rng(100 + seed)
        OH, OW = (H - k) // s + 1, (W - k) // s + 1
        x = (rng.integers(0, 3, (N, C, H, W)).astype(float) if ties
             else rng.standard_normal((N, C, H, W)))
        args = (rng.standard_normal((N, C, OH, OW)), x)
        kwargs = {"size": k, "stride": s}
        text = _describe(("dy", "x"), args, kwargs) + (", x with tied maxima" if ties else "")
        probes.append(Probe(args, kwargs, text, {"N": N, "ties": ties, "size": k, "stride": s}))
    return probes


def _pool_right(probe: Probe) -> tuple:
    return (max_pool2d_backward(*probe.args, **probe.kwargs),)


# ----------------------------------------------------------------------------- dense

DENSE_CONFIGS = ((3, 4, 5), (2, 5, 3), (4, 3, 3))     # (N, D_in, D_out)


def _dense_probes() -> list[Probe]:
    probes = []
    for seed, (N, D_in, D_out) in enumerate(DENSE_CONFIGS):
        rng = _rng(200 + seed)
        args = (rng.standard_normal((N, D_out)), rng.standard_normal((N, D_in)),
                rng.standard_normal((D_in, D_out)))
        probes.append(Probe(args, {}, _describe(("dy", "x", "w"), args, {}), {"N": N}))
    return probes


def _dense_right(probe: Probe) -> tuple:
    return dense_backward(*probe.args)


# ----------------------------------------------------------------------------- losses

def _softmax_probes() -> list[Probe]:
    probes = []
    for seed, (N, K) in enumerate(((3, 4), (4, 3), (2, 5))):
        rng = _rng(300 + seed)
        logits = 1.5 * rng.standard_normal((N, K))
        labels = rng.permutation(np.arange(N) % K).astype(np.int64)
        args = (logits, labels)
        probes.append(Probe(args, {}, f"logits {N}x{K}, labels {labels.tolist()}", {"N": N}))
    return probes


def _softmax_right(probe: Probe) -> tuple:
    return softmax_cross_entropy(*probe.args)


def _l2_probes() -> list[Probe]:
    probes = []
    for seed, shape in enumerate(((3, 4), (4, 2, 3), (2, 5))):
        rng = _rng(400 + seed)
        args = (rng.standard_normal(shape), rng.standard_normal(shape))
        probes.append(Probe(args, {}, _describe(("output", "target"), args, {}),
                            {"N": shape[0]}))
    return probes


def _l2_right(probe: Probe) -> tuple:
    return l2_loss(*probe.args)


# ----------------------------------------------------------------------------- activations

def _activation_probes() -> list[Probe]:
    probes = []
    for seed, shape in enumerate(((3, 4), (2, 3, 5))):
        z = 1.5 * _rng(500 + seed).standard_normal(shape)
        probes.append(Probe((z,), {}, f"z {_shape(z)}", {"zeros": False}))
    # Last, on its own: exact zeros, where ReLU's derivative is a convention.
    z = 1.5 * _rng(510).standard_normal((3, 5))
    z[:, ::2] = 0.0
    probes.append(Probe((z,), {}, f"z {_shape(z)} with exact zeros", {"zeros": True}))
    return probes


def _activation_right(name: str):
    return lambda probe: (ACTIVATIONS[name].derivative(*probe.args),)


# ----------------------------------------------------------------------------- toy net

TOY_CONFIGS = ((3, 2, 0), (4, 3, 0), (3, 3, 1), (4, 2, 1))   # (image n, kernel k, padding)


def _toy_probes() -> list[Probe]:
    probes = []
    for seed, (n, k, p) in enumerate(TOY_CONFIGS):
        rng = _rng(600 + seed)
        m = n + 2 * p - k + 1
        image = rng.standard_normal((n, n))
        label = float(rng.uniform(0.2, 0.8))
        kernel = 0.5 * rng.standard_normal((k, k))
        weights = 0.5 * rng.standard_normal((m * m, 1))
        args = (image, label, kernel, weights)
        kwargs = {"padding": p}
        text = f"image {n}x{n}, label {label:.3f}, kernel {k}x{k}, weights {m * m}x1, padding={p}"
        probes.append(Probe(args, kwargs, text, {"padding": p}))
    return probes


def _toy_right(probe: Probe) -> tuple:
    return toy_net.gradients(*probe.args, **probe.kwargs)


# ----------------------------------------------------------------------------- registry

def _targets() -> dict[str, Target]:
    t = [
        Target("conv2d_backward", "conv2d_backward(dy, x, w, *, stride=1, padding=0) -> (dx, dw, db)",
               ("dy", "x", "w"), ("dx", "dw", "db"), (), _conv_probes, _conv_right,
               {"stride": 1, "padding": 0}, "layers/conv2d.md"),
        Target("max_pool2d_backward", "max_pool2d_backward(dy, x, *, size=2, stride=2) -> dx",
               ("dy", "x"), ("dx",), (), _pool_probes, _pool_right,
               {"size": 2, "stride": 2}, "layers/max_pool.md"),
        Target("dense_backward", "dense_backward(dy, x, w) -> (dx, dw, db)",
               ("dy", "x", "w"), ("dx", "dw", "db"), (), _dense_probes, _dense_right, {},
               "layers/dense_softmax.md"),
        Target("softmax_cross_entropy", "softmax_cross_entropy(logits, labels) -> (loss, dlogits)",
               ("logits", "labels"), ("loss", "dlogits"), ("loss",), _softmax_probes,
               _softmax_right, {}, "layers/dense_softmax.md"),
        Target("l2_loss", "l2_loss(output, target) -> (loss, doutput)", ("output", "target"),
               ("loss", "doutput"), ("loss",), _l2_probes, _l2_right, {}, "layers/l2_loss.md"),
        Target("toy_gradients",
               "gradients(image, label, kernel, weights, *, padding=0) -> (d_kernel, d_weights)",
               ("image", "label", "kernel", "weights"), ("d_kernel", "d_weights"), (),
               _toy_probes, _toy_right, {"padding": 0}, "toy_net.md"),
    ]
    for name in ACTIVATIONS:
        t.append(Target(f"{name}_derivative", f"{name}_derivative(z) -> f'(z)", ("z",),
                        ("f'(z)",), (), _activation_probes, _activation_right(name), {},
                        "layers/activations.md"))
    return {target.name: target for target in t}


#: Every checkable function by name (the names `cnn check` takes).
TARGETS: dict[str, Target] = _targets()
