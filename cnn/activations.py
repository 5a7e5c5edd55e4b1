r"""Elementwise activations and their derivatives, behind one small interface.

Each activation is an :class:`Activation` with a ``name``, a ``forward``
function and a ``derivative`` function, both of the pre-activation $z$::

    a = relu(z)                  # forward, same as relu.forward(z)
    relu.derivative(z)           # d relu / dz, elementwise
    relu.backward(dy, z)         # dy * relu.derivative(z): the chain rule
    ACTIVATIONS["tanh"]          # look one up by name

| name | $f(z)$ | $f'(z)$ |
|---|---|---|
| ``relu`` | $\max(0, z)$ | $1$ if $z > 0$, else $0$ (so $f'(0) = 0$) |
| ``tanh`` | $\tanh z$ | $1 - \tanh^2 z$ |
| ``logistic`` | $\sigma(z) = 1/(1 + e^{-z})$ | $\sigma(z)(1 - \sigma(z))$ |
| ``arctan`` | $\arctan z$ | $1/(1 + z^2)$ |

ReLU has no derivative at 0 (the one-sided limits are 0 and 1); this library
uses $f'(0) = 0$, as PyTorch does.

Stability: every function is finite and warning-free for any finite float32
or float64 input, e.g. $z = \pm 10^4$ or the float32 maximum. The derivatives
are written in forms that neither overflow nor cancel: with
$u = e^{-|z|}$, $\sigma(z) = 1/(1+u)$ for $z \ge 0$ and $u/(1+u)$ otherwise, and
$\sigma'(z) = u/(1+u)^2$; with $v = e^{-2|z|}$, $\tanh'(z) = 4v/(1+v)^2$ (no
$1 - \tanh^2$ cancellation for large $|z|$); $\arctan'(z) = (1/\mathrm{hypot}(1, z))^2$
($1 + z^2$ itself would overflow for $|z| > 1.8 \cdot 10^{19}$ in float32).
All are algebraically the formulas in the table.

Inputs go through the same checks as the layers: integers are promoted to
float64, float16/complex/NaN/inf are rejected; float32 stays float32.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validate import as_float, check_same_shape, checked, common_dtype

__all__ = ["Activation", "ACTIVATIONS", "relu", "tanh", "logistic", "arctan"]


def _elementwise(name: str):
    """Validate ``z`` (any shape, scalars too) before an elementwise formula, and check
    the result (:func:`cnn._validate.checked`); ``name`` is the public name."""
    def decorate(fn):
        @checked(name, ("f(z)" if "." not in name else "f'(z)",), widen=("z",))
        @functools.wraps(fn)
        def wrapped(z):
            return fn(as_float(z, "z"))
        wrapped.kernel = fn          # the formula alone, for callers that validated z
        return wrapped
    return decorate


@dataclass(frozen=True)
class Activation:
    """An elementwise activation $f$ with its derivative $f'$, both functions of $z$.

    Attributes
    ----------
    name : str
    forward : callable, ``z -> f(z)``
    derivative : callable, ``z -> f'(z)``, elementwise
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]

    def __call__(self, z):
        """$f(z)$, same shape and float dtype as ``z``."""
        return self.forward(z)

    @checked(lambda self, *args, **kwargs: f"{self.name}.backward", ("dz",), widen=("dy", "z"))
    def backward(self, dy, z):
        r"""Chain rule through the activation: $\partial L/\partial z = \delta \odot f'(z)$.

        Parameters
        ----------
        dy : array_like
            Upstream gradient $\partial L/\partial f(z)$, same shape as ``z``.
        z : array_like
            The pre-activation the forward pass saw.
        """
        dy = as_float(dy, "dy")
        z = as_float(z, "z")
        check_same_shape(dy, "dy", z, "z")
        dtype = common_dtype(dy, z)
        # z is validated here: the derivative's formula runs without checking it again.
        derivative = getattr(self.derivative, "kernel", self.derivative)
        return dy.astype(dtype, copy=False) * derivative(z).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


@_elementwise("relu")
def _relu(z):
    return np.maximum(z, 0)


@_elementwise("relu.derivative")
def _relu_derivative(z):
    # Strict inequality: relu'(0) = 0 by convention.
    return (z > 0).astype(z.dtype)


# ReLU's formulas without the checks, for kernels that call them between layers
# on arrays already validated (cnn.pooling's fused pool + ReLU, cnn.MnistNet).
relu_kernel = _relu.kernel
relu_derivative_kernel = _relu_derivative.kernel


@_elementwise("tanh")
def _tanh(z):
    return np.tanh(z)


@_elementwise("tanh.derivative")
def _tanh_derivative(z):
    # v = exp(-2|z|) as a square: 2|z| itself overflows near the float32 maximum.
    v = np.exp(-np.abs(z)) ** 2
    return 4 * v / (1 + v) ** 2


@_elementwise("logistic")
def _logistic(z):
    u = np.exp(-np.abs(z))              # both branches from one safe exponential
    return np.where(z >= 0, 1, u) / (1 + u)


@_elementwise("logistic.derivative")
def _logistic_derivative(z):
    u = np.exp(-np.abs(z))              # sigma(z)(1 - sigma(z)) = u / (1 + u)^2, symmetric in z
    return u / (1 + u) ** 2


@_elementwise("arctan")
def _arctan(z):
    return np.arctan(z)


@_elementwise("arctan.derivative")
def _arctan_derivative(z):
    return (1 / np.hypot(1, z)) ** 2


relu = Activation("relu", _relu, _relu_derivative)
tanh = Activation("tanh", _tanh, _tanh_derivative)
logistic = Activation("logistic", _logistic, _logistic_derivative)
arctan = Activation("arctan", _arctan, _arctan_derivative)

#: Every activation by name, e.g. ``ACTIVATIONS["relu"]``.
ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (relu, tanh, logistic, arctan)}
