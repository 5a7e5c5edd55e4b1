"""The base class of the seed networks (see :mod:`cnn.networks`) and small helpers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validate import as_array, as_int, check_finite, check_fits, check_real

_DTYPES = {"float32": np.float32, "float64": np.float64}

# ----------------------------------------------------------------------------- helpers

def _dtype_name(dtype) -> str:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ValueError(f"dtype: got {dtype!r}; expected 'float32' or 'float64'")
    return name


def _positive_int(value, name: str) -> int:
    """A size such as ``hidden``: :func:`cnn._validate.as_int` with minimum 1."""
    return as_int(value, name, minimum=1)


#: The most parameters a network may have: far above the seed networks (17,000 for
#: mnist), far below what would exhaust memory. Checked before anything is allocated,
#: so a mistyped size (or a model file's config) gets an error, not a MemoryError.
MAX_PARAMS = 50_000_000


def _check_param_count(shapes: dict, what: str) -> None:
    """Refuse a network whose parameters ``{name: shape}`` exceed :data:`MAX_PARAMS`."""
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_PARAMS:
        raise ValueError(f"{what}: got {total:,} parameters; expected at most "
                         f"{MAX_PARAMS:,} (check the sizes)")


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


def _out_of_range(y: np.ndarray, bad: np.ndarray, expected: str, name: str,
                  network: str) -> ValueError | None:
    """The ValueError naming the first label flagged by ``bad``, or None if there is none."""
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    return ValueError(f"{name}: got label {y[i].item()!r} at index {i}; expected {expected} "
                      f"for the {network} network ({int(bad.sum())} label(s) out of range)")


class Network:
    """Shared plumbing: config, params, dtype, input checks and scaling, evaluation.

    Subclasses set ``name``, build ``self.config``/``self.params`` and define
    ``forward``, ``backward``, ``loss`` and ``predict_from_output``.
    """

    name = "network"
    #: How the network trains when not by :func:`cnn.train` (which then refuses it), or None.
    trained_by: str | None = None
    config: dict[str, Any]
    params: dict[str, np.ndarray]

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_state(cls, config: dict, params: dict) -> "Network":
        """Rebuild a network from its ``config`` and parameter arrays (no random init).

        Raises TypeError or ValueError when ``config`` is not a valid config of
        this network, or a parameter is missing, extra, non-finite, or of the
        wrong shape or dtype for ``config`` (see :meth:`set_params`).
        """
        net = cls.from_config(config)
        net.set_params(params)
        return net

    @classmethod
    def from_config(cls, config: dict) -> "Network":
        """A network of this ``config`` (a dict as in ``net.config``), freshly initialised."""
        if not isinstance(config, dict):
            raise TypeError(f"config: got {type(config).__name__}; expected a dict such as "
                            f"a {cls.name} network's .config")
        net = cls(**{k: v for k, v in config.items() if k not in ("input_mean", "input_std")})
        net.set_input_scaling(config.get("input_mean", 0.0), config.get("input_std", 1.0))
        return net

    def expected_params(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """``{name: (shape, dtype)}`` of every parameter this network's config needs."""
        return {k: (v.shape, v.dtype) for k, v in self.params.items()}

    def set_params(self, params: dict) -> None:
        """Replace every parameter by a checked copy of ``params[name]``.

        Raises ValueError when a name is missing or extra, an array has the
        wrong shape or dtype for this network's config (exactly: no silent
        conversion), or holds NaN or inf.
        """
        expected = self.expected_params()
        if not isinstance(params, dict) or set(params) != set(expected):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"params: got {got}; expected the names {sorted(expected)} of a "
                             f"{self.name} network with config {self.config}")
        checked = {}
        for k, arr in params.items():
            arr = np.asarray(arr)
            if (arr.shape, arr.dtype) != expected[k]:
                raise ValueError(f"params[{k!r}]: got shape {arr.shape} and dtype {arr.dtype}; "
                                 f"expected shape {expected[k][0]} and dtype {expected[k][1]}")
            check_finite(arr, f"params[{k!r}]")
            checked[k] = arr.copy()
        self.params.update(checked)

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
    def prepare_input(self, x) -> np.ndarray:
        """``x`` checked as (N, 1, H, W) images of this network, standardised, in its dtype.

        What every network's :meth:`forward` calls first; a subclass with a
        forward pass of its own calls it too (it is the one input policy).
        """
        x = as_array(x, "x")
        H, W = self.config["input_shape"]
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or x.shape[1:] != (1, H, W) or x.shape[0] == 0:
            raise ValueError(f"x: got shape {x.shape}; expected (N, 1, {H}, {W}) or "
                             f"(N, {H}, {W}) with N >= 1, images of this {self.name} network")
        check_real(x, "x")      # the layers' dtypes: float16 is refused here as there
        dtype = self.dtype
        mean, std = self.config.get("input_mean", 0.0), self.config.get("input_std", 1.0)
        if x.dtype.kind == "f" and x.dtype.itemsize > dtype.itemsize:
            check_fits(x, dtype, "x")
        x = x.astype(dtype, copy=False)
        if mean != 0.0 or std != 1.0:
            x = (x - dtype.type(mean)) * dtype.type(1.0 / std)
        return x

    def check_labels(self, y, n: int, name: str = "y", *, images: str | None = None
                     ) -> np.ndarray:
        """``y`` checked as the (n,) labels this network can learn; returned unconverted.

        The rule belongs to the network: a classifier with ``config["n_classes"]``
        $= K$ takes integer class indices $0..K-1$; a network without one (the
        toy net) regresses and takes any finite real number; a subclass with
        other targets overrides :meth:`label_error` (:class:`Digits01Net`: 0 or 1).

        Parameters
        ----------
        y : array_like, shape (n,)
        n : int
            The number of images the labels go with.
        name : str
            The argument's name in error messages; ``images`` names the images
            (e.g. ``"X"``) in the message about the length.

        Raises
        ------
        TypeError
            For a dtype the rule cannot hold (floats for class indices, text, ...).
        ValueError
            For the wrong shape, or the first label out of range (its index and value).
        """
        y = as_array(y, name)
        if y.shape != (n,):
            of = f" of {images}" if images else ""
            raise ValueError(f"{name}: got shape {y.shape}; expected ({n},), one label per "
                             f"image{of}")
        check_real(y, name)
        error = self.label_error(y, name)
        if error is not None:
            raise error
        return y

    def label_error(self, y: np.ndarray, name: str) -> Exception | None:
        """The error for labels ``y`` (shape and dtype checked real) this network cannot
        learn, or None; see :meth:`check_labels`. (NaN or inf targets of a regression
        raise at once, with :func:`cnn._validate.check_finite`'s message.)"""
        k = self.config.get("n_classes")
        if k is None:
            if y.dtype.kind == "f":
                check_finite(y, name)
            return None
        if y.dtype.kind not in "iu":
            return TypeError(f"{name}: got dtype {y.dtype}; expected integer class indices "
                             f"0..{k - 1} for the {self.name} network")
        return _out_of_range(y, (y < 0) | (y >= k), f"an integer in [0, {k})", name, self.name)

    def loss_and_grads(self, x, y):
        """One forward and backward pass: ``(loss, grads, output)``."""
        out, cache = self.forward(x)
        loss, dout = self.loss(out, y)
        return loss, self.backward(dout, cache), out

    def output(self, x, *, batch_size: int = 1000) -> np.ndarray:
        """The network output for every image, computed ``batch_size`` images at a time.

        Raises FloatingPointError rather than return NaN or inf (so predictions
        and probabilities are never silently meaningless): ValueError first when
        ``x`` or a parameter is the non-finite one.
        """
        x = as_array(x, "x")
        with np.errstate(over="ignore", invalid="ignore"):    # reported below, once
            out = np.concatenate([self.forward(x[i:i + batch_size])[0]
                                  for i in range(0, len(x), batch_size)])
        if not np.isfinite(out).all():
            if x.dtype.kind == "f":
                check_finite(x, "x")
            for k, p in self.params.items():
                check_finite(p, f"params[{k!r}]")
            bad = int(np.argmax(~np.isfinite(out).all(axis=tuple(range(1, out.ndim)))))
            raise FloatingPointError(
                f"{self.name} network: the output for image {bad} is not finite although the "
                f"input and the parameters are: an intermediate value overflowed {self.dtype}. "
                f"Expected inputs on the scale the network was trained on (the network "
                f"standardises with mean {self.config.get('input_mean', 0.0):g} and std "
                f"{self.config.get('input_std', 1.0):g})")
        return out

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
