"""Bundled resources: icons and the generated sample scan, reached through
``importlib.resources`` so that they are found wherever the package is installed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(name: str) -> Path:
    """The path of a bundled resource file (``name`` relative to this package)."""
    return Path(str(files(__name__).joinpath(name)))


SAMPLE_SCAN = resource_path("sample_scan.ply")
