"""The functional API agrees with ``torch.nn.functional`` and autograd.

Skipped, with the reason shown by ``pytest -ra``, when PyTorch is not
installed; CI installs the CPU build so it runs there. Every comparison
runs in float64 (tight tolerance) and float32 (float32 rounding).
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: the comparison with torch.nn.functional "
                    "needs `pip install torch==2.13.0` (CPU build)")
F = torch.nn.functional

DTYPES = {"float64": (np.float64, torch.float64, 1e-12), "float32": (np.float32, torch.float32, 1e-5)}


def check(ours, theirs, rtol, what):
    theirs = theirs.detach().numpy()
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} vs torch {theirs.dtype}"
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    scale = max(float(np.abs(theirs).max()), 1e-30)
    err = float(np.abs(ours - theirs).max()) / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol}"


def leaf(array):
    return torch.tensor(array, requires_grad=True)


@pytest.fixture(params=sorted(DTYPES))
def dtype(request):
    return DTYPES[request.param]


@pytest.mark.parametrize("xs, ws, stride, padding", [
    ((4, 1, 28, 28), (2, 1, 5, 5), 1, 0),
    ((2, 3, 8, 7), (4, 3, 3, 3), 1, 1),
    ((2, 2, 9, 9), (3, 2, 3, 2), 2, 1),
    ((1, 2, 10, 11), (2, 2, 4, 4), 3, 2),
])
def test_conv2d_matches_torch(xs, ws, stride, padding, dtype):
    np_dtype, _, rtol = dtype
    rng = np.random.default_rng(10)
    x, w, b = (rng.standard_normal(s).astype(np_dtype) for s in (xs, ws, ws[:1]))
    kw = dict(stride=stride, padding=padding)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    yt = F.conv2d(xt, wt, bt, **kw)
    y = cnn.conv2d(x, w, b, **kw)
    check(y, yt, rtol, "y")
    dy = rng.standard_normal(y.shape).astype(np_dtype)
    yt.backward(torch.tensor(dy))
    dx, dw, db = cnn.conv2d_backward(dy, x, w, **kw)
    check(dx, xt.grad, rtol, "dx")
    check(dw, wt.grad, rtol, "dw")
    check(db, bt.grad, rtol, "db")


@pytest.mark.parametrize("xs, size, stride", [
    ((4, 2, 24, 24), 2, 2), ((2, 3, 7, 9), 2, 2), ((2, 2, 9, 9), 3, 2), ((1, 2, 8, 8), 3, 1),
])
def test_max_pool2d_matches_torch(xs, size, stride, dtype):
    """Generic values (no ties: ties are compared separately below)."""
    np_dtype, _, rtol = dtype
    rng = np.random.default_rng(11)
    x = rng.permutation(np.prod(xs)).reshape(xs).astype(np_dtype)
    xt = leaf(x)
    yt = F.max_pool2d(xt, size, stride)
    y = cnn.max_pool2d(x, size=size, stride=stride)
    check(y, yt, 0, "y")
    dy = rng.standard_normal(y.shape).astype(np_dtype)
    yt.backward(torch.tensor(dy))
    check(cnn.max_pool2d_backward(dy, x, size=size, stride=stride), xt.grad, rtol, "dx")


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 1)])
def test_max_pool2d_tie_rule_matches_torch_on_contiguous_nchw(size, stride):
    """The documented tie rule (first maximum in row-major window order) is
    what PyTorch does on a contiguous NCHW tensor. (A channels-last tensor can
    break ties differently, so this is pinned to NCHW.)"""
    rng = np.random.default_rng(12)
    for x in (np.ones((2, 2, 8, 8)), rng.integers(0, 3, (2, 2, 8, 8)).astype(float)):
        xt = leaf(x)
        assert xt.is_contiguous()
        yt = F.max_pool2d(xt, size, stride)
        dy = rng.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(dy))
        check(cnn.max_pool2d_backward(dy, x, size=size, stride=stride), xt.grad, 1e-12, "dx")


def test_dense_matches_torch_linear(dtype):
    np_dtype, _, rtol = dtype
    rng = np.random.default_rng(13)
    x, w, b = (rng.standard_normal(s).astype(np_dtype) for s in ((8, 288), (288, 60), (60,)))
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    yt = F.linear(xt, wt.T, bt)          # torch stores the weight as (D_out, D_in)
    y = cnn.dense(x, w, b)
    check(y, yt, rtol, "y")
    dy = rng.standard_normal(y.shape).astype(np_dtype)
    yt.backward(torch.tensor(dy))
    dx, dw, db = cnn.dense_backward(dy, x, w)
    check(dx, xt.grad, rtol, "dx")
    check(dw, wt.grad, rtol, "dw")
    check(db, bt.grad, rtol, "db")


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_softmax_cross_entropy_matches_torch(scale, dtype):
    np_dtype, _, rtol = dtype
    rng = np.random.default_rng(14)
    logits = (rng.standard_normal((16, 10)) * scale).astype(np_dtype)
    labels = rng.integers(0, 10, 16)
    zt = leaf(logits)
    lt = F.cross_entropy(zt, torch.tensor(labels), reduction="mean")
    lt.backward()
    loss, dlogits = cnn.softmax_cross_entropy(logits, labels)
    check(np.asarray(loss), lt, rtol, "loss")
    check(dlogits, zt.grad, rtol, "dlogits")


def test_l2_loss_matches_torch_mse(dtype):
    """l2_loss = 0.5 * sum of squares / N = 0.5 * mse_loss(reduction='sum') / N."""
    np_dtype, _, rtol = dtype
    rng = np.random.default_rng(15)
    output, target = (rng.standard_normal((7, 3, 4)).astype(np_dtype) for _ in range(2))
    ot = leaf(output)
    lt = 0.5 * F.mse_loss(ot, torch.tensor(target), reduction="sum") / output.shape[0]
    lt.backward()
    loss, doutput = cnn.l2_loss(output, target)
    check(np.asarray(loss), lt, rtol, "loss")
    check(doutput, ot.grad, rtol, "doutput")


TORCH_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid,
                     "arctan": torch.atan}


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_activations_match_torch(name, dtype):
    """Forward and autograd derivative, including z = 0 (ReLU'(0) = 0 in both)
    and saturated values."""
    np_dtype, _, rtol = dtype
    rng = np.random.default_rng(16)
    z = np.concatenate([rng.standard_normal(50) * 3, [0.0, -0.0, 20.0, -20.0, 1e4, -1e4]])
    z = z.astype(np_dtype)
    zt = leaf(z)
    at = TORCH_ACTIVATIONS[name](zt)
    act = cnn.ACTIVATIONS[name]
    check(act(z), at, rtol, f"{name}(z)")
    dy = rng.standard_normal(z.shape).astype(np_dtype)
    at.backward(torch.tensor(dy))
    check(act.backward(dy, z), zt.grad, rtol, f"{name}.backward")
    check(act.derivative(z), torch.autograd.functional.jacobian(
        lambda t: TORCH_ACTIVATIONS[name](t).sum(), torch.tensor(z)), rtol, f"{name}'")
