"""Cleaning: each step does what it says, at any scale, and returns a new Scan."""

from __future__ import annotations

import time

import numpy as np
import pytest

from levelset_studio.core.errors import ConfigError, ScanError
from levelset_studio.core.surface.scans.cleaning import CleaningConfig, clean_scan, estimate_normals
from levelset_studio.core.surface.scans.scan import Scan


def _noisy_sphere(n=20000, n_out=400, seed=0, scale=1.0, offset=0.0):
    """A unit sphere sampled with light noise plus uniform outliers in its box (scaled, offset)."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    truth = p.copy()
    p = p + rng.normal(0, 0.002, size=p.shape)
    out = rng.uniform(-1.5, 1.5, size=(n_out, 3))
    out = out[np.abs(np.linalg.norm(out, axis=1) - 1) > 0.15]  # clearly off the surface
    pts = np.concatenate([p, out]) * scale + offset
    return Scan(points=pts, files=("sphere.ply",)), truth, len(out)


def test_statistical_outlier_removal_removes_outliers_not_surface():
    scan, _, n_out = _noisy_sphere()
    cleaned, report = clean_scan(scan, CleaningConfig(statistical_neighbors=20, statistical_std_ratio=2.0))
    r = np.linalg.norm(cleaned.points, axis=1)
    off = np.abs(r - 1) > 0.1
    assert off.sum() < 0.1 * n_out  # >90% of outliers gone
    assert len(cleaned) > 0.95 * 20000  # the surface stays
    assert report.steps[0].name == "statistical outliers"
    assert report.steps[0].removed == len(scan) - len(cleaned)
    assert report.input_points == len(scan) and report.output_points == len(cleaned)


def test_radius_outlier_removal():
    scan, _, n_out = _noisy_sphere()
    cleaned, report = clean_scan(scan, CleaningConfig(statistical_neighbors=0, radius=0.01, radius_min_points=4))
    off = np.abs(np.linalg.norm(cleaned.points, axis=1) - 1) > 0.1
    assert off.sum() < 0.1 * n_out
    assert len(cleaned) > 0.95 * 20000
    assert [s.name for s in report.steps] == ["radius outliers"]


def test_sizes_are_fractions_of_the_diagonal_at_any_scale():
    cfg = CleaningConfig(voxel_size=0.02, statistical_neighbors=20, radius=0.02, radius_min_points=3)
    small, _, _ = _noisy_sphere(seed=3)
    big, _, _ = _noisy_sphere(seed=3, scale=1000.0, offset=np.array([5_000_000.0, 4_000_000.0, 0.0]))
    a, ra = clean_scan(small, cfg)
    b, rb = clean_scan(big, cfg)
    counts_a = [s.removed for s in ra.steps]
    counts_b = [s.removed for s in rb.steps]
    assert counts_a[0] == counts_b[0]  # voxel cells identical up to scale
    np.testing.assert_allclose(counts_b, counts_a, rtol=0.02, atol=3)
    assert abs(len(a) - len(b)) <= 0.01 * len(a)
    # the georeferenced cloud keeps its position
    assert np.all(np.abs(b.points.mean(axis=0)[:2] - [5_000_000.0, 4_000_000.0]) < 100.0)


def test_voxel_downsampling_spacing():
    scan, _, _ = _noisy_sphere(n_out=0)
    cleaned, _report = clean_scan(scan, CleaningConfig(voxel_size=0.02, statistical_neighbors=0))
    assert len(cleaned) < 0.5 * len(scan)
    from scipy.spatial import cKDTree

    d, _ = cKDTree(cleaned.points).query(cleaned.points, k=2)
    voxel = 0.02 * scan.diagonal
    assert np.median(d[:, 1]) > 0.3 * voxel
    assert np.abs(np.linalg.norm(cleaned.points, axis=1) - 1).max() < 0.05  # averages stay near the surface


def test_returns_a_new_scan_keeping_transform_and_files():
    scan, _, _ = _noisy_sphere()
    before = scan.points.copy()
    cleaned, _ = clean_scan(scan, CleaningConfig())
    assert cleaned is not scan
    assert cleaned.files == scan.files
    assert cleaned.transform is scan.transform
    np.testing.assert_array_equal(scan.points, before)


def _outward_agreement(scan: Scan) -> float:
    return float(
        np.mean(
            np.einsum("ij,ij->i", scan.normals, scan.points / np.linalg.norm(scan.points, axis=1, keepdims=True)) > 0
        )
    )


def test_tangent_plane_orientation_is_consistent_and_bounded():
    scan, _, _ = _noisy_sphere(n=30000, n_out=0, seed=5)
    full = estimate_normals(scan, neighbors=20, orient="tangent_plane", orient_max_points=40000)
    assert _outward_agreement(full) > 0.99
    t0 = time.perf_counter()
    bounded = estimate_normals(scan, neighbors=20, orient="tangent_plane", orient_max_points=2000)
    t_bounded = time.perf_counter() - t0
    assert _outward_agreement(bounded) > 0.98
    assert t_bounded < 60  # far below; the bound is what keeps big clouds responsive
    # unit normals, float32
    assert bounded.normals.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bounded.normals, axis=1), 1.0, atol=1e-5)


def test_viewpoint_orientation_faces_the_viewpoint():
    scan, _, _ = _noisy_sphere(n=5000, n_out=0)
    vp = np.array([0.0, 0.0, 10.0])
    out = estimate_normals(scan, orient="viewpoint", viewpoint=tuple(vp))
    assert np.all(np.einsum("ij,ij->i", out.normals, vp - scan.points) >= 0)


def test_clean_with_normals_step_reported():
    scan, _, _ = _noisy_sphere(n=8000, n_out=100)
    cleaned, report = clean_scan(scan, CleaningConfig(estimate_normals=True, orient="tangent_plane"))
    assert cleaned.has_normals
    assert report.steps[-1].name == "normals"
    assert _outward_agreement(cleaned) > 0.97
    assert "points out" in report.summary()


def test_bad_settings_and_over_cleaning():
    with pytest.raises(ConfigError, match="voxel_size"):
        CleaningConfig(voxel_size=-0.1)
    with pytest.raises(ConfigError, match="orient"):
        CleaningConfig(orient="sideways")
    scan, _, _ = _noisy_sphere(n=2000, n_out=0)
    with pytest.raises(ScanError, match="relax"):
        clean_scan(scan, CleaningConfig(statistical_neighbors=0, radius=0.0001, radius_min_points=50))
