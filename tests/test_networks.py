"""The seed networks: backward passes against central differences, broken variants, dtypes.

Each network's ``backward`` is checked against central differences of its
own loss, parameter by parameter, in float64, on a tiny batch of generic
random images, with every weight and bias perturbed away from its
initialisation (zero biases would put whole windows on ReLU's kink at 0).
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from cnn.networks import (BACKPROP_VARIANTS, SEED_DENSE_SIZES, Digits01Net, MnistNet, ToyNet,
                          pool_backward_variant)
from gradcheck import numerical_gradient, relative_error

TOL = 1e-6


def perturbed(net, seed):
    """Give every parameter (biases included) a generic random offset."""
    rng = np.random.default_rng(seed)
    for name, p in net.params.items():
        net.params[name] = p + rng.normal(0, 0.3, p.shape).astype(p.dtype)
    return net


def check_gradients(net, x, y, *, max_entries=None, seed=0):
    """Largest relative error of backward against central differences, over all params."""
    _, grads, _ = net.loss_and_grads(x, y)
    rng = np.random.default_rng(seed)
    worst = {}
    for name, p in net.params.items():
        def loss(value, name=name):
            saved = net.params[name]
            net.params[name] = value
            try:
                return float(net.loss(net.forward(x)[0], y)[0])
            finally:
                net.params[name] = saved
        if max_entries is None or p.size <= max_entries:
            numeric = numerical_gradient(loss, p)
            worst[name] = relative_error(grads[name], numeric)
        else:   # a random subset of entries, for the 28x28 network's large W1
            flat = rng.choice(p.size, max_entries, replace=False)
            numeric, analytic = [], []
            for k in flat:
                idx = np.unravel_index(k, p.shape)
                h = 1e-5
                q = p.copy(); q[idx] += h; up = loss(q)
                q[idx] -= 2 * h; down = loss(q)
                numeric.append((up - down) / (2 * h)); analytic.append(grads[name][idx])
            worst[name] = relative_error(np.array(analytic), np.array(numeric))
    return worst


@pytest.mark.parametrize("dense_sizes", [(5, 4), (3, 6)])
def test_digits01_backward_matches_central_differences(dense_sizes):
    rng = np.random.default_rng(1)
    net = perturbed(Digits01Net(dense_sizes=dense_sizes, seed=3), 4)
    x = rng.random((3, 1, 8, 8))
    y = np.array([0, 1, 1])
    errors = check_gradients(net, x, y)
    assert set(errors) == {"w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4", "w5", "b5"}
    assert max(errors.values()) < TOL, errors


def test_digits01_backward_with_input_scaling():
    rng = np.random.default_rng(2)
    net = perturbed(Digits01Net(dense_sizes=(4, 3), seed=5), 6)
    net.set_input_scaling(0.3, 0.4)
    errors = check_gradients(net, rng.random((2, 1, 8, 8)), np.array([1, 0]))
    assert max(errors.values()) < TOL, errors


def test_mnist_backward_small_image_all_entries():
    rng = np.random.default_rng(7)
    net = perturbed(MnistNet(input_shape=(12, 12), hidden=7, n_classes=4, dtype="float64",
                             seed=1), 8)
    x = rng.random((3, 1, 12, 12))
    errors = check_gradients(net, x, np.array([0, 3, 1]))
    assert set(errors) == {"conv_w", "conv_b", "w1", "b1", "w2", "b2"}
    assert max(errors.values()) < TOL, errors


def test_mnist_backward_seed_shape_sampled_entries():
    """The seed's own shapes: (N,1,28,28) -> conv (2,1,5,5) -> 288 -> 60 -> 10."""
    rng = np.random.default_rng(9)
    net = perturbed(MnistNet(dtype="float64", seed=2), 10)
    assert net.params["w1"].shape == (288, 60) and net.params["w2"].shape == (60, 10)
    assert net.params["conv_w"].shape == (2, 1, 5, 5)
    x = rng.random((2, 1, 28, 28))
    errors = check_gradients(net, x, np.array([4, 9]), max_entries=40)
    assert max(errors.values()) < TOL, errors


def test_mnist_adapts_to_8x8_and_strip_inputs():
    rng = np.random.default_rng(11)
    net = perturbed(MnistNet(input_shape=(8, 8), hidden=5, n_classes=3, dtype="float64"), 12)
    assert net.params["conv_w"].shape == (2, 1, 5, 5)
    assert net.params["w1"].shape == (2 * 2 * 2, 5)        # conv 4x4, pool 2x2
    errors = check_gradients(net, rng.random((2, 1, 8, 8)), np.array([0, 2]))
    assert max(errors.values()) < TOL, errors
    strip = perturbed(MnistNet(input_shape=(1, 3), hidden=4, n_classes=2, dtype="float64"), 13)
    assert strip.params["conv_w"].shape == (2, 1, 1, 3)     # kernel clipped, pool 1
    errors = check_gradients(strip, rng.random((4, 1, 1, 3)), np.array([0, 1, 1, 0]))
    assert max(errors.values()) < TOL, errors


# ---------------------------------------------------------------------- broken variants

def _loop_pool_variant(dy, a, variant):
    """The seed-000 variants written out with loops over maps and windows."""
    N, C, H, W = a.shape
    out = np.zeros_like(a)
    for n in range(N):
        for c in range(C):
            m = a[n, c]
            mask = np.zeros_like(m)
            up = np.zeros_like(m)
            for i in range(H // 2):
                for j in range(W // 2):
                    win = m[2 * i:2 * i + 2, 2 * j:2 * j + 2]
                    r, s = np.unravel_index(np.argmax(win), (2, 2))   # first maximum
                    mask[2 * i + r, 2 * j + s] = 1
                    up[2 * i:2 * i + 2, 2 * j:2 * j + 2] = dy[n, c, i, j]
            routed = mask * up
            out[n, c] = {"correct": routed,
                         "transposed_after_pool": routed.T,
                         "rotated_after_pool": np.rot90(routed, 2),
                         "transposed_pool_mask": mask.T * up,
                         "rotated_pool_mask": np.rot90(mask, 2) * up}[variant]
    return out


@pytest.mark.parametrize("variant", BACKPROP_VARIANTS)
def test_pool_backward_variants_match_their_definition(variant):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 3, 4, 4))
    dy = rng.normal(size=(2, 3, 2, 2))
    np.testing.assert_array_equal(pool_backward_variant(dy, a, variant),
                                  _loop_pool_variant(dy, a, variant))


@pytest.mark.parametrize("variant", BACKPROP_VARIANTS[1:])
def test_broken_variants_change_only_the_conv_gradients(variant):
    rng = np.random.default_rng(4)
    x, y = rng.random((4, 1, 8, 8)), np.array([0, 1, 0, 1])
    correct = perturbed(Digits01Net(seed=1), 2)
    broken = Digits01Net(seed=1, backprop=variant)
    broken.params = {k: v.copy() for k, v in correct.params.items()}
    loss_c, g_c, out_c = correct.loss_and_grads(x, y)
    loss_b, g_b, out_b = broken.loss_and_grads(x, y)
    np.testing.assert_array_equal(out_c, out_b)              # the forward pass is untouched
    assert loss_c == loss_b
    for name in ("w3", "b3", "w4", "b4", "w5", "b5"):        # above the pools: unchanged
        np.testing.assert_array_equal(g_c[name], g_b[name])
    for name in ("w1", "b1", "w2", "b2"):                    # below a pool: different
        assert relative_error(g_b[name], g_c[name]) > 1e-3, (variant, name)


def test_broken_variants_differ_from_each_other():
    rng = np.random.default_rng(5)
    x, y = rng.random((4, 1, 8, 8)), np.array([1, 1, 0, 0])
    grads = {}
    for variant in BACKPROP_VARIANTS:
        net = perturbed(Digits01Net(seed=1, backprop=variant), 2)
        grads[variant] = net.loss_and_grads(x, y)[1]["w1"]
    for i, u in enumerate(BACKPROP_VARIANTS):
        for v in BACKPROP_VARIANTS[i + 1:]:
            assert relative_error(grads[u], grads[v]) > 1e-3, (u, v)


def test_seed_dense_sizes_build():
    for h1, h2 in SEED_DENSE_SIZES:
        net = Digits01Net(dense_sizes=(h1, h2))
        assert net.params["w3"].shape == (16, h1)
        assert net.params["w4"].shape == (h1, h2)
        assert net.params["w5"].shape == (h2, 1)
        out, _ = net.forward(np.zeros((2, 1, 8, 8)))
        assert out.shape == (2, 1)


# ---------------------------------------------------------------------- dtypes, init, errors

@pytest.mark.parametrize("make", [lambda d: Digits01Net(dtype=d),
                                  lambda d: MnistNet(input_shape=(12, 12), dtype=d)])
def test_float32_stays_float32(make):
    rng = np.random.default_rng(6)
    x = rng.random((3, 1) + tuple(make("float64").config["input_shape"]))
    for dtype in (np.float32, np.float64):
        net = make(np.dtype(dtype).name)
        net.fit_input_scaling(x)
        assert all(p.dtype == dtype for p in net.params.values())
        loss, grads, out = net.loss_and_grads(x, np.array([0, 1, 1]))   # float64 input
        assert out.dtype == dtype and np.asarray(loss).dtype == dtype
        assert all(g.dtype == dtype for g in grads.values()), {k: g.dtype for k, g in grads.items()}


def test_float32_gradients_agree_with_float64():
    rng = np.random.default_rng(8)
    x, y = rng.random((3, 1, 8, 8)), np.array([1, 0, 1])
    g64 = perturbed(Digits01Net(seed=4), 1).loss_and_grads(x, y)[1]
    net32 = Digits01Net(seed=4, dtype="float32")
    net32.params = {k: v.astype(np.float32) for k, v in perturbed(Digits01Net(seed=4), 1).params.items()}
    g32 = net32.loss_and_grads(x, y)[1]
    for name in g64:
        assert relative_error(g32[name], g64[name]) < 1e-4, name


def test_initialisation_is_seeded():
    a, b, c = MnistNet(seed=1), MnistNet(seed=1), MnistNet(seed=2)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.params["w1"], c.params["w1"])
    d = Digits01Net(init="seed", seed=0)
    assert 0.8 < d.params["w4"].std() < 1.2                 # the seed's randn, scale 1


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="backprop"):
        Digits01Net(backprop="transpose")
    with pytest.raises(ValueError, match="dtype"):
        MnistNet(dtype="float16")
    with pytest.raises(ValueError, match=r"x: got shape \(2, 1, 7, 7\)"):
        Digits01Net().forward(np.zeros((2, 1, 7, 7)))
    with pytest.raises(ValueError, match="y: got shape"):
        MnistNet(input_shape=(8, 8)).loss_and_grads(np.zeros((2, 1, 8, 8)), np.array([1]))
    with pytest.raises(ValueError, match="params"):
        Digits01Net.from_state(Digits01Net().config, {"w1": np.zeros((2, 1, 3, 3))})


def test_toy_wrapper_reproduces_toy_net():
    from cnn import toy_net
    net = ToyNet()
    images, labels = toy_net.seed_data()
    kernel, weights = toy_net.seed_init()
    np.testing.assert_array_equal(net.params["kernel"], kernel)
    out = net.output(images)[:, 0]
    expected = [toy_net.forward(x, kernel, weights).out for x in images]
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------------- labels: the network's rule

class RenamedDigits01(Digits01Net):
    """A variant as the studies make them: another name, the same output and labels."""
    name = "digits01_variant"


LABEL_CASES = {
    # network, labels, error, message
    "mnist: a class index out of range": (
        lambda: MnistNet(input_shape=(8, 8), n_classes=3), np.array([0, 2, 3, 1]), ValueError,
        r"y: got label 3 at index 2; expected an integer in \[0, 3\) for the mnist network "
        r"\(1 label\(s\) out of range\)"),
    "mnist: negative": (lambda: MnistNet(input_shape=(8, 8)), np.array([0, -1, -2, 1]), ValueError,
                        r"y: got label -1 at index 1; .* \(2 label\(s\) out of range\)"),
    "mnist: float labels": (lambda: MnistNet(input_shape=(8, 8)), np.zeros(4), TypeError,
                            r"y: got dtype float64; expected integer class indices 0..9 for the "
                            r"mnist network"),
    "digits01: a 2": (Digits01Net, np.array([0, 1, 2, 1]), ValueError,
                      r"y: got label 2 at index 2; expected 0 or 1 for the digits01 network"),
    "digits01: 0.5": (Digits01Net, np.array([0, 0.5, 1, 1]), ValueError,
                      r"y: got label 0.5 at index 1; expected 0 or 1"),
    "a renamed digits01 variant: a 2": (
        RenamedDigits01, np.array([0, 1, 1, 2]), ValueError,
        r"y: got label 2 at index 3; expected 0 or 1 for the digits01_variant network"),
    "any network: the wrong length": (Digits01Net, np.array([0, 1]), ValueError,
                                      r"y: got shape \(2,\); expected \(4,\), one label per image"),
    "any network: text": (ToyNet, np.array(["a"] * 4), TypeError,
                          r"y: got dtype <U1; expected real numbers"),
    "toy (regression): NaN": (ToyNet, np.array([0.0, np.nan, 1.0, 0.5]), ValueError,
                              r"y: got 1 non-finite value\(s\)"),
}


@pytest.mark.parametrize("case", sorted(LABEL_CASES))
def test_each_network_checks_the_labels_it_can_learn(case):
    make, labels, error, message = LABEL_CASES[case]
    with pytest.raises(error, match=message):
        make().check_labels(labels, 4)


def test_labels_each_network_accepts():
    y = MnistNet(n_classes=3).check_labels([0, 2, 1, 1], 4)
    assert y.tolist() == [0, 2, 1, 1]
    for labels in ([0, 1, 1, 0], [True, False, True, True], [0.0, 1.0, 1.0, 0.0]):
        Digits01Net().check_labels(np.array(labels), 4)
    ToyNet().check_labels(np.array([0.25, -3.0, 1e3, 0.0]), 4)    # the toy net regresses


def test_loss_and_train_use_the_networks_rule():
    """The loss refuses what the network cannot learn, and so does cnn.train, for a
    variant with a name of its own (which cnn.train used to accept any labels for)."""
    rng = np.random.default_rng(2)
    x = rng.random((4, 1, 8, 8))
    with pytest.raises(ValueError, match=r"y: got label 2 at index 3; expected 0 or 1"):
        Digits01Net().loss_and_grads(x, np.array([0, 1, 1, 2]))
    with pytest.raises(ValueError, match=r"expected 0 or 1 for the digits01_variant network"):
        cnn.train(RenamedDigits01(), x, np.array([0, 1, 1, 2]), epochs=1, batch_size=2, lr=0.1)
    with pytest.raises(ValueError, match=r"y_test: got label 5 at index 0; expected an integer "
                                         r"in \[0, 3\)"):
        cnn.train(MnistNet(input_shape=(8, 8), n_classes=3), x, np.array([0, 1, 2, 1]),
                  epochs=1, batch_size=2, lr=0.1, X_test=x[:1], y_test=np.array([5]))
    with pytest.raises(ValueError, match=r"y_test: got shape \(2,\); expected \(1,\), one label "
                                         r"per image of X_test"):
        cnn.train(Digits01Net(), x, np.array([0, 1, 1, 0]), epochs=1, batch_size=2, lr=0.1,
                  X_test=x[:1], y_test=np.array([0, 1]))
