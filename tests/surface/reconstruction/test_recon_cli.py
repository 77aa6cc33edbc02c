"""`levelset reconstruct` end to end: mesh written, checkpoint/resume, one-line errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from levelset_studio.core.surface.meshes.meshio import read_mesh, write_point_cloud
from levelset_studio.core.surface.scans.scanner import ScannerConfig, make_scan
from tests.conftest import ROOT

# one torch thread: two OpenMP threads on an oversubscribed CI machine were measured ~5x slower
SMALL = [
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


def levelset(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "levelset_studio.core.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def scan_file(tmp_path_factory) -> Path:
    scan, _ = make_scan("sphere", ScannerConfig(resolution=40, views=5, seed=4))
    path = tmp_path_factory.mktemp("scan") / "sphere.ply"
    write_point_cloud(scan.points, path)
    return path


def test_reconstruct_writes_mesh_and_resumes(scan_file, tmp_path):
    out, ckpt = tmp_path / "mesh.ply", tmp_path / "run.ckpt"
    r = levelset(
        "reconstruct",
        str(scan_file),
        "-o",
        str(out),
        "--iterations",
        "15",
        "--checkpoint",
        str(ckpt),
        "--seed",
        "1",
        *SMALL,
    )
    assert r.returncode == 0, r.stderr
    assert "outlier points (" in r.stderr  # the scanner's 0.5% outliers: what the engine ignored is printed
    mesh = read_mesh(out)
    assert mesh.n_faces > 100 and ckpt.is_file()
    out2 = tmp_path / "mesh2.obj"
    r = levelset("reconstruct", str(scan_file), "-o", str(out2), "--resume", str(ckpt), "--iterations", "5", *SMALL)
    assert r.returncode == 0, r.stderr
    assert "20 steps" in r.stderr and read_mesh(out2).n_faces > 100


def test_poisson_method(scan_file, tmp_path):
    out = tmp_path / "poisson.ply"
    r = levelset("reconstruct", str(scan_file), "-o", str(out), "--method", "poisson")
    assert r.returncode == 0, r.stderr
    assert read_mesh(out).n_faces > 100


def test_bad_setting_exit_2_with_one_line(scan_file, tmp_path):
    r = levelset("reconstruct", str(scan_file), "-o", str(tmp_path / "x.ply"), "--resolution", "5", timeout=120)
    assert r.returncode == 2
    lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("levelset: error:") and "resolution" in lines[0]


@pytest.mark.parametrize(
    "flags,word",
    [
        (["--time-budget", "abc"], "time_budget"),
        (["--method", "magic"], "method"),
        (["--network", "transformer"], "network"),
        (["--iterations", "0"], "iterations"),
    ],
)
def test_bad_settings_in_process(scan_file, tmp_path, capsys, flags, word):
    """The same policy through core.cli.main (no interpreter start per case: CI time)."""
    from levelset_studio.core.cli import main

    try:
        rc = main(["reconstruct", str(scan_file), "-o", str(tmp_path / "x.ply"), *flags])
    except SystemExit as exc:  # argparse choices
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("levelset: error:") and word in err.splitlines()[0] and "Traceback" not in err


def test_bad_checkpoint_and_output_over_input(scan_file, tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_text("nope")
    r = levelset("reconstruct", str(scan_file), "-o", str(tmp_path / "x.ply"), "--resume", str(bad), timeout=120)
    assert r.returncode == 2 and "bad.ckpt" in r.stderr and "Traceback" not in r.stderr


def test_no_ignore_outliers_flag(scan_file, tmp_path, capsys):
    from levelset_studio.core.cli import main

    args = ["reconstruct", str(scan_file), "-o", str(tmp_path / "x.ply"), "--iterations", "2", *SMALL]
    assert main([*args, "--no-ignore-outliers"]) == 0
    assert "outlier points" not in capsys.readouterr().err
