"""cnn.check: every catalogue entry, written as buggy code, is diagnosed by exactly its
key; right implementations pass; wrong code outside the catalogue gets no diagnosis.

The buggy functions below are written the way a learner writes them (loops over
windows, matrix formulas), independently of the catalogue's own construction of
each mistake from the library's output (cnn/check/catalogue.py).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

import cnn
import cnn.check
import cnn.reference
from cnn.check import catalogue
from cnn.check._targets import TARGETS

# ----------------------------------------------------------------------------- learner code


def conv_loops(dy, x, w, *, stride=1, padding=0, bug=None):
    """A learner's conv2d backward: one window at a time, with an optional bug."""
    N, _, H, W = x.shape
    F, _, KH, KW = w.shape
    s, p = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(F)
    db_per_sample = np.zeros((N, F))
    k = w[:, :, ::-1, ::-1] if bug == "dx_kernel_rotated" else w
    for n, f, i, j in itertools.product(range(N), range(F), range(dy.shape[2]), range(dy.shape[3])):
        g = dy[n, f, i, j]
        r, c = (i, j) if bug == "contiguous" else (s * i, s * j)
        dxp[n, :, r:r + KH, c:c + KW] += g * k[f]
        dw[f] += g * xp[n, :, s * i:s * i + KH, s * j:s * j + KW]
        db[f] += g
        db_per_sample[n, f] += g
    dx = dxp if bug == "no_crop" else dxp[:, :, p:p + H, p:p + W]
    if bug == "rot180":
        dw = dw[:, :, ::-1, ::-1]
    elif bug == "transposed":                 # seed 004 update's text: transpose the rotated
        dw = np.swapaxes(dw[:, :, ::-1, ::-1], 2, 3)
    elif bug == "dot_T":
        dw = np.swapaxes(dw, 2, 3)
    elif bug == "true_conv":                  # right for y = x (true conv) w
        dx = conv_loops(dy, x, w, stride=s, padding=p, bug="dx_kernel_rotated")[0]
        dw = dw[:, :, ::-1, ::-1]
    elif bug == "sign":
        dx, dw, db = -dx, -dw, -db
    return np.ascontiguousarray(dx), np.ascontiguousarray(dw), (
        db_per_sample if bug == "db_per_sample" else db)


def pool_loops(dy, x, *, size=2, stride=2, bug=None):
    """A learner's max-pool backward, window by window (argmax: the first maximum)."""
    N, C = x.shape[:2]
    k, s = size, stride
    dx = np.zeros_like(x)
    for n, c, i, j in itertools.product(range(N), range(C), range(dy.shape[2]), range(dy.shape[3])):
        win = x[n, c, s * i:s * i + k, s * j:s * j + k]
        g = dy[n, c, i, j]
        if bug == "all_ties":
            dx[n, c, s * i:s * i + k, s * j:s * j + k] += g * (win == win.max())
            continue
        flat = win.ravel()
        a = len(flat) - 1 - int(np.argmax(flat[::-1])) if bug == "last_tie" else int(np.argmax(flat))
        if bug == "overwrite":
            block = np.zeros((k, k))
            block.flat[a] = g
            dx[n, c, s * i:s * i + k, s * j:s * j + k] = block
        else:
            dx[n, c, s * i + a // k, s * j + a % k] += g
    return -dx if bug == "sign" else dx


def seed000_pool(variant):
    """Seed 000's broken pooling back-prop (2x2, stride 2), as cnn.networks.digits01 has it."""
    from cnn.networks.digits01 import pool_backward_variant

    def backward(dy, x, *, size=2, stride=2):
        return pool_backward_variant(dy, x, variant)
    return backward


def dense_bug(dy, x, w, bug):
    dx, dw, db = dy @ w.T, x.T @ dy, dy.sum(axis=0)
    return {"dW = dy^T x": (dx, dy.T @ x, db), "db per sample": (dx, dw, dy.copy()),
            "sign": (-dx, -dw, -db)}[bug]


def softmax_bug(logits, labels, bug):
    N = len(labels)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.eye(logits.shape[1])[labels]
    loss = -np.mean(np.log(p[np.arange(N), labels]))
    grad = {"no mean": p - y, "mean twice": (p - y) / N / N, "twice": (p - y) * p * (1 - p) / N,
            "no onehot": p / N, "sign": (y - p) / N, "sum": p - y}[bug]
    return (loss * N if bug == "sum" else loss), grad


def l2_bug(o, t, bug):
    N = o.shape[0]
    loss = 0.5 * np.sum((o - t) ** 2) / N
    grad = {"no mean": o - t, "mean twice": (o - t) / N ** 2, "half": 2 * (o - t) / N,
            "sign": (t - o) / N, "sum": o - t}[bug]
    return (loss * N if bug == "sum" else loss), grad


def toy_bug(image, label, kernel, weights, *, padding=0, bug=None):
    """The toy net's gradients written with scipy, as seed 004 did."""
    from scipy.signal import convolve2d, correlate2d
    flip = bug == "corr"
    xp = np.pad(image, padding)
    z1 = correlate2d(xp, kernel, "valid") if flip else convolve2d(xp, kernel, "valid")
    a1 = np.tanh(z1)
    out = 1 / (1 + np.exp(-(a1.reshape(-1) @ weights[:, 0])))
    d_z2 = (out - label) * out * (1 - out)
    d_tanh = (1 - a1) if bug == "tanh" else (1 - a1 ** 2)
    delta = d_z2 * weights[:, 0].reshape(a1.shape) * d_tanh
    seed = convolve2d(xp, np.rot90(delta, 2), "valid")        # seed 004's first code
    dk = {"seed_first": seed, "seed_update_text": seed.T, "dot_T": np.rot90(seed, 2).T,
          "corr": correlate2d(xp, delta, "valid")}.get(bug, np.rot90(seed, 2))
    dW = d_z2 * a1.reshape(-1, 1)
    if bug == "sign":
        dk, dW = -dk, -dW
    return np.ascontiguousarray(dk), dW


def _act(fn):
    return lambda z: np.asarray(fn(z), dtype=float)


#: (function checked, catalogue key, buggy implementation)
BUGGY = [
    ("conv2d_backward", "kernel_grad_rot180", functools.partial(conv_loops, bug="rot180")),
    ("conv2d_backward", "kernel_grad_transposed", functools.partial(conv_loops, bug="transposed")),
    ("conv2d_backward", "kernel_grad_swapped_axes", functools.partial(conv_loops, bug="dot_T")),
    ("conv2d_backward", "input_grad_kernel_not_rotated",
     functools.partial(conv_loops, bug="dx_kernel_rotated")),
    ("conv2d_backward", "true_convolution_instead_of_cross_correlation",
     functools.partial(conv_loops, bug="true_conv")),
    ("conv2d_backward", "stride_dilation_missing", functools.partial(conv_loops, bug="contiguous")),
    ("conv2d_backward", "padding_not_cropped", functools.partial(conv_loops, bug="no_crop")),
    ("conv2d_backward", "bias_grad_not_summed", functools.partial(conv_loops, bug="db_per_sample")),
    ("conv2d_backward", "sign_flipped", functools.partial(conv_loops, bug="sign")),
    ("max_pool2d_backward", "pool_mask_transposed", seed000_pool("transposed_pool_mask")),
    ("max_pool2d_backward", "pool_mask_rotated", seed000_pool("rotated_pool_mask")),
    ("max_pool2d_backward", "pool_grad_transposed", seed000_pool("transposed_after_pool")),
    ("max_pool2d_backward", "pool_grad_rotated", seed000_pool("rotated_after_pool")),
    ("max_pool2d_backward", "pool_grad_to_all_ties", functools.partial(pool_loops, bug="all_ties")),
    ("max_pool2d_backward", "pool_grad_to_last_tie", functools.partial(pool_loops, bug="last_tie")),
    ("max_pool2d_backward", "pool_overlap_overwritten",
     functools.partial(pool_loops, bug="overwrite")),
    ("max_pool2d_backward", "sign_flipped", functools.partial(pool_loops, bug="sign")),
    ("dense_backward", "dense_grad_not_transposed", lambda dy, x, w: dense_bug(dy, x, w, "dW = dy^T x")),
    ("dense_backward", "bias_grad_not_summed", lambda dy, x, w: dense_bug(dy, x, w, "db per sample")),
    ("dense_backward", "sign_flipped", lambda dy, x, w: dense_bug(dy, x, w, "sign")),
    ("softmax_cross_entropy", "mean_missing", lambda z, t: softmax_bug(z, t, "no mean")),
    ("softmax_cross_entropy", "mean_twice", lambda z, t: softmax_bug(z, t, "mean twice")),
    ("softmax_cross_entropy", "sum_instead_of_mean", lambda z, t: softmax_bug(z, t, "sum")),
    ("softmax_cross_entropy", "softmax_derivative_applied_twice",
     lambda z, t: softmax_bug(z, t, "twice")),
    ("softmax_cross_entropy", "one_hot_not_subtracted", lambda z, t: softmax_bug(z, t, "no onehot")),
    ("softmax_cross_entropy", "sign_flipped", lambda z, t: softmax_bug(z, t, "sign")),
    ("l2_loss", "mean_missing", lambda o, t: l2_bug(o, t, "no mean")),
    ("l2_loss", "mean_twice", lambda o, t: l2_bug(o, t, "mean twice")),
    ("l2_loss", "sum_instead_of_mean", lambda o, t: l2_bug(o, t, "sum")),
    ("l2_loss", "half_missing", lambda o, t: l2_bug(o, t, "half")),
    ("l2_loss", "sign_flipped", lambda o, t: l2_bug(o, t, "sign")),
    ("toy_gradients", "kernel_grad_rot180", functools.partial(toy_bug, bug="seed_first")),
    ("toy_gradients", "kernel_grad_transposed", functools.partial(toy_bug, bug="seed_update_text")),
    ("toy_gradients", "kernel_grad_swapped_axes", functools.partial(toy_bug, bug="dot_T")),
    ("toy_gradients", "cross_correlation_instead_of_convolution",
     functools.partial(toy_bug, bug="corr")),
    ("toy_gradients", "toy_tanh_grad_not_squared", functools.partial(toy_bug, bug="tanh")),
    ("toy_gradients", "sign_flipped", functools.partial(toy_bug, bug="sign")),
    ("relu_derivative", "relu_grad_at_zero_one", _act(lambda z: z >= 0)),
    ("relu_derivative", "forward_instead_of_derivative", _act(lambda z: np.maximum(z, 0))),
    ("relu_derivative", "sign_flipped", _act(lambda z: -1.0 * (z > 0))),
    ("tanh_derivative", "tanh_grad_not_squared", _act(lambda z: 1 - np.tanh(z))),
    ("tanh_derivative", "derivative_in_output_form", _act(lambda z: 1 - z ** 2)),
    ("tanh_derivative", "forward_instead_of_derivative", _act(np.tanh)),
    ("tanh_derivative", "sign_flipped", _act(lambda z: np.tanh(z) ** 2 - 1)),
    ("logistic_derivative", "derivative_in_output_form", _act(lambda z: z * (1 - z))),
    ("logistic_derivative", "forward_instead_of_derivative", _act(lambda z: 1 / (1 + np.exp(-z)))),
    ("logistic_derivative", "sign_flipped",
     _act(lambda z: -np.exp(-z) / (1 + np.exp(-z)) ** 2)),
    ("arctan_derivative", "forward_instead_of_derivative", _act(np.arctan)),
    ("arctan_derivative", "sign_flipped", _act(lambda z: -1 / (1 + z ** 2))),
]


@pytest.mark.parametrize("function, key, buggy", BUGGY, ids=[f"{f}-{k}" for f, k, _ in BUGGY])
def test_each_buggy_function_is_diagnosed_by_exactly_its_key(function, key, buggy):
    report = cnn.check.check(function, buggy)
    assert not report.ok
    assert report.diagnosis == key, str(report)
    assert report.explanation == cnn.check.mistake(key).sentence
    assert report.page == cnn.check.mistake(key).page


def test_every_catalogue_entry_and_function_has_a_buggy_function_here():
    covered = {(f, k) for f, k, _ in BUGGY}
    assert covered == {(t, m.key) for m in catalogue.CATALOGUE for t in m.targets}
    required = {"kernel_grad_rot180", "kernel_grad_transposed", "input_grad_kernel_not_rotated",
                "stride_dilation_missing", "padding_not_cropped", "bias_grad_not_summed",
                "mean_missing", "mean_twice", "pool_mask_transposed", "pool_grad_to_all_ties",
                "pool_grad_to_last_tie", "relu_grad_at_zero_one", "tanh_grad_not_squared",
                "dense_grad_not_transposed", "softmax_derivative_applied_twice", "sign_flipped"}
    assert required <= {m.key for m in catalogue.CATALOGUE}
    assert len({m.key for m in catalogue.CATALOGUE}) == len(catalogue.CATALOGUE)


@pytest.mark.parametrize("function", list(TARGETS))
def test_probes_tell_every_two_entries_apart_and_each_from_the_right_answer(function):
    """So that an exact match on every probe is unique: for every pair (the right answer
    included) some probe where both are defined gives outputs far apart."""
    target = TARGETS[function]
    probes = target.probes()
    rights = [target.right(p) for p in probes]
    outputs = {m.key: [m.wrong[function](p, r) for p, r in zip(probes, rights)]
               for m in catalogue.for_target(function)}
    outputs[None] = rights
    for a, b in itertools.combinations(outputs, 2):
        assert any(u is not None and v is not None and any(
            cnn.check.relative_error(np.asarray(x), np.asarray(y)) > 1e-6 for x, y in zip(u, v))
            for u, v in zip(outputs[a], outputs[b])), (function, a, b)
    for key, outs in outputs.items():
        assert any(o is not None for o in outs), key


RIGHT = [("conv2d_backward", cnn.conv2d_backward), ("max_pool2d_backward", cnn.max_pool2d_backward),
         ("dense_backward", cnn.dense_backward), ("softmax_cross_entropy", cnn.softmax_cross_entropy),
         ("l2_loss", cnn.l2_loss), ("toy_gradients", cnn.toy_net.gradients),
         ("conv2d_backward", cnn.reference.conv2d_backward),
         ("max_pool2d_backward", cnn.reference.max_pool2d_backward),
         ("dense_backward", cnn.reference.dense_backward),
         ("softmax_cross_entropy", cnn.reference.softmax_cross_entropy),
         ("conv2d_backward", conv_loops), ("max_pool2d_backward", pool_loops),
         ("toy_gradients", toy_bug)]
RIGHT += [(f"{a.name}_derivative", a.derivative) for a in cnn.ACTIVATIONS.values()]


@pytest.mark.parametrize("function, fn", RIGHT, ids=[f"{f}-{getattr(g, '__module__', '')}"
                                                     for f, g in RIGHT])
def test_right_implementations_pass(function, fn):
    report = cnn.check.check(function, fn)
    assert report.ok and report.diagnosis is None, str(report)
    assert report.worst_error <= cnn.check.TOLERANCE and "right" in str(report)


# ----------------------------------------------------------------------------- perturbed


def _scale_one(fn, index=1, factor=1.5):
    def wrong(*args, **kwargs):
        out = [np.array(o, dtype=float) for o in fn(*args, **kwargs)]
        out[index].flat[0] *= factor
        return tuple(out)
    return wrong


def _noise(fn, scale=1e-3):
    rng = np.random.default_rng(0)

    def wrong(*args, **kwargs):
        return tuple(o + scale * rng.standard_normal(np.shape(o)) for o in fn(*args, **kwargs))
    return wrong


def _permute_dw(dy, x, w, *, stride=1, padding=0):
    dx, dw, db = cnn.conv2d_backward(dy, x, w, stride=stride, padding=padding)
    perm = np.random.default_rng(1).permutation(dw[0].size)
    return dx, np.stack([d.reshape(-1)[perm].reshape(d.shape) for d in dw]), db


PERTURBED = [("conv2d_backward", _scale_one(cnn.conv2d_backward)),
             ("conv2d_backward", _noise(cnn.conv2d_backward)),
             ("conv2d_backward", _permute_dw),
             ("dense_backward", _scale_one(cnn.dense_backward, 2)),
             ("softmax_cross_entropy", _noise(cnn.softmax_cross_entropy, 1e-6)),
             ("l2_loss", _scale_one(cnn.l2_loss)),
             ("toy_gradients", _scale_one(cnn.toy_net.gradients, 0, 1.01)),
             ("max_pool2d_backward", lambda dy, x, **kw: cnn.max_pool2d_backward(dy, x, **kw) * 1.1),
             ("tanh_derivative", lambda z: cnn.tanh.derivative(z) + 1e-3)]


@pytest.mark.parametrize("function, fn", PERTURBED)
def test_perturbed_functions_are_wrong_with_no_diagnosis(function, fn):
    report = cnn.check.check(function, fn)
    assert not report.ok and report.diagnosis is None, str(report)
    assert "no known mistake matches" in str(report) and report.page == TARGETS[function].page


def test_pytorch_through_an_adapter_passes():
    torch = pytest.importorskip("torch")

    def torch_conv_backward(dy, x, w, *, stride=1, padding=0):
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        bt = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
        y = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding)
        y.backward(torch.tensor(dy))
        return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()

    def torch_pool_backward(dy, x, *, size=2, stride=2):
        xt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(xt, size, stride).backward(torch.tensor(dy))
        return xt.grad.numpy()

    def torch_softmax_ce(logits, labels):
        zt = torch.tensor(logits, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(zt, torch.tensor(labels))
        loss.backward()
        return loss.detach().numpy()[()], zt.grad.numpy()

    def torch_relu_derivative(z):
        zt = torch.tensor(z, requires_grad=True)
        torch.relu(zt).sum().backward()
        return zt.grad.numpy()

    assert cnn.check.conv2d_backward(torch_conv_backward).ok
    assert cnn.check.max_pool2d_backward(torch_pool_backward).ok
    assert cnn.check.softmax_cross_entropy(torch_softmax_ce).ok
    assert cnn.check.relu_derivative(torch_relu_derivative).ok    # PyTorch: ReLU'(0) = 0


def test_the_checker_can_fail(monkeypatch):
    """Break the matcher once: the diagnosis test above must then fail."""
    from cnn.check import _run
    monkeypatch.setattr(_run, "MATCH_TOLERANCE", -1.0)
    report = cnn.check.check("conv2d_backward", functools.partial(conv_loops, bug="rot180"))
    assert report.diagnosis is None
    monkeypatch.setattr(_run, "TOLERANCE", -1.0)
    assert not cnn.check.check("conv2d_backward", cnn.conv2d_backward).ok
