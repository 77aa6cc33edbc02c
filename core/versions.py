"""Versions of the app, its libraries and the compute device (About dialog, --version).

Reads installed distributions' metadata instead of importing heavy modules (no Qt
import here: core/ must run without Qt).
"""

from __future__ import annotations

import importlib.metadata as md
import platform

from levelset_studio import core


def _dist_version(*names: str) -> str:
    for name in names:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            continue
    return "not installed"


def versions() -> dict[str, str]:
    import torch

    from levelset_studio.core.device import describe_device

    return {
        "LevelSet Studio": core.__version__,
        "Python": platform.python_version(),
        "torch": torch.__version__,
        "open3d": _dist_version("open3d-cpu", "open3d"),
        "VTK": _dist_version("vtk"),
        "pyvista": _dist_version("pyvista"),
        "Qt (PySide6)": _dist_version("PySide6-Essentials", "PySide6"),
        "numpy": _dist_version("numpy"),
        "device": describe_device(),
    }


def versions_report() -> str:
    return "\n".join(f"{k}: {v}" for k, v in versions().items())
