"""Training loop, optimiser, data loaders, model files and the ``cnn`` command, end to end.

Everything runs on small settings (a few epochs of digits 0/1, MNIST-shaped
IDX files of a few dozen images written by the tests themselves), so the
file takes seconds; the real measurements are documented commands.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnn
from cnn import cli, data, serialize
from cnn.networks import Digits01Net, MnistNet
from cnn.optim import SGD, cosine_schedule
from cnn.training import TrainingDivergedError, train

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *argv):
    """``cnn ARGV`` in-process: (exit status, stdout, stderr)."""
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def without_timings(summary):
    """A summary without wall-clock numbers (which differ between identical runs)."""
    drop = {"seconds", "seconds_per_epoch", "saved_to", "loaded_from"}
    out = {k: v for k, v in summary.items() if k not in drop}
    if "history" in out:
        out["history"] = [{k: v for k, v in e.items() if k != "seconds"} for e in out["history"]]
    return out


# ----------------------------------------------------------------------------- CLI: train

def test_toy_reproduces_the_seed_outcome(capsys):
    status, out, _ = run_cli(capsys, "train", "toy", "--json", "--quiet")
    assert status == 0
    summary = json.loads(out)
    assert round(summary["initial_loss"], 4) == 1.2848
    assert round(summary["final_loss"], 4) == 0.0126
    np.testing.assert_allclose(summary["outputs"], [0.5, 0.7716, 0.9825, 0.9825], atol=5e-5)
    for key in ("test_accuracy", "train_accuracy", "final_loss", "seconds", "epochs"):
        assert key in summary
    assert summary["epochs"] == 1000


def test_digits01_json_is_one_object_with_the_required_keys(capsys):
    status, out, err = run_cli(capsys, "train", "digits01", "--epochs", "3", "--json")
    assert status == 0
    summary = json.loads(out)          # the whole of stdout is one JSON object
    for key in ("test_accuracy", "train_accuracy", "final_loss", "seconds", "epochs"):
        assert key in summary, key
    assert summary["epochs"] == 3 and len(summary["history"]) == 3
    assert 0 <= summary["test_accuracy"] <= 1 and summary["n_test"] == 90
    assert "epoch" in err              # per-epoch lines (and the bar) go to stderr


def test_same_seed_gives_identical_numbers(capsys):
    args = ("train", "digits01", "--epochs", "4", "--batch-size", "16", "--json", "--quiet")
    runs = [json.loads(run_cli(capsys, *args, "--seed", s)[1]) for s in ("3", "3", "4")]
    assert without_timings(runs[0]) == without_timings(runs[1])
    assert without_timings(runs[0])["history"] != without_timings(runs[2])["history"]


def test_human_summary(capsys):
    status, out, _ = run_cli(capsys, "train", "digits01", "--epochs", "2", "--quiet",
                             "--backprop", "rotated_pool_mask", "--dense-sizes", "18,20")
    assert status == 0
    assert "train accuracy" in out and "test accuracy" in out and "seconds" in out
    assert "rotated_pool_mask" in out and "18-20" in out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "digits01", "--lr", "-1"])
    assert exc.value.code == 2
    assert "--lr" in capsys.readouterr().err
    status, _, err = run_cli(capsys, "train", "toy", "--batch-size", "4")
    assert status == 1 and "per-sample" in err


def test_python_dash_m_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cnn", "train", "digits01", "--epochs", "1",
                             "--json", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epochs"] == 1


# ----------------------------------------------------------------------------- save / load

def test_save_load_round_trip_is_exact(tmp_path, capsys):
    path = tmp_path / "model.npz"
    status, out, _ = run_cli(capsys, "train", "digits01", "--epochs", "3", "--json", "--quiet",
                             "--dtype", "float32", "--save", str(path))
    assert status == 0 and path.exists()
    trained = json.loads(out)
    net, metadata = cnn.load_model(path)
    assert isinstance(net, Digits01Net) and net.dtype == np.float32
    assert net.config["input_std"] != 1.0          # the input standardisation travels along
    assert metadata["train_summary"]["test_accuracy"] == trained["test_accuracy"]
    # The loaded network computes exactly what the trained one reported.
    status, out, _ = run_cli(capsys, "evaluate", "--load", str(path), "--json")
    assert status == 0
    evaluated = json.loads(out)
    for key in ("train_accuracy", "test_accuracy", "final_loss", "test_loss"):
        assert evaluated[key] == trained[key], key
    # Saving the loaded network again gives bitwise the same arrays and config.
    again = cnn.save_model(tmp_path / "again.npz", net, metadata)
    net2, metadata2 = cnn.load_model(again)
    assert net2.config == net.config and metadata2 == metadata
    for name, value in net.params.items():
        assert net2.params[name].dtype == value.dtype
        np.testing.assert_array_equal(net2.params[name], value)


def test_round_trip_every_network(tmp_path):
    rng = np.random.default_rng(0)
    for net in (cnn.ToyNet(), Digits01Net(dense_sizes=(3, 4), backprop="rotated_after_pool"),
                MnistNet(input_shape=(8, 8), dtype="float64")):
        for p in net.params.values():
            p += rng.normal(size=p.shape).astype(p.dtype)
        if net.name != "toy":
            net.set_input_scaling(0.1 + 1 / 3, 0.7)      # a float with a long repr
        path = cnn.save_model(tmp_path / f"{net.name}.npz", net, {"note": "x"})
        loaded, meta = cnn.load_model(path)
        assert type(loaded) is type(net) and loaded.config == net.config
        assert meta == {"note": "x"}
        x = rng.random((3, 1) + tuple(net.config["input_shape"]))
        np.testing.assert_array_equal(loaded.output(x), net.output(x))


def test_corrupted_and_wrong_files_give_clear_errors(tmp_path, capsys):
    good = cnn.save_model(tmp_path / "good.npz", Digits01Net())
    raw = good.read_bytes()
    cases = {
        "truncated.npz": raw[: len(raw) // 2],
        "garbage.npz": b"this is not a model" * 10,
        "flipped.npz": raw[:200] + bytes(b ^ 0xFF for b in raw[200:400]) + raw[400:],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(serialize.ModelFileError, match=name):
            cnn.load_model(path)
        status, _, err = run_cli(capsys, "evaluate", "--load", str(path))
        assert status == 1 and "cnn: error:" in err and name in err
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(serialize.ModelFileError, match="not a cnn model file"):
        cnn.load_model(other)
    with pytest.raises(FileNotFoundError):
        cnn.load_model(tmp_path / "missing.npz")


def test_inconsistent_params_are_rejected(tmp_path):
    net = Digits01Net()
    net.params["w3"] = np.zeros((16, 5))                   # does not fit dense_sizes
    path = cnn.save_model(tmp_path / "bad.npz", net)
    with pytest.raises(serialize.ModelFileError, match="w3"):
        cnn.load_model(path)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    cnn.save_model(path, Digits01Net(seed=1))
    before = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(serialize.np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        cnn.save_model(path, Digits01Net(seed=2))
    assert path.read_bytes() == before                     # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]   # no temp left


# ----------------------------------------------------------------------------- training loop

def test_divergence_stops_with_the_step_and_keeps_the_last_good_weights():
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 1, 8, 8)), rng.integers(0, 2, 40)
    net = Digits01Net(seed=0)
    seen = []
    real = net.loss_and_grads

    def spy(xb, yb):
        seen.append({k: v.copy() for k, v in net.params.items()})
        loss, grads, out = real(xb, yb)
        if len(seen) == 4:                                  # the 4th step goes bad
            grads["w2"][0, 0, 0, 0] = np.nan
        return loss, grads, out

    net.loss_and_grads = spy
    with pytest.raises(TrainingDivergedError,
                       match=r"step 3 \(epoch 1\): the gradient of 'w2'") as exc:
        train(net, x, y, epochs=2, batch_size=8, lr=0.1, momentum=0.9)
    assert exc.value.step == 3 and exc.value.epoch == 1
    for name, value in net.params.items():                  # the weights before step 3
        np.testing.assert_array_equal(value, seen[3][name])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_huge_learning_rate_diverges_cleanly():
    rng = np.random.default_rng(1)
    x, y = rng.random((64, 1, 8, 8)), rng.integers(0, 10, 64)
    net = MnistNet(input_shape=(8, 8), dtype="float32")
    with pytest.raises(TrainingDivergedError, match="step") as exc:
        train(net, x, y, epochs=50, batch_size=8, lr=1e30)
    assert all(np.isfinite(p).all() for p in net.params.values())
    assert exc.value.step >= 0


def test_sgd_refuses_a_non_finite_update_and_changes_nothing():
    params = {"w": np.array([-1e308, 2.0]), "b": np.array([1.0])}
    opt = SGD(lr=1.0, momentum=0.5)
    opt.step(params, {"w": np.array([0.0, 0.5]), "b": np.array([1.0])})
    np.testing.assert_array_equal(params["w"], [-1e308, 1.5])
    before = {k: v.copy() for k, v in params.items()}
    velocity = {k: v.copy() for k, v in opt.velocity.items()}
    # Finite gradients whose update overflows: -1e308 - 1e308 = -inf.
    with np.errstate(over="ignore"), pytest.raises(FloatingPointError, match="'w' at step 1"):
        opt.step(params, {"w": np.array([1e308, 0.0]), "b": np.array([1.0])})
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
        np.testing.assert_array_equal(opt.velocity[k], velocity[k])
    assert opt.steps == 1


def test_sgd_momentum_is_the_seed_rule():
    params = {"w": np.array([0.0])}
    opt = SGD(lr=0.1, momentum=0.5)
    v = w = 0.0
    for g in (1.0, -2.0, 3.0):
        opt.step(params, {"w": np.array([g])})
        v = 0.5 * v + 0.1 * g
        w = w - v
        assert params["w"][0] == w


def test_cosine_schedule_endpoints():
    f = cosine_schedule(100, warmup_steps=10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(100) == pytest.approx(0.0)
    assert f(55) == pytest.approx(0.5)


def test_train_is_deterministic_and_learns():
    d = data.load_digits01()
    runs = []
    for _ in range(2):
        net = Digits01Net(seed=1)
        net.fit_input_scaling(d.X_train)
        history = train(net, d.X_train, d.y_train, epochs=5, batch_size=32, lr=0.1,
                        momentum=0.9, schedule="cosine", seed=1)
        runs.append((history.epochs[-1]["train_loss"], net.params["w1"].copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert net.evaluate(d.X_test, d.y_test)["accuracy"] > 0.95


# ----------------------------------------------------------------------------- data

def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file by hand (independent of cnn.data.write_idx): magic, sizes, data."""
    assert array.dtype == np.uint8
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def make_fake_mnist(directory: Path, n_train=48, n_test=16, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        if gz:
            with gzip.open(directory / (name + ".gz"), "wb") as fh:
                fh.write(idx_bytes(array))
        else:
            (directory / name).write_bytes(idx_bytes(array))
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_reader_and_mnist_loader(tmp_path, gz):
    arrays = make_fake_mnist(tmp_path, gz=gz)
    images = data.read_idx(tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else "")))
    np.testing.assert_array_equal(images, arrays["train-images-idx3-ubyte"])
    d = data.load_mnist(tmp_path)
    assert d.X_train.shape == (48, 1, 28, 28) and d.X_test.shape == (16, 1, 28, 28)
    assert d.X_train.dtype == np.float32 and d.y_train.dtype == np.int64
    np.testing.assert_array_equal(d.X_train[:, 0] * 255, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(d.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_write_idx_round_trip(tmp_path):
    for name, array in (("a.gz", np.arange(24, dtype=np.int32).reshape(2, 3, 4)),
                        ("b", np.linspace(0, 1, 5))):
        data.write_idx(tmp_path / name, array)
        back = data.read_idx(tmp_path / name)
        assert back.dtype == array.dtype
        np.testing.assert_array_equal(back, array)


def test_idx_errors_name_the_problem(tmp_path):
    good = idx_bytes(np.zeros((2, 3, 3), np.uint8))
    (tmp_path / "magic").write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(ValueError, match="magic number 0x1234"):
        data.read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(good[:-1])
    with pytest.raises(ValueError, match=r"got 33 bytes; expected 34.*truncated"):
        data.read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(good + b"\0")
    with pytest.raises(ValueError, match="got 35 bytes; expected 34"):
        data.read_idx(tmp_path / "long")
    (tmp_path / "badgz").write_bytes(gzip.compress(good)[:-8])
    with pytest.raises(ValueError, match="badgz"):
        data.read_idx(tmp_path / "badgz")


def test_mnist_label_image_mismatch(tmp_path):
    make_fake_mnist(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match="16 images but .* 5 labels"):
        data.load_mnist(tmp_path)


def test_missing_mnist_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    with pytest.raises(data.MnistNotFoundError, match="train-images-idx3-ubyte") as exc:
        data.load_mnist(tmp_path)
    assert "--data DIR" in str(exc.value)
    status, _, err = run_cli(capsys, "train", "mnist", "--data", str(tmp_path))
    assert status == 1 and "cnn: error:" in err and "t10k-labels-idx1-ubyte" in err

    # No --data: scikit-learn's fetch_openml is tried; without cache or network it fails.
    import sklearn.datasets

    def offline(*args, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    status, _, err = run_cli(capsys, "train", "mnist", "--quiet")
    assert status == 1 and "fetch_openml" in err and "no network" in err and "--data DIR" in err


def test_digits_splits():
    d = data.load_digits01()
    assert len(d.y_test) == 90 and len(d.y_train) == 270       # 25% of 360, stratified
    assert d.y_test.mean() == pytest.approx(d.y_train.mean(), abs=0.02)
    assert d.X_train.min() >= 0 and d.X_train.max() <= 1
    s = data.load_digits01("seed")
    assert len(s.y_test) == 10 and len(s.y_train) == 350
    # "Shuffle, first 10 = test": the shuffle depends on the seed, and only on it.
    again, other = data.load_digits01("seed"), data.load_digits01("seed", seed=1)
    np.testing.assert_array_equal(again.X_test, s.X_test)
    assert not np.array_equal(other.X_test, s.X_test)
    canvas = data.load_digits(canvas=True)
    assert canvas.X_train.shape[1:] == (1, 28, 28)
    plain = data.load_digits()
    np.testing.assert_array_equal(canvas.X_train[:, :, 2:26:3, 2:26:3], plain.X_train)
    with pytest.raises(ValueError, match="split"):
        data.load_digits01("first10")


def test_mnist_cli_on_small_idx_files(tmp_path, capsys):
    make_fake_mnist(tmp_path / "mnist", n_train=64, n_test=32)
    model = tmp_path / "m.npz"
    status, out, _ = run_cli(capsys, "train", "mnist", "--data", str(tmp_path / "mnist"),
                             "--epochs", "1", "--batch-size", "16", "--json", "--quiet",
                             "--save", str(model))
    assert status == 0
    summary = json.loads(out)
    assert summary["n_train"] == 64 and summary["n_test"] == 32 and summary["dtype"] == "float32"
    status, out, _ = run_cli(capsys, "evaluate", "--load", str(model), "--json", "--quiet")
    assert status == 0 and json.loads(out)["test_accuracy"] == summary["test_accuracy"]
