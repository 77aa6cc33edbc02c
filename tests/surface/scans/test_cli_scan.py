"""`levelset info`, `levelset clean`, `levelset make-scan`, and the bundled sample scan."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from levelset_studio.core.cli import main
from levelset_studio.core.surface.meshes.meshio import read_mesh, write_point_cloud
from levelset_studio.core.surface.scans.scanio import load_scan
from tests.conftest import ROOT

SAMPLE = ROOT / "resources" / "sample_scan.ply"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "levelset_studio.core.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_make_scan_then_info_json(tmp_path, capsys):
    scan_file, gt_file = tmp_path / "s.ply", tmp_path / "gt.obj"
    rc = main(
        [
            "make-scan",
            "torus",
            "-o",
            str(scan_file),
            "--ground-truth",
            str(gt_file),
            "--views",
            "4",
            "--noise",
            "0.003",
            "--outliers",
            "0.01",
            "--misalign",
            "0",
            "--seed",
            "5",
            "--resolution",
            "64",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "wrote" in out and str(scan_file) in out
    gt = read_mesh(gt_file)
    assert gt.n_faces > 10000
    rc = main(["info", "--json", str(scan_file)])
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    scan = load_scan(scan_file)
    assert info["points"] == len(scan) > 1000
    assert info["has_normals"] is False and info["has_colors"] is False
    assert info["dropped_nonfinite"] == 0
    np.testing.assert_allclose(info["bbox_min"], scan.bbox_min)
    np.testing.assert_allclose(info["bbox_max"], scan.bbox_max)
    assert info["diagonal"] == scan.diagonal
    assert info["files"] == [str(scan_file)]


def test_info_table_and_merging(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = write_point_cloud(rng.normal(size=(300, 3)), tmp_path / "a.ply")
    b = write_point_cloud(rng.normal(size=(200, 3)), tmp_path / "b.xyz")
    assert main(["info", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "points" in out and "500" in out and "bbox diagonal" in out
    assert str(a) in out and str(b) in out


def test_clean_writes_a_cleaned_cloud_and_protects_the_input(tmp_path, capsys):
    rng = np.random.default_rng(1)
    p = rng.normal(size=(5000, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    p = np.concatenate([p, rng.uniform(-3, 3, size=(50, 3)) * 2])
    src = write_point_cloud(p, tmp_path / "in.ply")
    out = tmp_path / "out.ply"
    rc = main(
        [
            "clean",
            str(src),
            "-o",
            str(out),
            "--statistical-neighbors",
            "16",
            "--estimate-normals",
            "--orient",
            "tangent_plane",
            "--voxel-size",
            "0.001",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "statistical outliers" in text and "voxel downsampling" in text
    cleaned = load_scan(out)
    assert cleaned.has_normals and len(cleaned) < len(p)
    assert np.abs(np.linalg.norm(cleaned.points, axis=1) - 1).max() < 0.3  # far outliers gone
    before = src.read_bytes()
    assert main(["clean", str(src), "-o", str(src)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("levelset: error:") and "input scan" in err
    assert src.read_bytes() == before
    assert main(["clean", str(src), "-o", str(out), "--voxel-size", "-1"]) == 2
    assert "voxel_size" in capsys.readouterr().err


def test_cli_errors_are_one_line_exit_2_in_a_real_process(tmp_path):
    (tmp_path / "empty.pcd").write_bytes(b"")
    trunc = tmp_path / "t.ply"
    good = write_point_cloud(np.random.default_rng(2).normal(size=(100, 3)), tmp_path / "g.ply").read_bytes()
    trunc.write_bytes(good[:-700])
    for args in (
        ["info", str(tmp_path / "empty.pcd")],
        ["info", str(trunc)],
        ["make-scan", "torus", "-o", str(tmp_path / "x.obj")],
        ["clean", str(trunc), "-o", str(tmp_path / "o.ply")],
    ):
        r = _cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("levelset: error: "), (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_help_everywhere():
    for cmd in ("info", "clean", "make-scan"):
        r = _cli(cmd, "--help")
        assert r.returncode == 0 and "usage: levelset " + cmd in r.stdout


def test_bundled_sample_scan():
    assert SAMPLE.is_file() and SAMPLE.stat().st_size < 2_000_000
    scan = load_scan(SAMPLE)
    assert 20_000 <= len(scan) <= 45_000
    assert scan.normals is None  # like a real scanner's output
