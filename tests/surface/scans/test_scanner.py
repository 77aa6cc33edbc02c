"""The virtual scanner: exact ground truth, the requested noise, and realistic faults."""

from __future__ import annotations

import numpy as np
import pytest

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.surface.scans.scanner import SHAPES, ScannerConfig, make_scan


def _distances(points: np.ndarray, mesh) -> np.ndarray:
    import open3d as o3d

    c = mesh.vertices.mean(axis=0)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor((mesh.vertices - c).astype(np.float32)), o3d.core.Tensor(mesh.faces.astype(np.uint32))
    )
    return scene.compute_distance(o3d.core.Tensor((points - c).astype(np.float32))).numpy().astype(np.float64)


def _diag(mesh) -> float:
    return float(np.linalg.norm(mesh.vertices.max(axis=0) - mesh.vertices.min(axis=0)))


@pytest.mark.parametrize("noise", [0.001, 0.004])
def test_measured_noise_matches_the_request(noise):
    scan, gt = make_scan("torus", ScannerConfig(noise=noise, outliers=0.0, misalign=0.0, resolution=120))
    d = _distances(scan.points, gt) / _diag(gt)
    rms = float(np.sqrt(np.mean(d**2)))
    assert rms == pytest.approx(noise, rel=0.05)
    assert d.max() < 6 * noise  # every point lies on the ground truth within the noise


def test_noise_free_hits_lie_on_the_ground_truth():
    scan, gt = make_scan("torus_knot", ScannerConfig(noise=0.0, outliers=0.0, misalign=0.0, resolution=96))
    d = _distances(scan.points, gt) / _diag(gt)
    assert d.max() < 1e-5


def test_outliers_fraction():
    scan, gt = make_scan("sphere", ScannerConfig(noise=0.001, outliers=0.05, misalign=0.0, resolution=96))
    d = _distances(scan.points, gt) / _diag(gt)
    off = np.mean(d > 6 * 0.001)
    assert 0.03 < off <= 0.05 + 1e-3  # a few outliers land near the surface by chance
    assert np.median(d) < 0.001  # the rest lies on the surface within the noise


def test_more_views_see_more_of_the_surface():
    from scipy.spatial import cKDTree

    def coverage(views):
        scan, gt = make_scan(
            "creature", ScannerConfig(views=views, noise=0.0, outliers=0.0, misalign=0.0, resolution=128, seed=1)
        )
        samples = gt.sample_surface(20000, seed=0)
        d, _ = cKDTree(scan.points).query(samples)
        return d < 0.01 * _diag(gt), samples

    one, _ = coverage(1)
    six, samples = coverage(6)
    assert one.mean() < 0.6 < six.mean()
    # still holes: occluded parts and the underside (the soles of the feet are never seen)
    assert six.mean() < 0.97
    z = samples[:, 2]
    soles = z < z.min() + 0.005 * (z.max() - z.min())
    assert soles.sum() > 50 and six[soles].mean() < 0.2


def test_underside_is_unseen_unless_asked():
    low = ScannerConfig(noise=0.0, outliers=0.0, misalign=0.0, resolution=96)
    scan, gt = make_scan("sphere", low)
    zmin, zmax = gt.vertices[:, 2].min(), gt.vertices[:, 2].max()
    bottom = scan.points[:, 2] < zmin + 0.1 * (zmax - zmin)
    assert bottom.sum() == 0
    scan2, _ = make_scan(
        "sphere", ScannerConfig(noise=0.0, outliers=0.0, misalign=0.0, resolution=96, underside=True, views=8)
    )
    assert np.sum(scan2.points[:, 2] < zmin + 0.1 * (zmax - zmin)) > 100


def test_misalignment_moves_views_by_about_the_requested_amount():
    base = dict(noise=0.0, outliers=0.0, resolution=96, views=6)
    aligned, gt = make_scan("rounded_box", ScannerConfig(misalign=0.0, **base))
    moved, _ = make_scan("rounded_box", ScannerConfig(misalign=0.004, **base))
    d0 = _distances(aligned.points, gt) / _diag(gt)
    d1 = _distances(moved.points, gt) / _diag(gt)
    assert d0.max() < 1e-5
    off = d1 > 1e-5
    assert 0.0005 < np.median(d1[off]) < 0.008  # moved points: about misalign x diagonal off the surface
    # the first view stays registered: a sizeable part of the scan lies exactly on the surface
    assert 0.05 < np.mean(d1 < 1e-5) < 0.5


def test_same_seed_same_scan_and_normals_only_on_request():
    cfg = ScannerConfig(resolution=64, seed=11)
    a, _ = make_scan("sphere", cfg)
    b, _ = make_scan("sphere", cfg)
    c, _ = make_scan("sphere", ScannerConfig(resolution=64, seed=12))
    np.testing.assert_array_equal(a.points, b.points)
    assert len(a) != len(c) or not np.array_equal(a.points, c.points)
    assert a.normals is None
    with_n, gt = make_scan("sphere", ScannerConfig(resolution=64, outliers=0.0, misalign=0.0, normals=True))
    centre = (gt.vertices.max(0) + gt.vertices.min(0)) / 2
    radial = (with_n.points - centre) / np.linalg.norm(with_n.points - centre, axis=1, keepdims=True)
    assert np.mean(np.einsum("ij,ij->i", with_n.normals, radial) > 0.99) > 0.99


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_has_a_closed_exact_mesh_and_scans(shape):
    import trimesh

    scan, gt = make_scan(shape, ScannerConfig(resolution=48, views=3))
    tm = trimesh.Trimesh(gt.vertices, gt.faces, process=False)
    assert tm.is_watertight and tm.volume > 0  # closed, outward-facing
    assert np.max(gt.vertices.max(0) - gt.vertices.min(0)) == pytest.approx(100.0)
    assert len(scan) > 200


def test_implicit_ground_truth_is_exact_far_below_the_noise():
    import torch

    from levelset_studio.core.surface.scans.shapes import creature_field, ground_truth_mesh

    m = ground_truth_mesh("creature")
    diag = _diag(m)
    rng = np.random.default_rng(0)
    v = torch.from_numpy(m.vertices[rng.choice(m.n_vertices, 10000, replace=False)])
    assert float(creature_field(v).abs().max()) < 1e-8
    # chord error: distance of face centroids to the surface (first-order, |F| / |grad F|)
    faces = m.faces[rng.choice(m.n_faces, 12000, replace=False)]
    c = torch.from_numpy(m.vertices[faces].mean(axis=1)).requires_grad_(True)
    f = creature_field(c)
    (g,) = torch.autograd.grad(f.sum(), c)
    dist = (f.abs() / g.norm(dim=1)).detach().numpy() / diag
    assert np.quantile(dist, 0.99) < 1e-4 and dist.max() < 2.5e-4  # default noise is 2e-3


def test_bad_shape_and_settings():
    with pytest.raises(ConfigError, match="unknown shape"):
        make_scan("dragon", ScannerConfig())
    with pytest.raises(ConfigError, match="noise"):
        ScannerConfig(noise=-1)
    with pytest.raises(ConfigError, match="views"):
        ScannerConfig(views=0)
