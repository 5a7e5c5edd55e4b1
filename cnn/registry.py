r"""The layer registry: every layer of the library and what it takes to check it.

One :class:`Layer` per layer names its forward and backward functions, its
plain-loop reference (:mod:`cnn.reference`), the derivation subject its
formulas are exported under (``derivations/<subject>.py``), how its arrays
and hyper-parameters are passed, how to draw valid random arguments, and the
adapter from an exported case's variables to the layer's outputs, named like
the exported formulas. The tests in ``tests/layers/`` are parametrised from
:data:`LAYERS`: the comparison with the exports, central differences, the
loop reference, PyTorch, dtypes and bad input all pick up a new entry by
themselves, and a public layer function missing here fails a test. Adding a
layer is a derivation, a layer module, an entry here and a page (plus its
names in ``cnn/__init__.py`` and the page's line in the site's nav).

Nothing here imports SymPy or PyTorch, or reads an export: the adapters take
plain arrays keyed by the export's variable names (``x``, ``w``, ``G``, ...,
as ``case.variables`` shapes them), and the PyTorch equivalent is a function
of the module ``torch.nn.functional`` that the test passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import reference
from .activations import ACTIVATIONS
from .avg_pool import avg_pool2d, avg_pool2d_backward
from .conv import conv2d, conv2d_backward
from .dense import dense, dense_backward
from .losses import l2_loss, softmax_cross_entropy
from .pooling import max_pool2d, max_pool2d_backward, max_pool2d_relu, max_pool2d_relu_backward

__all__ = ["Config", "Layer", "LAYERS"]

#: ``draw(lo, hi)``: a number in [lo, hi], an int if ``lo`` is one (a seeded
#: generator, or Hypothesis drawing it so that it can shrink the shapes).
Draw = Callable[[Any, Any], Any]
Arrays = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Config:
    """One call's geometry: the shape of each array argument, the hyper-parameters
    (keyword arguments such as ``stride``) and the scale of the random values."""

    shapes: Mapping[str, tuple[int, ...]]
    hyper: Mapping[str, int] = field(default_factory=dict)
    scale: float = 1.0

    @property
    def id(self) -> str:
        """A short name for test ids, e.g. ``x2x3x5x5-w4x3x3x3-b4-stride2-padding1``."""
        parts = [name + "x".join(map(str, shape)) for name, shape in self.shapes.items()]
        parts += [f"{k}{v}" for k, v in self.hyper.items()]
        return "-".join(parts + ([f"scale{self.scale:g}"] if self.scale != 1 else []))


def normal_values(rng: np.random.Generator, config: Config) -> dict[str, np.ndarray]:
    """Standard normal values times ``config.scale`` for every array argument."""
    return {name: rng.standard_normal(shape) * config.scale for name, shape in config.shapes.items()}


def uniform_points(rng: np.random.Generator, shapes: Mapping[str, tuple], points: int) -> dict:
    """Generic values for an exported case: uniform in [-2, 2], asymmetric, no ties."""
    return {name: rng.uniform(-2, 2, (points,) + tuple(shape)) for name, shape in shapes.items()}


@dataclass(frozen=True)
class Layer:
    """One layer: its functions, its derivation and what the generic tests need.

    Attributes
    ----------
    name : str
        The public name of the forward function (``cnn.<name>``).
    forward : callable
        ``forward(*inputs, **hyper)``; for a loss it returns ``(loss, gradient)``.
    backward : callable or None
        ``backward(dy, *backward_inputs, **hyper)`` returning the gradients
        w.r.t. ``wrt`` (a tuple if there are several); None for a loss,
        whose forward returns its gradient.
    reference : (forward, backward) or None
        The loop versions in :mod:`cnn.reference`, same signatures.
    subject : str or None
        The derivation subject whose export checks this layer; None for a
        fused helper, whose math is that of the layers it ``composes``.
    inputs : tuple of str
        The forward function's array arguments, in order (optional ones last).
    wrt : tuple of str
        The inputs the gradients are taken with respect to, in backward's order.
    backward_inputs : tuple of str
        The backward function's arguments after ``dy``.
    configs : tuple of Config
        Fixed geometries the loop-reference, PyTorch and dtype tests run
        (``configs[0]`` is the small one the input-handling tests use).
    draw : callable
        ``draw(d) -> Config``: a random valid geometry, ``d`` a :data:`Draw`.
    values : callable
        ``values(rng, config) -> {argument: array}``: generic values, away from
        the points where the layer has no derivative (kinks, ties).
    from_export : callable
        ``from_export(variables, parameters) -> {formula name: array}``: the
        layer evaluated at one point of an exported case (its variables as
        arrays shaped like ``case.variables``, its ``parameters``), each
        output named like the exported formulas (``"dL/dx"`` for
        ``"dL/dx[0,0,1,1]"``).
    export_cases : tuple of str or None
        The cases of ``subject`` that ``from_export`` evaluates; None for all
        but ``index_form`` (evaluated by the layer's own test).
    export_points : callable
        ``export_points(rng, shapes, points) -> {variable: (points, *shape) array}``.
    labels : tuple of str
        Integer arguments (class indices): no gradient, no float checks.
    derivative : callable or None
        For an activation, ``z -> f'(z)``.
    torch : callable or None
        ``torch(F, tensors, hyper) -> output`` (the loss for a loss) with ``F``
        the module ``torch.nn.functional``: the same layer in PyTorch.
    composes : tuple of str
        For a fused helper, the registered layers it equals applied in this
        order (one array in, one out); the tests hold it to that composition.
    """

    name: str
    forward: Callable
    backward: Callable | None
    reference: tuple[Callable, Callable | None] | None
    subject: str | None
    inputs: tuple[str, ...]
    wrt: tuple[str, ...]
    backward_inputs: tuple[str, ...]
    configs: tuple[Config, ...]
    draw: Callable[[Draw], Config]
    from_export: Callable[[Arrays, Mapping[str, Any]], dict[str, np.ndarray]]
    values: Callable[[np.random.Generator, Config], dict] = normal_values
    export_cases: tuple[str, ...] | None = None
    export_points: Callable[[np.random.Generator, Mapping, int], dict] = uniform_points
    labels: tuple[str, ...] = ()
    derivative: Callable | None = None
    torch: Callable | None = None
    composes: tuple[str, ...] = ()

    @property
    def backward_name(self) -> str | None:
        """The public name of the backward function (``relu.backward`` for a method)."""
        if self.backward is None:
            return None
        if getattr(self.backward, "__self__", None) is not None:
            return f"{self.name}.backward"
        return self.backward.__name__

    def run(self, arrays: Arrays, hyper: Mapping, *, loops: bool = False):
        """The forward function's result (loss and gradient for a loss)."""
        fn = self.reference[0] if loops else self.forward
        return fn(*(arrays[n] for n in self.inputs if n in arrays), **hyper)

    def gradients(self, dy, arrays: Arrays, hyper: Mapping, *, loops: bool = False) -> dict:
        """``{input: gradient}`` for the inputs in ``wrt`` (``dy`` is ignored for a loss)."""
        if self.backward is None:
            return dict(zip(self.wrt, self.run(arrays, hyper, loops=loops)[1:]))
        fn = self.reference[1] if loops else self.backward
        out = fn(dy, *(arrays[n] for n in self.backward_inputs), **hyper)
        return dict(zip(self.wrt, out if len(self.wrt) > 1 else (out,)))


# ----------------------------------------------------------------------------- convolution

def _conv_draw(d: Draw) -> Config:
    """Shapes where the kernel fits the padded input; strides may skip pixels."""
    kh, kw, padding, stride = d(1, 4), d(1, 4), d(0, 2), d(1, 3)
    h = d(max(1, kh - 2 * padding), kh - 2 * padding + 6)
    w = d(max(1, kw - 2 * padding), kw - 2 * padding + 6)
    n, c, f = d(1, 2), d(1, 3), d(1, 3)
    return _conv((n, c, h, w), (f, c, kh, kw), stride, padding)


def _conv(x, w, stride, padding) -> Config:
    return Config({"x": x, "w": w, "b": w[:1]}, {"stride": stride, "padding": padding})


def _conv_from_export(v: Arrays, p: Mapping) -> dict:
    kw = dict(stride=p["stride"], padding=p["padding"])
    dx, dw, db = conv2d_backward(v["G"], v["x"], v["w"], **kw)
    return {"y": conv2d(v["x"], v["w"], v["b"], **kw), "dL/dx": dx, "dL/dw": dw, "dL/db": db}


CONV2D = Layer(
    "conv2d", conv2d, conv2d_backward, (reference.conv2d, reference.conv2d_backward), "conv2d",
    inputs=("x", "w", "b"), wrt=("x", "w", "b"), backward_inputs=("x", "w"),
    configs=(_conv((2, 3, 5, 5), (4, 3, 3, 3), 2, 1),
             _conv((2, 1, 8, 8), (2, 1, 5, 5), 1, 0),      # the MNIST layer, small
             _conv((2, 3, 7, 6), (4, 3, 3, 2), 1, 1),      # rectangular kernel, padding
             _conv((1, 2, 4, 4), (2, 2, 3, 3), 2, 1),      # the derivation's instance, stride 2
             _conv((3, 2, 9, 7), (3, 2, 3, 3), 2, 0),      # stride 2 leaves the last column unread
             _conv((2, 2, 5, 5), (1, 2, 2, 4), 3, 2),      # stride 3, padding 2
             _conv((1, 1, 1, 1), (1, 1, 3, 3), 1, 1),      # 1x1 image, 3x3 kernel on the padding
             _conv((2, 3, 6, 6), (2, 3, 6, 6), 1, 0),      # kernel = image: one output
             _conv((4, 1, 28, 28), (2, 1, 5, 5), 1, 0),    # the MNIST layer
             _conv((2, 3, 8, 7), (4, 3, 3, 3), 1, 1),
             _conv((2, 2, 9, 9), (3, 2, 3, 2), 2, 1),
             _conv((1, 2, 10, 11), (2, 2, 4, 4), 3, 2)),
    draw=_conv_draw, from_export=_conv_from_export,
    torch=lambda F, t, h: F.conv2d(t["x"], t["w"], t.get("b"), **h))


# ----------------------------------------------------------------------------- pooling

def _pool(x, size, stride) -> Config:
    return Config({"x": x}, {"size": size, "stride": stride})


def _pool_draw(d: Draw) -> Config:
    """Non-overlapping (stride >= size) and overlapping (stride < size) windows."""
    size, stride = d(1, 4), d(1, 4)
    h, w = d(size, size + 7), d(size, size + 7)
    return _pool((d(1, 2), d(1, 3), h, w), size, stride)


def distinct_values(rng: np.random.Generator, config: Config) -> dict[str, np.ndarray]:
    """Values at least 0.1 apart in a random arrangement: no ties, and a
    central-difference step (1e-5) cannot change which element of a window wins."""
    shape = config.shapes["x"]
    x = (rng.permutation(int(np.prod(shape))) * 0.1 - 3.0).reshape(shape)
    return {"x": x + rng.uniform(0, 0.01, shape)}


def _pool_from_export(forward, backward):
    def from_export(v: Arrays, p: Mapping) -> dict:
        kw = dict(size=p["size"], stride=p["stride"])
        return {"y": forward(v["x"], **kw), "dL/dx": backward(v["G"], v["x"], **kw)}
    return from_export


POOL_CONFIGS = (
    _pool((2, 3, 5, 5), 2, 1),
    _pool((2, 2, 8, 8), 2, 2),       # the usual 2x2 pool
    _pool((2, 3, 7, 9), 2, 2),       # odd sides: the remainder is dropped
    _pool((2, 2, 7, 7), 3, 2),       # overlapping windows
    _pool((1, 2, 6, 8), 3, 1),       # heavily overlapping
    _pool((2, 1, 9, 9), 2, 3),       # gaps between windows
    _pool((1, 1, 5, 4), 4, 4),       # one window
    _pool((4, 2, 24, 24), 2, 2),     # the MNIST net's pool
    _pool((2, 2, 9, 9), 3, 2),
    _pool((1, 2, 8, 8), 3, 1),
)

MAX_POOL2D = Layer(
    "max_pool2d", max_pool2d, max_pool2d_backward,
    (reference.max_pool2d, reference.max_pool2d_backward), "max_pool",
    inputs=("x",), wrt=("x",), backward_inputs=("x",), configs=POOL_CONFIGS, draw=_pool_draw,
    values=distinct_values, from_export=_pool_from_export(max_pool2d, max_pool2d_backward),
    torch=lambda F, t, h: F.max_pool2d(t["x"], h["size"], h["stride"]))

def _positive_distinct_values(rng: np.random.Generator, config: Config) -> dict:
    """:func:`distinct_values` moved off 0 by 0.05: also no entry at ReLU's kink."""
    return {"x": distinct_values(rng, config)["x"] + 0.05}


MAX_POOL2D_RELU = Layer(
    "max_pool2d_relu", max_pool2d_relu, max_pool2d_relu_backward, None, None,
    inputs=("x",), wrt=("x",), backward_inputs=("x",), configs=POOL_CONFIGS, draw=_pool_draw,
    values=_positive_distinct_values, from_export=lambda v, p: {}, export_cases=(),
    composes=("relu", "max_pool2d"),
    torch=lambda F, t, h: F.max_pool2d(F.relu(t["x"]), h["size"], h["stride"]))

AVG_POOL2D = Layer(
    "avg_pool2d", avg_pool2d, avg_pool2d_backward,
    (reference.avg_pool2d, reference.avg_pool2d_backward), "avg_pool",
    inputs=("x",), wrt=("x",), backward_inputs=("x",), configs=POOL_CONFIGS, draw=_pool_draw,
    from_export=_pool_from_export(avg_pool2d, avg_pool2d_backward),
    torch=lambda F, t, h: F.avg_pool2d(t["x"], h["size"], h["stride"]))


# ----------------------------------------------------------------------------- dense

def _dense(n, d_in, d_out) -> Config:
    return Config({"x": (n, d_in), "w": (d_in, d_out), "b": (d_out,)})


def _dense_from_export(v: Arrays, p: Mapping) -> dict:
    dx, dw, db = dense_backward(v["G"], v["x"], v["w"])
    return {"y": dense(v["x"], v["w"], v["b"]), "dL/dx": dx, "dL/dw": dw, "dL/db": db}


DENSE = Layer(
    "dense", dense, dense_backward, (reference.dense, reference.dense_backward), "dense_softmax",
    inputs=("x", "w", "b"), wrt=("x", "w", "b"), backward_inputs=("x", "w"),
    configs=(_dense(5, 7, 4), _dense(1, 1, 1), _dense(4, 7, 3), _dense(5, 3, 9),
             _dense(8, 288, 60)),
    draw=lambda d: _dense(d(1, 5), d(1, 8), d(1, 8)), from_export=_dense_from_export,
    export_cases=("dense_N2_in3_out2",),
    torch=lambda F, t, h: F.linear(t["x"], t["w"].T, t["b"]))   # torch's weight is (D_out, D_in)


# ----------------------------------------------------------------------------- losses

def _softmax(n, k, scale=1.0) -> Config:
    return Config({"logits": (n, k), "labels": (n,)}, scale=scale)


def _softmax_values(rng: np.random.Generator, config: Config) -> dict:
    n, k = config.shapes["logits"]
    return {"logits": rng.standard_normal((n, k)) * config.scale, "labels": rng.integers(0, k, n)}


def _softmax_points(rng: np.random.Generator, shapes: Mapping, points: int) -> dict:
    """Logits in [-3, 3]; the export's ``y`` is one-hot rows of random labels."""
    n, k = shapes["y"]
    return {"logits": rng.uniform(-3, 3, (points, n, k)),
            "y": np.eye(k)[rng.integers(0, k, (points, n))]}


def _softmax_from_export(v: Arrays, p: Mapping) -> dict:
    loss, dz = softmax_cross_entropy(v["logits"], v["y"].argmax(axis=-1))
    return {"L": loss, "dL/dz": dz}


SOFTMAX_CROSS_ENTROPY = Layer(
    "softmax_cross_entropy", softmax_cross_entropy, None, (reference.softmax_cross_entropy, None),
    "dense_softmax", inputs=("logits", "labels"), wrt=("logits",), backward_inputs=(),
    labels=("labels",),
    configs=(_softmax(5, 4), _softmax(1, 1), _softmax(4, 10), _softmax(6, 3, 10.0),
             _softmax(3, 5, 50.0), _softmax(16, 10), _softmax(16, 10, 30.0),
             _softmax(16, 10, 1e4)),
    draw=lambda d: _softmax(d(1, 6), d(1, 10), d(0.1, 20.0)), values=_softmax_values,
    from_export=_softmax_from_export, export_cases=("softmax_ce_N2_K3",),
    export_points=_softmax_points,
    torch=lambda F, t, h: F.cross_entropy(t["logits"], t["labels"], reduction="mean"))


def _l2(*shape) -> Config:
    return Config({"output": shape, "target": shape})


def _l2_draw(d: Draw) -> Config:
    return _l2(*(d(1, 4) for _ in range(d(1, 4))))


def _l2_from_export(v: Arrays, p: Mapping) -> dict:
    loss, do = l2_loss(v["output"], v["target"])
    return {"L": loss, "dL/do": do}


L2_LOSS = Layer(
    "l2_loss", l2_loss, None, None, "l2_loss", inputs=("output", "target"), wrt=("output",),
    backward_inputs=(), configs=(_l2(5, 3), _l2(7, 3, 4)), draw=_l2_draw,
    from_export=_l2_from_export, export_cases=("mean_N2_K3",),
    # l2_loss = 0.5 * sum of squares / N = 0.5 * mse_loss(reduction='sum') / N
    torch=lambda F, t, h: 0.5 * F.mse_loss(t["output"], t["target"], reduction="sum")
    / t["output"].shape[0])


# ----------------------------------------------------------------------------- activations

def _activation_values(rng: np.random.Generator, config: Config) -> dict:
    # Unsaturated: for |z| >> 4 the value sits so close to its limit that
    # rounding swamps a difference quotient (saturation has tests of its own);
    # |z| >= 1e-3, far from ReLU's kink at 0 compared with the step 1e-5.
    z = rng.uniform(-4, 4, config.shapes["z"])
    return {"z": np.where(np.abs(z) < 1e-3, np.copysign(1e-3, z), z)}


def _activation_points(rng: np.random.Generator, shapes: Mapping, points: int) -> dict:
    z = rng.uniform(-3, 3, points)
    z[:5] = 0.0      # ReLU's kink: the export's Heaviside(z, 0) and the library must agree
    return {"z": z, "G": rng.uniform(-2, 2, points)}


def _activation(act, torch) -> Layer:
    def from_export(v: Arrays, p: Mapping) -> dict:
        return {f"{act.name}(z)": act(v["z"]), f"{act.name}'(z)": act.derivative(v["z"]),
                f"{act.name}.backward(G,z)": act.backward(v["G"], v["z"])}
    return Layer(
        act.name, act, act.backward, None, "activations", inputs=("z",), wrt=("z",),
        backward_inputs=("z",), configs=(Config({"z": (3, 4)}),),
        draw=lambda d: Config({"z": tuple(d(1, 5) for _ in range(d(0, 3)))}),
        values=_activation_values, from_export=from_export, export_cases=("elementwise",),
        export_points=_activation_points, derivative=act.derivative, torch=torch)


_TORCH_ACTIVATIONS = {"relu": lambda F, t, h: F.relu(t["z"]),
                      "tanh": lambda F, t, h: t["z"].tanh(),
                      "logistic": lambda F, t, h: t["z"].sigmoid(),
                      "arctan": lambda F, t, h: t["z"].atan()}

#: Every layer by its public name.
LAYERS: dict[str, Layer] = {
    layer.name: layer for layer in (
        CONV2D, MAX_POOL2D, MAX_POOL2D_RELU, AVG_POOL2D, DENSE, SOFTMAX_CROSS_ENTROPY, L2_LOSS,
        *(_activation(act, _TORCH_ACTIVATIONS.get(name)) for name, act in ACTIVATIONS.items()))}
