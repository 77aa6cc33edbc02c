"""Writing meshes and point clouds: every format round-trips; writes are atomic and never
replace an input scan."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from levelset_studio.core.errors import MeshWriteError, ScanError
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.meshes.meshio import MESH_EXTENSIONS, read_mesh, write_mesh, write_point_cloud
from levelset_studio.core.surface.scans.scanio import load_scan


def _torus_mesh(offset=0.0) -> Mesh:
    import trimesh

    m = trimesh.creation.torus(major_radius=1.0, minor_radius=0.3, major_sections=48, minor_sections=24)
    v = np.asarray(m.vertices, dtype=np.float64) * np.array([1.0, 1.0, 1.0]) + offset
    return Mesh(v, np.asarray(m.faces), np.asarray(m.vertex_normals, dtype=np.float32), name="torus")


def _same_surface(a: Mesh, b: Mesh, tol: float) -> None:
    """Same vertex set (order may differ) and the same number of faces."""
    assert b.n_faces == a.n_faces
    d, _ = cKDTree(b.vertices - a.vertices.mean(0)).query(a.vertices - a.vertices.mean(0))
    assert d.max() <= tol
    np.testing.assert_allclose(b.area(), a.area(), rtol=1e-5)


@pytest.mark.parametrize("ext", MESH_EXTENSIONS)
def test_mesh_round_trip(tmp_path, ext):
    mesh = _torus_mesh()
    out = write_mesh(mesh, tmp_path / f"t{ext}")
    back = read_mesh(out)
    if ext in (".stl", ".glb"):  # float32 by format
        _same_surface(mesh, back, 1e-6)
    else:
        np.testing.assert_array_equal(back.vertices, mesh.vertices)
        np.testing.assert_array_equal(back.faces, mesh.faces)


@pytest.mark.parametrize("ext", [".ply", ".obj", ".off"])
def test_georeferenced_offsets_survive_exactly(tmp_path, ext):
    mesh = _torus_mesh(offset=np.array([5_000_000.123456789, 4_200_000.987654321, 312.000000001]))
    back = read_mesh(write_mesh(mesh, tmp_path / f"geo{ext}"))
    np.testing.assert_array_equal(back.vertices, mesh.vertices)


def test_float32_formats_lose_georeferenced_precision_as_documented(tmp_path):
    mesh = _torus_mesh(offset=np.array([5_000_000.0, 0.0, 0.0]))
    back = read_mesh(write_mesh(mesh, tmp_path / "geo.stl"))
    err = cKDTree(back.vertices).query(mesh.vertices)[0].max()
    assert 0 < err <= 0.5  # float32 step at 5e6 m is 0.5 m: why georeferenced results go to PLY/OBJ/OFF


@pytest.mark.parametrize("ext", [".ply", ".pcd", ".xyz"])
def test_point_cloud_round_trip(tmp_path, ext):
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(2000, 3)) * 10 + np.array([5_000_000.0, 1_000_000.0, 50.0])
    nrm = rng.normal(size=(2000, 3))
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    rgb = rng.integers(0, 256, size=(2000, 3)) / 255.0
    scan = load_scan(write_point_cloud(pts, tmp_path / f"p{ext}", nrm, rgb))
    np.testing.assert_array_equal(scan.points, pts)
    np.testing.assert_allclose(scan.normals, nrm, atol=1e-6)
    np.testing.assert_allclose(scan.colors, rgb, atol=1e-6)
    plain = load_scan(write_point_cloud(pts, tmp_path / f"q{ext}"))
    np.testing.assert_array_equal(plain.points, pts)
    assert plain.normals is None and plain.colors is None


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    import levelset_studio.core.surface.meshes.meshio as meshio

    target = tmp_path / "out.obj"
    target.write_text("old content")
    mesh = _torus_mesh()

    def broken(m, fh):
        fh.write(b"v 1 2 3\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(meshio.__dict__, "_write_obj", broken)
    with pytest.raises(MeshWriteError, match="No space left"):
        write_mesh(mesh, target)
    assert target.read_text() == "old content"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.obj"]
    monkeypatch.undo()
    write_mesh(mesh, target)  # replaces it whole
    assert read_mesh(target).n_faces == mesh.n_faces
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.obj"]


def test_never_overwrites_an_input_scan(tmp_path, monkeypatch):
    scan_file = tmp_path / "scan.ply"
    write_point_cloud(np.random.default_rng(1).normal(size=(100, 3)), scan_file)
    before = scan_file.read_bytes()
    monkeypatch.chdir(tmp_path)
    for spelling in ("scan.ply", "./scan.ply", str(scan_file)):
        with pytest.raises(MeshWriteError, match="input scan"):
            write_mesh(_torus_mesh(), spelling, protect=[scan_file])
    (tmp_path / "link.ply").symlink_to(scan_file)
    with pytest.raises(MeshWriteError, match="input scan"):
        write_mesh(_torus_mesh(), tmp_path / "link.ply", protect=[scan_file])
    assert scan_file.read_bytes() == before


def test_refusals(tmp_path):
    mesh = _torus_mesh()
    with pytest.raises(MeshWriteError, match="unsupported mesh format"):
        write_mesh(mesh, tmp_path / "x.dae")
    with pytest.raises(MeshWriteError, match="does not exist"):
        write_mesh(mesh, tmp_path / "nope" / "x.ply")
    with pytest.raises(MeshWriteError, match="empty"):
        write_mesh(Mesh(np.zeros((0, 3)), np.zeros((0, 3))), tmp_path / "x.ply")
    (tmp_path / "d.ply").mkdir()
    with pytest.raises(MeshWriteError, match="directory"):
        write_mesh(mesh, tmp_path / "d.ply")
    with pytest.raises(MeshWriteError, match="unsupported point-cloud format"):
        write_point_cloud(mesh.vertices, tmp_path / "x.obj")


def test_truncated_mesh_file_is_refused(tmp_path):
    f = write_mesh(_torus_mesh(), tmp_path / "t.ply")
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 500])  # faces cut short
    with pytest.raises(ScanError, match="(?i)truncated|corrupt"):
        read_mesh(f)
    with pytest.raises(ScanError):
        load_scan(f)
    pts_only = write_point_cloud(_torus_mesh().vertices, tmp_path / "p.ply")
    with pytest.raises(ScanError, match="no faces"):
        read_mesh(pts_only)
