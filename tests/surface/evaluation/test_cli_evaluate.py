"""`levelset evaluate`: JSON keys and values, the text table, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from levelset_studio.core.surface.meshes.meshing import extract_mesh
from levelset_studio.core.surface.meshes.meshio import write_mesh, write_point_cloud
from levelset_studio.core.surface.scans.scan import NormalizingTransform
from tests.conftest import ROOT


def levelset(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "levelset_studio.core.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("evaluate")
    t = NormalizingTransform(center=np.array([1000.0, 2000.0, 3000.0]), scale=2.0)
    inner = extract_mesh(lambda p: p.norm(dim=1) - 0.5, 48, t)  # radius 1.0 in scan units
    outer = extract_mesh(lambda p: p.norm(dim=1) - 0.55, 48, t)  # radius 1.1
    write_mesh(inner, d / "recon.ply")
    write_mesh(outer, d / "reference.ply")
    pts = outer.sample_surface(3000, seed=3)
    write_point_cloud(pts, d / "scan.ply")
    return d


def test_json_report(files):
    r = levelset(
        "evaluate",
        str(files / "recon.ply"),
        "--scan",
        str(files / "scan.ply"),
        "--reference",
        str(files / "reference.ply"),
        "--json",
        "--samples",
        "20000",
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in (
        "chamfer_l1",
        "chamfer_l2",
        "hausdorff",
        "scan_to_mesh",
        "mesh_to_scan",
        "far_area_fraction",
        "diagonal",
        "n_samples",
        "definitions",
        "fraction_of_diagonal",
        "units",
    ):
        assert key in d, key
    assert d["n_samples"] == 20000
    assert d["chamfer_l1"] == pytest.approx(0.1, rel=0.03)
    assert d["scan_to_mesh"]["mean"] == pytest.approx(0.1, rel=0.03)
    assert d["diagonal"] == pytest.approx(2.2 * np.sqrt(3), rel=0.02)
    assert d["fraction_of_diagonal"]["chamfer_l1"] == pytest.approx(d["chamfer_l1"] / d["diagonal"])


def test_table_report(files):
    r = levelset("evaluate", str(files / "recon.ply"), "--scan", str(files / "scan.ply"), "--samples", "5000")
    assert r.returncode == 0, r.stderr
    assert "scan -> mesh mean" in r.stdout and "diagonal" in r.stdout
    assert "Chamfer L1 (" not in r.stdout  # no reference, no Chamfer


@pytest.mark.parametrize(
    "args,needle",
    [
        (["missing.ply", "--scan", "{d}/scan.ply"], "missing.ply"),
        (["{d}/recon.ply", "--scan", "{d}/nothing.xyz"], "nothing.xyz"),
        (["{d}/scan.ply", "--scan", "{d}/scan.ply"], "faces"),
        (["{d}/recon.ply", "--scan", "{d}/scan.ply", "--samples", "0"], "samples"),
        (["{d}/recon.ply", "--scan", "{d}/scan.ply", "--far-threshold", "3"], "far-threshold"),
    ],
)
def test_bad_input_is_one_line_exit_2(files, args, needle):
    r = levelset("evaluate", *[a.format(d=files) for a in args])
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert needle in r.stderr
    assert r.stderr.strip().startswith("levelset: error:")
