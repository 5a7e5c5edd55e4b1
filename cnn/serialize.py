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

Round trip: the arrays are stored bit for bit and the config as JSON
(floats in shortest round-trip ``repr``), so a loaded network computes
exactly what the saved one did.

Writing is atomic: the archive goes to a temporary file in the target's
directory, is flushed to disk, then renamed over the target with
``os.replace``. An interrupted save leaves either the old file or the new
one, never half of one.
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

__all__ = ["save_model", "load_model", "LoadedModel", "ModelFileError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "cnn-backprop-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """The file is not a (valid, uncorrupted, supported) cnn model file."""


class LoadedModel(NamedTuple):
    """What :func:`load_model` returns."""
    network: Network
    metadata: dict


def save_model(path, network: Network, metadata: dict | None = None) -> Path:
    """Write ``network`` (and JSON-able ``metadata``) to ``path`` atomically.

    ``path`` is used as given (no ``.npz`` is appended). Returns the path.
    """
    if not isinstance(network, Network) or network.name not in NETWORKS:
        raise TypeError(f"network: got {type(network).__name__}; expected one of the "
                        f"networks of cnn.networks ({', '.join(NETWORKS)})")
    path = Path(path)
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "network": np.array(network.name),
        "config": np.array(json.dumps(network.config, sort_keys=True)),
        "metadata": np.array(json.dumps(metadata or {}, sort_keys=True, default=_json_default)),
    }
    for name, value in network.params.items():
        arrays[f"param/{name}"] = np.asarray(value)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
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
    return path


def load_model(path) -> LoadedModel:
    """Read a file written by :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError (a ValueError)
        If the file is not a cnn model file, is corrupted or truncated, has an
        unsupported format version, or its arrays do not fit its network's config.
    """
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
    version = int(contents.get("format_version", -1))
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


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"metadata: got a {type(value).__name__}, which JSON cannot hold")
