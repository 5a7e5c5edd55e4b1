"""The benchmark (benchmarks/ in the checkout), on tiny settings; its timings are not tested.

What is checked: the FLOP count, that every implementation the benchmark
times computes the same training step (the public-API composition, the step
cnn.train takes, the loop reference and PyTorch agree after one update from
the same weights), the interleaving order, the profile's coverage, the
targets of the issue and the met/MISSED logic of the one table, and that a
record renders as a report and as JSON with the command that made it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn.networks import MnistNet
from cnn.networks.composed import LIBRARY

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:      # the benchmark lives in the checkout, not in the package
    sys.path.insert(0, str(ROOT))

from benchmarks import bench, measure, report, steps, timing  # noqa: E402
from benchmarks.layers import LAYER_CASES, describe  # noqa: E402

TINY = {"rounds": 2, "reps": 1, "warmup": 0, "loop_batch": 1, "loop_rounds": 1,
        "epoch_images": 128, "epoch_runs": 1, "gemm_n": 64, "gemm_reps": 1}


@pytest.fixture(autouse=True)
def one_thread():
    with timing.threads(1):     # a second thread on a busy 2-core machine is very slow
        yield


def test_step_flops_count_the_layer_formulas():
    net = MnistNet()
    per_image = (2 * 2 * 25 * 24 * 24) * 2 + 3 * (2 * 288 * 60 + 2 * 60 * 10)
    assert per_image == 222_480
    assert steps.step_flops(net, 64) == 64 * per_image
    small = MnistNet(input_shape=(8, 8), hidden=5, n_classes=3)    # conv 4x4, pool 2x2 -> 8
    assert steps.step_flops(small, 1) == 2 * (2 * 2 * 25 * 16) + 3 * (2 * 8 * 5 + 2 * 5 * 3)


def test_interleaving_alternates_the_order():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = timing.interleaved(fns, rounds=3, reps=2, warmup=1)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"] + ["a", "a", "b", "b"]
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_timed_steps_compute_the_same_update(dtype):
    """composed, train, the loops and PyTorch, each after one step from the same
    weights, hold the same weights, and each moved every parameter."""
    start = MnistNet(dtype=dtype, seed=0).params
    composed, c_params = steps.composed_step(2, dtype, lr=0.1)
    train, net = steps.train_step(2, dtype, lr=0.1)
    loops, l_params = steps.loops_step(2, dtype, lr=0.1)
    for step in (composed, train, loops):
        step()
    after = {"composed": c_params, "loops": l_params}
    if timing.torch_or_none():
        torch_step, t_params = steps.torch_step(2, dtype, lr=0.1)
        torch_step()
        t = [p.detach().numpy() for p in t_params]
        after["torch"] = dict(zip(("conv_w", "conv_b", "w1", "b1", "w2", "b2"),
                                  (t[0], t[1], t[2].T, t[3], t[4].T, t[5])))
    tol = 1e-5 if dtype == "float32" else 1e-12
    for k in net.params:
        assert not np.array_equal(net.params[k], start[k]), k
        for name, params in after.items():
            np.testing.assert_allclose(params[k], net.params[k], rtol=tol, atol=tol,
                                       err_msg=f"{name}: {k}")


def test_pytorch_agrees_with_ours():
    pytest.importorskip("torch")
    for dtype, tol in (("float64", 1e-10), ("float32", 1e-4)):
        a = steps.torch_agreement(dtype)
        assert a["loss_rel_diff"] < tol, a
        assert max(a["grad_rel_diff"].values()) < tol, a


def test_the_profile_times_every_layer_call_of_the_composed_step():
    prof = measure.profile_step(TINY)
    phases = prof["composed"]
    assert set(vars(LIBRARY)) | {"rest", "loss_and_grads"} == set(phases)
    layer_sum = sum(v["median"] for k, v in phases.items() if k not in ("loss_and_grads",))
    assert 0 < layer_sum <= 2 * phases["loss_and_grads"]["median"]
    assert set(prof["train"]) == {"step", "loss_and_grads", "update"}


def test_the_targets_are_the_issues():
    goals = {key: (op, goal) for key, _, op, goal in report.TARGETS}
    assert goals["composed"] == ("<=", 0.6) and goals["train"] == ("<=", 0.45)
    assert goals["train_2_threads"] == ("<=", 0.6)
    for case in LAYER_CASES:
        assert goals[f"layer {describe(case)}"] == ("<=", 1.0)
    shapes = [(c["layer"], c["x"][1], c.get("w", (0,))[0], c["stride"]) for c in LAYER_CASES]
    assert ("conv2d", 8, 16, 2) in shapes                                # stride 2, 8 -> 16
    assert any(c["layer"] == "max_pool2d" and c["size"] > c["stride"] for c in LAYER_CASES)


def _fake_run(composed, train, train2, layer, loops, epoch_s):
    def step_row(threads, c, t):
        return {"threads": threads, "dtype": "float32", "batch": 64,
                "composed_over_torch": {"median": c}, "train_over_torch": {"median": t}}
    return {"mnist_step": [step_row(1, composed, train), step_row(2, 0.0, train2)],
            "layers": [{"case": c, "ours_over_torch": {"median": layer}} for c in LAYER_CASES],
            "loops": [{"dtype": "float32", "loops_over_ours": {"median": loops}}],
            "epoch": {"train_epoch_s": epoch_s}}


def test_the_summary_marks_each_target_met_or_missed():
    record = {"threads": [1, 2], "runs": [_fake_run(0.5, 0.5, 0.7, 1.2, 2000, 1.5),
                                          _fake_run(0.7, 0.4, 0.5, 0.9, 900, 2.5),
                                          _fake_run(0.6, 0.45, 0.55, 0.8, 3000, 1.9)]}
    s = report.summarise(record)
    rows = {r["key"]: r for r in s["rows"]}
    assert [r["key"] for r in s["rows"]] == [k for k, *_ in report.TARGETS]
    assert (rows["composed"]["median"], rows["composed"]["met"]) == (0.6, True)    # <= 0.6
    assert (rows["train"]["median"], rows["train"]["met"]) == (0.45, True)
    assert rows["train"]["runs"] == [0.5, 0.4, 0.45]
    assert (rows["train"]["min"], rows["train"]["max"]) == (0.4, 0.5)
    assert (rows["train_2_threads"]["median"], rows["train_2_threads"]["met"]) == (0.55, True)
    layer = rows[f"layer {describe(LAYER_CASES[0])}"]
    assert (layer["median"], layer["met"]) == (0.9, True)
    assert (rows["loops_over_ours"]["median"], rows["loops_over_ours"]["met"]) == (2000, True)
    assert (rows["epoch_seconds"]["median"], rows["epoch_seconds"]["met"]) == (1.9, True)

    record["runs"] = [_fake_run(0.61, 0.46, 0.61, 1.01, 999, 2.0)]
    s = report.summarise(record)
    assert [r["met"] for r in s["rows"]] == [False] * len(report.TARGETS)
    text = "\n".join(report.format_targets(s))
    assert text.count("MISSED") == len(report.TARGETS) and " met" not in text

    record["threads"] = [1]                     # the two-thread row is then not measured
    record["runs"][0]["mnist_step"].pop()
    row = next(r for r in report.summarise(record)["rows"] if r["key"] == "train_2_threads")
    assert "median" not in row and row["runs"] == []
    assert "not measured" in "\n".join(report.format_targets(report.summarise(record)))


@pytest.fixture(scope="module")
def tiny_record():
    with timing.threads(1):
        return bench.run(threads=(1,), cfg=TINY, derive=False, progress=lambda msg: None)


def test_a_tiny_record_summarises_and_renders(tiny_record):
    record = {"command": "python -m benchmarks.bench", **tiny_record}
    one = record["runs"][0]
    assert {(r["dtype"], r["batch"]) for r in one["mnist_step"]} == {
        (d, b) for d in measure.DTYPES for b in measure.BATCHES}
    rows = {r["key"]: r for r in record["summary"]["rows"]}
    epoch = one["epoch"]
    assert rows["epoch_seconds"]["median"] == pytest.approx(
        epoch["train_stats"]["median"] * 60000 / 128)
    assert rows["epoch_seconds"]["met"] == (rows["epoch_seconds"]["median"] < 2)
    if timing.torch_or_none():
        b64 = next(r for r in one["mnist_step"] if (r["dtype"], r["batch"]) == ("float32", 64))
        assert rows["composed"]["median"] == b64["composed_over_torch"]["median"]
        assert rows["train"]["median"] == b64["train_over_torch"]["median"]
    text = bench.format_report(record)
    assert "step from the public functional API / PyTorch" in text and "epoch of 60,000" in text
    json.dumps(record, default=str)


def test_main_writes_the_record_with_its_command(tiny_record, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "run", lambda **kwargs: dict(tiny_record))
    out = tmp_path / "sub" / "bench.json"
    assert bench.main(["--quick", "--threads", "1", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["command"] == f"python -m benchmarks.bench --quick --threads 1 --json {out}"
    assert record["summary"] == json.loads(json.dumps(tiny_record["summary"]))
    assert "Targets" in capsys.readouterr().out


def test_bad_arguments_are_rejected(capsys):
    for argv, message in ((["--threads", "0"], "--threads"), (["--threads", "x"], "--threads"),
                          (["--repeat", "0"], "--repeat"),
                          (["--mnist", "/no/such/dir"], "--mnist")):
        with pytest.raises(SystemExit):
            bench.main(argv)
        assert message in capsys.readouterr().err
