"""Ctrl-C: SIGINT to a running `levelset batch` keeps the finished rows and leaves no partial mesh."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from levelset_studio.core.surface.meshes.meshio import read_mesh
from tests.surface.batch.checks import no_temporary_files, report_rows

LONG = ["--iterations", "1000000", "--time-budget", "3", "--resolution", "32", "--batch-size", "256"]


def _rows_on_disk(out: Path) -> int:
    try:
        return len(json.loads((out / "report.json").read_text())["rows"])
    except (OSError, ValueError, KeyError):
        return 0


def _interrupt_after_first_row(argv: list[str], out: Path, timeout: float = 300.0) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "levelset_studio.core.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + timeout
        while _rows_on_disk(out) < 1:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no scan finished in time"
            time.sleep(0.2)  # polling a file another process writes (no event to wait on)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _check_interrupted(res: subprocess.CompletedProcess, out: Path, n_inputs: int) -> None:
    assert res.returncode == 130, res.stderr
    assert "levelset: interrupted:" in res.stderr and "Traceback" not in res.stderr
    rows = report_rows(out)
    assert 1 <= len(rows) < n_inputs
    assert all(r["status"] == "ok" for r in rows)
    meshes = sorted(p.name for p in out.glob("*.ply"))
    assert meshes == sorted(f"{r['name']}.ply" for r in rows)  # a mesh for each finished row, no other
    for name in meshes:
        assert read_mesh(out / name).n_faces > 100
    no_temporary_files(out)


@pytest.mark.slow
def test_sigint_stops_a_local_batch_and_keeps_finished_rows(scans, tmp_path):
    out = tmp_path / "out"
    inputs = [str(p) for p in scans] * 1 + [str(scans[0].parent)]  # the folder repeats them: deduplicated
    res = _interrupt_after_first_row(["batch", *inputs, "-o", str(out), *LONG], out)
    _check_interrupted(res, out, len(scans))


@pytest.mark.slow
def test_sigint_stops_a_pool_batch_and_keeps_finished_rows(scans, tmp_path):
    out = tmp_path / "out"
    res = _interrupt_after_first_row(["batch", *map(str, scans), "-o", str(out), "--workers", "2", *LONG], out)
    _check_interrupted(res, out, len(scans))


@pytest.mark.slow
def test_sigint_stops_a_ray_batch_and_keeps_finished_rows(scans, tmp_path):
    pytest.importorskip("ray", reason="Ray is the 'cluster' extra (make setup installs it)")
    out = tmp_path / "out"
    argv = ["batch", *map(str, scans), "-o", str(out), "--ray", "--workers", "1", *LONG]
    res = _interrupt_after_first_row(argv, out)
    _check_interrupted(res, out, len(scans))
    assert "ray node" in report_rows(out)[0]["node"]
