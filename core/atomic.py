"""Atomic file writes: a file is either the old one or the complete new one, never a part.

:func:`atomic_write` writes into a temporary file in the target's folder, flushes it to
disk and renames it over the target (``os.replace`` is atomic on one file system). A
failure at any point (read-only folder, full disk, a file-size limit, the folder removed
meanwhile) removes the temporary file, leaves the old target untouched and raises a
:class:`~levelset_studio.core.errors.LevelSetError` naming the file and the reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from levelset_studio.core.errors import LevelSetError, WriteError

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is larger than this system allows",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "the folder no longer exists",
}


def reason_of(exc: OSError) -> str:
    """A short, plain reason for an OS error (``the disk is full``, ``permission denied``)."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return str(exc.strerror or exc).lower()


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[IO[bytes]], None],
    *,
    what: str = "file",
    error: type[LevelSetError] = WriteError,
    protect: Sequence[str | os.PathLike] = (),
) -> Path:
    """Write ``path`` through ``write(fh)`` (a binary file object), atomically.

    ``what`` names the file in messages (``"session"``, ``"checkpoint"``); ``protect``
    lists files that must never be overwritten (the input scans). Raises ``error``.
    """
    path = Path(path)
    for p in protect:
        if _same_file(path, Path(p)):
            raise error(f"refusing to overwrite an input file with the {what}; choose another name", path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise error(f"cannot write the {what}: it is a folder; give a file name", path)
    if not parent.is_dir():
        raise error(f"cannot write the {what}: the folder '{parent}' does not exist", path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=parent)
    except OSError as exc:
        raise error(f"cannot write the {what} in '{parent}': {reason_of(exc)}", path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise error(f"cannot write the {what}: {reason_of(exc)}", path) from None
    except BaseException:
        _unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, what: str = "file") -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    return atomic_write(path, write, what=what)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _unlink(p: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(p)
