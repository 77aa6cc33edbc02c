"""A headless run killed with SIGKILL continues from its periodic checkpoint (--resume)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from levelset_studio.core.surface.reconstruction.trainer import Reconstructor
from levelset_studio.core.surface.scans.scanio import load_scan
from tests.conftest import ROOT
from tests.faults.conftest import SMALL_FLAGS

STEPS = 200


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "levelset_studio.core.cli", "reconstruct", *args, "--quiet", *SMALL_FLAGS]


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_periodic_checkpoint(scan_file, tmp_path):
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "mesh.ply"
    proc = subprocess.Popen(
        _cli(
            str(scan_file),
            "-o",
            str(out),
            "--iterations",
            str(STEPS),
            "--checkpoint",
            str(ckpt),
            "--checkpoint-every",
            "0.005",
            "--seed",
            "3",
        ),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not ckpt.exists():  # the first periodic checkpoint (0.3 s of training)
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint written within 240 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not out.exists()

    killed_at = Reconstructor.load_checkpoint(ckpt, load_scan(scan_file)).step
    assert 0 < killed_at < STEPS, "the checkpoint was not written mid-run"
    r = subprocess.run(
        _cli(str(scan_file), "-o", str(out), "--resume", str(ckpt), "--checkpoint", str(ckpt)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert out.exists() and out.stat().st_size > 1000
    # the resumed run finished the killed run's schedule: STEPS in all, not STEPS more
    assert Reconstructor.load_checkpoint(ckpt, load_scan(scan_file)).step == STEPS
