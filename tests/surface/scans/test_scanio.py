"""Reading scans: every format, scan sets, real scans, and every kind of broken input."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from levelset_studio.core.cli import main
from levelset_studio.core.errors import ScanError, UnsupportedFormatError
from levelset_studio.core.surface.scans.scanio import SCAN_EXTENSIONS, load_scan, scan_file_filter


def _cloud(n=500, seed=0, offset=0.0):
    """Points on a unit sphere (a real surface) with outward normals and colours."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    c = rng.integers(0, 256, size=(n, 3))
    return p + offset, p.copy(), c


def _ascii_ply(path, pts, normals=None, colors=None, extra_grid=False, crlf=False):
    props = ["property float x", "property float y", "property float z"]
    cols = [pts]
    if normals is not None:
        props += ["property float nx", "property float ny", "property float nz"]
        cols.append(normals)
    if colors is not None:
        props += ["property uchar red", "property uchar green", "property uchar blue"]
        cols.append(colors)
    head = ["ply", "format ascii 1.0", "comment test", "obj_info num_cols 4", f"element vertex {len(pts)}", *props]
    if extra_grid:
        head += ["element range_grid 6", "property list uchar int vertex_indices"]
    head.append("end_header")
    rows = []
    table = np.concatenate(cols, axis=1)
    nc = 3 + (3 if normals is not None else 0)
    for r in table:
        rows.append(" ".join(f"{v:.9g}" if i < nc else str(int(v)) for i, v in enumerate(r)))
    if extra_grid:
        rows += ["1 0", "0", "1 1", "0", "1 2", "0"]
    nl = "\r\n" if crlf else "\n"
    path.write_bytes((nl.join(head + rows) + nl).encode("ascii"))
    return path


# ----------------------------------------------------------------------------- formats


def test_ascii_ply_with_normals_colours_and_range_grid(tmp_path):
    p, n, c = _cloud()
    scan = load_scan(_ascii_ply(tmp_path / "a.ply", p, n, c, extra_grid=True, crlf=True))
    assert len(scan) == 500
    np.testing.assert_allclose(scan.points, p, atol=1e-8)
    np.testing.assert_allclose(scan.normals, n, atol=1e-6)
    np.testing.assert_allclose(scan.colors, c / 255.0, atol=1e-6)
    assert scan.normals.dtype == np.float32 and scan.colors.dtype == np.float32


def test_big_endian_binary_ply_with_extra_element_first(tmp_path):
    p, _, _ = _cloud(200)
    header = (
        "ply\nformat binary_big_endian 1.0\nelement camera 1\nproperty float fx\n"
        f"element vertex {len(p)}\nproperty double x\nproperty double y\nproperty double z\n"
        "property uchar flags\nend_header\n"
    ).encode()
    rows = np.zeros(len(p), dtype=[("x", ">f8"), ("y", ">f8"), ("z", ">f8"), ("flags", "u1")])
    rows["x"], rows["y"], rows["z"] = (p + 5_000_000.0).T
    f = tmp_path / "be.ply"
    f.write_bytes(header + struct.pack(">f", 1.5) + rows.tobytes())
    scan = load_scan(f)
    assert scan.normals is None and scan.colors is None
    np.testing.assert_array_equal(scan.points, p + 5_000_000.0)  # doubles kept exactly


def test_pcd_ascii_organized_with_nan_and_rgb(tmp_path):
    p, _, c = _cloud(40)
    rgb = (c[:, 0] << 16 | c[:, 1] << 8 | c[:, 2]).astype(np.uint32)
    lines = [f"{x:.9g} {y:.9g} {z:.9g} {v}" for (x, y, z), v in zip(p, rgb)]
    lines[3] = "nan nan nan 0"
    lines[17] = "nan nan nan 0"
    head = (
        "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F U\nCOUNT 1 1 1 1\n"
        "WIDTH 8\nHEIGHT 5\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 40\nDATA ascii\n"
    )
    f = tmp_path / "org.pcd"
    f.write_text(head + "\n".join(lines) + "\n")
    scan = load_scan(f)
    assert len(scan) == 38 and scan.dropped_nonfinite == 2
    keep = np.ones(40, bool)
    keep[[3, 17]] = False
    np.testing.assert_allclose(scan.colors, c[keep] / 255.0, atol=1e-6)


def test_pcd_binary_and_binary_compressed(tmp_path):
    import open3d as o3d

    p, n, _ = _cloud(300)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p))
    pcd.normals = o3d.utility.Vector3dVector(n)
    for compressed in (False, True):
        f = tmp_path / f"c{int(compressed)}.pcd"
        assert o3d.io.write_point_cloud(str(f), pcd, write_ascii=False, compressed=compressed)
        assert (b"binary_compressed" in f.read_bytes()[:400]) == compressed
        scan = load_scan(f)
        np.testing.assert_allclose(scan.points, p, atol=1e-6)
        assert scan.has_normals


def test_text_formats_crlf_commas_headers_and_columns(tmp_path):
    p, n, c = _cloud(100)
    # XYZ: comment header, CRLF, normals after xyz.
    rows = "\r\n".join(" ".join(f"{v:.17g}" for v in r) for r in np.concatenate([p, n], 1))
    (tmp_path / "a.xyz").write_text("# exported\r\n" + rows + "\r\n")
    s = load_scan(tmp_path / "a.xyz")
    np.testing.assert_array_equal(s.points, p)
    assert s.has_normals and s.colors is None
    # PTS: a count line, then x y z intensity r g b.
    rows = "\n".join(f"{x:.9g} {y:.9g} {z:.9g} -1200 {r} {g} {b}" for (x, y, z), (r, g, b) in zip(p, c))
    (tmp_path / "a.pts").write_text(f"{len(p)}\n{rows}\n")
    s = load_scan(tmp_path / "a.pts")
    assert len(s) == 100 and not s.has_normals
    np.testing.assert_allclose(s.colors, c / 255.0, atol=1e-6)
    # CSV with named columns in another order, plus an extra column.
    rows = "\n".join(
        f"{a},{x:.9g},{nx:.9g},{y:.9g},{ny:.9g},{z:.9g},{nz:.9g}"
        for a, (x, y, z), (nx, ny, nz) in zip(range(100), p, n)
    )
    (tmp_path / "a.csv").write_text("id,X,nx,Y,ny,Z,nz\n" + rows + "\n")
    s = load_scan(tmp_path / "a.csv")
    np.testing.assert_allclose(s.points, p, atol=1e-8)
    np.testing.assert_allclose(s.normals, n, atol=1e-6)
    # CloudCompare-style commented header naming the columns.
    rows = "\n".join(f"{x:.9g},{y:.9g},{z:.9g},{r},{g},{b}" for (x, y, z), (r, g, b) in zip(p, c))
    (tmp_path / "cc.txt").write_text("//X,Y,Z,R,G,B\n" + rows + "\n")
    s = load_scan(tmp_path / "cc.txt")
    np.testing.assert_allclose(s.colors, c / 255.0, atol=1e-6)
    # TXT: semicolons/tabs and only xyz.
    (tmp_path / "a.txt").write_text("\n".join(f"{x}\t{y};{z}" for x, y, z in p))
    assert len(load_scan(tmp_path / "a.txt")) == 100


def test_meshes_as_input_give_vertices_and_face_samples(tmp_path):
    import trimesh

    from levelset_studio.core.surface.meshes.mesh import Mesh
    from levelset_studio.core.surface.meshes.meshio import write_mesh

    m = trimesh.creation.icosphere(subdivisions=3)
    mesh = Mesh(m.vertices, m.faces)
    for ext in (".ply", ".obj", ".stl", ".off"):
        f = write_mesh(mesh, tmp_path / f"m{ext}")
        scan = load_scan(f)
        assert scan.from_mesh and scan.has_normals
        assert len(scan) >= 20_000  # area-weighted samples were added
        r = np.linalg.norm(scan.points, axis=1)
        assert r.max() <= 1.0 + 1e-6 and r.min() > 0.98  # on the faces of the inscribed icosphere
        outward = np.einsum("ij,ij->i", scan.normals, scan.points) > 0
        assert outward.mean() > 0.999


def test_several_files_merge_and_progress(tmp_path):
    p1, n1, _ = _cloud(100, seed=1)
    p2, _, _ = _cloud(50, seed=2)
    f1 = _ascii_ply(tmp_path / "a.ply", p1, n1)
    f2 = tmp_path / "b.xyz"
    f2.write_text("\n".join(f"{x:.17g} {y:.17g} {z:.17g}" for x, y, z in p2))
    seen = []
    scan = load_scan([f1, f2], progress=seen.append)
    assert len(scan) == 150
    assert scan.normals is None  # only one of the files had normals
    assert scan.files == (str(f1), str(f2))
    assert seen == sorted(seen) and seen[-1] == 1.0


def _quat(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return (*(axis * np.sin(angle / 2)), np.cos(angle / 2))


def test_conf_scan_set_places_scans(tmp_path):
    p, n, _ = _cloud(300, seed=3)
    q = _quat([0.3, 1.0, 0.2], 0.7)
    qx, qy, qz, qw = q
    R = np.array(
        [
            [1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)],
            [2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)],
            [2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)],
        ]
    )
    t = np.array([0.1, -0.2, 0.3])
    # The second scan holds the points in its own frame: raw = R (p - t); aligned = R^T raw + t = p.
    raw = (p - t) @ R.T
    _ascii_ply(tmp_path / "s0.ply", p, n)
    _ascii_ply(tmp_path / "s1.ply", raw, n @ R.T)
    conf = tmp_path / "set.conf"
    conf.write_text(
        "camera 0 0 0 0 0 0 1\nbmesh s0.ply 0 0 0 0 0 0 1\n"
        f"bmesh s1.ply {t[0]} {t[1]} {t[2]} {float(qx)!r} {float(qy)!r} {float(qz)!r} {float(qw)!r}\n"
    )
    scan = load_scan(conf)
    assert len(scan) == 600
    np.testing.assert_allclose(scan.points[300:], scan.points[:300], atol=1e-6)
    np.testing.assert_allclose(scan.normals[300:], scan.normals[:300], atol=1e-5)
    assert str(conf) in scan.files and str(tmp_path / "s1.ply") in scan.files


def test_planar_scan_is_valid(tmp_path):
    g = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    f = tmp_path / "plane.xyz"
    f.write_text("\n".join(f"{x} {y} 0" for x, y in g))
    assert len(load_scan(f)) == 100


def test_file_filter_lists_every_extension():
    text = scan_file_filter()
    assert text.startswith("Scans (")
    for ext in SCAN_EXTENSIONS:
        assert f"*{ext}" in text.split(";;")[0]


# ----------------------------------------------------------------------------- broken input


def _broken_files(tmp_path):
    p, _, _ = _cloud(200)
    cases = {}
    cases["empty"] = (tmp_path / "empty.ply", b"", "empty file")
    good = tmp_path / "good.ply"
    from levelset_studio.core.surface.meshes.meshio import write_point_cloud

    write_point_cloud(p, good)
    data = good.read_bytes()
    cases["truncated"] = (tmp_path / "trunc.ply", data[: len(data) // 2], "truncated")
    ascii_ply = _ascii_ply(tmp_path / "full_ascii.ply", p).read_bytes()
    cases["truncated_ascii"] = (tmp_path / "trunc_ascii.ply", ascii_ply[: len(ascii_ply) // 2], "truncated")
    cases["garbage"] = (tmp_path / "garbage.ply", os.urandom(3000).replace(b"ply", b"xxx"), "not a PLY")
    cases["nan_only"] = (tmp_path / "nan.xyz", b"nan nan nan\n" * 50, "finite points")
    cases["too_few"] = (tmp_path / "few.xyz", b"0 0 0\n1 0 0\n0 1 0\n", "finite points")
    line = "\n".join(f"{t} {2 * t} {3 * t}" for t in range(100)).encode()
    cases["collinear"] = (tmp_path / "line.xyz", line, "one line")
    cases["unknown"] = (tmp_path / "scan.foo", b"0 0 0\n", "unsupported format")
    cases["binary_text"] = (tmp_path / "bin.xyz", b"\x00\x01\x02" * 100, "binary data")
    pcd = (
        b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 100\nHEIGHT 1\n"
        b"POINTS 100\nDATA binary\n" + b"\x00" * 600
    )
    cases["truncated_pcd"] = (tmp_path / "t.pcd", pcd, "truncated")
    cases["bad_conf"] = (tmp_path / "s.conf", b"bmesh missing.ply 0 0 0 0 0 0 1\n", "not found")
    cases["garbage_stl"] = (tmp_path / "g.stl", b"solid x\nfacet oops\n", "STL")
    for path, content, _ in cases.values():
        path.write_bytes(content)
    (tmp_path / "folder.ply").mkdir()
    cases["directory"] = (tmp_path / "folder.ply", None, "directory")
    cases["missing"] = (tmp_path / "nothere.ply", None, "no such file")
    return cases


def test_broken_inputs_raise_typed_one_line_errors(tmp_path):
    for name, (path, _, expect) in _broken_files(tmp_path).items():
        with pytest.raises(ScanError) as info:
            load_scan(path)
        msg = str(info.value)
        assert "\n" not in msg, name
        assert expect.lower() in msg.lower(), (name, msg)
        assert str(path) in msg, (name, msg)
    with pytest.raises(UnsupportedFormatError, match=r"supported: \.ply"):
        load_scan(tmp_path / "scan.foo")


def test_broken_inputs_cli_exit_2_one_line(tmp_path, capsys):
    for name, (path, _, _expect) in _broken_files(tmp_path).items():
        rc = main(["info", str(path)])
        err = capsys.readouterr().err.strip().splitlines()
        err = [e for e in err if "reading" not in e]  # the progress bar (disabled when not a tty)
        assert rc == 2, name
        assert len(err) == 1 and err[0].startswith("levelset: error: "), (name, err)
        assert "Traceback" not in err[0]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    p, _, _ = _cloud(50)
    f = _ascii_ply(tmp_path / "secret.ply", p)
    f.chmod(0)
    with pytest.raises(ScanError, match="permission"):
        load_scan(f)


# ----------------------------------------------------------------------------- real scans


def test_srb_anchor(shared_data):
    scan = load_scan(shared_data / "scans" / "srb" / "anchor.ply")
    assert len(scan) == 85_127 and scan.has_normals


def test_organized_stereo_pcd(shared_data):
    scan = load_scan(shared_data / "scans" / "pcl" / "table_scene_mug_stereo_textured.pcd")
    assert len(scan) == 209_280
    assert scan.dropped_nonfinite == 640 * 480 - 209_280
    assert scan.colors is not None


def test_bunny_conf_lies_on_the_reconstruction(shared_data):
    import open3d as o3d

    from levelset_studio.core.surface.meshes.meshio import read_mesh

    bunny = shared_data / "scans" / "stanford-bunny"
    scan = load_scan(bunny / "data" / "bun.conf")
    assert len(scan) == 362_272
    assert len(scan.files) == 11
    ref = read_mesh(bunny / "reconstruction" / "bun_zipper.ply")
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(ref.vertices.astype(np.float32)), o3d.core.Tensor(ref.faces.astype(np.uint32)))
    d = scene.compute_distance(o3d.core.Tensor(scan.points.astype(np.float32))).numpy()
    assert np.median(d) < 1e-3  # metres


def test_every_shared_scan_loads(shared_data):
    files = sorted(f for f in (shared_data / "scans").rglob("*") if f.suffix.lower() in SCAN_EXTENSIONS)
    assert len(files) >= 20
    for f in files:
        scan = load_scan(f)
        assert len(scan) >= 397, f
        assert np.isfinite(scan.points).all()
