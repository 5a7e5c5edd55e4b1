r"""Check your own back-prop: is it right, and if not, which known mistake is it?

::

    import cnn.check
    report = cnn.check.conv2d_backward(my_conv_backward)
    print(report)          # verdict, worst error, diagnosis, the page to read
    report.ok              # bool
    report.diagnosis       # a catalogue key such as "kernel_grad_rot180", or None

The checked function has the library's signature (e.g. ``conv2d_backward(dy,
x, w, *, stride=1, padding=0) -> (dx, dw, db)``); keyword options cover the
common other conventions (``layout="NHWC"``, ``convolution="true"``,
``reduction="sum"``, ``layout="columns"``), see :data:`OPTIONS`. It is called
on a fixed set of generic probes (float64, random, asymmetric, rectangular,
batch >= 2, strides 1 and 2, paddings 0 and 1), in a thread with a time limit
per probe (``timeout``, 2 s). A function that raises, hangs, returns the
wrong number, type, dtype or shape of results, or modifies its inputs gets a
report saying so. A wrong result is compared with the :data:`CATALOGUE` of
known mistakes, and a diagnosis is given only when one entry matches on
every probe to floating-point accuracy (:data:`MATCH_TOLERANCE`).

A function that is not callable, or cannot be called with the function's
arguments, raises ``TypeError``; an unknown option raises ``ValueError``.
A function that exceeds the time limit keeps running in its (daemon)
thread until it returns or the program ends: Python cannot stop a thread.

This calls *your* code: only check functions you trust to run.
"""

from __future__ import annotations

from . import adapters as _adapters
from ._run import MATCH_TOLERANCE, TOLERANCE, relative_error
from ._run import run as _run_checks
from ._targets import TARGETS
from .catalogue import CATALOGUE, Mistake
from .report import Report

__all__ = [
    "CATALOGUE",
    "FUNCTIONS",
    "MATCH_TOLERANCE",
    "OPTIONS",
    "TOLERANCE",
    "Mistake",
    "Report",
    "arctan_derivative",
    "check",
    "conv2d_backward",
    "dense_backward",
    "l2_loss",
    "logistic_derivative",
    "max_pool2d_backward",
    "mistake",
    "relative_error",
    "relu_derivative",
    "softmax_cross_entropy",
    "tanh_derivative",
    "toy_gradients",
]

#: The names of the checkable functions (the first argument of ``cnn check``).
FUNCTIONS: tuple[str, ...] = tuple(TARGETS)
#: Options per function: ``{function: {option: (library's value, others...)}}``.
OPTIONS = _adapters.OPTIONS
DEFAULT_TIMEOUT = 2.0


def mistake(key: str) -> Mistake:
    """The catalogue entry ``key``."""
    for m in CATALOGUE:
        if m.key == key:
            return m
    raise KeyError(f"no catalogue entry {key!r}; the keys are {[m.key for m in CATALOGUE]}")


def check(function: str, fn, *, timeout: float = DEFAULT_TIMEOUT, **options) -> Report:
    """Check ``fn`` as an implementation of the library function named ``function``.

    Parameters
    ----------
    function : str
        One of :data:`FUNCTIONS`, e.g. ``"conv2d_backward"``.
    fn : callable
        Your implementation, with the library function's signature.
    timeout : float
        Seconds each probe may take.
    **options
        Conventions, see :data:`OPTIONS` (e.g. ``layout="NHWC"``).

    Returns
    -------
    Report
    """
    if function not in TARGETS:
        raise ValueError(f"function: got {function!r}; expected one of {list(TARGETS)}")
    allowed = OPTIONS.get(function, {})
    for key, value in options.items():
        if key not in allowed:
            raise ValueError(f"{key}: not an option of {function} (its options: "
                             f"{sorted(allowed) or 'none'})")
        if value not in allowed[key]:
            raise ValueError(f"{key}: got {value!r}; expected one of {list(allowed[key])}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout: got {timeout!r}; expected a number of seconds > 0")
    target = TARGETS[function]
    return _run_checks(fn, target, _adapters.build(function, options), float(timeout))


def conv2d_backward(fn, *, layout="NCHW", convolution="cross-correlation",
                    timeout=DEFAULT_TIMEOUT) -> Report:
    """Check ``fn(dy, x, w, *, stride=1, padding=0) -> (dx, dw, db)``.

    ``layout="NHWC"``: activations (N, H, W, C), kernels (KH, KW, C, F) as
    TensorFlow. ``convolution="true"``: the forward pass flips the kernel (as
    ``scipy.signal.convolve2d``). A function without ``stride``/``padding``
    parameters is probed at stride 1, padding 0 only (the report notes it).
    """
    return check("conv2d_backward", fn, layout=layout, convolution=convolution, timeout=timeout)


def max_pool2d_backward(fn, *, layout="NCHW", timeout=DEFAULT_TIMEOUT) -> Report:
    """Check ``fn(dy, x, *, size=2, stride=2) -> dx`` (ties: the first maximum wins)."""
    return check("max_pool2d_backward", fn, layout=layout, timeout=timeout)


def dense_backward(fn, *, layout="rows", timeout=DEFAULT_TIMEOUT) -> Report:
    """Check ``fn(dy, x, w) -> (dx, dw, db)``; ``layout="columns"`` for seed 003's
    features x batch, ``W`` of shape (D_out, D_in)."""
    return check("dense_backward", fn, layout=layout, timeout=timeout)


def softmax_cross_entropy(fn, *, reduction="mean", layout="rows", labels="indices",
                          timeout=DEFAULT_TIMEOUT) -> Report:
    """Check ``fn(logits, labels) -> (loss, dlogits)``; ``reduction="sum"`` for the
    batch sum, ``layout="columns"`` for classes x batch, ``labels="one-hot"``."""
    return check("softmax_cross_entropy", fn, reduction=reduction, layout=layout,
                 labels=labels, timeout=timeout)


def l2_loss(fn, *, reduction="mean", timeout=DEFAULT_TIMEOUT) -> Report:
    """Check ``fn(output, target) -> (loss, doutput)``, loss = mean of 0.5 * sum (o - y)^2."""
    return check("l2_loss", fn, reduction=reduction, timeout=timeout)


def toy_gradients(fn, *, timeout=DEFAULT_TIMEOUT) -> Report:
    """Check the toy net's ``fn(image, label, kernel, weights, *, padding=0) ->
    (d_kernel, d_weights)`` (true convolution, as :func:`cnn.toy_net.gradients`)."""
    return check("toy_gradients", fn, timeout=timeout)


def _activation(name):
    def checker(fn, *, timeout=DEFAULT_TIMEOUT) -> Report:
        return check(f"{name}_derivative", fn, timeout=timeout)
    checker.__name__ = checker.__qualname__ = f"{name}_derivative"
    checker.__doc__ = (f"Check ``fn(z) -> f'(z)``, the derivative of {name}, elementwise "
                       f"(as ``cnn.{name}.derivative``).")
    return checker


relu_derivative = _activation("relu")
tanh_derivative = _activation("tanh")
logistic_derivative = _activation("logistic")
arctan_derivative = _activation("arctan")
