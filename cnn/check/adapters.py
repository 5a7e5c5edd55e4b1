"""Conventions other than the library's, as adapters around the user's function.

An adapter converts the probe's arguments (library convention) into what the
user's function expects, and its results back, so that the comparison and
the catalogue work in one convention. Each is a pair of functions
``to_user(args, kwargs) -> (args, kwargs)`` and ``from_user(outputs, args)
-> outputs``; a result that cannot be converted (a wrong number of
dimensions) is passed on as it is, for the shape check to report.

For a convention not covered here, write the adapter yourself: a function
with the library's signature that converts, calls your code and converts
back (see the page "Check your own back-prop").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["OPTIONS", "Adapter", "build"]


@dataclass(frozen=True)
class Adapter:
    to_user: Callable
    from_user: Callable
    note: str


def _c(a):
    return np.ascontiguousarray(a)


def _maybe(fn, a, ndim):
    """``fn(a)`` if ``a`` is an array with ``ndim`` dimensions, else ``a`` unchanged."""
    return fn(a) if isinstance(a, np.ndarray) and a.ndim == ndim else a


def _replace(outputs, index, value):
    out = list(outputs)
    out[index] = value
    return tuple(out)


def _nhwc_conv():
    # Activations (N, H, W, C); kernels (KH, KW, C, F) as TensorFlow's HWIO.
    def to_user(args, kwargs):
        dy, x, w = args
        return (_c(dy.transpose(0, 2, 3, 1)), _c(x.transpose(0, 2, 3, 1)),
                _c(w.transpose(2, 3, 1, 0))), kwargs

    def from_user(out, args):
        out = _replace(out, 0, _maybe(lambda a: _c(a.transpose(0, 3, 1, 2)), out[0], 4))
        return _replace(out, 1, _maybe(lambda a: _c(a.transpose(3, 2, 0, 1)), out[1], 4))
    return Adapter(to_user, from_user, "layout NHWC: x, dy, dx (N, H, W, C); w, dw (KH, KW, C, F)")


def _true_conv():
    # y = x * w (kernel flipped) = x (corr) rot180(w): hand over rot180(w), rotate dw back.
    def to_user(args, kwargs):
        dy, x, w = args
        return (dy, x, _c(w[..., ::-1, ::-1])), kwargs

    def from_user(out, args):
        return _replace(out, 1, _maybe(lambda a: _c(a[..., ::-1, ::-1]), out[1], 4))
    return Adapter(to_user, from_user, "true convolution: the kernel is flipped in the forward pass")


def _nhwc_pool():
    def to_user(args, kwargs):
        return tuple(_c(a.transpose(0, 2, 3, 1)) for a in args), kwargs

    def from_user(out, args):
        return (_maybe(lambda a: _c(a.transpose(0, 3, 1, 2)), out[0], 4),)
    return Adapter(to_user, from_user, "layout NHWC: dy, x, dx (N, H, W, C)")


def _dense_columns():
    # Seed 003: z = W x + b with features x batch; W is (D_out, D_in), db (D_out,) or (D_out, 1).
    def to_user(args, kwargs):
        return tuple(_c(a.T) for a in args), kwargs

    def from_user(out, args):
        dx, dw, db = out
        dx, dw = (_maybe(lambda a: _c(a.T), a, 2) for a in (dx, dw))
        d_out = args[2].shape[1]
        if isinstance(db, np.ndarray) and db.shape == (d_out, 1):
            db = db.reshape(d_out)
        return dx, dw, db
    return Adapter(to_user, from_user, "columns (seed 003): dy, x, dx are features x batch, "
                                       "W and dW (D_out, D_in)")


def _softmax(layout, labels):
    def to_user(args, kwargs):
        logits, t = args
        if labels == "one-hot":
            t = np.eye(logits.shape[1])[t]
        if layout == "columns":
            logits, t = _c(logits.T), (_c(t.T) if t.ndim == 2 else t)
        return (logits, t), kwargs

    def from_user(out, args):
        if layout == "columns":
            out = _replace(out, 1, _maybe(lambda a: _c(a.T), out[1], 2))
        return out
    return Adapter(to_user, from_user, f"layout {layout}, labels {labels}")


def _divide(value, N):
    if isinstance(value, (bool, np.bool_)):
        return value
    try:
        return value / N
    except Exception:  # noqa: BLE001  not a number: left for the type check to report
        return value


def _sum_reduction():
    def to_user(args, kwargs):
        return args, kwargs

    def from_user(out, args):
        N = args[0].shape[0]
        return tuple(_divide(o, N) for o in out)
    return Adapter(to_user, from_user, "reduction sum: loss and gradient of the batch sum")


#: Options per checkable function: name -> (allowed values, the library's value).
OPTIONS = {
    "conv2d_backward": {"layout": ("NCHW", "NHWC"),
                        "convolution": ("cross-correlation", "true")},
    "max_pool2d_backward": {"layout": ("NCHW", "NHWC")},
    "dense_backward": {"layout": ("rows", "columns")},
    "softmax_cross_entropy": {"reduction": ("mean", "sum"), "layout": ("rows", "columns"),
                              "labels": ("indices", "one-hot")},
    "l2_loss": {"reduction": ("mean", "sum")},
}


def build(target: str, options: dict) -> list[Adapter]:
    """The adapters for ``options`` (values already validated), applied in order."""
    o = options
    adapters = []
    if target == "conv2d_backward":
        if o.get("convolution", "cross-correlation") == "true":
            adapters.append(_true_conv())
        if o.get("layout", "NCHW") == "NHWC":
            adapters.append(_nhwc_conv())
    elif target == "max_pool2d_backward" and o.get("layout", "NCHW") == "NHWC":
        adapters.append(_nhwc_pool())
    elif target == "dense_backward" and o.get("layout", "rows") == "columns":
        adapters.append(_dense_columns())
    elif target in ("softmax_cross_entropy", "l2_loss"):
        if o.get("reduction", "mean") == "sum":
            adapters.append(_sum_reduction())
        layout, labels = o.get("layout", "rows"), o.get("labels", "indices")
        if target == "softmax_cross_entropy" and (layout, labels) != ("rows", "indices"):
            adapters.append(_softmax(layout, labels))
    return adapters
