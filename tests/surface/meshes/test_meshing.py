"""Coarse-to-fine marching cubes equals the dense grid; geometry, orientation, scan
coordinates and the clean-up filters are right."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from levelset_studio.core.errors import Cancelled, ConfigError, ModelError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.surface.meshes import meshing
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.meshes.meshing import extract_mesh, remove_small_components, trim_far_from_points
from levelset_studio.core.surface.scans.scan import NormalizingTransform

IDENTITY = NormalizingTransform.identity()


def sphere(radius: float = 0.7, center=(0.0, 0.0, 0.0)):
    c = torch.tensor(center, dtype=torch.float32)
    return lambda p: (p - c).norm(dim=1) - radius


def torus(p: torch.Tensor) -> torch.Tensor:
    q = torch.stack([torch.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2) - 0.6, p[:, 2]], dim=1)
    return q.norm(dim=1) - 0.25


def two_pieces(p: torch.Tensor) -> torch.Tensor:
    """A big sphere and a separate small one (a few cells wide) away from it."""
    big = p.norm(dim=1) - 0.5
    small = (p - torch.tensor([0.8, -0.75, 0.7])).norm(dim=1) - 0.05
    return torch.minimum(big, small)


def bumpy_network() -> torch.nn.Module:
    """A real (random) ReLU MLP added to a sphere: a surface with many small bumps."""
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(3, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
    )

    class Bumpy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mlp = mlp

        def forward(self, p: torch.Tensor) -> torch.Tensor:
            return p.norm(dim=1) - 0.6 + 0.3 * torch.sin(8 * self.mlp(p)[:, 0])

    return Bumpy().eval()


def assert_same_mesh(a: Mesh, b: Mesh) -> None:
    assert a.n_faces == b.n_faces and a.n_faces > 0
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.faces, b.faces)
    # The geometry is identical; normals may differ in the last float32 bit (skimage
    # computes them in an order that depends on the masked region).
    np.testing.assert_allclose(a.vertex_normals, b.vertex_normals, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "fn,resolution", [(sphere(), 64), (torus, 72), (sphere(0.33, (0.2, -0.1, 0.3)), 97), (two_pieces, 96)]
)
def test_coarse_to_fine_equals_dense(fn, resolution):
    dense = extract_mesh(fn, resolution, IDENTITY, coarse_to_fine=False)
    fine = extract_mesh(fn, resolution, IDENTITY)
    stats = meshing.last_stats
    assert_same_mesh(dense, fine)
    if fn is two_pieces:  # the small separate piece was found
        assert meshing.face_components(fine)[0] == 2
    # and it saved most of the work
    assert stats.evaluations < 0.5 * stats.dense_evaluations


def test_coarse_to_fine_equals_dense_on_a_network():
    net = bumpy_network()
    dense = extract_mesh(net, 80, IDENTITY, coarse_to_fine=False)
    fine = extract_mesh(net, 80, IDENTITY)
    assert_same_mesh(dense, fine)


def test_verification_recovers_the_surface_when_the_margin_is_too_small():
    # safety=0 refines only cells with a sign change at the coarse level; the
    # verification pass must still find every cell of the (connected) surface
    net = bumpy_network()
    dense = extract_mesh(net, 80, IDENTITY, coarse_to_fine=False)
    fine = extract_mesh(net, 80, IDENTITY, safety=0.0)
    assert meshing.last_stats.verify_evaluations > 0
    assert_same_mesh(dense, fine)


def test_steep_function_uses_a_larger_margin():
    steep = lambda p: 5.0 * (p.norm(dim=1) - 0.5)
    assert_same_mesh(extract_mesh(steep, 64, IDENTITY, coarse_to_fine=False), extract_mesh(steep, 64, IDENTITY))
    assert meshing.last_stats.lipschitz == pytest.approx(5.0, rel=0.05)


def test_sphere_radius_area_and_outward_orientation():
    r = 0.7
    m = extract_mesh(sphere(r), 128, IDENTITY)
    radii = np.linalg.norm(m.vertices, axis=1)
    assert abs(radii.mean() - r) < 1e-3 and radii.std() < 1e-3
    assert m.area() == pytest.approx(4 * math.pi * r**2, rel=2e-3)
    v = m.vertices
    signed_volume = np.einsum("ij,ij->i", v[m.faces[:, 0]], np.cross(v[m.faces[:, 1]], v[m.faces[:, 2]])).sum() / 6
    assert signed_volume == pytest.approx(4 / 3 * math.pi * r**3, rel=3e-3)  # positive: outward faces
    cos = np.einsum("ij,ij->i", m.vertex_normals, v / radii[:, None])
    assert cos.min() > 0.99  # vertex normals point outward along the radius


def test_scan_coordinates_with_a_large_offset_are_exact():
    center = np.array([5e6, -5e6, 5e6])
    t = NormalizingTransform(center=center, scale=3.0)
    unit = extract_mesh(sphere(0.5), 48, IDENTITY)
    scan = extract_mesh(sphere(0.5), 48, t)
    np.testing.assert_array_equal(scan.faces, unit.faces)
    assert scan.vertices.dtype == np.float64
    np.testing.assert_array_equal(scan.vertices, unit.vertices * 3.0 + center)
    assert np.abs((scan.vertices - center) / 3.0 - unit.vertices).max() < 1e-9
    assert np.abs(np.linalg.norm(scan.vertices - center, axis=1) / 3.0 - 0.5).max() < 2e-3


def test_empty_level_set_gives_an_empty_mesh():
    for fn in (lambda p: p.norm(dim=1) + 1.0, lambda p: -torch.ones(p.shape[0])):
        for c2f in (True, False):
            m = extract_mesh(fn, 32, IDENTITY, coarse_to_fine=c2f)
            assert m.is_empty and m.n_vertices == 0


def test_bad_input_and_cancel():
    with pytest.raises(ConfigError):
        extract_mesh(sphere(), 4, IDENTITY)
    with pytest.raises(ConfigError):
        extract_mesh(sphere(), 10_000, IDENTITY)
    with pytest.raises(ModelError, match="non-finite"):
        extract_mesh(lambda p: p[:, 0] / 0.0 * 0.0, 32, IDENTITY)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        extract_mesh(sphere(), 64, IDENTITY, cancel=token)


def test_batches_do_not_change_the_result():
    net = bumpy_network()
    assert_same_mesh(extract_mesh(net, 48, IDENTITY), extract_mesh(net, 48, IDENTITY, batch_size=1000))


def _sheet(z: float, size: float = 1.0, n: int = 10) -> Mesh:
    xs = np.linspace(-size, size, n)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    verts = np.stack([X.ravel(), Y.ravel(), np.full(X.size, z)], axis=1)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, (i + 1) * n + j, (i + 1) * n + j + 1, i * n + j + 1
            faces += [[a, b, c], [a, c, d]]
    return Mesh(verts, np.array(faces))


def _union(a: Mesh, b: Mesh) -> Mesh:
    return Mesh(np.concatenate([a.vertices, b.vertices]), np.concatenate([a.faces, b.faces + a.n_vertices]))


def test_trim_removes_a_far_sheet_and_keeps_the_rest():
    ball = extract_mesh(sphere(0.5), 40, IDENTITY)
    sheet = _sheet(z=1.5)
    both = _union(ball, sheet)
    scan = ball.sample_surface(5000, seed=1)
    trimmed = trim_far_from_points(both, scan, max_distance=0.05)
    assert trimmed.n_faces == ball.n_faces
    assert trimmed.area() == pytest.approx(ball.area(), rel=1e-9)
    assert np.linalg.norm(trimmed.vertices, axis=1).max() < 0.6
    assert both.n_faces == ball.n_faces + sheet.n_faces  # the input is unchanged
    keep = meshing.near_faces_mask(both, scan, max_distance=0.05)
    assert keep[: ball.n_faces].all() and not keep[ball.n_faces :].any()


def test_remove_small_components_keeps_the_big_piece():
    big = extract_mesh(sphere(0.6), 48, IDENTITY)
    small = extract_mesh(sphere(0.1, (0.0, 0.0, 0.9)), 48, IDENTITY)
    both = _union(big, small)
    count, _ = meshing.face_components(both)
    assert count == 2
    kept = remove_small_components(both, 0.1)
    assert kept.n_faces == big.n_faces
    assert remove_small_components(both, 0.0).n_faces == both.n_faces
    with pytest.raises(ConfigError):
        remove_small_components(both, 1.5)


def test_trim_distance_never_tears_a_sparse_scan():
    h = 0.05  # a square grid of samples, 0.05 apart
    g = np.arange(0, 1 + 1e-9, h)
    xx, yy = np.meshgrid(g, g)
    pts = np.c_[xx.ravel(), yy.ravel(), np.zeros(xx.size)]
    pts = np.concatenate([pts, pts[:10]])  # duplicates say nothing of the spacing
    assert meshing.median_point_spacing(pts) == pytest.approx(h)
    diag = float(np.linalg.norm(pts.max(0) - pts.min(0)))
    assert meshing.trim_distance_for(pts, 0.01, diag) == pytest.approx(meshing.TRIM_MIN_SPACINGS * h)
    assert meshing.trim_distance_for(pts, 0.5, diag) == pytest.approx(0.5 * diag)
    assert meshing.trim_distance_for(pts, 0.0, diag) == 0.0
    # a plane meshed finer than the samples survives the trim whole
    fine = np.arange(0, 1 + 1e-9, h / 4)
    fx, fy = np.meshgrid(fine, fine)
    n = len(fine)
    idx = np.arange(n * n).reshape(n, n)
    quads = np.c_[idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()]
    faces = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    plane = Mesh(np.c_[fx.ravel(), fy.ravel(), np.full(fx.size, 0.01)], faces)
    kept = trim_far_from_points(plane, pts, meshing.trim_distance_for(pts, 0.001, diag))
    assert kept.n_faces == plane.n_faces
    assert trim_far_from_points(plane, pts, 0.001 * diag).n_faces < plane.n_faces  # the bare fraction tears it
