"""Training loop, optimiser, data loaders, model files and the ``cnn`` command, end to end.

Everything runs on small settings (a few epochs of digits 0/1, MNIST-shaped
IDX files of a few dozen images written by the tests themselves), so the
file takes seconds; the real measurements are documented commands.
"""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cnn
from cnn import cli, data, serialize
from cnn.cli.options import TRAIN_OPTIONS, option
from cnn.cli.runs import HYPER_PARAMETERS, RUNS
from cnn.networks import NETWORKS, Digits01Net, MnistNet
from cnn.optim import OPTIMIZERS, SGD, cosine_schedule
from cnn.serialize import load_checkpoint
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


def test_evaluate_a_saved_toy_net(tmp_path, capsys):
    path = tmp_path / "toy.npz"
    status, out, _ = run_cli(capsys, "train", "toy", "--json", "--quiet", "--save", str(path))
    trained = json.loads(out)
    status, out, err = run_cli(capsys, "evaluate", "--load", str(path), "--json")
    assert status == 0, err
    evaluated = json.loads(out)
    assert evaluated["train_accuracy"] is None and evaluated["epochs"] == trained["epochs"]
    net, _ = cnn.load_model(path)
    images, labels = cnn.toy_net.seed_data()
    assert evaluated["final_loss"] == net.loss(net.output(images), labels)[0]
    np.testing.assert_allclose(evaluated["outputs"], trained["outputs"], atol=1e-3)
    status, out, _ = run_cli(capsys, "evaluate", "--load", str(path))
    assert status == 0 and out.startswith("network        toy") and "cost" in out


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


# ----------------------------------------------------------------------------- CLI: the command

def parsers(parser):
    """``parser`` and every subparser under it, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


def test_every_option_of_every_subcommand_has_a_help_text():
    seen = []
    for parser in parsers(cli.build_parser()):
        for action in parser._actions:
            seen.append((parser.prog, action.dest))
            assert action.help and action.help.strip() and action.help != argparse.SUPPRESS, \
                (parser.prog, action.dest)
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:          # the lines of `cnn --help`
                    assert choice.help and choice.help.strip(), (parser.prog, choice.dest)
    progs = {prog for prog, _ in seen}
    assert progs == {"cnn", "cnn train", "cnn evaluate", "cnn check"}
    assert ("cnn check", "timeout") in seen and ("cnn train", "optimizer") in seen


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"cnn {cnn.__version__}\n"


def test_the_defaults_are_read_from_one_table(capsys):
    """RUNS is the one definition: the parser gives no defaults of its own, the help
    text and DEFAULTS show RUNS' values, and a run without options uses them."""
    assert set(RUNS) == set(NETWORKS)
    args = cli.build_parser().parse_args(["train", "digits01"])
    assert all(getattr(args, o.name) is None for o in TRAIN_OPTIONS)
    helps = {a.dest: a.help for a in next(p for p in parsers(cli.build_parser())
                                           if p.prog == "cnn train")._actions}
    for network, run in RUNS.items():
        for dataset, hp in run.datasets.items():
            assert cli.DEFAULTS[(network, dataset)] == hp
        assert f"{network} {run.datasets[next(iter(run.datasets))]['epochs']}" in helps["epochs"]
    hp = RUNS["digits01"].datasets["digits01"]
    status, out, _ = run_cli(capsys, "train", "digits01", "--epochs", "1", "--json", "--quiet")
    summary = json.loads(out)
    for key in HYPER_PARAMETERS:
        assert summary[key] == (1 if key == "epochs" else hp[key]), key
    for name in ("split", "test_size", "split_seed", "dense_sizes", "backprop", "threads"):
        assert summary[name] == option(name).default, name
    assert {k: summary[k] for k in HYPER_PARAMETERS if k != "epochs"} == \
        {k: v for k, v in cli.train_defaults("digits01").items() if k in HYPER_PARAMETERS
         and k != "epochs"}
    assert cli.train_defaults("mnist", "digits")["warmup"] == RUNS["mnist"].datasets["digits"]["warmup"]


USER_CODE = textwrap.dedent("""
    import cnn
    print("the user's module prints at import")

    def relu_derivative(z):
        print("and while it runs")
        return cnn.relu.derivative(z)
""")


def json_cases(tmp_path):
    """(argv, exit status) of a good run of each subcommand, all with --json."""
    model = tmp_path / "m.npz"
    (tmp_path / "usercode.py").write_text(USER_CODE)
    return [
        (["train", "digits01", "--epochs", "1", "--save", str(model), "--json"], 0),
        (["evaluate", "--load", str(model), "--json"], 0),
        (["check", "relu_derivative", f"{tmp_path / 'usercode.py'}:relu_derivative", "--json"], 0),
        (["check", "relu_derivative", "cnn.activations:relu", "--json"], 1),      # wrong: exit 1
    ]


def test_json_means_one_object_on_stdout_on_every_subcommand(tmp_path, capsys):
    commands, errs = set(), {}
    for argv, expected in json_cases(tmp_path):
        status, out, errs[argv[2]] = run_cli(capsys, *argv)
        assert status == expected, (argv, errs[argv[2]])
        assert out.count("\n") == 1 and isinstance(json.loads(out), dict), argv
        commands.add(argv[0])
    user = errs[f"{tmp_path / 'usercode.py'}:relu_derivative"]
    assert "the user's module prints" in user and "while it runs" in user   # moved to stderr
    assert commands == {"train", "evaluate", "check"}


@pytest.mark.parametrize("argv, status, prefix", [
    (["train", "digits01", "--resume", "missing.npz", "--json"], 1, "cnn: error: --resume"),
    (["evaluate", "--load", "missing.npz", "--json"], 1, "cnn: error: "),
    (["check", "relu_derivative", "no_such_module_xyz:f", "--json"], 2, "cnn check: error: "),
])
def test_json_errors_are_one_line_on_stderr_and_nothing_on_stdout(argv, status, prefix, tmp_path,
                                                                   capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got, out, err = run_cli(capsys, *argv)
    assert (got, out) == (status, "")
    assert err.count("\n") == 1 and err.startswith(prefix), err


def write_mnist_with_classes(directory: Path, n_classes: int, n_train=48, n_test=16):
    """MNIST-shaped IDX files whose labels are 0..n_classes-1 (each one present)."""
    arrays = make_fake_mnist(directory, n_train=n_train, n_test=n_test, gz=False)
    for name, n in (("train-labels-idx1-ubyte", n_train), ("t10k-labels-idx1-ubyte", n_test)):
        labels = (np.arange(n) % n_classes).astype(np.uint8)
        (directory / name).write_bytes(idx_bytes(labels))
        arrays[name] = labels
    return arrays


def test_the_number_of_classes_comes_from_the_data(tmp_path, capsys):
    write_mnist_with_classes(tmp_path / "four", 4)
    model = tmp_path / "m.npz"
    status, out, err = run_cli(capsys, "train", "mnist", "--data", str(tmp_path / "four"),
                               "--epochs", "1", "--batch-size", "16", "--json", "--quiet",
                               "--save", str(model))
    assert status == 0, err
    net, _ = cnn.load_model(model)
    assert net.config["n_classes"] == data.load_mnist(tmp_path / "four").n_classes == 4
    assert net.output(np.zeros((1, 1, 28, 28))).shape == (1, 4)
    status, out, err = run_cli(capsys, "evaluate", "--load", str(model), "--json")
    assert status == 0 and json.loads(out)["config"]["n_classes"] == 4, err


def test_optimizer_adam_is_the_library_run(tmp_path, capsys):
    """`--optimizer adam` trains what train(..., optimizer="adam") trains with the same
    settings (momentum: Adam's own default), and the checkpoint records it."""
    path = tmp_path / "adam.npz"
    status, out, err = run_cli(capsys, "train", "digits01", "--optimizer", "adam", "--lr", "0.01",
                               "--epochs", "2", "--json", "--quiet", "--save", str(path))
    assert status == 0, err
    summary = json.loads(out)
    adam_beta1 = inspect.signature(OPTIMIZERS["adam"]).parameters["momentum"].default
    assert summary["optimizer"] == "adam" and summary["momentum"] == adam_beta1
    assert load_checkpoint(path).state.optimizer == "adam"
    hp = {**RUNS["digits01"].datasets["digits01"], "lr": 0.01, "epochs": 2}
    d = data.load_digits01()
    net = Digits01Net(seed=hp["seed"])
    net.fit_input_scaling(d.X_train)
    train(net, d.X_train, d.y_train, epochs=2, batch_size=hp["batch_size"], optimizer="adam",
          lr=0.01, schedule=hp["schedule"], warmup_steps=hp["warmup"], seed=hp["seed"])
    assert net.evaluate(d.X_train, d.y_train)["loss"] == summary["final_loss"]
    status, out, _ = run_cli(capsys, "train", "digits01", "--lr", "0.01", "--epochs", "2",
                             "--json", "--quiet")
    assert json.loads(out)["final_loss"] != summary["final_loss"]        # sgd is another run


def test_another_optimizer_starts_from_its_own_defaults(capsys, monkeypatch):
    """A network's momentum default is tuned for its default optimiser (sgd): with
    --optimizer adam and no --momentum, Adam's own default applies."""
    monkeypatch.setitem(RUNS["digits01"].datasets["digits01"], "momentum", 0.5)
    adam_beta1 = inspect.signature(OPTIMIZERS["adam"]).parameters["momentum"].default
    assert adam_beta1 != 0.5
    for argv, momentum in ((["--optimizer", "adam"], adam_beta1), ([], 0.5),
                           (["--optimizer", "adam", "--momentum", "0.7"], 0.7)):
        status, out, err = run_cli(capsys, "train", "digits01", "--epochs", "1", "--lr", "0.01",
                                   "--json", "--quiet", *argv)
        assert status == 0, err
        assert json.loads(out)["momentum"] == momentum, argv


def test_a_setting_the_optimizer_does_not_have_is_refused(capsys, monkeypatch):
    class NoMomentum(OPTIMIZERS["sgd"]):
        def __init__(self, lr, schedule=None):
            super().__init__(lr, schedule=schedule)
    monkeypatch.setitem(OPTIMIZERS, "adam", NoMomentum)
    status, out, err = run_cli(capsys, "train", "digits01", "--optimizer", "adam",
                               "--momentum", "0.5")
    assert status == 1 and out == ""
    assert "cnn: error: --momentum: the adam optimizer has no momentum" in err


def test_a_checkpoint_from_before_the_optimizer_option_resumes_as_sgd(tmp_path, capsys,
                                                                       monkeypatch):
    """`cnn train --save` checkpoints written before --optimizer existed record no
    optimizer: they were SGD runs, and resume as such, to the uninterrupted weights."""
    full, part = tmp_path / "full.npz", tmp_path / "part.npz"
    argv = ["train", "digits01", "--epochs", "2", "--json", "--quiet"]
    assert run_cli(capsys, *argv, "--save", str(full))[0] == 0
    real = serialize.save_checkpoint

    def epoch_1_only(path, net, state, metadata):
        if state.epoch == 1:
            real(path, net, state, metadata)
    monkeypatch.setattr(cli.train, "save_checkpoint", epoch_1_only)
    assert run_cli(capsys, *argv, "--save", str(part))[0] == 0
    monkeypatch.undo()
    ckpt = serialize.load_checkpoint(part)
    assert ckpt.state.epoch == 1 and ckpt.metadata["train_options"]["optimizer"] == "sgd"
    old = {k: v for k, v in ckpt.metadata["train_options"].items() if k != "optimizer"}
    serialize.save_checkpoint(part, ckpt.network, ckpt.state, {**ckpt.metadata,
                                                                "train_options": old})
    status, out, err = run_cli(capsys, "train", "digits01", "--resume", str(part), "--json",
                               "--quiet")
    assert status == 0, err
    assert json.loads(out)["optimizer"] == "sgd"
    a, b = cnn.load_model(full).network, cnn.load_model(part).network
    for name, value in a.params.items():
        np.testing.assert_array_equal(b.params[name], value)


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
