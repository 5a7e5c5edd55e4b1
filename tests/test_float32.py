"""No float64 anywhere in a float32 run.

A float32 network must compute in float32 from end to end: one float64
operand (a NumPy float64 scalar, a default-dtype ``np.zeros``, a float64
buffer) silently promotes everything after it, doubling memory traffic and
hiding behind outputs that are cast back. Checking only the outputs would
miss that, so these tests run each computation under a tracer
(:func:`float_promotions`) that, after every line executed in the ``cnn``
package, inspects every local variable of the running ``cnn`` function,
including arrays inside dicts, tuples and ``cnn`` objects such as the
network's buffers, and records every float array or NumPy float scalar that
is not float32. (A float64 temporary cast back within a single expression,
``(x * np.float64(2)).astype(np.float32)``, has no name and is not seen;
named intermediates, buffers, returned values and gradients are.)

Covered: every layer's forward and backward (fast and loop reference), every
activation, both losses, the MnistNet step (``forward``, ``backward``,
``loss_and_grads``, ``sgd_step``), the Digits01Net step, SGD with momentum,
and whole float32 training runs, whose weights (and velocities) must stay
float32.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import cnn
from cnn import reference
from cnn.networks import Digits01Net, MnistNet
from cnn.training import train

CNN_DIR = str(Path(cnn.__file__).resolve().parent)


def _scan(value, where: str, name: str, found: list, seen: set, depth: int = 0) -> None:
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind == "f" and value.dtype != np.float32:
            found.append((where, name, str(value.dtype)))
        return
    if depth >= 3 or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for key, item in value.items():
            _scan(item, where, f"{name}[{key!r}]", found, seen, depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _scan(item, where, f"{name}[{i}]", found, seen, depth + 1)
    elif type(value).__module__.startswith("cnn") and hasattr(value, "__dict__"):
        for key, item in vars(value).items():
            _scan(item, where, f"{name}.{key}", found, seen, depth + 1)


def float_promotions(fn, *args, roots=(CNN_DIR,), **kwargs):
    """Run ``fn(*args, **kwargs)``; return ``(result, found)``.

    ``found`` lists ``(function:line, variable, dtype)`` for every non-float32
    float array or scalar held by a local variable of a function defined under
    ``roots``, looked at after each line and on return (the return value too).
    """
    found: list = []

    def local_tracer(frame, event, arg):
        if event in ("line", "return"):
            where = f"{frame.f_code.co_qualname}:{frame.f_lineno}"
            seen: set = set()
            for name, value in frame.f_locals.items():
                _scan(value, where, name, found, seen)
            if event == "return":
                _scan(arg, where, "<returned>", found, seen)
        return local_tracer

    def tracer(frame, event, arg):
        if frame.f_code.co_filename.startswith(roots):
            return local_tracer
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.settrace(previous)
    _scan(result, getattr(fn, "__qualname__", repr(fn)), "<result>", found, set())
    return result, sorted(set(found))


def assert_float32_only(fn, *args, **kwargs):
    result, found = float_promotions(fn, *args, **kwargs)
    assert not found, f"float64 in a float32 run: {found[:10]}"
    return result


RNG = np.random.default_rng(0)


def f32(*shape):
    return RNG.normal(size=shape).astype(np.float32)


# ----------------------------------------------------------------------------- the tracer

def test_the_tracer_finds_a_promotion_in_an_intermediate():
    def promotes(x):
        scaled = x * np.float64(0.5)          # float64, hidden by the cast below
        return scaled.astype(np.float32)

    out, found = float_promotions(promotes, f32(3), roots=(__file__,))
    assert out.dtype == np.float32
    assert found == [(f"{promotes.__qualname__}:{promotes.__code__.co_firstlineno + 2}",
                      "scaled", "float64")]


def test_the_tracer_looks_inside_containers_and_objects():
    class Holder:
        pass
    Holder.__module__ = "cnn.fake"

    def hides():
        h = Holder()
        h.buffers = {"a": [np.zeros(2, np.float32), np.zeros(2)]}
        return None

    _, found = float_promotions(hides, roots=(__file__,))
    assert ("h.buffers['a'][1]", "float64") in {(n, d) for _, n, d in found}


# ----------------------------------------------------------------------------- layers

@pytest.mark.parametrize("module", [cnn, reference], ids=["fast", "loops"])
def test_layers_forward_and_backward_stay_float32(module):
    x, w, b = f32(2, 3, 7, 6), f32(4, 3, 3, 2), f32(4)
    y = assert_float32_only(module.conv2d, x, w, b, stride=2, padding=1)
    assert y.dtype == np.float32
    grads = assert_float32_only(module.conv2d_backward, f32(*y.shape), x, w, stride=2, padding=1)
    assert [g.dtype for g in grads] == [np.float32] * 3
    p = assert_float32_only(module.max_pool2d, x, size=3, stride=2)     # overlapping windows
    assert assert_float32_only(module.max_pool2d_backward, f32(*p.shape), x, size=3,
                               stride=2).dtype == np.float32
    xd, wd = f32(5, 4), f32(4, 3)
    assert assert_float32_only(module.dense, xd, wd, f32(3)).dtype == np.float32
    assert all(g.dtype == np.float32
               for g in assert_float32_only(module.dense_backward, f32(5, 3), xd, wd))
    loss, dlogits = assert_float32_only(module.softmax_cross_entropy, f32(5, 3),
                                        np.array([0, 2, 1, 1, 0]))
    assert np.asarray(loss).dtype == np.float32 and dlogits.dtype == np.float32


def test_activations_and_l2_loss_stay_float32():
    z = f32(4, 5) * 3
    for act in cnn.ACTIVATIONS.values():
        assert assert_float32_only(act, z).dtype == np.float32, act.name
        assert assert_float32_only(act.derivative, z).dtype == np.float32, act.name
        assert assert_float32_only(act.backward, f32(4, 5), z).dtype == np.float32, act.name
    loss, d = assert_float32_only(cnn.l2_loss, f32(4, 1), f32(4, 1))
    assert np.asarray(loss).dtype == np.float32 and d.dtype == np.float32


# ----------------------------------------------------------------------------- networks

def test_mnist_step_stays_float32():
    net = MnistNet(dtype="float32", seed=0)
    net.set_input_scaling(0.13, 0.31)
    x = RNG.random((4, 1, 28, 28), dtype=np.float32)
    y = np.array([3, 1, 4, 1])
    logits, cache = assert_float32_only(net.forward, x)
    grads = assert_float32_only(net.backward, net.loss(logits, y)[1], cache)
    assert {k: g.dtype for k, g in grads.items()} == {k: np.float32 for k in net.params}
    loss, grads, out = assert_float32_only(net.loss_and_grads, x, y)
    assert np.asarray(loss).dtype == np.float32 and out.dtype == np.float32
    for momentum in (0.0, 0.9):
        loss = assert_float32_only(net.sgd_step, x, y, 0.05, momentum)
        assert np.asarray(loss).dtype == np.float32
    assert all(p.dtype == np.float32 for p in net.params.values())


def test_digits01_step_stays_float32():
    net = Digits01Net(dtype="float32", seed=0)
    x = RNG.random((3, 1, 8, 8), dtype=np.float32)
    loss, grads, out = assert_float32_only(net.loss_and_grads, x, np.array([0, 1, 1]))
    assert all(g.dtype == np.float32 for g in grads.values())


def test_float32_training_run_keeps_float32_weights():
    x = RNG.random((48, 1, 28, 28), dtype=np.float32)
    y = RNG.integers(0, 10, 48)
    net = MnistNet(dtype="float32", seed=1)
    net.fit_input_scaling(x)
    before = {k: v.copy() for k, v in net.params.items()}
    history = assert_float32_only(train, net, x, y, epochs=1, batch_size=16, lr=0.05,
                                  momentum=0.9, X_test=x[:8], y_test=y[:8])
    assert history.steps == 3
    for name, p in net.params.items():
        assert p.dtype == np.float32, name
        assert not np.array_equal(p, before[name]), name       # it did train

    fast = MnistNet(dtype="float32", seed=1)
    for i in range(0, 48, 16):
        assert_float32_only(fast.sgd_step, x[i:i + 16], y[i:i + 16], 0.05, 0.9)
    assert all(p.dtype == np.float32 for p in fast.params.values())
    assert fast._velocity.dtype == np.float32
