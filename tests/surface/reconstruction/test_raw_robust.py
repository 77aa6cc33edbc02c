"""The engine on raw scans (issue 11): outliers ignored and reported, no manual cleaning,
and more training never makes the mesh worse. Iteration-bounded, one torch thread."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from levelset_studio.core.events import Finished
from levelset_studio.core.surface.evaluation import chamfer_distance
from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
from levelset_studio.core.surface.reconstruction.trainer import PointsIgnored, Reconstructor
from levelset_studio.core.surface.scans.scanner import ScannerConfig, make_scan

FAST = dict(
    time_budget=None,
    resolution=64,
    preview_resolution=32,
    snapshot_interval=0.0,
    batch_size=1024,
    field_resolution=96,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def raw_sphere():
    # 1% depth noise and 3% outliers (stray returns in the box and ghosts along rays)
    return make_scan("sphere", ScannerConfig(resolution=48, views=6, noise=0.01, outliers=0.03, seed=7))


@pytest.fixture(scope="module")
def trained(raw_sphere):
    scan, gt = raw_sphere
    rec = Reconstructor(scan, ReconstructionConfig(iterations=150, **FAST))
    events = list(rec.run())
    return rec, events, gt


def _diag(mesh):
    return float(np.linalg.norm(mesh.vertices.max(0) - mesh.vertices.min(0)))


def test_noisy_sphere_with_outliers_within_chamfer_bound(trained):
    _rec, events, gt = trained
    result = events[-1].result
    cl1, _, _ = chamfer_distance(result.mesh, gt, n_samples=20000)
    # measured 0.0118 x diagonal after 150 steps (64^3 mesh); the initial sphere is ~0.05 off
    assert cl1 / _diag(gt) < 0.016, cl1 / _diag(gt)


def test_ignored_points_are_reported_and_are_outliers(trained, raw_sphere):
    _rec, events, gt = trained
    scan, _ = raw_sphere
    result = events[-1].result
    ign = result.ignored
    assert ign is not None and len(ign) > 0
    assert ign.total == len(scan) and np.array_equal(ign.points, scan.points[ign.indices])
    msgs = [e for e in events if isinstance(e, PointsIgnored)]
    assert len(msgs) == 1 and msgs[0].ignored is ign and f"ignored {len(ign)} outlier points" in msgs[0].text
    # most ignored points are far from the true surface, and most far points are ignored
    d, _ = cKDTree(gt.sample_surface(200_000, seed=1)).query(scan.points)
    # measured: 183 ignored, 156 of them > 2% of the diagonal off; 150 of the 192 points > 4% off
    far, very_far = d > 0.02 * _diag(gt), d > 0.04 * _diag(gt)
    flagged = np.zeros(len(scan), dtype=bool)
    flagged[ign.indices] = True
    assert (flagged & far).sum() >= 0.75 * flagged.sum(), ((flagged & far).sum(), flagged.sum())
    assert (flagged & very_far).sum() >= 0.6 * very_far.sum(), ((flagged & very_far).sum(), very_far.sum())


def test_outlier_pass_can_be_turned_off(raw_sphere):
    scan, _ = raw_sphere
    rec = Reconstructor(scan, ReconstructionConfig(iterations=2, ignore_outliers=False, **FAST))
    events = list(rec.run())
    assert not any(isinstance(e, PointsIgnored) for e in events)
    assert isinstance(events[-1], Finished) and events[-1].result.ignored is None
    assert rec._points.shape[0] == len(scan)


@pytest.mark.slow  # two trainings (40 and 160 steps): ~25 s on a 2-core machine
def test_more_steps_do_not_make_it_worse():
    # a small noisy torus (0.4% depth noise, 1% outliers): measured 0.0136 x diagonal after 40
    # steps and 0.0107 after 160 (weight average on, learning rate decayed over each run)
    scan, gt = make_scan("torus", ScannerConfig(resolution=48, views=6, noise=0.004, outliers=0.01, seed=2))
    n = 40
    short = Reconstructor(scan, ReconstructionConfig(iterations=n, **FAST)).train()
    long = Reconstructor(scan, ReconstructionConfig(iterations=4 * n, **FAST)).train()
    c_short, _, _ = chamfer_distance(short.mesh, gt, n_samples=20000)
    c_long, _, _ = chamfer_distance(long.mesh, gt, n_samples=20000)
    assert c_long <= c_short, (c_short, c_long)
