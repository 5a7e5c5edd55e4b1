"""Interrupted work loses nothing: checkpoints every epoch, exact resume, Ctrl-C, divergence.

``cnn train --save PATH`` writes a checkpoint (weights, the optimiser's state:
its buffers and step count; shuffling RNG, history) atomically at the end of
every epoch; ``cnn train NETWORK --resume PATH`` continues it. The guarantee
tested here: a run interrupted after epoch 1 and resumed ends with the same
weights, bit for bit (``np.array_equal``), as the run that was never
interrupted, for both networks, in float32 and float64, and for SGD and Adam
through the file (also from a checkpoint of version 1, written before
optimisers were objects). Interruptions are simulated in-process (a step that
raises ``KeyboardInterrupt``, as Ctrl-C does) and made real (SIGINT to a
``cnn`` subprocess).

Settings are small: digits01 on sklearn's digits 0/1 (270 training images)
and the mnist network on all ten digits on a 28x28 canvas (1347 images),
3 epochs each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnn import cli, data, serialize, training
from cnn.networks import Digits01Net, MnistNet
from cnn.serialize import load_checkpoint
from cnn.training import TrainingDivergedError, train

ROOT = Path(__file__).resolve().parents[1]

#: (command line, images per step) of the small runs.
RUNS = {
    "digits01": (["train", "digits01", "--epochs", "3"], 32),
    "mnist": (["train", "mnist", "--dataset", "digits", "--epochs", "3", "--batch-size", "64"], 64),
}


def steps_per_epoch(network: str) -> int:
    d = data.load_digits01() if network == "digits01" else data.load_digits(canvas=True)
    return -(-len(d.y_train) // RUNS[network][1])


def run_cli(capsys, *argv):
    """``cnn ARGV`` in-process: (exit status, stdout, stderr)."""
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def without_timings(summary: dict) -> dict:
    drop = {"seconds", "seconds_per_epoch", "saved_to", "resumed_from", "resumed_after_epoch"}
    out = {k: v for k, v in summary.items() if k not in drop}
    out["history"] = [{k: v for k, v in e.items() if k != "seconds"} for e in out["history"]]
    return out


def interrupt_at_step(monkeypatch, n: int):
    """Make the n-th training step (from 1) raise KeyboardInterrupt, as Ctrl-C would."""
    real, calls = training.train_step, [0]

    def step(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train_step", step)


def assert_same_checkpoints(a_path, b_path):
    """Weights, optimiser state (buffers, step count), RNG and history: all equal, bit for bit."""
    a, b = load_checkpoint(a_path), load_checkpoint(b_path)
    assert a.network.config == b.network.config
    assert set(a.network.params) == set(b.network.params)
    for name, value in a.network.params.items():
        assert b.network.params[name].dtype == value.dtype
        assert np.array_equal(b.network.params[name], value), name
    assert_same_optimizer_state(a.state, b.state, a.network.params)
    assert (a.state.epoch, a.state.steps, a.state.rng_state) == \
        (b.state.epoch, b.state.steps, b.state.rng_state)
    return a, b


def assert_same_optimizer_state(a, b, params):
    """Same optimiser, same step count, a buffer per parameter in each, equal bit for bit."""
    assert a.optimizer == b.optimizer
    assert a.optimizer_state.keys() == b.optimizer_state.keys()
    buffers = {k.rpartition("/")[2] for k in a.optimizer_state if k != "steps"}
    assert buffers == set(params)
    for key, value in a.optimizer_state.items():
        assert np.array_equal(b.optimizer_state[key], value), key


def temp_files(directory: Path):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# ----------------------------------------------------------------------------- the guarantee

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("network", sorted(RUNS))
def test_interrupted_run_resumes_to_the_uninterrupted_weights(network, dtype, tmp_path, capsys,
                                                              monkeypatch):
    argv = [*RUNS[network][0], "--dtype", dtype, "--quiet", "--json"]
    full, part = tmp_path / "full.npz", tmp_path / "part.npz"
    status, out, _ = run_cli(capsys, *argv, "--save", str(full))
    assert status == 0
    uninterrupted = json.loads(out)

    # Ctrl-C in the middle of epoch 2: the epoch-1 checkpoint stays, and the
    # message says how to resume.
    interrupt_at_step(monkeypatch, steps_per_epoch(network) + 3)
    status, out, err = run_cli(capsys, *argv, "--save", str(part))
    monkeypatch.undo()
    assert status == 130 and out == ""
    assert "Traceback" not in err
    assert "interrupted (Ctrl-C) during epoch 2 of 3" in err
    assert f"holds the state after epoch 1 (step {steps_per_epoch(network)})" in err
    assert f"cnn train {network} --resume {part}" in err
    assert load_checkpoint(part).state.epoch == 1
    assert temp_files(tmp_path) == []

    status, out, err = run_cli(capsys, "train", network, "--resume", str(part), "--quiet",
                               "--json")
    assert status == 0, err
    resumed = json.loads(out)
    assert resumed["resumed_after_epoch"] == 1 and resumed["saved_to"] == str(part)
    a, _ = assert_same_checkpoints(full, part)
    assert a.network.dtype == dtype and a.state.epoch == 3
    # The metrics too: every epoch's losses and accuracies, and the final ones.
    assert without_timings(resumed) == without_timings(uninterrupted)


def test_resuming_from_any_epoch_gives_the_same_weights():
    """The API: train(checkpoint=...) hands out a state per epoch; train(resume=state),
    from a network holding that epoch's weights, ends where the full run ended."""
    d = data.load_digits01()
    X, y = d.X_train[:100], d.y_train[:100]
    kwargs = dict(epochs=4, batch_size=16, lr=0.1, momentum=0.9, schedule="cosine", seed=3)
    states, weights = [], []

    def keep(state):
        states.append(state)
        weights.append({k: v.copy() for k, v in net.params.items()})

    net = Digits01Net(seed=5, dtype="float32")
    net.fit_input_scaling(X)
    full = train(net, X, y, checkpoint=keep, **kwargs)
    assert [s.epoch for s in states] == [1, 2, 3, 4]
    for state, params in zip(states[:-1], weights[:-1]):
        again = Digits01Net.from_state(net.config, params)
        history = train(again, X, y, resume=state, **kwargs)
        for name, value in net.params.items():
            assert np.array_equal(again.params[name], value), (state.epoch, name)
        assert [e["train_loss"] for e in history.epochs] == [e["train_loss"] for e in full.epochs]
        assert history.steps == full.steps


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.1), ("adam", 0.01)])
def test_a_checkpoint_file_resumes_any_optimizer_exactly(optimizer, lr, tmp_path):
    """Through the file: save_checkpoint after each epoch, load_checkpoint, resume; the
    optimiser's state (SGD's velocity, Adam's two moments) round-trips bit for bit."""
    d = data.load_digits01()
    X, y = d.X_train[:100], d.y_train[:100]
    kwargs = dict(epochs=3, batch_size=16, optimizer=optimizer, lr=lr, momentum=0.8,
                  schedule="cosine", warmup_steps=3, seed=4)
    net = Digits01Net(seed=6)
    paths = []

    def save(state):
        paths.append(serialize.save_checkpoint(tmp_path / f"e{state.epoch}.npz", net, state))

    full = train(net, X, y, checkpoint=save, **kwargs)
    buffers = {"sgd": {"velocity"}, "adam": {"m", "v"}}[optimizer]
    for path in paths[:-1]:
        ckpt = load_checkpoint(path)
        assert ckpt.state.optimizer == optimizer
        assert {k.partition("/")[0] for k in ckpt.state.optimizer_state} == buffers | {"steps"}
        history = train(ckpt.network, X, y, resume=ckpt.state, **kwargs)
        for name, value in net.params.items():
            assert np.array_equal(ckpt.network.params[name], value), (path.name, name)
        assert [e["train_loss"] for e in history.epochs] == [e["train_loss"] for e in full.epochs]
    with pytest.raises(ValueError, match=r"resume: the checkpoint comes from a different run "
                                         r"\(optimizer='(sgd|adam)' there"):
        other = "adam" if optimizer == "sgd" else "sgd"
        train(load_checkpoint(paths[0]).network, X, y, resume=load_checkpoint(paths[0]).state,
              **{**kwargs, "optimizer": other})


def as_version_1(path: Path) -> Path:
    """Rewrite a checkpoint of SGD in the layout of checkpoint version 1 (before the
    optimisers were objects): ``steps`` in the JSON, ``velocity/<param>`` entries, no
    optimiser name (in the file or in the run)."""
    with np.load(path) as npz:
        contents = {k: npz[k] for k in npz.files}
    doc = json.loads(str(contents.pop("train_state")))
    assert doc.pop("optimizer") == "sgd" and doc["run"].pop("optimizer") == "sgd"
    doc.update(checkpoint_version=1, steps=doc.pop("optimizer_state")["steps"])
    contents["train_state"] = np.array(json.dumps(doc))
    for key in [k for k in contents if k.startswith("optimizer/")]:
        contents[key.replace("optimizer/velocity/", "velocity/")] = contents.pop(key)
    old = path.with_name("v1-" + path.name)
    np.savez(old, **contents)
    return old


def test_a_version_1_checkpoint_still_resumes_exactly(tmp_path):
    """The choice for files written before: still read, as the SGD state they hold."""
    d = data.load_digits01()
    X, y = d.X_train[:64], d.y_train[:64]
    kwargs = dict(epochs=2, batch_size=16, lr=0.1, momentum=0.9, seed=2)
    net, paths = Digits01Net(seed=3), []
    train(net, X, y, **kwargs,
          checkpoint=lambda s: paths.append(serialize.save_checkpoint(tmp_path / "c.npz", net, s))
          if s.epoch == 1 else None)
    old = load_checkpoint(as_version_1(paths[0]))
    new = load_checkpoint(paths[0])
    assert old.state.optimizer == "sgd"
    assert_same_optimizer_state(old.state, new.state, net.params)
    train(old.network, X, y, resume=old.state, **kwargs)
    for name, value in net.params.items():
        assert np.array_equal(old.network.params[name], value), name


def test_resume_refuses_another_run(tmp_path, capsys):
    """A checkpoint continued with other settings or other data would not give the
    uninterrupted result: refused, naming what differs."""
    d = data.load_digits01()
    X, y = d.X_train[:64], d.y_train[:64]
    states = []
    net = Digits01Net()
    train(net, X, y, epochs=2, batch_size=16, lr=0.1, checkpoint=states.append)
    with pytest.raises(ValueError, match=r"lr=0.1 there, lr=0.2 here"):
        train(net, X, y, epochs=2, batch_size=16, lr=0.2, resume=states[0])
    with pytest.raises(ValueError, match="the training data differ"):
        train(net, X[::-1], y[::-1], epochs=2, batch_size=16, lr=0.1, resume=states[0])

    path = tmp_path / "c.npz"
    status, _, _ = run_cli(capsys, "train", "digits01", "--epochs", "1", "--quiet", "--save",
                           str(path))
    assert status == 0
    status, _, err = run_cli(capsys, "train", "digits01", "--resume", str(path), "--lr", "0.5",
                             "--split-seed", "2")
    assert status == 1 and "Traceback" not in err
    assert "--lr 0.5 (the run: 0.1)" in err and "--split-seed 2 (the run: 0)" in err
    # Options equal to the run's are fine; a finished run resumes to itself.
    before = load_checkpoint(path)
    status, out, err = run_cli(capsys, "train", "digits01", "--resume", str(path), "--epochs", "1",
                               "--quiet", "--json")
    assert status == 0, err
    assert json.loads(out)["epochs"] == 1
    assert_same_checkpoints(path, path)
    for name, value in before.network.params.items():
        assert np.array_equal(load_checkpoint(path).network.params[name], value)


# ----------------------------------------------------------------------------- real Ctrl-C

# A `cnn` process whose steps take 50 ms longer, so that a signal lands mid-run.
# SIGINT gets Python's own handler even when this test runs in a background job,
# whose children inherit SIGINT ignored (as `cmd &` in a non-interactive shell does).
SLOW_CNN = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import cnn.training as training
real = training.train_step
def slow(*args, **kwargs):
    time.sleep(0.05)
    return real(*args, **kwargs)
training.train_step = slow
from cnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigint_keeps_the_checkpoint_and_the_run_resumes_exactly(tmp_path, capsys):
    part, full = tmp_path / "part.npz", tmp_path / "full.npz"
    argv = ["train", "digits01", "--epochs", "4", "--quiet", "--json"]
    child = subprocess.Popen([sys.executable, "-c", SLOW_CNN, *argv, "--save", str(part)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not part.exists():                         # the end of epoch 1
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.01)
        time.sleep(0.1)                                  # into epoch 2
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err
    assert out == "" and "Traceback" not in err
    assert f"cnn train digits01 --resume {part}" in err
    epoch = load_checkpoint(part).state.epoch
    assert 1 <= epoch < 4 and f"after epoch {epoch}" in err
    assert temp_files(tmp_path) == []

    status, _, err = run_cli(capsys, "train", "digits01", "--resume", str(part), "--quiet")
    assert status == 0, err
    status, _, _ = run_cli(capsys, *argv, "--save", str(full))
    assert status == 0
    assert_same_checkpoints(full, part)


def test_ctrl_c_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, capsys, monkeypatch):
    path = tmp_path / "c.npz"
    real_savez, calls = serialize.np.savez, [0]

    def savez(fh, **arrays):
        calls[0] += 1
        if calls[0] == 2:                                # the checkpoint of epoch 2
            fh.write(b"half an archive")
            raise KeyboardInterrupt
        real_savez(fh, **arrays)

    monkeypatch.setattr(serialize.np, "savez", savez)
    status, _, err = run_cli(capsys, "train", "digits01", "--epochs", "3", "--quiet", "--save",
                             str(path))
    monkeypatch.undo()
    assert status == 130
    assert "holds the state after epoch 1" in err and "--resume" in err
    assert load_checkpoint(path).state.epoch == 1        # intact, readable, epoch 1
    assert temp_files(tmp_path) == []


def test_a_failed_checkpoint_write_is_a_clear_error(tmp_path, capsys, monkeypatch):
    """A full disk while writing epoch 2's checkpoint: exit 1, a message naming the
    problem and the checkpoint that is still there (epoch 1)."""
    path = tmp_path / "c.npz"
    real_savez, calls = serialize.np.savez, [0]

    def savez(fh, **arrays):
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(28, "No space left on device")
        real_savez(fh, **arrays)

    monkeypatch.setattr(serialize.np, "savez", savez)
    status, _, err = run_cli(capsys, "train", "digits01", "--epochs", "3", "--quiet", "--save",
                             str(path))
    monkeypatch.undo()
    assert status == 1 and "Traceback" not in err
    assert (f"--save {path}: cannot write the checkpoint ([Errno 28] No space left on device: "
            f"'{path}')") in err
    assert "holds the state after epoch 1" in err
    assert load_checkpoint(path).state.epoch == 1 and temp_files(tmp_path) == []


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(tmp_path, capsys,
                                                                             monkeypatch):
    interrupt_at_step(monkeypatch, 2)
    status, _, err = run_cli(capsys, "train", "digits01", "--quiet", "--save",
                             str(tmp_path / "c.npz"))
    assert status == 130 and "before the first checkpoint" in err and "nothing to resume" in err
    assert list(tmp_path.iterdir()) == []
    interrupt_at_step(monkeypatch, 2)
    status, _, err = run_cli(capsys, "train", "digits01", "--quiet")
    assert status == 130 and "nothing was saved" in err and "--save PATH" in err


# ----------------------------------------------------------------------------- numerical faults

def small_data(network):
    rng = np.random.default_rng(0)
    if network == "digits01":
        return Digits01Net(dtype="float64"), rng.random((48, 1, 8, 8)), rng.integers(0, 2, 48)
    return (MnistNet(input_shape=(8, 8), dtype="float32"), rng.random((48, 1, 8, 8)),
            rng.integers(0, 10, 48))


def inject(monkeypatch, net, at_step: int, fault: str, snapshots: list):
    """Record the weights before every step; make step ``at_step`` (from 0) go bad."""
    real = net.loss_and_grads

    def spy(xb, yb):
        snapshots.append({k: v.copy() for k, v in net.params.items()})
        loss, grads, out = real(xb, yb)
        if len(snapshots) - 1 == at_step:
            if fault == "loss":
                loss = loss * np.nan
            else:
                name = sorted(grads)[1]
                grads[name].flat[0] = np.inf
        return loss, grads, out

    monkeypatch.setattr(net, "loss_and_grads", spy)


@pytest.mark.parametrize("fault", ["loss", "gradient"])
@pytest.mark.parametrize("network", ["digits01", "mnist"])
def test_a_non_finite_loss_or_gradient_stops_training_at_its_step(network, fault, monkeypatch):
    net, X, y = small_data(network)
    snapshots = []
    inject(monkeypatch, net, 7, fault, snapshots)        # step 7 = epoch 2 (6 steps each)
    what = r"the loss is nan" if fault == "loss" else r"the gradient of '\w+' is not finite"
    with pytest.raises(TrainingDivergedError, match=rf"at step 7 \(epoch 2\): {what}") as exc:
        train(net, X, y, epochs=3, batch_size=8, lr=0.05, momentum=0.9)
    assert (exc.value.step, exc.value.epoch) == (7, 2)
    for name, value in net.params.items():                 # the weights before step 7
        assert np.array_equal(value, snapshots[7][name]), name
        assert np.isfinite(value).all()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("network", ["digits01", "mnist"])
def test_a_real_divergence_keeps_the_last_good_weights(network, monkeypatch):
    """No injection: a learning rate of 1e30 in float32 overflows on its own."""
    net, X, y = small_data(network)
    net = type(net)(**{k: v for k, v in net.config.items()
                       if k not in ("input_mean", "input_std", "dtype")}, dtype="float32")
    snapshots = []
    real = net.loss_and_grads
    monkeypatch.setattr(net, "loss_and_grads", lambda xb, yb: (
        snapshots.append({k: v.copy() for k, v in net.params.items()}), real(xb, yb))[1])
    with pytest.raises(TrainingDivergedError, match=r"training diverged at step \d+ \(epoch \d+\)") \
            as exc:
        train(net, X, y, epochs=50, batch_size=8, lr=1e30)
    for name, value in net.params.items():
        assert np.array_equal(value, snapshots[exc.value.step][name]), name


def test_divergence_in_the_cli_names_the_step_and_the_checkpoint(tmp_path, capsys, monkeypatch):
    path = tmp_path / "c.npz"
    real = Digits01Net.loss_and_grads
    calls = [0]

    def bad_at_step_12(self, xb, yb):                    # epoch 2 (9 steps per epoch)
        loss, grads, out = real(self, xb, yb)
        calls[0] += 1
        return (np.nan if calls[0] == 13 else loss), grads, out

    monkeypatch.setattr(Digits01Net, "loss_and_grads", bad_at_step_12)
    status, _, err = run_cli(capsys, "train", "digits01", "--epochs", "3", "--quiet", "--save",
                             str(path))
    assert status == 1 and "Traceback" not in err
    assert "training diverged at step 12 (epoch 2): the loss is nan" in err
    assert f"The checkpoint {path} holds the state after epoch 1 (step 9)" in err
    assert load_checkpoint(path).state.epoch == 1
