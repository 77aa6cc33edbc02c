"""User-facing errors. Each carries a one-line message that names the problem.

The CLI prints ``levelset: error: <message>`` and exits 2; the GUI shows the same
message in a dialog. Anything that is not a ``LevelSetError`` is a bug.
"""

from __future__ import annotations

from pathlib import Path


class LevelSetError(Exception):
    """Base class of every error a user can cause (bad file, bad setting)."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ScanError(LevelSetError):
    """A scan file or scan set that cannot be read or holds no usable surface."""


class UnsupportedFormatError(ScanError):
    """The file's extension or contents are not a supported scan or mesh format."""


class MeshWriteError(LevelSetError):
    """A mesh could not be written (unsupported extension, unwritable place, ...)."""


class ConfigError(LevelSetError, ValueError):
    """A setting outside its allowed range or of the wrong type."""


class CheckpointError(LevelSetError):
    """A checkpoint or session file that is missing, corrupt or of another kind."""


class ModelError(LevelSetError):
    """A user model that cannot be loaded or does not fit the chosen dataset."""


class DatasetError(LevelSetError):
    """A dataset that cannot be found or read, or holds invalid values."""


class WriteError(LevelSetError):
    """A file could not be written (read-only folder, full disk, vanished folder, ...).

    The old file at that path, if any, is left as it was and no partial file remains.
    """


class SessionError(CheckpointError):
    """A session file that is damaged, tampered with or of an unknown version."""


class ScanMovedError(ScanError):
    """A scan that a session names is not where it was (or is no longer the same file).

    ``missing`` is the path the session expected, so that a GUI can ask for the file.
    """

    def __init__(self, message: str, missing: str | Path):
        self.missing = str(missing)
        super().__init__(message, missing)


class MemoryLimitError(LevelSetError):
    """A load or a reconstruction would need more memory than the machine has free."""


class DeviceError(LevelSetError):
    """The compute device failed mid-run (out of memory, lost) and the run stopped."""


class Cancelled(Exception):
    """Raised inside a job when its cancel token is set. Not an error for the user."""
