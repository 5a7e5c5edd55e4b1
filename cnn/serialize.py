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
| ``train_state`` | JSON: ``checkpoint_version`` (2) and the fields of :class:`cnn.training.TrainState`; ``optimizer_state`` holds the numbers of the optimiser's state (``steps``) |
| ``optimizer/<buffer>/<param>`` | each array of the optimiser's ``state_dict()``: a buffer of parameter ``<param>``, same shape and dtype |

The optimiser's ``state_dict()`` is saved generically (nothing here knows SGD
from Adam). Version 1 files (SGD only: ``steps`` in the JSON, ``velocity/<param>``
entries) are still read, as the SGD state they hold.

Round trip: the arrays are stored bit for bit and the config as JSON
(floats in shortest round-trip ``repr``), so a loaded network computes
exactly what the saved one did, and a loaded checkpoint resumes exactly.

Writing is atomic: the archive goes to a temporary file in the target's
directory, is flushed to disk, then renamed over the target with
``os.replace``. An interrupted save (Ctrl-C, a full disk, a crash) leaves
either the old file or the new one, never half of one. A target that is not
a regular file (``/dev/null``, a FIFO, a directory) is refused, never
replaced; a symlink is followed. Reading refuses special files before
opening them for reading (a FIFO cannot hang it), never unpickles, and checks
every array's declared shape and dtype before reading it. The rules are in
:mod:`cnn._files`.
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._files import open_regular, replace_atomically
from ._validate import check_finite
from .networks import NETWORKS, Network
from .optim import OPTIMIZERS
from .training import TrainState

__all__ = ["save_model", "load_model", "LoadedModel", "ModelFileError", "FORMAT", "FORMAT_VERSION",
           "save_checkpoint", "load_checkpoint", "Checkpoint", "CHECKPOINT_VERSION"]

FORMAT = "cnn-backprop-model"
FORMAT_VERSION = 1
CHECKPOINT_VERSION = 2
_READS = (1, 2)          # the checkpoint versions read (1: SGD's velocity spelled out)


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
    """``np.savez`` ``arrays`` to ``path`` atomically (:func:`cnn._files.replace_atomically`)."""
    return replace_atomically(path, lambda fh: np.savez(fh, **arrays))


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
    numbers = {k: v for k, v in state.optimizer_state.items() if not isinstance(v, np.ndarray)}
    arrays.update({f"optimizer/{k}": v for k, v in state.optimizer_state.items()
                   if isinstance(v, np.ndarray)})
    doc = {"checkpoint_version": CHECKPOINT_VERSION, "epoch": int(state.epoch),
           "optimizer": state.optimizer, "optimizer_state": numbers,
           "rng_state": state.rng_state, "history": state.history,
           "seconds": float(state.seconds), "run": state.run}
    arrays["train_state"] = np.array(json.dumps(doc, sort_keys=True, default=_json_default))
    return _write_atomic(path, arrays)


#: The largest model file read (the seed networks' files are under 1 MB); larger
#: files are refused before a byte is read.
MAX_FILE_BYTES = 1 << 30
#: The largest JSON entry (config, metadata, train_state).
_MAX_TEXT_BYTES = 16 << 20

_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


class _Member(NamedTuple):
    """One ``.npy`` entry of the archive, as its header declares it (nothing read yet)."""
    info: zipfile.ZipInfo
    header_bytes: int
    shape: tuple
    dtype: np.dtype
    fortran: bool


class _Archive:
    """The entries of an open model file; each array is read only once its declared
    shape and dtype have been checked (so a forged header allocates nothing)."""

    def __init__(self, path: Path, zf: zipfile.ZipFile):
        self.path, self.zf = path, zf
        self.members: dict[str, _Member] = {}
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise ModelFileError(f"{path}: entry {info.filename!r} is not a .npy array; "
                                     f"expected only the arrays cnn.save_model writes")
            with zf.open(info) as m:
                try:
                    reader = _HEADER_READERS.get(np.lib.format.read_magic(m))
                    if reader is None:
                        raise ValueError("an unsupported .npy format version; expected 1.0 "
                                         "or 2.0")
                    shape, fortran, dtype = reader(m)
                except ValueError as exc:
                    raise ModelFileError(f"{path}: entry {info.filename!r} is not a .npy array "
                                         f"({exc})") from exc
                header = m.tell()
            key = info.filename[:-len(".npy")]
            if dtype.hasobject or dtype.itemsize == 0:
                raise ModelFileError(f"{path}: entry {key!r} has dtype {dtype}; expected plain "
                                     f"numbers or text (object arrays are never loaded)")
            declared = math.prod(shape) * dtype.itemsize
            if header + declared != info.file_size:
                raise ModelFileError(f"{path}: entry {key!r} declares shape {shape} of "
                                     f"{dtype} ({declared} bytes) but holds "
                                     f"{info.file_size - header} bytes: the file is corrupted")
            self.members[key] = _Member(info, header, shape, dtype, fortran)

    def keys(self, prefix: str) -> dict[str, str]:
        """``{name: key}`` of the entries ``prefix + name``."""
        return {k[len(prefix):]: k for k in self.members if k.startswith(prefix)}

    def array(self, key: str, shape=None, dtype=None, max_bytes: int | None = None) -> np.ndarray:
        """Entry ``key``, after checking the header against ``shape``/``dtype``/``max_bytes``."""
        m = self.members[key]
        if (shape is not None and m.shape != tuple(shape)) or \
                (dtype is not None and m.dtype != dtype):
            raise ModelFileError(f"{self.path}: {key}: got shape {m.shape} and dtype {m.dtype}; "
                                 f"expected shape {tuple(shape)} and dtype {dtype}, as the "
                                 f"network's config needs")
        nbytes = m.info.file_size - m.header_bytes
        if max_bytes is not None and nbytes > max_bytes:
            raise ModelFileError(f"{self.path}: {key}: got {nbytes} bytes; expected at most "
                                 f"{max_bytes}")
        with self.zf.open(m.info) as fh:
            fh.read(m.header_bytes)
            data = fh.read(nbytes)
        if len(data) != nbytes:
            raise ModelFileError(f"{self.path}: {key}: truncated ({len(data)} of {nbytes} bytes)")
        flat = np.frombuffer(data, dtype=m.dtype, count=math.prod(m.shape))
        return flat.reshape(m.shape, order="F" if m.fortran else "C").copy()

    def text(self, key: str, default: str | None = None) -> str:
        """A 0-d text entry (the format marker, the JSON entries) as a str."""
        if key not in self.members:
            if default is None:
                raise ModelFileError(f"{self.path}: missing entry {key!r}; expected a file "
                                     f"written by cnn.save_model")
            return default
        m = self.members[key]
        if m.shape != () or m.dtype.kind != "U":
            raise ModelFileError(f"{self.path}: {key}: got shape {m.shape} and dtype {m.dtype}; "
                                 f"expected one text value")
        return str(self.array(key, max_bytes=_MAX_TEXT_BYTES))

    def json(self, key: str, kind: type, default: str | None = None):
        """A JSON text entry, which must decode to ``kind`` (dict or list)."""
        try:
            value = json.loads(self.text(key, default))
        except ValueError as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{self.path}: {key} is not valid JSON ({exc})") from exc
        if not isinstance(value, kind):
            raise ModelFileError(f"{self.path}: {key}: got a JSON {type(value).__name__}; "
                                 f"expected a JSON object")
        return value


def _open(path, read):
    """Open the model file ``path`` and return ``read(archive)``, every failure a clear error."""
    with open_regular(path, "a model file", max_bytes=MAX_FILE_BYTES) as fh:
        path = Path(path)
        try:
            with zipfile.ZipFile(fh) as zf:
                archive = _Archive(path, zf)
                if archive.text("format", default="") != FORMAT:
                    raise ModelFileError(f"{path}: not a cnn model file (no format marker "
                                         f"{FORMAT!r}; expected a file written by "
                                         f"cnn.save_model)")
                return read(archive)
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError,
                NotImplementedError, RuntimeError) as exc:
            raise ModelFileError(f"{path}: not a readable cnn model file (expected a .npz "
                                 f"archive written by cnn.save_model; it may be corrupted or "
                                 f"truncated): {type(exc).__name__}: {exc}") from exc


def load_model(path) -> LoadedModel:
    """Read a file written by :func:`save_model` (or :func:`save_checkpoint`).

    Nothing in the file is executed (no pickles), and every array's declared
    shape and dtype is checked against the network's config before the
    array is read; parameters must be finite.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError (a ValueError)
        If the file is not a cnn model file, is corrupted or truncated, has an
        unsupported format version, or its arrays do not fit its network's config.
    cnn._files.SpecialFileError (a ValueError)
        If ``path`` is not a regular file (a FIFO, a device, a directory) or is
        larger than :data:`MAX_FILE_BYTES`.
    """
    return _open(path, _network)


def _network(archive: _Archive) -> LoadedModel:
    path = archive.path
    version = -1
    if "format_version" in archive.members:
        m = archive.members["format_version"]
        if m.shape == () and m.dtype.kind in "iu":
            version = int(archive.array("format_version"))
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version}; this cnn reads version "
                             f"{FORMAT_VERSION}")
    name = archive.text("network")
    if name not in NETWORKS:
        raise ModelFileError(f"{path}: network {name!r}; expected one of {sorted(NETWORKS)}")
    config = archive.json("config", dict)
    metadata = archive.json("metadata", dict, default="{}")
    try:
        network = NETWORKS[name].from_config(config)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: config: not a valid {name} network config "
                             f"({type(exc).__name__}: {exc})") from exc
    expected = network.expected_params()
    keys = archive.keys("param/")
    if set(keys) != set(expected):
        raise ModelFileError(f"{path}: parameters {sorted(keys)}; expected {sorted(expected)} "
                             f"for a {name} network with config {config}")
    try:
        network.set_params({k: archive.array(keys[k], *expected[k]) for k in expected})
    except ModelFileError:
        raise
    except ValueError as exc:          # non-finite
        raise ModelFileError(f"{path}: {exc}") from exc
    return LoadedModel(network, metadata)


_STATE_FIELDS = {"checkpoint_version": int, "epoch": int, "rng_state": dict, "history": list,
                 "seconds": (int, float), "run": dict}
#: The fields by version besides those: how each names its optimiser's state.
_OPTIMIZER_FIELDS = {1: {"steps": int}, 2: {"optimizer": str, "optimizer_state": dict}}


def load_checkpoint(path) -> Checkpoint:
    """Read a file written by :func:`save_checkpoint`: network, metadata and training state.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError (a ValueError)
        As :func:`load_model`, and also if the file holds no training state
        (a plain model file), a state of another checkpoint version, or
        optimiser buffers that do not match the parameters in name, shape or
        dtype, or are not finite.
    """
    return _open(path, _checkpoint)


def _checkpoint(archive: _Archive) -> Checkpoint:
    path = archive.path
    network, metadata = _network(archive)
    if "train_state" not in archive.members:
        raise ModelFileError(f"{path}: a model file without training state; expected a "
                             f"checkpoint written by `cnn train --save` (or "
                             f"cnn.save_checkpoint), which can be resumed")
    doc = archive.json("train_state", dict)
    version = doc.get("checkpoint_version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in _READS:
        raise ModelFileError(f"{path}: checkpoint version {version!r}; this cnn reads version "
                             f"{' or '.join(map(str, _READS))}")
    for key, kind in {**_STATE_FIELDS, **_OPTIMIZER_FIELDS[version]}.items():
        if key not in doc:
            raise ModelFileError(f"{path}: train_state: missing key {key!r}")
        if isinstance(doc[key], bool) or not isinstance(doc[key], kind):
            raise ModelFileError(f"{path}: train_state[{key!r}]: got {type(doc[key]).__name__}; "
                                 f"expected {getattr(kind, '__name__', 'a number')}")
    if version == 1:        # SGD, the only optimiser then: its state in today's terms
        name, numbers, prefix = "sgd", {"steps": doc["steps"]}, "velocity/"
        doc["run"] = {**doc["run"], "optimizer": "sgd"} if doc["run"] else doc["run"]
    else:
        name, numbers, prefix = doc["optimizer"], doc["optimizer_state"], "optimizer/"
    if name not in OPTIMIZERS:
        raise ModelFileError(f"{path}: train_state: optimizer {name!r}; expected one of "
                             f"{sorted(OPTIMIZERS)}")
    steps = numbers.get("steps")
    if not isinstance(steps, int) or isinstance(steps, bool) or doc["epoch"] < 0 or steps < 0 \
            or len(doc["history"]) != doc["epoch"]:
        raise ModelFileError(f"{path}: train_state: got epoch {doc['epoch']}, steps "
                             f"{steps} and {len(doc['history'])} history records; "
                             f"expected epoch >= 0, steps >= 0, one record per epoch")
    state = TrainState(epoch=doc["epoch"], optimizer=name,
                       optimizer_state={**numbers, **_buffers(archive, network, prefix)},
                       rng_state=doc["rng_state"], history=doc["history"],
                       seconds=float(doc["seconds"]), run=doc["run"])
    return Checkpoint(network, metadata, state)


def _buffers(archive: _Archive, network: Network, prefix: str) -> dict:
    """The optimiser's arrays, ``{"<buffer>/<param>": array}``, each checked against its
    parameter's shape and dtype before it is read, and finite."""
    path, expected, buffers = archive.path, network.expected_params(), {}
    for key, entry in archive.keys(prefix).items():
        # version 1 names a velocity by its parameter alone; version 2 "<buffer>/<param>"
        buffer, param = ("velocity", key) if prefix == "velocity/" else key.rpartition("/")[::2]
        if param not in expected or not buffer:
            raise ModelFileError(f"{path}: {entry}: no parameter of that name; expected "
                                 f"<buffer>/<param> with a param in {sorted(expected)}")
        value = archive.array(entry, *expected[param])
        try:
            check_finite(value, entry)
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
        buffers[f"{buffer}/{param}"] = value
    return buffers


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"metadata: got a {type(value).__name__}, which JSON cannot hold")
