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


class Cancelled(Exception):
    """Raised inside a job when its cancel token is set. Not an error for the user."""
