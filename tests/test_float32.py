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

Covered here: the tracer itself, the MnistNet step (``forward``, ``backward``,
``loss_and_grads``, then :class:`cnn.SGD`), the Digits01Net step, SGD with momentum,
and whole float32 training runs, whose weights (and velocities) must stay
float32. Every layer's forward and backward (fast and loop reference) is run
under the tracer from the registry, in ``tests/layers/test_all_layers.py``.
"""

from __future__ import annotations

import numpy as np

from cnn.networks import Digits01Net, MnistNet
from cnn.optim import SGD
from cnn.training import train
from float32_trace import assert_float32_only, float_promotions

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
    for momentum in (0.0, 0.9):                  # the step cnn.train takes
        opt = SGD(0.05, momentum)
        for _ in range(2):
            assert_float32_only(opt.step, net.params, net.loss_and_grads(x, y)[1])
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

    fast, opt = MnistNet(dtype="float32", seed=1), SGD(0.05, 0.9)
    for i in range(0, 48, 16):
        grads = assert_float32_only(fast.loss_and_grads, x[i:i + 16], y[i:i + 16])[1]
        assert_float32_only(opt.step, fast.params, grads)
    assert all(p.dtype == np.float32 for p in fast.params.values())
    assert all(v.dtype == np.float32 for v in opt.velocity.values())
