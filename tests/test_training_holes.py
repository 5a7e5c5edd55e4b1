"""Three behaviours no test pinned down before (each change below survived the suite).

* which schedule factor the t-th SGD update uses (the factor of step t, counted
  from 0: the first update uses schedule(0)), checked directly and against
  PyTorch's SGD + LambdaLR where the two update rules coincide (no momentum);
* what the reported training loss is: the mean over the epoch's images, each
  batch's loss weighted by its real size (the last batch may be smaller);
* the fast MNIST step at an exact ReLU kink of the dense layer: a dead hidden
  unit (zero weights and bias) must get ReLU'(0) = 0 there, as in the
  composition of the public layers.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from cnn import training
from cnn.networks import Digits01Net, MnistNet
from cnn.optim import SGD
from test_mnist_step import assert_same_step, perturbed


def test_the_t_th_update_uses_the_schedule_factor_of_step_t():
    factors = [1.0, 0.5, 0.25, 2.0, 3.0]
    opt = SGD(0.1, 0.0, lambda t: factors[t])
    w = {"w": np.zeros(1)}
    seen = []
    for t in range(len(factors)):
        before = w["w"].copy()
        opt.step(w, {"w": np.ones(1)})
        seen.append(float((before - w["w"])[0]) / 0.1)
    assert seen == pytest.approx(factors, rel=1e-12)


def test_sgd_with_a_schedule_matches_pytorch_without_momentum():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0, grads = rng.standard_normal(4), rng.standard_normal((6, 4))
    factor = lambda t: 1.0 / (1 + t) ** 0.5   # noqa: E731
    ours = {"w": w0.copy()}
    opt = SGD(0.3, 0.0, factor)
    tw = torch.tensor(w0.copy(), requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.3)
    sched = torch.optim.lr_scheduler.LambdaLR(topt, factor)
    for g in grads:
        opt.step(ours, {"w": g})
        tw.grad = torch.tensor(g)
        topt.step()
        sched.step()
    np.testing.assert_allclose(ours["w"], tw.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_the_reported_training_loss_weights_each_batch_by_its_real_size(monkeypatch):
    rng = np.random.default_rng(1)
    X, y = rng.random((5, 8, 8)), np.array([0, 1, 1, 0, 1])
    batches = []
    real_step = training.train_step

    def recording_step(net, opt, xb, yb, epoch):
        loss = real_step(net, opt, xb, yb, epoch)
        batches.append((loss, len(xb)))
        return loss
    monkeypatch.setattr(training, "train_step", recording_step)
    history = cnn.train(Digits01Net(seed=2), X, y, epochs=2, batch_size=2, lr=0.5)
    per_epoch = [batches[:3], batches[3:]]                 # batches of 2, 2 and 1 images
    assert [n for _, n in batches] == [2, 2, 1, 2, 2, 1]
    assert len({loss for loss, _ in batches}) == 6         # the weighting matters
    for record, epoch in zip(history.epochs, per_epoch):
        expected = sum(loss * n for loss, n in epoch) / 5
        assert record["train_loss"] == pytest.approx(expected, rel=1e-12)
        assert record["train_loss"] != pytest.approx(sum(loss * 2 for loss, _ in epoch) / 5)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_dead_hidden_unit_gets_no_gradient_in_the_fast_step(dtype):
    rng = np.random.default_rng(7)
    net = perturbed(MnistNet(input_shape=(8, 8), hidden=5, n_classes=3, dtype=dtype, seed=1), 3)
    net.params["w1"][:, 2] = 0          # hidden unit 2: pre-activation exactly 0 for every image
    net.params["b1"][2] = 0
    x, labels = rng.random((6, 1, 8, 8)), rng.integers(0, 3, 6)
    _, grads, _ = net.loss_and_grads(x, labels)
    assert np.all(grads["w1"][:, 2] == 0) and grads["b1"][2] == 0   # ReLU'(0) = 0
    assert_same_step(net, x, labels, tol=1e-6 if dtype == "float64" else 1e-4)
