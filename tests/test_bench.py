"""The benchmark command's pieces, on tiny settings (its timings are not tested).

What is checked: the FLOP count, that every implementation the benchmark
times computes the same training step (ours, the training loop's path, the
loop reference and PyTorch agree), the interleaving order, the summary's
target logic, and that a record renders as a report and as JSON.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnn import bench
from cnn.networks import MnistNet

TINY = {"rounds": 2, "reps": 1, "warmup": 0, "loop_batch": 1, "loop_rounds": 1,
        "epoch_images": 128, "epoch_runs": 1, "gemm_n": 64, "gemm_reps": 1}


def test_step_flops_count_the_layer_formulas():
    net = MnistNet()
    per_image = (2 * 2 * 25 * 24 * 24) * 2 + 3 * (2 * 288 * 60 + 2 * 60 * 10)
    assert per_image == 222_480
    assert bench.step_flops(net, 64) == 64 * per_image
    small = MnistNet(input_shape=(8, 8), hidden=5, n_classes=3)    # conv 4x4, pool 2x2 -> 8
    assert bench.step_flops(small, 1) == 2 * (2 * 2 * 25 * 16) + 3 * (2 * 8 * 5 + 2 * 5 * 3)


def test_interleaving_alternates_the_order():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = bench._interleaved(fns, rounds=3, reps=2, warmup=1)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"] + ["a", "a", "b", "b"]
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_timed_steps_compute_the_same_update(dtype):
    """ours (sgd_step), ours_api (loss_and_grads + SGD) and the loop reference,
    each after one step from the same weights, hold the same weights."""
    step, fast = bench._ours(2, dtype, lr=0.1)
    step()
    api = MnistNet(dtype=dtype, seed=0)
    x, y = bench._data(2, dtype)
    _, grads, _ = api.loss_and_grads(x, y)
    for k in api.params:
        api.params[k] -= api.params[k].dtype.type(0.1) * grads[k]
    loops, slow = bench._loops_step(2, dtype, lr=0.1)
    loops()
    tol = 1e-5 if dtype == "float32" else 1e-12
    for k in fast.params:
        assert not np.array_equal(fast.params[k], MnistNet(dtype=dtype, seed=0).params[k]), k
        np.testing.assert_allclose(fast.params[k], api.params[k], rtol=tol, atol=tol, err_msg=k)
        np.testing.assert_allclose(slow.params[k], api.params[k], rtol=tol, atol=tol, err_msg=k)


def test_pytorch_agrees_with_ours():
    pytest.importorskip("torch")
    for dtype, tol in (("float64", 1e-10), ("float32", 1e-4)):
        a = bench.torch_agreement(dtype)
        assert a["loss_rel_diff"] < tol, a
        assert max(a["grad_rel_diff"].values()) < tol, a


@pytest.fixture(autouse=True)
def one_thread():
    with bench._threads(1):     # a second thread on a busy 2-core machine is very slow
        yield


def test_a_tiny_record_summarises_and_renders():
    rows = bench.mnist_steps(1, TINY)
    assert {(r["dtype"], r["batch"]) for r in rows} == {(d, b) for d in bench.DTYPES
                                                       for b in bench.BATCHES}
    one = {"gemm_peak": {"1": {d: bench.gemm_peak(d, 64, 1) for d in bench.DTYPES}},
           "mnist_step": rows, "layers": bench.layers(TINY), "loops": bench.loops_vs_ours(TINY),
           "epoch": bench.epoch(TINY, None), "profile": bench.profile_step(TINY)}
    record = {"threads": [1], "quick": True, "runs": [one],
              "derivations": {"ok": True, "seconds": 1.0}, "command": "python -m cnn.bench",
              **bench.environment()}
    record["summary"] = bench.summarise(record)
    s = record["summary"]
    assert s["epoch_seconds"]["median"] == pytest.approx(
        one["epoch"]["sgd_step_stats"]["median"] * 60000 / 128)
    assert s["target_met"]["epoch_seconds"] == (s["epoch_seconds"]["median"] < 2)
    assert s["target_met"]["loops_over_ours"] == (s["loops_over_ours"]["median"] >= 1000)
    text = bench.format_report(record)
    assert "ours / PyTorch" in text and "epoch of 60,000 images" in text
    json.dumps(record, default=str)


def test_bad_arguments_are_rejected(capsys):
    for argv, message in ((["--threads", "0"], "--threads"), (["--threads", "x"], "--threads"),
                          (["--repeat", "0"], "--repeat"),
                          (["--mnist", "/no/such/dir"], "--mnist")):
        with pytest.raises(SystemExit):
            bench.main(argv)
        assert message in capsys.readouterr().err
