r"""The training steps the benchmark times, each built once, all from the same weights.

* ``composed``: the seed-003 MNIST network as a user writes it with the
  public layer functions, :func:`cnn.networks.composed.composed_loss_and_grads`
  (``need_dx=False`` on the first conv), then :class:`cnn.SGD`'s step;
* ``train``: the step :func:`cnn.train` takes per batch,
  :meth:`cnn.MnistNet.loss_and_grads` then the optimiser's ``step``;
* ``torch``: the same network in ``torch.nn.functional``, autograd and a
  manual SGD update (``p -= lr * p.grad``);
* ``loops``: the composed network again, with the loop layers of
  :mod:`cnn.reference`.

FLOPs of one step are counted from the layer formulas (a multiply-add is 2):
the conv forward and its kernel gradient ($2 F k^2 O_H O_W$ each per image;
no input gradient is needed), and forward, weight gradient and input
gradient of both dense layers ($3 \cdot 2 D_{in} D_{out}$ each). Elementwise
work is not counted. For the 28x28 network that is 222,480 FLOPs per image.
"""

from __future__ import annotations


import numpy as np

from cnn import SGD, MnistNet, training
from cnn.optim import make_optimizer, make_schedule
from cnn.networks.composed import LIBRARY, composed_loss_and_grads

from studies.loops_vs_vectorised import LOOP_LAYERS

from .timing import torch_or_none

__all__ = ["IMPLEMENTATIONS", "batch_data", "step_flops", "composed_step", "train_step",
           "torch_step", "loops_step", "torch_params", "torch_loss", "torch_agreement"]

#: The MNIST steps of :func:`benchmarks.measure.mnist_steps`, in timing order.
IMPLEMENTATIONS = ("composed", "train", "torch")
LR = 0.01


def batch_data(batch: int, dtype: str, seed: int = 0):
    """``batch`` random 28x28 images in [0, 1) of ``dtype`` and random labels 0..9."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32).astype(dtype)
    return x, rng.integers(0, 10, batch)


def step_flops(net: MnistNet, batch: int) -> int:
    """FLOPs of one training step of ``net`` on ``batch`` images (multiply-add = 2).

    Conv forward and kernel gradient, $2 F k_H k_W O_H O_W$ each per image;
    each dense layer's forward, weight gradient and input gradient,
    $2 D_{in} D_{out}$ each. The conv's input gradient is not needed.
    """
    F, _, kh, kw = net.params["conv_w"].shape
    H, W = net.config["input_shape"]
    conv = 2 * F * kh * kw * (H - kh + 1) * (W - kw + 1)
    dense = sum(2 * net.params[k].shape[0] * net.params[k].shape[1] for k in ("w1", "w2"))
    return batch * (2 * conv + 3 * dense)


def _composition(batch, dtype, lr, layers):
    # The images are already standardised: MnistNet's default scaling is mean 0, std 1.
    net = MnistNet(dtype=dtype, seed=0)
    params = {k: v.copy() for k, v in net.params.items()}
    opt = SGD(lr=lr)
    x, y = batch_data(batch, dtype)

    def step():
        _, grads, _ = composed_loss_and_grads(params, x, y, pool=net.pool, layers=layers)
        opt.step(params, grads)
    return step, params


def composed_step(batch: int, dtype: str, lr: float = LR):
    """``(step, params)``: one call of ``step()`` is one public-API training step on ``params``."""
    return _composition(batch, dtype, lr, LIBRARY)


def loops_step(batch: int, dtype: str, lr: float = LR):
    """``(step, params)``: :func:`composed_step` with the loop layers of :mod:`cnn.reference`."""
    return _composition(batch, dtype, lr, LOOP_LAYERS)


def train_step(batch: int, dtype: str, lr: float = LR):
    """``(step, net)``: one call of ``step()`` is what ``cnn.train`` does with one batch,
    :func:`cnn.training.train_step` (forward, backward, the finite checks, the update)."""
    net = MnistNet(dtype=dtype, seed=0)
    opt = make_optimizer("sgd", lr=lr, schedule=make_schedule("constant", 1))
    x, y = batch_data(batch, dtype)

    def step():
        training.train_step(net, opt, x, y)
    return step, net


def torch_params(net: MnistNet):
    """PyTorch tensors holding ``net``'s parameters, in PyTorch's layouts."""
    torch = torch_or_none()
    p = net.params
    return [torch.tensor(p["conv_w"]), torch.tensor(p["conv_b"]),
            torch.tensor(p["w1"].T.copy()), torch.tensor(p["b1"]),
            torch.tensor(p["w2"].T.copy()), torch.tensor(p["b2"])]


def torch_loss(params, x, y):
    """The seed-003 network's mean cross-entropy in ``torch.nn.functional``."""
    import torch.nn.functional as F
    w, b, w1, b1, w2, b2 = params
    a = F.relu(F.conv2d(x, w, b))
    f = F.max_pool2d(a, 2).flatten(1)
    h = F.relu(F.linear(f, w1, b1))
    return F.cross_entropy(F.linear(h, w2, b2), y)


def torch_step(batch: int, dtype: str, lr: float = LR):
    """``(step, params)``: PyTorch's step, autograd and a manual SGD update, same weights."""
    torch = torch_or_none()
    params = [t.requires_grad_() for t in torch_params(MnistNet(dtype=dtype, seed=0))]
    x, y = batch_data(batch, dtype)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        torch_loss(params, xt, yt).backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-lr)
                p.grad = None
    return step, params


def torch_agreement(dtype: str = "float64", batch: int = 8) -> dict:
    """Relative differences between our loss/gradients and PyTorch's on one batch."""
    torch = torch_or_none()
    net = MnistNet(dtype=dtype, seed=3)
    rng = np.random.default_rng(4)
    # Nonzero biases and perturbed weights: generic values, away from ReLU's kink.
    net.set_params({k: v + rng.normal(0, 0.1, v.shape).astype(dtype)
                    for k, v in net.params.items()})
    x, y = batch_data(batch, dtype, seed=5)
    loss, grads, _ = net.loss_and_grads(x, y)
    params = [t.requires_grad_() for t in torch_params(net)]
    tloss = torch_loss(params, torch.from_numpy(x), torch.from_numpy(y))
    tloss.backward()
    tgrads = dict(zip(("conv_w", "conv_b", "w1", "b1", "w2", "b2"),
                      (p.grad.numpy() for p in params)))
    tgrads["w1"], tgrads["w2"] = tgrads["w1"].T, tgrads["w2"].T
    rel = {k: float(np.abs(grads[k] - tgrads[k]).max() / np.abs(tgrads[k]).max()) for k in grads}
    return {"dtype": dtype, "batch": batch,
            "loss_rel_diff": float(abs(float(loss) - tloss.item()) / abs(tloss.item())),
            "grad_rel_diff": rel}
