"""Good inputs that the fault corpus damages: a small scan, a trained network, a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from levelset_studio.core.surface.meshes.meshio import write_point_cloud
from levelset_studio.core.surface.scans.scanner import ScannerConfig, make_scan

# small and quick: one torch thread, a 48^3 mesh, no previews
SMALL = dict(resolution=48, batch_size=512, field_resolution=64, snapshot_interval=0.0, threads=1, time_budget=None)
SMALL_FLAGS = [
    "--resolution",
    "48",
    "--batch-size",
    "512",
    "--field-resolution",
    "64",
    "--snapshot-interval",
    "0",
    "--threads",
    "1",
]


@pytest.fixture(scope="package")
def scan_file(tmp_path_factory) -> Path:
    scan, _ = make_scan("sphere", ScannerConfig(resolution=40, views=5, seed=4))
    path = tmp_path_factory.mktemp("faults-scan") / "sphere.ply"
    write_point_cloud(scan.points, path)
    return path


@pytest.fixture(scope="package")
def trained(scan_file, one_torch_thread_package):
    """A reconstructor trained for a few steps on ``scan_file`` and its final mesh."""
    from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
    from levelset_studio.core.surface.reconstruction.trainer import Reconstructor
    from levelset_studio.core.surface.scans.scanio import load_scan

    rec = Reconstructor(load_scan(scan_file), ReconstructionConfig(iterations=6, **SMALL))
    result = rec.train()
    return rec, result.mesh


@pytest.fixture(scope="package")
def good_session(trained, scan_file, tmp_path_factory) -> Path:
    from levelset_studio.core.surface.restore import session_of_run
    from levelset_studio.core.surface.session import write_session

    rec, mesh = trained
    data = session_of_run(
        [str(scan_file)], reconstructor=rec, mesh=mesh, history={"step": [1.0, 2.0, 3.0], "loss": [0.9, 0.5, 0.4]}
    )
    return write_session(tmp_path_factory.mktemp("faults-session") / "good.lss", data, rec.save_checkpoint)


@pytest.fixture(scope="package")
def good_checkpoint(trained, tmp_path_factory) -> Path:
    rec, _ = trained
    return rec.save_checkpoint(tmp_path_factory.mktemp("faults-ckpt") / "good.ckpt")


@pytest.fixture(scope="package")
def one_torch_thread_package():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
