"""Bundled resources: icons, default settings and the generated sample scan."""

from __future__ import annotations

from pathlib import Path

RESOURCE_DIR = Path(__file__).resolve().parent
SAMPLE_SCAN = RESOURCE_DIR / "sample_scan.ply"


def resource_path(name: str) -> Path:
    return RESOURCE_DIR / name
