"""Opening and replacing files safely: nothing destroyed, nothing hangs.

Every file :mod:`cnn` reads (model files, checkpoints, IDX data) is opened
with :func:`open_regular`, and every file it writes goes through
:func:`save_target` and :func:`replace_atomically`. The rules, in one place:

* **Readers refuse anything that is not a regular file** (a FIFO, a device,
  a directory, a socket) *before* reading from it: the file is opened
  non-blocking, so a FIFO with no writer cannot hang the reader, and its kind
  is checked on the open descriptor, so it cannot be swapped in between the
  check and the read. Files larger than the reader's limit are refused before
  a byte is read.
* **Writers never replace or write into a special file.** A target that
  exists and is not a regular file (``/dev/null``, a FIFO, a terminal, a
  directory) is refused with a message; to discard a model, do not ask to
  save it. Writing *into* ``/dev/null`` would be harmless, but "a character
  device" also means a terminal or a disk, so no device is written.
* **A symlink is followed**: the file it points to is replaced (atomically,
  in that file's directory) and the link stays a link to it. A link whose
  target is a special file is refused like the special file itself.
* **Writes are atomic**: the data goes to a hidden temporary file beside the
  target, is flushed to disk and renamed over the target, so an interruption
  leaves the old file or the new one. The temporary file's name carries the
  writer's process id; a later save of the same target removes temporaries
  that a killed writer left behind (same target name, a process that no longer
  runs, older than the current process), and nothing else.
* An ``OSError`` while writing (a full disk, no permission) names the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from pathlib import Path

__all__ = ["SpecialFileError", "open_regular", "save_target", "replace_atomically"]

#: When this module was imported: temporaries older than this (and of a
#: writer that no longer runs) cannot belong to a save of this process.
_STARTED = time.time()


class SpecialFileError(ValueError):
    """A path names something other than a regular file (FIFO, device, directory...)."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path, what: str, *, max_bytes: int):
    """Open ``path`` for reading in binary mode, refusing all but regular files.

    Parameters
    ----------
    path : str or Path
        The file to read.
    what : str
        What the file should be ("a model file", "an IDX file"), for messages.
    max_bytes : int
        Files larger than this are refused before reading.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    SpecialFileError (a ValueError)
        If ``path`` is a FIFO, device, directory or socket, or is too large.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: got {type(path).__name__}; expected the path of {what} "
                        f"(str or Path)")
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such {what.split(' ', 1)[-1]}") from None
    except IsADirectoryError:
        raise SpecialFileError(f"{path}: is a directory; expected {what} "
                               f"(a regular file)") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecialFileError(f"{path}: is {_kind(info.st_mode)}; expected {what} "
                                   f"(a regular file)")
        if info.st_size > max_bytes:
            raise SpecialFileError(f"{path}: has {info.st_size} bytes; expected {what} of at "
                                   f"most {max_bytes} bytes (is this the right file?)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def save_target(path, what: str = "a model file") -> Path:
    """The regular file a save of ``path`` replaces: checked, symlinks resolved.

    Raises
    ------
    ValueError
        If ``path`` is empty.
    SpecialFileError (a ValueError)
        If ``path`` (or what a symlink points to) exists and is not a regular file.
    FileNotFoundError
        If the directory the file would go to does not exist.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: got {type(path).__name__}; expected a file path (str or Path)")
    if os.fspath(path) in ("", b""):
        raise ValueError(f"path: got an empty path; expected where to write {what}")
    given = Path(path).expanduser()
    target = Path(os.path.realpath(given))
    via = f" (the symlink {given} points to it)" if target != given.absolute() else ""
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise SpecialFileError(f"{target}{via}: is {_kind(mode)}; cnn writes {what} only to "
                               f"a regular file and never replaces anything else (to discard "
                               f"the result, do not ask to save it)")
    if not target.parent.is_dir():
        problem = "is not a directory" if target.parent.exists() else "does not exist"
        raise FileNotFoundError(f"{given}: the directory {target.parent} {problem}; "
                                f"expected a path in an existing directory")
    return target


_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp\Z")


def _remove_stale_temporaries(target: Path) -> None:
    """Delete temporaries of earlier, killed saves of ``target`` (never another's)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            m = _TEMP.match(entry.name)
            if not m or m["name"] != target.name or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(m["pid"])
            if pid == os.getpid() or entry.stat(follow_symlinks=False).st_mtime >= _STARTED:
                continue
            try:
                os.kill(pid, 0)
                continue                        # that writer still runs: its file
            except ProcessLookupError:
                pass
            except OSError:                     # e.g. another user's process: keep it
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def replace_atomically(path, write, what: str = "a model file") -> Path:
    """Write a new ``path`` with ``write(fh)`` and rename it over the old one.

    ``write`` receives a binary file object. Returns the path written (the
    file a symlink points to, when ``path`` is one). See the module
    docstring for what is refused and what survives an interruption.
    """
    target = save_target(path, what)
    _remove_stale_temporaries(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    try:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)      # keep the old file's mode
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        with contextlib.suppress(OSError):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        save_target(target, what)     # still a regular file (or absent) at the last moment
        os.replace(tmp, target)
    except BaseException as exc:
        # Anything, KeyboardInterrupt included: remove the partial temp file.
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(target)) from exc    # name the file
        raise
    # Make the rename itself durable (POSIX; not possible on every platform).
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return Path(path)
