"""Files and messages: nothing destroyed, nothing hangs, nothing allocated blindly, no traceback.

One table per class of failure, each row one hostile or careless use:

* SAVES: every writer (model, checkpoint, IDX, the ``cnn`` command) aimed at
  something that is not a regular file (a FIFO, a character device, a
  directory, a symlink to one of those). The row must fail fast, with the
  documented exception naming the path, and the special file must still be
  what it was.
* READS: every reader aimed at a special file: must not block (each row runs
  under a time limit), must name the path.
* FORGED: model and IDX files whose headers declare absurd sizes, whose
  parameters are NaN, whose entries have the wrong JSON type.
* CLI: user errors of the ``cnn`` command: exit 1 or 2 and one line, never a
  traceback.
Plus: symlinks are followed, stale temporaries of killed saves are removed
(and only those), a failed write keeps the old file byte for byte and names
the file, a growing loss warns with the learning rate, prediction never
returns NaN silently.

The special files are made inside the test's own temporary directory: a FIFO
with ``os.mkfifo``, a character device with ``os.mknod`` (the same device as
``/dev/null``; rows that need it are skipped where mknod is not allowed).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import struct
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnn import cli, data, serialize
from cnn._files import SpecialFileError
from cnn.networks import Digits01Net, MnistNet, ToyNet
from cnn.training import TrainingUnstableWarning, TrainState, train

TIME_LIMIT = 10.0     # seconds: a reader or writer that blocks on a FIFO fails the row


def within_time_limit(call):
    """Run ``call()`` in a thread; fail (instead of hanging) if it does not return in time."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:   # noqa: BLE001 - handed to the test below
            outcome["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(TIME_LIMIT)
    if thread.is_alive():
        # Unblock a FIFO reader/writer so the thread can end, then fail.
        pytest.fail(f"the call did not return within {TIME_LIMIT} s (it blocks)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class CliFailed(Exception):
    """``cnn ARGV`` exited non-zero; the message is ``exit STATUS: STDERR``."""


def run_cli(*argv) -> str:
    """``cnn ARGV`` in-process; returns stderr; raises CliFailed unless it exits 0."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = cli.main([str(a) for a in argv])
        except SystemExit as exc:          # argparse usage errors
            status = exc.code
    text = err.getvalue()
    assert "Traceback" not in text, text
    if status != 0:
        assert status in (1, 2), status
        assert len([l for l in text.splitlines() if l.startswith("cnn")]) == 1, text
        raise CliFailed(f"exit {status}: {text}")
    return text


# ----------------------------------------------------------------------------- special files

def fifo(tmp: Path, name="target") -> Path:
    path = tmp / name
    os.mkfifo(path)
    return path


def char_device(tmp: Path, name="null") -> Path:
    path = tmp / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))    # what /dev/null is
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here ({exc})")
    return path


def directory(tmp: Path, name="target") -> Path:
    path = tmp / name
    path.mkdir()
    return path


def symlink_to(make):
    def build(tmp: Path) -> Path:
        target = make(tmp, "real")
        link = tmp / "link"
        link.symlink_to(target)
        return link
    return build


SPECIAL = {"fifo": fifo, "char device": char_device, "directory": directory,
           "symlink to a fifo": symlink_to(fifo),
           "symlink to a char device": symlink_to(char_device)}


def kind_of(path: Path) -> int:
    return stat.S_IFMT(os.stat(path).st_mode)


def small_state():
    return TrainState(epoch=1, optimizer="sgd", optimizer_state={"steps": 3}, rng_state={},
                      history=[{"epoch": 1}], seconds=0.0, run={})


SAVES = {
    "save_model": (lambda p: serialize.save_model(p, ToyNet()), SpecialFileError),
    "save_checkpoint": (lambda p: serialize.save_checkpoint(p, Digits01Net(), small_state()),
                        SpecialFileError),
    "write_idx": (lambda p: data.write_idx(p, np.zeros((2, 3), np.uint8)), SpecialFileError),
    "cnn train toy --save": (lambda p: run_cli("train", "toy", "--quiet", "--save", p), CliFailed),
    "cnn train digits01 --save": (lambda p: run_cli("train", "digits01", "--quiet", "--epochs", 1,
                                                    "--save", p), CliFailed),
}


@pytest.mark.parametrize("special", sorted(SPECIAL))
@pytest.mark.parametrize("writer", sorted(SAVES))
def test_a_save_never_replaces_or_blocks_on_a_special_file(writer, special, tmp_path):
    path = SPECIAL[special](tmp_path)
    before = kind_of(path)
    call, error = SAVES[writer]
    with pytest.raises(error) as info:
        within_time_limit(lambda: call(path))
    message = str(info.value)
    assert os.path.realpath(path) in message and "regular file" in message, message
    assert kind_of(path) == before and not stat.S_ISREG(kind_of(path))
    assert not [p for p in tmp_path.rglob("*.tmp")], "a temporary file was left behind"


def test_a_save_through_a_symlink_replaces_the_file_it_points_to(tmp_path):
    real = tmp_path / "models" / "toy.npz"
    real.parent.mkdir()
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    returned = serialize.save_model(link, ToyNet())
    assert returned == link and link.is_symlink() and os.readlink(link) == str(real)
    assert serialize.load_model(real).network.name == "toy"
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640          # the old file's mode is kept
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "models" / "new.npz")
    serialize.save_model(dangling, ToyNet())
    assert dangling.is_symlink() and (tmp_path / "models" / "new.npz").is_file()


# ----------------------------------------------------------------------------- readers

def model_on_disk(tmp: Path) -> Path:
    return serialize.save_model(tmp / "good.npz", Digits01Net())


READS = {
    "load_model": (serialize.load_model, SpecialFileError),
    "load_checkpoint": (serialize.load_checkpoint, SpecialFileError),
    "read_idx": (data.read_idx, SpecialFileError),
    "cnn evaluate --load": (lambda p: run_cli("evaluate", "--load", p), CliFailed),
    "cnn train --resume": (lambda p: run_cli("train", "digits01", "--resume", p), CliFailed),
}


@pytest.mark.parametrize("special", sorted(SPECIAL))
@pytest.mark.parametrize("reader", sorted(READS))
def test_a_reader_refuses_a_special_file_at_once(reader, special, tmp_path):
    path = SPECIAL[special](tmp_path)
    before = kind_of(path)
    call, error = READS[reader]
    with pytest.raises(error) as info:
        within_time_limit(lambda: call(path))
    message = str(info.value)
    assert str(path) in message or os.path.realpath(path) in message, message
    assert any(k in message for k in ("FIFO", "character device", "directory")), message
    assert kind_of(path) == before


def test_mnist_files_that_are_fifos_are_refused_at_once(tmp_path):
    for stem in data.MNIST_FILES.values():
        os.mkfifo(tmp_path / stem)
    with pytest.raises(ValueError, match="FIFO"):
        within_time_limit(lambda: data.load_mnist(tmp_path))


def test_readers_refuse_files_larger_than_their_limit(tmp_path, monkeypatch):
    path = model_on_disk(tmp_path)
    monkeypatch.setattr(serialize, "MAX_FILE_BYTES", 100)
    with pytest.raises(SpecialFileError, match=r"good\.npz: has \d+ bytes; expected a model file "
                                               r"of at most 100 bytes"):
        serialize.load_model(path)


# ----------------------------------------------------------------------------- forged files

def npy_bytes(shape, dtype="<f8", payload=b"") -> bytes:
    """A .npy header declaring ``shape`` and ``dtype``, followed by ``payload``."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def forged_model(tmp: Path, replace: dict, drop=()) -> Path:
    """A Digits01Net model file with some entries' raw .npy bytes replaced."""
    good = model_on_disk(tmp)
    path = tmp / "forged.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            key = name[:-len(".npy")]
            if key in drop:
                continue
            dst.writestr(name, replace.get(key, src.read(name)))
        for key, raw in replace.items():
            if key + ".npy" not in src.namelist():
                dst.writestr(key + ".npy", raw)
    return path


def text_npy(text: str) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array(text))
    return buf.getvalue()


FORGED = {
    # A 1 KB file declaring a 745 GiB array: refused from the header, nothing allocated.
    "745 GiB parameter": ({"param/w3": npy_bytes((10 ** 11,), payload=b"\0" * 64)},
                          r"entry 'param/w3' declares shape \(100000000000,\) of float64 "
                          r"\(800000000000 bytes\) but holds 64 bytes"),
    "huge parameter of the right size in the header only": (
        {"param/w3": npy_bytes((16, 28), payload=b"\0" * 8)}, r"entry 'param/w3' declares shape \(16, 28\)"),
    "object array": ({"metadata": npy_bytes((), "|O", b"\0" * 8)}, r"metadata.*dtype object"),
    "config of a huge network": ({"config": text_npy(json.dumps(
        {"dense_sizes": [10 ** 6, 10 ** 6], "backprop": "correct", "dtype": "float64",
         "seed": 0, "init": "lecun", "input_shape": [8, 8]}))},
        r"config: not a valid digits01 network config .*at most 50,000,000"),
    "NaN weight": ({"param/w3": npy_bytes((16, 28), payload=np.full((16, 28), np.nan).tobytes())},
                   r"forged\.npz: params\['w3'\]: got 448 non-finite value\(s\)"),
    "inf bias": ({"param/b1": npy_bytes((2,), payload=np.array([0.0, np.inf]).tobytes())},
                 r"params\['b1'\]: got 1 non-finite value\(s\) .*first at index \(1,\)"),
    "config a JSON list": ({"config": text_npy("[1, 2]")}, r"config: got a JSON list; expected a JSON object"),
    "config of a wrong field type": ({"config": text_npy('{"dense_sizes": "big"}')},
                                     r"config: not a valid digits01 network config"),
    "metadata a JSON number": ({"metadata": text_npy("3")}, r"metadata: got a JSON int"),
    "config not JSON": ({"config": text_npy("{nope")}, r"config is not valid JSON"),
    "network not text": ({"network": npy_bytes((2,), payload=b"\0" * 16)},
                         r"network: got shape \(2,\) and dtype float64; expected one text value"),
    "format marker missing": ({}, r"not a cnn model file"),
    "an entry that is not an array": ({"evil.py": b"import os"},
                                      r"entry 'evil\.py\.npy' is not a \.npy array \(the magic "
                                      r"string is not correct"),
}
FORGED["format marker missing"] = ({}, r"not a cnn model file")


@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_forged_model_file_gets_a_clear_error_without_allocating(case, tmp_path):
    replace, message = FORGED[case]
    drop = ("format",) if case == "format marker missing" else ()
    path = forged_model(tmp_path, replace, drop)
    start = time.perf_counter()
    with pytest.raises(serialize.ModelFileError, match=message):
        serialize.load_model(path)
    assert time.perf_counter() - start < TIME_LIMIT


def test_an_archive_entry_that_is_not_an_array_is_refused(tmp_path):
    path = model_on_disk(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("payload.pkl", b"cos\nsystem\n(S'true'\ntR.")
    with pytest.raises(serialize.ModelFileError, match=r"entry 'payload\.pkl' is not a \.npy array"):
        serialize.load_model(path)


def test_a_checkpoint_with_nan_momentum_is_refused(tmp_path):
    net = Digits01Net()
    velocity = {f"velocity/{k}": np.zeros_like(v) for k, v in net.params.items()}
    velocity["velocity/w1"][0, 0, 0, 0] = np.nan
    state = TrainState(epoch=1, optimizer="sgd", optimizer_state={"steps": 3, **velocity},
                       rng_state={}, history=[{}], seconds=0.0, run={})
    path = serialize.save_checkpoint(tmp_path / "c.npz", net, state)
    with pytest.raises(serialize.ModelFileError,
                       match=r"c\.npz: optimizer/velocity/w1: got 1 non-finite"):
        serialize.load_checkpoint(path)


IDX_FORGED = {
    "declares 68 GB of images": (bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3 + b"\0" * 16,
                                 r"the header declares an array of shape \(4294967295, 4294967295, "
                                 r"4294967295\).*expected at most"),
    "gzip declaring more than it holds": (None, r"got 20 bytes; expected 24"),
}


@pytest.mark.parametrize("case", sorted(IDX_FORGED))
def test_a_forged_idx_file_is_refused_before_allocating(case, tmp_path):
    raw, message = IDX_FORGED[case]
    path = tmp_path / "images.idx"
    if raw is None:
        import gzip
        raw = gzip.compress(bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") * 3 + b"\0" * 4)
        path = tmp_path / "images.idx.gz"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        data.read_idx(path)


def test_an_idx_set_with_no_images_is_refused(tmp_path):
    for role, stem in data.MNIST_FILES.items():
        shape = (0, 28, 28) if role.endswith("images") else (0,)
        data.write_idx(tmp_path / stem, np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: got 0 images; expected at least one"):
        data.load_mnist(tmp_path)
    with pytest.raises(CliFailed, match=r"exit 1: cnn: error: .*got 0 images"):
        run_cli("train", "mnist", "--data", tmp_path, "--quiet")


# ----------------------------------------------------------------------------- no silent NaN

def test_prediction_never_returns_nan_silently(tmp_path):
    net = MnistNet(input_shape=(8, 8), n_classes=3, dtype="float32")
    x = np.random.default_rng(0).random((4, 8, 8))
    net.params["w1"][0, 0] = np.nan              # set behind the loader's back
    for call in (net.predict, net.predict_proba, lambda v: net.evaluate(v, [0, 1, 2, 0])):
        with pytest.raises(ValueError, match=r"params\['w1'\]: got 1 non-finite"):
            call(x)
    net.params["w1"][0, 0] = 0.0
    with pytest.raises(FloatingPointError, match=r"mnist network: the output for image 0 is not "
                                                 r"finite.*overflowed float32"):
        net.predict(np.full((1, 8, 8), 3e38))
    with pytest.raises(ValueError, match=r"x: got values up to 1e\+39, which float32 cannot hold"):
        net.predict(np.full((1, 8, 8), 1e39))


def test_data_too_large_for_the_network_dtype_is_bad_data_not_a_divergence():
    net = MnistNet(input_shape=(8, 8), n_classes=2, dtype="float32")
    X = np.random.default_rng(0).random((6, 8, 8)) * 1e39
    with pytest.raises(ValueError, match=r"X: got values up to .*which float32 cannot hold"):
        train(net, X, np.arange(6) % 2, epochs=1, batch_size=3, lr=0.1)


# ----------------------------------------------------------------------------- messages

MESSAGES = {
    "warmup_steps as a string": (dict(warmup_steps="5"), TypeError,
                                 r"warmup_steps: got '5' of type str; expected an integer >= 0"),
    "warmup_steps fractional": (dict(warmup_steps=1.5), TypeError,
                                r"warmup_steps: got 1\.5 of type float"),
    "warmup_steps negative": (dict(warmup_steps=-1), ValueError,
                              r"warmup_steps: got -1; expected an integer >= 0"),
}


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_training_arguments_get_clear_errors(case):
    kwargs, error, message = MESSAGES[case]
    with pytest.raises(error, match=message):
        train(Digits01Net(), np.zeros((4, 8, 8)), [0, 1, 0, 1], epochs=1, batch_size=2,
              lr=0.1, schedule="cosine", **kwargs)


def test_a_loss_that_grows_by_orders_of_magnitude_warns_with_the_learning_rate():
    from cnn.data import load_digits
    d = load_digits(canvas=True)
    net = MnistNet(n_classes=10, dtype="float32")
    net.fit_input_scaling(d.X_train)
    with pytest.warns(TrainingUnstableWarning, match=r"grew from .* \(first step\) to .*: the "
                                                     r"learning rate lr=1000 is probably too large"):
        train(net, d.X_train, d.y_train, epochs=1, batch_size=32, lr=1000.0, momentum=0.9,
              schedule="cosine", warmup_steps=50)      # as `cnn train mnist --dataset digits`
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingUnstableWarning)     # a sound run: no warning
        sound = MnistNet(n_classes=10)
        sound.fit_input_scaling(d.X_train)
        train(sound, d.X_train[:256], d.y_train[:256], epochs=2, batch_size=32, lr=0.05)


def test_the_cli_prints_the_growing_loss_warning_as_one_line():
    err = run_cli("train", "mnist", "--dataset", "digits", "--lr", 1000, "--epochs", 1, "--quiet")
    lines = [l for l in err.splitlines() if l.startswith("cnn:")]
    assert len(lines) == 1 and lines[0].startswith("cnn: warning: the training loss grew"), err
    assert "lr=1000" in lines[0]


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = serialize.save_model(tmp_path / "m.npz", ToyNet())
    before = path.read_bytes()

    def full(fh, **arrays):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(serialize.np, "savez", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*m\.npz'"):
        serialize.save_model(path, ToyNet(seed=1))
    assert path.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(CliFailed, match=r"exit 1: cnn: error: \[Errno 28\] No space left on "
                                        r"device: '.*m\.npz'"):
        run_cli("train", "toy", "--quiet", "--save", path)
    assert path.read_bytes() == before


def test_stale_temporaries_of_killed_saves_are_removed_and_only_those(tmp_path):
    target = tmp_path / "m.npz"
    dead = 2 ** 22 + 12345                    # above Linux's default pid_max: never running
    while True:
        try:
            os.kill(dead, 0)
            dead += 1
        except ProcessLookupError:
            break
        except PermissionError:
            dead += 1
    old = time.time() - 3600
    files = {
        "killed save of m.npz": (f".m.npz.{dead}.abc123.tmp", True),
        "killed save of another file": (f".other.npz.{dead}.abc123.tmp", False),
        "save of m.npz in a running process": (f".m.npz.{os.getppid()}.abc123.tmp", False),
        "older naming (no pid)": (".m.npz.abc123.tmp", False),
        "a user's own file": ("m.npz.tmp", False),
    }
    for name, _ in files.values():
        (tmp_path / name).write_bytes(b"x" * 1000)
        os.utime(tmp_path / name, (old, old))
    recent = tmp_path / f".m.npz.{dead}.new.tmp"       # newer than this process: not judged
    recent.write_bytes(b"x")
    serialize.save_model(target, ToyNet())
    for what, (name, removed) in files.items():
        assert (tmp_path / name).exists() != removed, what
    assert recent.exists() and serialize.load_model(target).network.name == "toy"


# ----------------------------------------------------------------------------- the cnn command

def mnist_model_8x8(tmp: Path) -> Path:
    net = MnistNet(input_shape=(8, 8), n_classes=10)
    return serialize.save_model(tmp / "m8.npz", net, {"dataset": "mnist"})


def idx_dir(tmp: Path, size=28) -> Path:
    d = tmp / "mnist"
    d.mkdir()
    for role, stem in data.MNIST_FILES.items():
        shape = (3, size, size) if role.endswith("images") else (3,)
        data.write_idx(d / stem, np.zeros(shape, np.uint8))
    return d


def npy_model(tmp: Path) -> Path:
    np.save(tmp / "a.npy", np.zeros(3))
    return tmp / "a.npy"


CLI = {
    "a .npy given as a model": (lambda t: ("evaluate", "--load", npy_model(t)),
                                r"exit 1: cnn: error: .*a\.npy: not a readable cnn model file"),
    "config of the wrong JSON type": (
        lambda t: ("evaluate", "--load", forged_model(t, {"config": text_npy("[1]")})),
        r"exit 1: cnn: error: .*config: got a JSON list"),
    "metadata of the wrong JSON type": (
        lambda t: ("evaluate", "--load", forged_model(t, {"metadata": text_npy('"x"')})),
        r"exit 1: cnn: error: .*metadata: got a JSON str"),
    "an mnist model on data of another size": (
        lambda t: ("evaluate", "--load", mnist_model_8x8(t), "--data", idx_dir(t)),
        r"exit 1: cnn: error: .*m8\.npz: the mnist model takes 8x8 images, but its data "
        r"\(mnist\) has 28x28"),
    "an empty --save": (lambda t: ("train", "toy", "--save", ""),
                        r"exit 2: .*argument --save: expected a path, got an empty string"),
    "an empty --load": (lambda t: ("evaluate", "--load", ""),
                        r"exit 2: .*argument --load: expected a path"),
    "absurd --dense-sizes": (lambda t: ("train", "digits01", "--dense-sizes", "100000000,100000000"),
                             r"exit 2: .*--dense-sizes: expected sizes from 1 to 100000"),
    "large --dense-sizes over the parameter budget": (
        lambda t: ("train", "digits01", "--dense-sizes", "100000,100000", "--quiet"),
        r"exit 1: cnn: error: dense_sizes \[100000, 100000\]: got 10,001,700,090 parameters; "
        r"expected at most 50,000,000"),
    "--save in a directory that is a file": (
        lambda t: ("train", "toy", "--save", (t / "f").write_text("x") and t / "f" / "m.npz"),
        r"exit 1: cnn: error: --save .*f/m\.npz: .*f is not a directory"),
}


@pytest.mark.parametrize("case", sorted(CLI))
def test_cli_user_errors_are_one_line_never_a_traceback(case, tmp_path):
    argv, message = CLI[case]
    with pytest.raises(CliFailed, match=f"(?s){message}"):
        run_cli(*argv(tmp_path))


def test_cli_save_into_a_read_only_directory(tmp_path, monkeypatch):
    """As root the kernel ignores directory permissions: ask os.access, as the command does."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tmp_path
                        else real_access(p, mode, **kw))
    with pytest.raises(CliFailed, match=r"exit 1: cnn: error: --save .*m\.npz: the directory "
                                        r".* is not writable"):
        run_cli("train", "toy", "--quiet", "--save", tmp_path / "m.npz")

    def denied(fh, **arrays):
        raise PermissionError(13, "Permission denied")
    monkeypatch.undo()
    monkeypatch.setattr(serialize.np, "savez", denied)       # refused at write time instead
    with pytest.raises(CliFailed, match=r"exit 1: cnn: error: \[Errno 13\] Permission denied: "
                                        r"'.*m\.npz'"):
        run_cli("train", "toy", "--quiet", "--save", tmp_path / "m.npz")


@pytest.mark.parametrize("reader", [serialize.load_model, serialize.load_checkpoint, data.read_idx])
@pytest.mark.parametrize("bad", [3, None, b"m.npz"])
def test_a_path_that_is_not_a_path_is_named(reader, bad):
    with pytest.raises(TypeError, match=r"path: got (int|NoneType|bytes); expected the path of"):
        reader(bad)


def test_a_symlink_loop_is_an_os_error_naming_the_file(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for call in (lambda: serialize.save_model(tmp_path / "a", ToyNet()),
                 lambda: serialize.load_model(tmp_path / "a")):
        with pytest.raises(OSError, match=r"Too many levels of symbolic links: '.*a'"):
            call()
    with pytest.raises(CliFailed, match=r"exit 1: cnn: error: .*Too many levels of symbolic links"):
        run_cli("evaluate", "--load", tmp_path / "a")
