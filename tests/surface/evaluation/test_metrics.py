"""Metrics equal analytic values on simple shapes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from levelset_studio.core.errors import LevelSetError
from levelset_studio.core.surface.evaluation import (
    DistanceStats,
    chamfer_distance,
    distance_histogram,
    evaluate_reconstruction,
    mesh_distances,
    point_distances,
    vertex_distances,
)
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.meshes.meshing import extract_mesh
from levelset_studio.core.surface.scans.scan import NormalizingTransform

OFFSET = np.array([5e6, -5e6, 2e6])


def square(z: float, size: float = 1.0, offset=np.zeros(3)) -> Mesh:
    """The square [-size, size]^2 at height z, two triangles."""
    v = np.array([[-size, -size, z], [size, -size, z], [size, size, z], [-size, size, z]]) + offset
    return Mesh(v, np.array([[0, 1, 2], [0, 2, 3]]), name=f"square{z}")


def ball(radius: float, offset=np.zeros(3), resolution: int = 96) -> Mesh:
    t = NormalizingTransform(center=np.asarray(offset, dtype=np.float64), scale=1.0)
    return extract_mesh(lambda p: p.norm(dim=1) - radius, resolution, t, name=f"ball{radius}")


def test_point_distances_and_stats():
    ref = np.array([[0.0, 0, 0], [1, 0, 0]])
    d = point_distances(np.array([[0.0, 0, 2], [1, 3, 0], [0.5, 0, 0]]), ref)
    np.testing.assert_allclose(d, [2.0, 3.0, 0.5])
    st = DistanceStats.of(np.array([3.0, 4.0]))
    assert st.mean == 3.5 and st.max == 4.0 and st.rms == pytest.approx(math.sqrt(12.5))
    with pytest.raises(LevelSetError):
        point_distances(ref, np.zeros((0, 3)))


def test_exact_point_to_mesh_distance_far_from_the_origin():
    plane = square(0.0, offset=OFFSET)
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-0.9, 0.9, (500, 2)), rng.uniform(0.01, 0.2, 500)]) + OFFSET
    d = mesh_distances(pts, plane)
    np.testing.assert_allclose(d, pts[:, 2] - OFFSET[2], atol=1e-6)
    # the sampled approximation is an upper bound that converges
    approx = mesh_distances(pts, plane, n_samples=50_000)
    assert np.all(approx >= d - 1e-6) and np.abs(approx - d).mean() < 1e-2


def test_plane_and_offset_plane():
    a, b = square(0.0, offset=OFFSET), square(0.1, offset=OFFSET)
    l1, l2, hd = chamfer_distance(a, b, n_samples=20_000)
    assert l1 == pytest.approx(0.1, abs=1e-6)
    assert l2 == pytest.approx(0.01, abs=1e-6)
    assert hd == pytest.approx(0.1, abs=1e-6)


def test_concentric_spheres():
    r1, r2 = 0.5, 0.6
    inner, outer = ball(r1, OFFSET), ball(r2, OFFSET)
    rep = evaluate_reconstruction(inner, outer.sample_surface(5_000), outer, n_samples=20_000)
    assert rep.chamfer_l1 == pytest.approx(r2 - r1, rel=5e-3)
    assert rep.chamfer_l2 == pytest.approx((r2 - r1) ** 2, rel=1e-2)
    assert rep.hausdorff == pytest.approx(r2 - r1, rel=2e-2)
    assert rep.scan_to_mesh.mean == pytest.approx(r2 - r1, rel=5e-3)
    assert rep.far_area_fraction == 1.0  # 0.1 is far more than 2% of the diagonal 2.08
    assert rep.normal_consistency == pytest.approx(1.0, abs=2e-3)
    assert rep.diagonal == pytest.approx(2 * r2 * math.sqrt(3), rel=1e-2)


def test_hausdorff_of_a_known_outlier():
    ref = square(0.0)
    # the reconstruction: the square plus a small triangle one unit above it
    v = np.concatenate([ref.vertices, [[0, 0, 1.0], [0.01, 0, 1.0], [0, 0.01, 1.0]]])
    mesh = Mesh(v, np.concatenate([ref.faces, [[4, 5, 6]]]))
    rep = evaluate_reconstruction(mesh, ref.sample_surface(10_000), ref, n_samples=100_000)
    assert rep.hausdorff == pytest.approx(1.0, abs=1e-6)
    assert rep.mesh_to_reference.max == pytest.approx(1.0, abs=1e-6)
    assert rep.reference_to_mesh.max < 1e-6
    # its area share is tiny, and so are the averages
    assert rep.chamfer_l1 < 1e-3
    assert 0 < rep.far_area_fraction < 1e-3


def test_far_area_fraction_counts_invented_surface():
    near, far = square(0.0, offset=OFFSET), square(1.0, offset=OFFSET)
    both = Mesh(np.concatenate([near.vertices, far.vertices]), np.concatenate([near.faces, near.faces + 4]))
    scan = near.sample_surface(20_000)
    rep = evaluate_reconstruction(both, scan, n_samples=100_000, far_threshold=0.1)
    assert rep.far_area_fraction == pytest.approx(0.5, abs=0.01)
    assert rep.chamfer_l1 is None and rep.hausdorff is None
    assert rep.scan_to_mesh.max < 1e-6


def test_normal_consistency_against_scan_normals():
    sphere = ball(0.5)
    pts = sphere.sample_surface(5000)
    radial = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    good = evaluate_reconstruction(sphere, pts, scan_normals=radial, n_samples=5000)
    assert good.normal_consistency_against == "scan normals"
    assert good.normal_consistency > 0.999
    tangent = np.cross(radial, np.array([0.0, 0.0, 1.0]))
    bad = evaluate_reconstruction(sphere, pts, scan_normals=tangent, n_samples=5000)
    assert bad.normal_consistency < 0.1


def test_report_dict_and_table():
    a, b = square(0.0), square(0.05)
    rep = evaluate_reconstruction(a, b.sample_surface(2000), b, n_samples=5000)
    d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    for key in (
        "chamfer_l1",
        "chamfer_l2",
        "hausdorff",
        "scan_to_mesh",
        "mesh_to_scan",
        "far_area_fraction",
        "diagonal",
        "definitions",
        "fraction_of_diagonal",
        "normal_consistency",
    ):
        assert key in d
    assert d["fraction_of_diagonal"]["chamfer_l1"] == pytest.approx(0.05 / rep.diagonal, rel=1e-4)
    assert d["scan_to_mesh"]["fraction_of_diagonal"]["mean"] == pytest.approx(0.05 / rep.diagonal, rel=1e-4)
    text = rep.format()
    assert "Chamfer L1" in text and "diagonal" in text and "units" in text and "Hausdorff" in text


def test_vertex_distances_and_histogram():
    plane = square(0.0)
    d = vertex_distances(plane, np.array([[-1.0, -1, 0.3]]))
    assert d[0] == pytest.approx(0.3)
    counts, edges = distance_histogram(d, bins=4)
    assert counts.sum() == 4 and len(edges) == 5
    counts, _ = distance_histogram(np.array([np.nan]), bins=3)
    assert counts.sum() == 0


def test_bad_input():
    with pytest.raises(LevelSetError, match="no triangles"):
        evaluate_reconstruction(Mesh(np.zeros((0, 3)), np.zeros((0, 3))), np.ones((3, 3)))
    with pytest.raises(LevelSetError):
        evaluate_reconstruction(square(0.0), np.zeros((0, 3)))
    with pytest.raises(LevelSetError, match="non-finite"):
        evaluate_reconstruction(square(0.0), np.array([[np.nan, 0, 0], [1, 1, 1]]))
    broken = Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [np.inf, 1, 0]]), np.array([[0, 1, 2]]))
    with pytest.raises(LevelSetError, match="non-finite vertex"):
        evaluate_reconstruction(broken, np.eye(3))
    dangling = Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]), np.array([[0, 1, 7]]))
    with pytest.raises(LevelSetError, match="does not exist"):
        evaluate_reconstruction(dangling, np.eye(3))
