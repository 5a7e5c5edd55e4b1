"""Save a trained network to one ``.npz`` file and load it back, exactly.

File layout (a NumPy ``.npz`` archive, read with ``allow_pickle=False``):

| key | content |
|---|---|
| ``format`` | the string ``"cnn-backprop-model"`` |
| ``format_version`` | int, currently 1 |
| ``network`` | the network's name: ``"toy"``, ``"digits01"`` or ``"mnist"`` |
| ``config`` | the network's config as a JSON string |
| ``metadata`` | free JSON (e.g. how it was trained, on which data) |
| ``param/<name>`` | one array per parameter, dtype and shape as in memory |

A *checkpoint* (:func:`save_checkpoint`) is a model file with two more
kinds of entry, which :func:`load_model` ignores (so ``cnn evaluate`` reads
a checkpoint like any model):

| key | content |
|---|---|
| ``train_state`` | JSON: ``checkpoint_version`` (1) and the fields of :class:`cnn.training.TrainState` |
| ``velocity/<name>`` | the momentum buffer of each parameter, same shape and dtype |

Round trip: the arrays are stored bit for bit and the config as JSON
(floats in shortest round-trip ``repr``), so a loaded network computes
exactly what the saved one did, and a loaded checkpoint resumes exactly.

Writing is atomic: the archive goes to a temporary file in the target's
directory, is flushed to disk, then renamed over the target with
``os.replace``. An interrupted save (Ctrl-C, a full disk, a crash) leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .networks import NETWORKS, Network
from .training import TrainState

__all__ = ["save_model", "load_model", "LoadedModel", "ModelFileError", "FORMAT", "FORMAT_VERSION",
           "save_checkpoint", "load_checkpoint", "Checkpoint", "CHECKPOINT_VERSION"]

FORMAT = "cnn-backprop-model"
FORMAT_VERSION = 1
CHECKPOINT_VERSION = 1


class ModelFileError(ValueError):
    """The file is not a (valid, uncorrupted, supported) cnn model file."""


class LoadedModel(NamedTuple):
    """What :func:`load_model` returns."""
    network: Network
    metadata: dict


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""
    network: Network
    metadata: dict
    state: TrainState


def _model_arrays(network: Network, metadata: dict | None) -> dict:
    if not isinstance(network, Network) or network.name not in NETWORKS:
        raise TypeError(f"network: got {type(network).__name__}; expected one of the "
                        f"networks of cnn.networks ({', '.join(NETWORKS)})")
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "network": np.array(network.name),
        "config": np.array(json.dumps(network.config, sort_keys=True)),
        "metadata": np.array(json.dumps(metadata or {}, sort_keys=True, default=_json_default)),
    }
    for name, value in network.params.items():
        arrays[f"param/{name}"] = np.asarray(value)
    return arrays


def _write_atomic(path, arrays: dict) -> Path:
    """``np.savez`` to a temporary file next to ``path``, fsync, rename over ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"{path}: the directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp makes the file private (0600); give it the mode open() would.
        umask = os.umask(0)
        os.umask(umask)
        with contextlib.suppress(OSError, AttributeError):
            os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Anything, KeyboardInterrupt included: remove the partial temp file.
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable (POSIX; not possible on every platform).
    with contextlib.suppress(OSError, AttributeError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def save_model(path, network: Network, metadata: dict | None = None) -> Path:
    """Write ``network`` (and JSON-able ``metadata``) to ``path`` atomically.

    ``path`` is used as given (no ``.npz`` is appended). Returns the path.
    """
    return _write_atomic(path, _model_arrays(network, metadata))


def save_checkpoint(path, network: Network, state: TrainState,
                    metadata: dict | None = None) -> Path:
    """Write ``network`` and the training ``state`` to ``path`` atomically.

    The file is a model file (:func:`load_model` reads it) plus the state
    :func:`cnn.training.train` needs to resume (``resume=``). Returns the path.
    """
    if not isinstance(state, TrainState):
        raise TypeError(f"state: got {type(state).__name__}; expected a "
                        f"cnn.training.TrainState")
    arrays = _model_arrays(network, metadata)
    doc = {"checkpoint_version": CHECKPOINT_VERSION, "epoch": int(state.epoch),
           "steps": int(state.steps), "rng_state": state.rng_state, "history": state.history,
           "seconds": float(state.seconds), "run": state.run}
    arrays["train_state"] = np.array(json.dumps(doc, sort_keys=True, default=_json_default))
    for name, value in state.velocity.items():
        arrays[f"velocity/{name}"] = np.asarray(value)
    return _write_atomic(path, arrays)


def _read(path) -> tuple[Path, dict]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            contents = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise ModelFileError(f"{path}: not a readable cnn model file (expected a .npz archive "
                             f"written by cnn.save_model; it may be corrupted or truncated): "
                             f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(contents, dict) or str(contents.get("format", "")) != FORMAT:
        raise ModelFileError(f"{path}: not a cnn model file (no format marker {FORMAT!r}; "
                             f"expected a file written by cnn.save_model)")
    return path, contents


def load_model(path) -> LoadedModel:
    """Read a file written by :func:`save_model` (or :func:`save_checkpoint`).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError (a ValueError)
        If the file is not a cnn model file, is corrupted or truncated, has an
        unsupported format version, or its arrays do not fit its network's config.
    """
    path, contents = _read(path)
    return _network(path, contents)


def _network(path: Path, contents: dict) -> LoadedModel:
    try:
        version = int(contents.get("format_version", -1))
    except (TypeError, ValueError):
        version = -1
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version}; this cnn reads version "
                             f"{FORMAT_VERSION}")
    name = str(contents.get("network", ""))
    if name not in NETWORKS:
        raise ModelFileError(f"{path}: network {name!r}; expected one of {sorted(NETWORKS)}")
    try:
        config = json.loads(str(contents["config"]))
        metadata = json.loads(str(contents.get("metadata", "{}")))
        params = {k[len("param/"):]: v for k, v in contents.items() if k.startswith("param/")}
        network = NETWORKS[name].from_state(config, params)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the {name} model in this file is inconsistent: "
                             f"{type(exc).__name__}: {exc}") from exc
    return LoadedModel(network, metadata)


_STATE_FIELDS = {"checkpoint_version": int, "epoch": int, "steps": int, "rng_state": dict,
                 "history": list, "seconds": (int, float), "run": dict}


def load_checkpoint(path) -> Checkpoint:
    """Read a file written by :func:`save_checkpoint`: network, metadata and training state.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError (a ValueError)
        As :func:`load_model`, and also if the file holds no training state
        (a plain model file), a state of another checkpoint version, or
        momentum buffers that do not match the parameters in name, shape or dtype.
    """
    path, contents = _read(path)
    network, metadata = _network(path, contents)
    if "train_state" not in contents:
        raise ModelFileError(f"{path}: a model file without training state; expected a "
                             f"checkpoint written by `cnn train --save` (or "
                             f"cnn.save_checkpoint), which can be resumed")
    try:
        doc = json.loads(str(contents["train_state"]))
    except ValueError as exc:
        raise ModelFileError(f"{path}: train_state is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ModelFileError(f"{path}: train_state: got a JSON {type(doc).__name__}; "
                             f"expected an object")
    for key, kind in _STATE_FIELDS.items():
        if key not in doc:
            raise ModelFileError(f"{path}: train_state: missing key {key!r}")
        if isinstance(doc[key], bool) or not isinstance(doc[key], kind):
            raise ModelFileError(f"{path}: train_state[{key!r}]: got {type(doc[key]).__name__}; "
                                 f"expected {getattr(kind, '__name__', 'a number')}")
    if doc["checkpoint_version"] != CHECKPOINT_VERSION:
        raise ModelFileError(f"{path}: checkpoint version {doc['checkpoint_version']}; this "
                             f"cnn reads version {CHECKPOINT_VERSION}")
    if doc["epoch"] < 0 or doc["steps"] < 0 or len(doc["history"]) != doc["epoch"]:
        raise ModelFileError(f"{path}: train_state: got epoch {doc['epoch']}, steps "
                             f"{doc['steps']} and {len(doc['history'])} history records; "
                             f"expected epoch >= 0, steps >= 0, one record per epoch")
    velocity = {k[len("velocity/"):]: v for k, v in contents.items() if k.startswith("velocity/")}
    for name, v in velocity.items():
        p = network.params.get(name)
        if p is None:
            raise ModelFileError(f"{path}: velocity/{name}: no parameter of that name; expected "
                                 f"one of {sorted(network.params)}")
        if v.shape != p.shape or v.dtype != p.dtype:
            raise ModelFileError(f"{path}: velocity/{name}: got shape {v.shape} and dtype "
                                 f"{v.dtype}; expected shape {p.shape} and dtype {p.dtype}, "
                                 f"those of the parameter")
    state = TrainState(epoch=doc["epoch"], steps=doc["steps"], velocity=velocity,
                       rng_state=doc["rng_state"], history=doc["history"],
                       seconds=float(doc["seconds"]), run=doc["run"])
    return Checkpoint(network, metadata, state)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"metadata: got a {type(value).__name__}, which JSON cannot hold")
