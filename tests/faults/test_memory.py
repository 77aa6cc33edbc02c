"""The memory guard: estimates grow with the work, a run that cannot fit is refused before
it starts with a message that offers the point budget or a lower setting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from levelset_studio.core.errors import MemoryLimitError
from levelset_studio.core.memory import check_memory, estimate_load, estimate_reconstruction
from tests.conftest import ROOT
from tests.faults.conftest import SMALL_FLAGS


def test_estimates_grow_with_points_resolution_and_batch():
    base = dict(n_points=100_000, resolution=256, batch_size=4096)

    def total(**kw):
        return estimate_reconstruction(**{**base, **kw}).total

    assert total(n_points=10_000_000) > total() and total(resolution=1024) > 10 * total(resolution=256) / 2
    assert total(batch_size=1_000_000) > total()
    big = estimate_reconstruction(1000, resolution=1024, batch_size=2048)
    assert big.largest() == "mesh at 1024^3" and big.total > 12 * 2**30


def test_check_memory_refuses_with_advice():
    est = estimate_reconstruction(1000, resolution=1024, batch_size=2048)
    with pytest.raises(MemoryLimitError) as err:
        check_memory(est, advice="lower --resolution (now 1024)", available=4 * 2**30)
    msg = str(err.value)
    assert "needs about" in msg and "mesh at 1024^3" in msg and "4.0 GB is free" in msg and "--resolution" in msg
    check_memory(est, advice="", available=10 * est.total)  # fits: no error


AS_LIMIT = 8 * 2**30  # an 8 GB address-space limit (ulimit -v): the guard must see it


def _limited(*args: str) -> subprocess.CompletedProcess:
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "levelset_studio.core.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=limit,
    )


def test_reconstruct_refuses_a_resolution_that_cannot_fit(scan_file, tmp_path):
    flags = list(SMALL_FLAGS)
    flags[flags.index("--resolution") + 1] = "1024"
    out = tmp_path / "m.ply"
    r = _limited("reconstruct", str(scan_file), "-o", str(out), "--iterations", "5", *flags)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("levelset: error: the reconstruction needs about") and "mesh at 1024^3" in line
    assert "--resolution (now 1024)" in line and "a point budget" in line and "--no-memory-check" in line
    assert "Traceback" not in r.stderr and not out.exists()


def test_a_huge_scan_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.ply"
    with open(huge, "wb") as fh:  # a sparse file: 100M points with float32 xyz and normals, none on disk
        fh.truncate(100_000_000 * 24)
    assert estimate_load([huge]).total > AS_LIMIT
    r = _limited("reconstruct", str(huge), "-o", str(tmp_path / "m.ply"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("levelset: error: reading the scan needs about") and "point budget" in r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
