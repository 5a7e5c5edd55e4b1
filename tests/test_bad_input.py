"""Bad input anywhere in the public API gets a clear error: one table.

Every row is one bad input: the call, the exception type, and a fragment of
the message that names the argument and says what was received (and, in
most rows, what was expected). The rows cover the layers, the toy net, the
networks, the training loop, the data loaders, the model files and
checkpoints, the ``cnn`` command, the scikit-learn estimator and the
derivation loader. The layers' rows are with each layer, in
``tests/layers/test_<layer>.py`` (``BAD_INPUTS``), and every registered
layer is also checked generically (``tests/layers/test_all_layers.py``).

What is *not* an error, by design (tested at the end of this file and in
``tests/layers/``; see docs/reliability.md):

* integer (and boolean) arrays: the layer functions promote them to float64;
* float32, float64 and integer images in the networks, the training loop
  and the estimator: converted to the network's dtype. float16 is refused
  everywhere (TypeError), by the layers and the networks alike: one rule,
  ``cnn._validate``'s;
* the toy net (:mod:`cnn.toy_net`) computes in float64 and converts any real input.

A ``cnn`` command line that fails must exit non-zero with one ``cnn: error:``
or usage line, never a traceback; its rows raise :class:`CliFailed` with the
exit status and stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

import cnn
from cnn import cli, data, serialize, toy_net
from cnn.estimator import CNNClassifier
from cnn.networks import Digits01Net, MnistNet
from cnn.training import TrainState, train
from derivations.export import EXPORT_DIR, ExportError, Formula, content_digest, read


class CliFailed(Exception):
    """``cnn ARGV`` exited non-zero; the message is ``exit STATUS: STDERR``."""


def run_cli(*argv):
    """``cnn ARGV`` in-process; raises CliFailed unless it exits 0."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = cli.main(list(argv))
        except SystemExit as exc:          # argparse usage errors
            status = exc.code
    text = err.getvalue()
    assert "Traceback" not in text, text
    if status != 0:
        raise CliFailed(f"exit {status}: {text}")


# ----------------------------------------------------------------------------- data for the rows

RNG = np.random.default_rng(0)
IMAGES8 = RNG.random((6, 1, 8, 8))                  # six 8x8 images in [0, 1]
LABELS01 = np.array([0, 1, 0, 1, 1, 0])
FLAT = RNG.random((20, 64))                         # flattened 8x8 images for the estimator
CLASSES = np.arange(20) % 3


def with_value(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


def fit(X, y, **params):
    return CNNClassifier(epochs=1, **params).fit(X, y)


def small_train(net=None, X=IMAGES8, y=LABELS01, **kwargs):
    args = dict(epochs=1, batch_size=2, lr=0.1)
    args.update(kwargs)
    return train(net or Digits01Net(), X, y, **args)


def idx_file(tmp, name, content: bytes):
    path = tmp / name
    path.write_bytes(content)
    return path


GOOD_IDX = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big") + bytes([1, 2, 3])


def model_file(tmp, name="m.npz", **arrays):
    """A model file of a Digits01Net, with some entries replaced."""
    path = serialize.save_model(tmp / name, Digits01Net())
    with np.load(path) as npz:
        contents = {k: npz[k] for k in npz.files}
    contents.update(arrays)
    np.savez(path, **contents)
    return path


def checkpoint_file(tmp, velocity=None, metadata=None, **doc):
    net = Digits01Net()
    buffers = {f"velocity/{k}": v for k, v in (velocity or {}).items()}
    state = TrainState(epoch=1, optimizer="sgd", optimizer_state={"steps": 3, **buffers},
                       rng_state={}, history=[{"epoch": 1}], seconds=0.0, run={})
    path = serialize.save_checkpoint(tmp / "c.npz", net, state, metadata)
    if doc:
        with np.load(path) as npz:
            contents = {k: npz[k] for k in npz.files}
        train_state = json.loads(str(contents["train_state"]))
        train_state.update(doc)
        contents["train_state"] = np.array(json.dumps(train_state))
        np.savez(path, **contents)
    return path


def export_copy(tmp, edit):
    """A copy of the l2_loss export, edited by ``edit(document)`` and re-digested."""
    doc = json.loads((EXPORT_DIR / "l2_loss.json").read_text())
    doc = edit(doc)
    if isinstance(doc, dict):
        doc["content_sha256"] = content_digest(doc)
    (tmp / "l2_loss.json").write_text(json.dumps(doc))
    return tmp


def first_formula(doc):
    return next(iter(next(iter(doc["cases"].values()))["formulas"].values()))


def set_srepr(doc, value):
    first_formula(doc)["srepr"] = value
    return doc


# ----------------------------------------------------------------------------- the table
# (call taking tmp_path, exception type, regex for a fragment of the message)

BAD_INPUTS = {
    # --- the toy net (cnn.toy_net) ------------------------------------------------------------
    "toy image not square": (lambda t: toy_net.forward(np.zeros((3, 4)), np.zeros((2, 2)), np.zeros((4, 1))),
                             ValueError, r"image: got shape \(3, 4\); expected a square array"),
    "toy kernel > padded image": (lambda t: toy_net.forward(np.zeros((3, 3)), np.zeros((4, 4)), np.zeros((1, 1))),
                                  ValueError, r"kernel: got shape \(4, 4\); expected no larger than the padded image \(shape \(3, 3\)\)"),
    "toy weights shape": (lambda t: toy_net.forward(np.zeros((3, 3)), np.zeros((2, 2)), np.zeros((3, 1))),
                          ValueError, r"weights: got shape \(3, 1\); expected \(4, 1\)"),
    "toy image NaN": (lambda t: toy_net.forward(with_value(np.zeros((3, 3)), (1, 1), np.nan),
                                                np.zeros((2, 2)), np.zeros((4, 1))),
                      ValueError, r"image: got 1 non-finite value\(s\) \(NaN or inf\), first at index \(1, 1\)"),
    "toy kernel complex": (lambda t: toy_net.forward(np.zeros((3, 3)), np.zeros((2, 2)) + 1j, np.zeros((4, 1))),
                           TypeError, r"kernel: got dtype complex128"),
    "toy padding 0.5": (lambda t: toy_net.forward(np.zeros((3, 3)), np.zeros((2, 2)), np.zeros((4, 1)), padding=0.5),
                        TypeError, r"padding: got 0.5 of type float; expected an integer >= 0"),
    "toy train labels length": (lambda t: toy_net.train(np.zeros((4, 3, 3)), np.zeros(3), np.zeros((2, 2)), np.zeros((4, 1))),
                                ValueError, r"labels: got shape \(3,\); expected \(4,\)"),
    "toy train no images": (lambda t: toy_net.train(np.zeros((0, 3, 3)), np.zeros(0), np.zeros((2, 2)), np.zeros((4, 1))),
                            ValueError, r"images: got shape \(0, 3, 3\), no images; expected at least one"),
    "toy train lr -1": (lambda t: toy_net.train(np.zeros((4, 3, 3)), np.zeros(4), np.zeros((2, 2)), np.zeros((4, 1)), lr=-1),
                        ValueError, r"lr: got -1.0; expected a finite number > 0"),
    "ToyNet float32": (lambda t: cnn.ToyNet(dtype="float32"), ValueError,
                       r"dtype: got 'float32'; the toy net .* computes in float64 only"),
    # --- the networks --------------------------------------------------------------------------
    "Digits01Net dense_sizes 0": (lambda t: Digits01Net(dense_sizes=(0, 3)), ValueError,
                                  r"dense_sizes\[0\]: got 0; expected an integer >= 1"),
    "Digits01Net input 6x6": (lambda t: Digits01Net(input_shape=(6, 6)), ValueError,
                              r"input_shape: got \(6, 6\); expected H and W multiples of 4"),
    "Digits01Net backprop": (lambda t: Digits01Net(backprop="flipped"), ValueError,
                             r"backprop: got 'flipped'; expected one of \('correct'"),
    "Digits01Net dtype float16": (lambda t: Digits01Net(dtype="float16"), ValueError,
                                  r"dtype: got 'float16'; expected 'float32' or 'float64'"),
    "MnistNet n_classes 2.5": (lambda t: MnistNet(n_classes=2.5), TypeError,
                               r"n_classes: got 2.5 of type float; expected an integer >= 1"),
    "MnistNet kernel_size 0": (lambda t: MnistNet(kernel_size=0), ValueError,
                               r"kernel_size: got 0; expected an integer >= 1"),
    "MnistNet images of another size": (lambda t: MnistNet().forward(IMAGES8), ValueError,
                                        r"x: got shape \(6, 1, 8, 8\); expected \(N, 1, 28, 28\)"),
    "MnistNet empty batch": (lambda t: MnistNet(input_shape=(8, 8)).forward(IMAGES8[:0]), ValueError,
                             r"x: got shape \(0, 1, 8, 8\); expected .* with N >= 1"),
    "MnistNet complex images": (lambda t: MnistNet(input_shape=(8, 8)).forward(IMAGES8 + 1j), TypeError,
                                r"x: got dtype complex128; expected real numbers"),
    "MnistNet NaN images": (lambda t: MnistNet(input_shape=(8, 8)).forward(with_value(IMAGES8, (4, 0, 2, 2), np.nan)),
                            ValueError, r"x: got 1 non-finite value\(s\).*\(4, 0, 2, 2\)"),
    "MnistNet label 10": (lambda t: MnistNet(input_shape=(8, 8)).loss_and_grads(IMAGES8, np.array([0, 1, 2, 3, 4, 10])),
                          ValueError, r"y: got label 10 at index 5; expected an integer in \[0, 10\) for the mnist network"),
    "Digits01Net labels length": (lambda t: Digits01Net().loss_and_grads(IMAGES8, LABELS01[:2]), ValueError,
                                  r"y: got shape \(2,\); expected \(6,\), one label per image"),
    "input scaling std 0": (lambda t: Digits01Net().set_input_scaling(0.5, 0.0), ValueError,
                            r"input scaling: got mean=0.5, std=0.0; expected finite numbers with std > 0"),
    # --- the training loop -----------------------------------------------------------------------
    "train epochs 0": (lambda t: small_train(epochs=0), ValueError, r"epochs: got 0; expected an integer >= 1"),
    "train batch_size 2.5": (lambda t: small_train(batch_size=2.5), TypeError,
                             r"batch_size: got 2.5 of type float; expected an integer >= 1"),
    "train lr 'fast'": (lambda t: small_train(lr="fast"), TypeError,
                        r"lr: got 'fast' of type str; expected a real number"),
    "train lr -1": (lambda t: small_train(lr=-1.0), ValueError, r"lr: got -1.0; expected a finite number > 0"),
    "train momentum 1": (lambda t: small_train(momentum=1.0), ValueError,
                         r"momentum: got 1.0; expected a number in \[0, 1\)"),
    "train schedule": (lambda t: small_train(schedule="linear"), ValueError,
                       r"schedule: got 'linear'; expected one of \('constant', 'cosine'\)"),
    "train seed -1": (lambda t: small_train(seed=-1), ValueError, r"seed: got -1; expected an integer >= 0"),
    "train threads 0": (lambda t: small_train(threads=0), ValueError, r"threads: got 0; expected an integer >= 1"),
    "train X NaN (data, not divergence)": (lambda t: small_train(X=with_value(IMAGES8, (3, 0, 1, 1), np.nan)),
                                           ValueError, r"X: got 1 non-finite value\(s\).*\(3, 0, 1, 1\)"),
    "train X strings": (lambda t: small_train(X=np.full((6, 1, 8, 8), "a")), TypeError,
                        r"X: got dtype <U1; expected real numbers"),
    "train X flat": (lambda t: small_train(X=IMAGES8.reshape(6, 64)), ValueError,
                     r"X: got a 2-D array of shape \(6, 64\); expected one-channel images"),
    "train X 3 channels": (lambda t: small_train(X=np.repeat(IMAGES8, 3, axis=1)), ValueError,
                           r"X: got a 4-D array of shape \(6, 3, 8, 8\); expected one-channel images"),
    "train X other size": (lambda t: small_train(MnistNet(), y=np.arange(6)), ValueError,
                           r"X: got images of 8x8 .*; expected 28x28, the input_shape of this mnist network"),
    "train X empty": (lambda t: small_train(X=IMAGES8[:0], y=LABELS01[:0]), ValueError,
                      r"X: got shape \(0, 1, 8, 8\), no images"),
    "train y length": (lambda t: small_train(y=LABELS01[:5]), ValueError,
                       r"y: got shape \(5,\); expected \(6,\), one label per image of X"),
    "train digits01 label 2": (lambda t: small_train(y=np.array([0, 1, 2, 0, 1, 0])), ValueError,
                               r"y: got label 2 at index 2; expected 0 or 1 for the digits01 network"),
    "train mnist label -1": (lambda t: small_train(MnistNet(input_shape=(8, 8)), y=np.array([0, 1, -1, 3, 4, 5])),
                             ValueError, r"y: got label -1 at index 2; expected an integer in \[0, 10\)"),
    "train mnist float labels": (lambda t: small_train(MnistNet(input_shape=(8, 8)), y=np.zeros(6)), TypeError,
                                 r"y: got dtype float64; expected integer class indices 0..9"),
    "train X_test without y_test": (lambda t: small_train(X_test=IMAGES8), ValueError,
                                    r"X_test and y_test: got only one of them"),
    "train the toy net": (lambda t: small_train(cnn.ToyNet(), X=np.zeros((4, 3, 3)), y=np.zeros(4)), TypeError,
                          r"net: got the toy net; it trains per sample with cnn.toy_net.train"),
    "train resume other run": (lambda t: small_train(resume=TrainState(
        epoch=0, optimizer="sgd", optimizer_state={"steps": 0}, rng_state={}, history=[], seconds=0.0,
        run={"epochs": 1, "batch_size": 2, "lr": 0.5})), ValueError,
        r"resume: the checkpoint comes from a different run \(lr=0.5 there, lr=0.1 here\)"),
    # --- data -----------------------------------------------------------------------------------
    "read_idx missing file": (lambda t: data.read_idx(t / "nope-idx3-ubyte"), FileNotFoundError,
                              r"nope-idx3-ubyte"),
    "read_idx a directory": (lambda t: data.read_idx(t), ValueError, r"is a directory; expected an IDX file"),
    "read_idx 3 bytes": (lambda t: data.read_idx(idx_file(t, "tiny", b"\0\0\x08")), ValueError,
                         r"tiny: got 3 bytes; expected an IDX file"),
    "read_idx bad type code": (lambda t: data.read_idx(idx_file(t, "type", b"\0\0\x07\x01" + GOOD_IDX[4:])),
                               ValueError, r"type: got magic number 0x00000701; expected an IDX magic number"),
    "read_idx header cut": (lambda t: data.read_idx(idx_file(t, "cut", GOOD_IDX[:6])), ValueError,
                            r"cut: the header announces 1 dimensions but the file ends after 6 bytes"),
    "read_idx truncated data": (lambda t: data.read_idx(idx_file(t, "short", GOOD_IDX[:-1])), ValueError,
                                r"short: got 10 bytes; expected 11 .*truncated"),
    "load_digits test_size 'a'": (lambda t: data.load_digits(test_size="a"), TypeError,
                                  r"test_size: got 'a' of type str; expected a fraction in \(0, 1\)"),
    "load_digits01 test_size 1.5": (lambda t: data.load_digits01(test_size=1.5), ValueError,
                                    r"test_size: got 1.5; expected a fraction in \(0, 1\)"),
    "load_mnist a file as directory": (lambda t: data.load_mnist(idx_file(t, "f", b"")), data.MnistNotFoundError,
                                       r"--data .*f: not a directory. To get MNIST"),
    "write_idx float16": (lambda t: data.write_idx(t / "x.idx", np.zeros(3, np.float16)), ValueError,
                          r"array: got dtype float16 and shape \(3,\); expected"),
    "to_mnist_canvas no channel axis": (lambda t: data.to_mnist_canvas(np.zeros((2, 8, 8))), ValueError,
                                        r"images: got shape \(2, 8, 8\); expected \(N, 1, 8, 8\)"),
    # --- model files and checkpoints ------------------------------------------------------------
    "save_model not a network": (lambda t: cnn.save_model(t / "m.npz", object()), TypeError,
                                 r"network: got object; expected one of the networks"),
    "save_model metadata not JSON": (lambda t: cnn.save_model(t / "m.npz", Digits01Net(), {"f": object()}),
                                     TypeError, r"metadata: got a object, which JSON cannot hold"),
    "save_model missing directory": (lambda t: cnn.save_model(t / "no" / "m.npz", Digits01Net()),
                                     FileNotFoundError, r"the directory .*no does not exist"),
    "load_model format version 2": (lambda t: cnn.load_model(model_file(t, format_version=np.array(2))),
                                    serialize.ModelFileError, r"m.npz: format version 2; this cnn reads version 1"),
    "load_model float32 weights in a float64 net": (
        lambda t: cnn.load_model(model_file(t, **{"param/w3": np.zeros((16, 28), np.float32)})),
        serialize.ModelFileError, r"param/w3: got shape \(16, 28\) and dtype float32; "
                                  r"expected shape \(16, 28\) and dtype float64"),
    "load_model unknown network": (lambda t: cnn.load_model(model_file(t, network=np.array("lenet"))),
                                   serialize.ModelFileError, r"network 'lenet'; expected one of"),
    "load_checkpoint of a plain model": (lambda t: serialize.load_checkpoint(model_file(t)),
                                         serialize.ModelFileError, r"a model file without training state"),
    "load_checkpoint velocity shape": (
        lambda t: serialize.load_checkpoint(checkpoint_file(t, velocity={"w1": np.zeros((2, 1, 3))})),
        serialize.ModelFileError, r"velocity/w1: got shape \(2, 1, 3\) and dtype float64; "
                                  r"expected shape \(2, 1, 3, 3\)"),
    "load_checkpoint velocity of no parameter": (
        lambda t: serialize.load_checkpoint(checkpoint_file(t, velocity={"w9": np.zeros(2)})),
        serialize.ModelFileError, r"velocity/w9: no parameter of that name"),
    "load_checkpoint other version": (lambda t: serialize.load_checkpoint(checkpoint_file(t, checkpoint_version=7)),
                                      serialize.ModelFileError, r"checkpoint version 7; this cnn reads version 1 or 2"),
    "load_checkpoint history length": (lambda t: serialize.load_checkpoint(checkpoint_file(t, epoch=4)),
                                       serialize.ModelFileError, r"got epoch 4, steps 3 and 1 history records"),
    "save_checkpoint not a state": (lambda t: serialize.save_checkpoint(t / "c.npz", Digits01Net(), {}),
                                    TypeError, r"state: got dict; expected a cnn.training.TrainState"),
    # --- the cnn command --------------------------------------------------------------------------
    "cli unknown network": (lambda t: run_cli("train", "lenet"), CliFailed,
                            r"(?s)exit 2: .*argument network: invalid choice: 'lenet' \(choose from"),
    "cli negative epochs": (lambda t: run_cli("train", "digits01", "--epochs", "-3"), CliFailed,
                            r"(?s)exit 2: .*argument --epochs: expected an integer >= 1, got -3"),
    "cli fractional epochs": (lambda t: run_cli("train", "digits01", "--epochs", "1.5"), CliFailed,
                              r"(?s)exit 2: .*argument --epochs: expected an integer >= 1, got '1.5'"),
    "cli bad dtype": (lambda t: run_cli("train", "mnist", "--dtype", "float16"), CliFailed,
                      r"(?s)exit 2: .*argument --dtype: invalid choice: 'float16' \(choose from 'float32', 'float64'\)"),
    "cli lr nan": (lambda t: run_cli("train", "digits01", "--lr", "nan"), CliFailed,
                   r"(?s)exit 2: .*argument --lr: expected a finite number > 0, got nan"),
    "cli dense sizes 0": (lambda t: run_cli("train", "digits01", "--dense-sizes", "0,3"), CliFailed,
                          r"(?s)exit 2: .*argument --dense-sizes: expected sizes from 1 to 100000, got '0,3'"),
    "cli missing --data dir": (lambda t: run_cli("train", "mnist", "--data", str(t / "absent")), CliFailed,
                               r"exit 1: cnn: error: --data .*absent: not a directory\. To get MNIST"),
    "cli --data with digits01": (lambda t: run_cli("train", "digits01", "--data", str(t)), CliFailed,
                                 r"exit 1: cnn: error: --data applies to the mnist network with --dataset "
                                 r"mnist \(its default\) only; got it with `cnn train digits01`"),
    "cli --data with mnist on digits": (lambda t: run_cli("train", "mnist", "--dataset", "digits", "--data", str(t)),
                                        CliFailed, r"exit 1: cnn: error: --data applies to the mnist network "
                                                   r"with --dataset mnist .*got it with `cnn train mnist --dataset digits`"),
    "cli --split and --test-size with mnist": (
        lambda t: run_cli("train", "mnist", "--split", "seed", "--test-size", "0.3"), CliFailed,
        r"exit 1: cnn: error: --split applies to the digits01 network only; --test-size applies to the "
        r"digits01 network and the mnist network with --dataset digits only; got it with `cnn train mnist`"),
    "cli --dataset with digits01": (lambda t: run_cli("train", "digits01", "--dataset", "digits"), CliFailed,
                                    r"exit 1: cnn: error: --dataset applies to the mnist network only; "
                                    r"got it with `cnn train digits01 --dataset digits`"),
    "cli --backprop with mnist": (lambda t: run_cli("train", "mnist", "--backprop", "rotated_pool_mask"), CliFailed,
                                  r"exit 1: cnn: error: --backprop applies to the digits01 network only"),
    "cli unknown optimizer": (lambda t: run_cli("train", "digits01", "--optimizer", "lbfgs"), CliFailed,
                              r"(?s)exit 2: .*argument --optimizer: invalid choice: 'lbfgs' \(choose from "),
    "cli toy with adam": (lambda t: run_cli("train", "toy", "--optimizer", "adam"), CliFailed,
                          r"exit 1: cnn: error: the toy net trains like seed 004: per-sample SGD .* "
                          r"got --batch-size 1 --momentum 0.0 --schedule constant --optimizer adam"),
    "cli toy float32": (lambda t: run_cli("train", "toy", "--dtype", "float32"), CliFailed,
                        r"exit 1: cnn: error: the toy net computes in float64 only; got --dtype float32"),
    "cli evaluate missing model": (lambda t: run_cli("evaluate", "--load", str(t / "m.npz")), CliFailed,
                                   r"exit 1: cnn: error: .*m.npz: no such model file"),
    "cli resume missing file": (lambda t: run_cli("train", "digits01", "--resume", str(t / "c.npz")), CliFailed,
                                r"exit 1: cnn: error: --resume: .*c.npz: no such model file"),
    "cli resume a plain model": (lambda t: run_cli("train", "digits01", "--resume", str(model_file(t))), CliFailed,
                                 r"exit 1: cnn: error: --resume: .*m.npz: a model file without training state"),
    "cli resume other network": (lambda t: run_cli("train", "mnist", "--resume", str(checkpoint_file(t))), CliFailed,
                                 r"exit 1: cnn: error: --resume .*: got a checkpoint of the digits01 network "
                                 r"with `cnn train mnist`"),
    "cli resume without run options": (lambda t: run_cli("train", "digits01", "--resume", str(checkpoint_file(t))),
                                       CliFailed, r"exit 1: .*does not record the options of its run"),
    "cli save into a missing directory": (lambda t: run_cli("train", "digits01", "--save", str(t / "no" / "m.npz")),
                                          CliFailed, r"exit 1: cnn: error: --save .*m.npz: the directory .*no does not exist"),
    "cli bench is not a command": (lambda t: run_cli("bench", "--quick"), CliFailed,
                                   r"(?s)exit 2: .*argument COMMAND: invalid choice: 'bench'"),
    "cli check timeout 0": (lambda t: run_cli("check", "conv2d_backward", "m:f", "--timeout", "0"), CliFailed,
                            r"(?s)exit 2: .*cnn check: error: argument --timeout: expected a finite number > 0"),
    "cli check --json, a missing module": (
        lambda t: run_cli("check", "conv2d_backward", "no_such_module_here:f", "--json"), CliFailed,
        r"exit 2: cnn check: error: no_such_module_here:f: no module named 'no_such_module_here'"),
    "cli resume the toy net": (lambda t: run_cli("train", "toy", "--resume", str(t / "c.npz")), CliFailed,
                               r"exit 1: cnn: error: --resume applies to the digits01 network and the mnist "
                               r"network only; got it with `cnn train toy`"),
    # --- the scikit-learn estimator -----------------------------------------------------------------
    "estimator image_shape vs n_features": (lambda t: fit(FLAT, CLASSES, image_shape=(3, 3)), ValueError,
                                            r"image_shape: got \(3, 3\), 3\*3 = 9 pixels, but X has 64 features"),
    "estimator NaN in X": (lambda t: fit(with_value(FLAT, (4, 5), np.nan), CLASSES), ValueError,
                           r"Input X contains NaN"),
    "estimator inf in X": (lambda t: fit(with_value(FLAT, (4, 5), np.inf), CLASSES), ValueError,
                           r"Input X contains infinity"),
    "estimator strings in X": (lambda t: fit(np.full((20, 64), "a"), CLASSES), TypeError,
                               r"X: got dtype <U1; expected numbers"),
    "estimator labels length": (lambda t: fit(FLAT, CLASSES[:19]), ValueError,
                                r"inconsistent numbers of samples: \[20, 19\]"),
    "estimator continuous labels": (lambda t: fit(FLAT, FLAT[:, 0]), ValueError,
                                    r"Unknown label type: continuous"),
    "estimator epochs 0": (lambda t: CNNClassifier(epochs=0).fit(FLAT, CLASSES), ValueError,
                           r"epochs: got 0; expected an integer >= 1"),
    "estimator 3-D X": (lambda t: fit(FLAT.reshape(20, 8, 8), CLASSES), ValueError,
                        r"Found array with dim 3"),
    "estimator predict with other n_features": (lambda t: fit(FLAT, CLASSES).predict(FLAT[:, :10]), ValueError,
                                                r"X has 10 features, but CNNClassifier is expecting 64"),
    # --- the derivation loader -------------------------------------------------------------------------
    "export unknown subject": (lambda t: read("lenet", t), ExportError,
                               r"no export for subject 'lenet' at .*lenet.json"),
    "export not an object": (lambda t: read("l2_loss", export_copy(t, lambda d: [d])), ExportError,
                             r"l2_loss.json: expected a JSON object, got list"),
    "export schema_version a string": (lambda t: read("l2_loss", export_copy(
        t, lambda d: {**d, "schema_version": "1"})), ExportError,
        r"'schema_version' should be int, got str"),
    "export srepr not a string": (lambda t: read("l2_loss", export_copy(t, lambda d: set_srepr(d, 3))),
                                  ExportError, r"formula '.*': 'srepr' should be str, got int"),
    "export without digest": (lambda t: (shutil.copy(EXPORT_DIR / "l2_loss.json", t),
                                         (t / "l2_loss.json").write_text(
                                             json.dumps({k: v for k, v in json.loads(
                                                 (EXPORT_DIR / "l2_loss.json").read_text()).items()
                                                 if k != "content_sha256"})),
                                         read("l2_loss", t)), ExportError,
                              r"missing key 'content_sha256'"),
    "export empty file": (lambda t: ((t / "l2_loss.json").write_text(""), read("l2_loss", t)), ExportError,
                          r"l2_loss.json is not valid JSON .*truncated or edited by hand"),
    "formula srepr garbage": (lambda t: Formula("dL/dx", "Add(", "", "", "").expr, ExportError,
                              r"formula 'dL/dx': its srepr does not parse back into a SymPy expression"),
}


@pytest.mark.filterwarnings("error")   # a bad input gets an error, not a warning and a wrong answer
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_a_clear_error(case, tmp_path):
    call, error, message = BAD_INPUTS[case]
    with pytest.raises(error, match=message):
        call(tmp_path)


def test_the_table_is_large_and_spans_the_api():
    assert len(BAD_INPUTS) >= 40
    modules = {"toy", "Digits01Net",
               "MnistNet", "train", "read_idx", "load_", "save_model", "load_checkpoint", "cli",
               "estimator", "export"}
    missing = {m for m in modules if not any(case.startswith(m) for case in BAD_INPUTS)}
    assert not missing, missing


# ----------------------------------------------------------------------------- promoted, not rejected

def test_integer_images_are_promoted_and_give_the_float_result():
    """uint8 pixels: the layers compute in float64; a network (and train) converts
    them to its own dtype, exactly as it would the same values as floats."""
    pixels = RNG.integers(0, 256, (4, 1, 8, 8), dtype=np.uint8)
    w = RNG.standard_normal((2, 1, 3, 3))
    assert cnn.conv2d(pixels, w).dtype == np.float64
    np.testing.assert_array_equal(cnn.conv2d(pixels, w), cnn.conv2d(pixels.astype(float), w))
    for dtype in ("float32", "float64"):
        net = MnistNet(input_shape=(8, 8), dtype=dtype)
        out = net.output(pixels)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, net.output(pixels.astype(np.float64)))


def test_float16_is_refused_by_the_layers_the_networks_train_and_the_estimator():
    """One dtype rule (cnn._validate): float16 holds only 11 significant bits, and
    a network converting it would hide that the caller asked for half precision."""
    half = RNG.random((6, 1, 8, 8)).astype(np.float16)
    message = r"got dtype float16; expected float32 or float64 \(half precision is not supported"
    with pytest.raises(TypeError, match="x: " + message):
        cnn.max_pool2d(half)
    with pytest.raises(TypeError, match="x: " + message):
        MnistNet(input_shape=(8, 8), dtype="float32").output(half)
    with pytest.raises(TypeError, match="X: " + message):
        small_train(Digits01Net(), X=half, y=LABELS01)
    with pytest.raises(TypeError, match="X: " + message):
        CNNClassifier(epochs=1).fit(half.reshape(6, 64), LABELS01)


# ----------------------------------------------------------------------------- the docs' examples

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


def documented_examples():
    """(call, error, message) of each row between the bad-input-examples markers."""
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- bad-input-examples -->")[1].split("<!-- /bad-input-examples -->")[0]
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    return [tuple(cell.strip().strip("`") for cell in row.strip("|").split(" | "))
            for row in rows]


@pytest.mark.parametrize("call, error, message", documented_examples())
def test_the_documented_examples_give_the_documented_message(call, error, message):
    """docs/reliability.md types some messages out: they must be what the code says."""
    if call.startswith("cnn "):
        with pytest.raises(CliFailed) as exc:
            run_cli(*shlex.split(call)[1:])
        status, stderr = re.match(r"exit (\d+): (.*)", str(exc.value), re.S).groups()
        assert f"exit {status}" == error
        assert stderr.strip().splitlines()[-1] == message
    else:
        with pytest.raises(Exception) as exc:
            eval(call, {"cnn": cnn, "np": np})
        assert type(exc.value).__name__ == error
        assert str(exc.value) == message


def test_the_docs_show_examples():
    assert len(documented_examples()) >= 15
