"""The reader's NumPy code on the Part V page, checked against the library.

``docs/notebooks/part5_backward.py`` holds, between two marker comments, a
self-contained NumPy function ``loss_and_grads(x, t, P)`` (the whole seed-003
network, forward and backward) that readers are invited to copy. This test
takes that cell's code from the project's own notebook file (never from
data), runs it, and compares it with the library's layers composed the same
way, on random inputs; then it plants known bugs in the code and checks the
comparison catches them.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn
from conftest import ROOT

NOTEBOOK = ROOT / "docs" / "notebooks" / "part5_backward.py"
BEGIN = "# --- begin: the network by hand, NumPy only ---"
END = "# --- end: the network by hand ---"
SHAPES = {"conv_w": (2, 1, 3, 3), "conv_b": (2,), "w1": (8, 4), "b1": (4,),
          "w2": (4, 3), "b2": (3,)}


def reader_source() -> str:
    text = NOTEBOOK.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1, "markers missing or repeated"
    return text[text.index(BEGIN):text.index(END)]


def reader_function(source: str | None = None):
    namespace: dict = {}
    exec(compile(source or reader_source(), str(NOTEBOOK), "exec"), namespace)
    return namespace["loss_and_grads"]


def library_loss_and_grads(x, t, P):
    """The same network from the library's forward/backward functions."""
    z = cnn.conv2d(x, P["conv_w"], P["conv_b"])
    a = cnn.relu(z)
    m = cnn.max_pool2d(a, size=2, stride=2)
    f = m.reshape(len(x), -1)
    z1 = cnn.dense(f, P["w1"], P["b1"])
    h = cnn.relu(z1)
    s = cnn.dense(h, P["w2"], P["b2"])
    loss, ds = cnn.softmax_cross_entropy(s, t)
    dh, g_w2, g_b2 = cnn.dense_backward(ds, h, P["w2"])
    df, g_w1, g_b1 = cnn.dense_backward(cnn.relu.backward(dh, z1), f, P["w1"])
    da = cnn.max_pool2d_backward(df.reshape(m.shape), a, size=2, stride=2)
    _, g_conv_w, g_conv_b = cnn.conv2d_backward(cnn.relu.backward(da, z), x, P["conv_w"])
    return loss, {"conv_w": g_conv_w, "conv_b": g_conv_b, "w1": g_w1, "b1": g_b1,
                  "w2": g_w2, "b2": g_b2}


def random_problem(seed: int, n: int):
    """Generic random inputs: continuous values, so no ties and no ReLU input at 0."""
    rng = np.random.default_rng(seed)
    P = {k: rng.standard_normal(shape) * 0.5 for k, shape in SHAPES.items()}
    x = rng.standard_normal((n, 1, 6, 6))
    t = rng.integers(0, 3, n)
    return x, t, P


def agrees(fn, x, t, P) -> bool:
    loss, grads = fn(x, t, P)
    ref_loss, ref = library_loss_and_grads(x, t, P)
    return bool(np.isclose(loss, ref_loss, rtol=1e-12, atol=1e-12)) and all(
        np.allclose(grads[k], ref[k], rtol=1e-10, atol=1e-12) for k in ref)


def test_reader_code_is_numpy_only():
    source = reader_source()
    assert "import numpy as np" in source
    assert "import cnn" not in source and "from cnn" not in source
    assert len(source.splitlines()) <= 45, "the reader's code should stay about 40 lines"


@pytest.mark.parametrize("seed", range(20))
def test_reader_code_matches_library(seed):
    x, t, P = random_problem(seed, n=1)
    assert agrees(reader_function(), x, t, P)


@pytest.mark.parametrize("n", [2, 3])
def test_reader_code_matches_library_on_batches(n):
    for seed in range(5):
        x, t, P = random_problem(100 + seed, n=n)
        assert agrees(reader_function(), x, t, P)


def planted(old: str, new: str):
    source = reader_source()
    assert source.count(old) == 1, f"the line to plant a bug in is gone: {old!r}"
    return reader_function(source.replace(old, new))


def test_summing_instead_of_averaging_is_caught_on_a_batch_of_two():
    buggy = planted("ds = (p - np.eye(s.shape[1])[t]) / N", "ds = p - np.eye(s.shape[1])[t]")
    x, t, P = random_problem(7, n=2)
    assert not agrees(buggy, x, t, P)
    # A batch of one cannot tell the sum from the mean: that is why N = 2 is used.
    x1, t1, P1 = random_problem(7, n=1)
    assert agrees(buggy, x1, t1, P1)


def test_routing_to_the_wrong_pool_element_is_caught():
    buggy = planted("winner = win == m[:, :, :, None, :, None]",
                    "winner = np.zeros(win.shape, bool); winner[:, :, :, 0, :, 0] = True")
    caught = [not agrees(buggy, *random_problem(seed, n=1)) for seed in range(5)]
    assert all(caught)

