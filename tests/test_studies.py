"""The studies (studies/ in the checkout): the broken back-prop study, the
loops-vs-vectorised timing and record_runs.

Everything runs on tiny settings (2 seeds, one small dense size, 2 epochs;
batches of 2 images), so the file takes seconds. The real runs are the
commands recorded inside docs/results/*.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn import cli
from cnn.data import load_digits01
from cnn.networks import Digits01Net, MnistNet
from cnn.training import train
from gradcheck import numerical_gradient, relative_error

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:      # the studies live in the checkout, not in the package
    sys.path.insert(0, str(ROOT))

from studies import broken_backprop as bb  # noqa: E402
from studies import loops_vs_vectorised as lv  # noqa: E402
from studies import record_runs  # noqa: E402

ALL_ROWS = bb.VARIANTS + bb.CONTROLS


# ---------------------------------------------------------------------------- the study, end to end

@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """``python -m studies.broken_backprop`` with 2 seeds, dense 5x4, 2 epochs."""
    out = tmp_path_factory.mktemp("study") / "sub" / "study.json"
    argv = ["--seeds", "2", "--dense-sizes", "5,4", "--epochs", "2", "--out", str(out),
            "--quiet"]
    return argv, out


def test_study_command_writes_the_record(tiny_study, capsys):
    argv, out = tiny_study
    assert bb.main(argv) == 0
    table = capsys.readouterr().out
    record = json.loads(out.read_text())

    for key in ("command", "date", "versions", "machine", "settings", "variants",
                "dense_sizes", "seeds", "runs", "summary", "seconds"):
        assert key in record, key
    assert record["command"] == "python -m studies.broken_backprop " + " ".join(argv)
    assert {"python", "numpy", "scikit-learn", "cnn"} <= set(record["versions"])
    assert record["variants"] == list(ALL_ROWS)
    assert record["dense_sizes"] == [[5, 4]] and record["seeds"] == [0, 1]

    # The settings are the CLI's digits01 defaults, epochs overridden.
    defaults = cli.DEFAULTS[("digits01", "digits01")]
    s = record["settings"]
    assert s["epochs"] == 2
    for k in ("batch_size", "lr", "momentum", "schedule", "warmup", "dtype"):
        assert s[k] == defaults[k], k
    assert (s["split"], s["test_size"], s["split_seed"]) == ("stratified", 0.25, 0)
    assert (s["n_train"], s["n_test"]) == (270, 90)

    runs = record["runs"]
    assert len(runs) == len(ALL_ROWS) * 2
    assert {(r["variant"], r["seed"]) for r in runs} == {(v, s) for v in ALL_ROWS for s in (0, 1)}
    for r in runs:
        assert r["dense_sizes"] == [5, 4]
        assert 0 <= r["test_accuracy"] <= 1 and 0 <= r["train_accuracy"] <= 1
        assert r["test_errors"] == round((1 - r["test_accuracy"]) * 90)
        assert np.isfinite(r["final_loss"]) and r["final_loss"] > 0
        conv_rows = r["variant"] not in ("frozen_conv", "dense_only")
        assert (r["grad_cosine_at_init"] is not None) == conv_rows
        if r["variant"] == "correct":
            assert r["grad_cosine_at_init"]["w1"] == pytest.approx(1, abs=1e-12)
        if r["variant"] == "frozen_conv":
            assert r["conv_relative_change"] == {"w1": 0.0, "w2": 0.0}
        if r["variant"] == "dense_only":
            assert r["conv_relative_change"] is None

    assert [e["variant"] for e in record["summary"]] == list(ALL_ROWS)
    for e in record["summary"]:
        mine = [r for r in runs if r["variant"] == e["variant"]]
        acc = [r["test_accuracy"] for r in mine]
        assert e["n"] == 2
        assert e["test_accuracy"]["mean"] == pytest.approx(np.mean(acc))
        assert e["worst_test_accuracy"] == min(acc)
        assert e["fraction_100"] == np.mean([a == 1 for a in acc])
        assert e["worst_final_loss"] == max(r["final_loss"] for r in mine)
        assert e["variant"] in table
    assert f"written to {out}" in table
    # Written atomically (no temporary file left) with the usual permissions.
    assert [f.name for f in out.parent.iterdir()] == [out.name]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_one_run_of_the_study_is_one_cli_run(capsys):
    """A row of the study is `cnn train digits01 --backprop V --dense-sizes H1,H2 --seed S`."""
    settings = {**bb.cli_defaults(), "epochs": 3}
    data = load_digits01()
    mine = bb.train_one("rotated_pool_mask", (6, 5), 3, settings, data)
    assert cli.main(["train", "digits01", "--backprop", "rotated_pool_mask", "--dense-sizes",
                     "6,5", "--seed", "3", "--epochs", "3", "--json", "--quiet"]) == 0
    theirs = json.loads(capsys.readouterr().out)
    for key in ("test_accuracy", "train_accuracy", "final_loss", "test_loss", "test_errors"):
        assert mine[key] == theirs[key], key


def test_study_is_the_same_in_worker_processes():
    kw = dict(seeds=1, dense_sizes=[(4, 3)], variants=["correct", "frozen_conv"], epochs=1)
    one, two = bb.run_study(**kw, jobs=1), bb.run_study(**kw, jobs=2)
    drop = lambda runs: [{k: v for k, v in r.items() if k != "seconds"} for r in runs]  # noqa
    assert drop(one["runs"]) == drop(two["runs"])


def test_summarize_by_hand():
    runs = [{"variant": "v", "dense_sizes": [2, 2], "test_accuracy": a, "final_loss": c,
             "test_loss": c, "test_errors": e, "grad_cosine_at_init": None,
             "conv_relative_change": None}
            for a, c, e in [(1.0, 0.1, 0), (0.5, 0.3, 5), (1.0, 0.2, 0)]]
    (e,) = bb.summarize(runs)
    assert e["n"] == 3
    assert e["test_accuracy"]["mean"] == pytest.approx(2.5 / 3)
    assert e["test_accuracy"]["std"] == pytest.approx(np.std([1, 0.5, 1], ddof=1))
    assert e["worst_test_accuracy"] == 0.5 and e["worst_final_loss"] == 0.3
    assert e["fraction_100"] == pytest.approx(2 / 3)
    assert e["final_loss"]["median"] == 0.2 and e["test_errors_total"] == 5


@pytest.mark.parametrize("kwargs, name", [
    (dict(seeds=0), "seeds"), (dict(seeds=2.5), "seeds"), (dict(variants=["nope"]), "variants"),
    (dict(variants=[]), "variants"), (dict(dense_sizes=[(3,)]), "dense_sizes"),
    (dict(dense_sizes=[(0, 3)]), "dense_sizes"), (dict(jobs=0), "jobs"),
    (dict(epochs=0), "epochs")])
def test_run_study_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        bb.run_study(**{"seeds": 1, "dense_sizes": [(2, 2)], "variants": ["correct"],
                        "epochs": 1, **kwargs})


def test_make_net_rejects_an_unknown_variant():
    with pytest.raises(ValueError, match="variant: got 'nope'"):
        bb.make_net("nope", (2, 2), 0)


# ----------------------------------------------------------------------------- the extra rows

def _batch(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 8, 8)), rng.integers(0, 2, n)


def _perturbed(net, seed):
    rng = np.random.default_rng(seed)
    for k, p in net.params.items():
        net.params[k] = p + rng.normal(0, 0.3, p.shape)
    return net


def test_layer1_rotated_net_changes_only_the_layer1_gradients():
    x, y = _batch(1)
    right = _perturbed(Digits01Net(dense_sizes=(5, 4), seed=3), 4)
    rot = bb.Layer1RotatedNet.from_state(right.config, right.params)
    _, g_right, _ = right.loss_and_grads(x, y)
    _, g_rot, _ = rot.loss_and_grads(x, y)
    for k in ("w2", "b2", "w3", "b3", "w4", "b4", "w5", "b5"):
        np.testing.assert_array_equal(g_rot[k], g_right[k], err_msg=k)
    assert relative_error(g_rot["w1"], g_right["w1"]) > 1e-2
    # ...and it is the layer-1 gradient of the rotated dL/dp1, computed independently:
    out, cache = right.forward(x)
    _, dout = right.loss(out, y)
    seen = {}

    class Recording(Digits01Net):
        def into_layer1(self, dp1):
            return seen.setdefault("dp1", dp1)

    Recording.from_state(right.config, right.params).backward(dout, cache)
    from cnn import conv2d_backward, max_pool2d_backward
    da1 = max_pool2d_backward(seen["dp1"][..., ::-1, ::-1], cache["a1"])
    dz1 = np.stack([act.backward(da1[:, c], cache["z1"][:, c])
                    for c, act in enumerate(right.L1_ACTIVATIONS)], axis=1)
    _, dw1, _ = conv2d_backward(dz1, cache["x"], right.params["w1"], padding=1)
    np.testing.assert_allclose(g_rot["w1"], dw1, rtol=1e-12, atol=1e-15)


def test_frozen_conv_net_trains_only_the_dense_layers():
    data = load_digits01()
    net = bb.FrozenConvNet(dense_sizes=(5, 4), seed=0)
    before = {k: v.copy() for k, v in net.params.items()}
    train(net, data.X_train[:64], data.y_train[:64], epochs=2, batch_size=16, lr=0.1,
          momentum=0.9)
    for k in bb.CONV_PARAMS:
        np.testing.assert_array_equal(net.params[k], before[k], err_msg=k)
    for k in ("w3", "w4", "w5"):
        assert not np.array_equal(net.params[k], before[k]), k


def test_dense_only_net_backward_matches_central_differences():
    x, y = _batch(2, n=3)
    net = _perturbed(bb.DenseOnlyNet(dense_sizes=(4, 3), seed=5), 6)
    net.set_input_scaling(0.2, 0.5)
    _, grads, _ = net.loss_and_grads(x, y)
    assert set(grads) == {"w3", "b3", "w4", "b4", "w5", "b5"}
    assert net.params["w3"].shape == (64, 4)
    for k, p in net.params.items():
        def loss(value, k=k):
            saved, net.params[k] = net.params[k], value
            try:
                return float(net.loss(net.forward(x)[0], y)[0])
            finally:
                net.params[k] = saved
        assert relative_error(grads[k], numerical_gradient(loss, p)) < 1e-6, k


def test_dense_only_net_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dense_sizes"):
        bb.DenseOnlyNet(dense_sizes=(0, 3))
    with pytest.raises(ValueError, match="dtype"):
        bb.DenseOnlyNet(dtype="float16")


# ----------------------------------------------------------------------------- loops vs vectorised

@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-4)])
def test_loop_step_gives_the_vectorised_numbers(dtype, tol):
    rng = np.random.default_rng(8)
    net = MnistNet(input_shape=(12, 12), hidden=7, n_classes=4, dtype=dtype, seed=1)
    x, y = rng.random((3, 1, 12, 12)), np.array([0, 3, 1])
    net.set_input_scaling(0.4, 0.3)
    result = lv.compare(net, x, y, vec_repeats=1)
    assert result["loss_relative_difference"] < tol
    assert set(result["max_relative_difference"]) == set(net.params)
    assert max(result["max_relative_difference"].values()) < tol, result
    assert result["loop_seconds"] > 0 and result["speedup"] > 0


def test_loop_step_rejects_other_networks():
    with pytest.raises(TypeError, match="net: got Digits01Net"):
        lv.loop_loss_and_grads(Digits01Net(), np.zeros((1, 1, 8, 8)), np.array([0]))


def test_loops_command_on_the_embedded_digits(tmp_path, capsys):
    out = tmp_path / "loops.json"
    assert lv.main(["--batch", "2", "--loop-repeats", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["data"] == "digits-28x28" and record["batch"] == 2
    assert record["command"].endswith("--batch 2 --loop-repeats 1 --out " + str(out))
    assert max(record["max_relative_difference"].values()) < 1e-4
    assert "speed-up" in text


# ----------------------------------------------------------------------------- record_runs

def test_record_runs_keeps_each_commands_json(tmp_path, capsys):
    out = tmp_path / "runs.json"
    argv = ["--seeds", "0", "3", "--out", str(out), "--", "train", "digits01", "--epochs", "1"]
    assert record_runs.main(argv) == 0
    rec = json.loads(out.read_text())
    assert rec["command"] == "python -m studies.record_runs " + " ".join(argv)
    assert [r["command"] for r in rec["runs"]] == [
        f"python -m cnn train digits01 --epochs 1 --json --quiet --seed {s}" for s in (0, 3)]
    outputs = [r["output"] for r in rec["runs"]]
    assert [o["seed"] for o in outputs] == [0, 3] and all(o["epochs"] == 1 for o in outputs)
    assert rec["summary"]["test_accuracy"] == [o["test_accuracy"] for o in outputs]
    assert rec["summary"]["test_accuracy_min"] == min(o["test_accuracy"] for o in outputs)
    assert {"python", "numpy", "cnn"} <= set(rec["versions"])


@pytest.mark.parametrize("cnn_args, message", [
    (["evaluate", "--load", "x.npz"], "expected arguments of `cnn train"),
    (["train", "digits01", "--seed", "1"], "--seed and --json are added"),
    (["train", "digits01", "--epochs", "0"], "exited with status 2"),
])
def test_record_runs_reports_bad_commands(tmp_path, capsys, cnn_args, message):
    out = tmp_path / "runs.json"
    assert record_runs.main(["--seeds", "0", "--out", str(out), "--", *cnn_args]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


# ----------------------------------------------------------------------------- records, public API

def test_a_study_network_refuses_labels_it_cannot_have():
    """The dense-only control learns 0/1 like the CNN: train() refuses a label 2."""
    X = np.zeros((4, 1, 8, 8))
    with pytest.raises(ValueError, match=r"y: got label 2 at index 1"):
        train(bb.DenseOnlyNet(dense_sizes=(3, 2)), X, np.array([0, 2, 1, 0]), epochs=1,
              batch_size=2, lr=0.1)


def test_versions_name_the_commit_and_the_modified_code():
    from studies.records import CODE_DIRS, versions
    v = versions()
    assert {"python", "numpy", "scikit-learn", "cnn"} <= set(v)
    if "git_commit" in v:                       # a git checkout
        assert len(v["git_commit"]) == 40 and int(v["git_commit"], 16) >= 0
        assert all(f.split("/")[0] in CODE_DIRS for f in v["modified_files"])


def _private_cnn_uses(source: str) -> list[str]:
    import ast
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "cnn":
            parts = node.module.split(".") + [a.name for a in node.names]
            found += [f"line {node.lineno}: from {node.module} import {p}"
                      for p in parts if p.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if a.name.split(".")[0] == "cnn"
                      and any(p.startswith("_") for p in a.name.split("."))]
    return found


@pytest.mark.parametrize("path", sorted([*(ROOT / "studies").glob("*.py"),
                                         *(ROOT / "benchmarks").glob("*.py")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_studies_and_benchmarks_use_the_public_api(path):
    assert _private_cnn_uses(path.read_text(encoding="utf-8")) == []


def test_the_private_import_check_sees_them():
    assert _private_cnn_uses("from cnn._validate import as_float")
    assert _private_cnn_uses("from cnn.networks.mnist import _MnistBuffers")
    assert _private_cnn_uses("import cnn._files")
    assert _private_cnn_uses("from cnn import MnistNet\nfrom numpy import _x") == []
