"""Small scans from our virtual scanner, and the settings that keep a batch of them short."""

from __future__ import annotations

from pathlib import Path

import pytest

# 50 steps on small batches, a coarse final mesh and few evaluation samples: seconds per scan
FAST = ["--iterations", "50", "--resolution", "32", "--batch-size", "256", "--eval-samples", "2000"]
SHAPES = ("sphere", "torus", "rounded_box")


@pytest.fixture(scope="package")
def scans(tmp_path_factory) -> list[Path]:
    """Three scans made by the scanner (the same as `levelset make-scan SHAPE --resolution 32`)."""
    from levelset_studio.core.surface.meshes.meshio import write_point_cloud
    from levelset_studio.core.surface.scans.scanner import ScannerConfig, make_scan

    folder = tmp_path_factory.mktemp("scans")
    paths = []
    for i, shape in enumerate(SHAPES):
        scan, _ = make_scan(shape, ScannerConfig(resolution=32, views=4, seed=i))
        paths.append(write_point_cloud(scan.points, folder / f"{shape}.ply"))
    return paths


@pytest.fixture(scope="package")
def corrupt(scans, tmp_path_factory) -> Path:
    """A binary PLY cut in the middle of its points (a copy that was interrupted)."""
    data = scans[0].read_bytes()
    path = tmp_path_factory.mktemp("bad") / "broken.ply"
    path.write_bytes(data[: len(data) // 2])
    return path
