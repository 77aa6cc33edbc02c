"""E57 and LAS/LAZ: files built here with laspy and pye57, read through the format registry.

Georeferenced LAS/LAZ round trips, E57 stations placed by their poses, noise classes and
invalid structured points counted, point budgets with chunked reading, and refusals of
broken files by the API (typed errors) and the CLI (exit 2, one line).
"""

from __future__ import annotations

import subprocess
import sys

import laspy
import numpy as np
import pye57
import pytest

from levelset_studio.core.cli import main
from levelset_studio.core.errors import Cancelled, ScanError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.surface.meshes.meshio import write_point_cloud
from levelset_studio.core.surface.scans.formats import SCAN_FORMATS, accepts_drop, format_for
from levelset_studio.core.surface.scans.scanio import ReadConfig, load_scan
from tests.conftest import ROOT

OFFSET = np.array([512_000.0, 5_400_000.0, 300.0])
SCALE = np.array([0.001, 0.001, 0.001])


def _sphere(n, seed=0, radius=20.0):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    return radius * p / np.linalg.norm(p, axis=1, keepdims=True)


def _las(path, n=5000, classes=None, point_format=7, version="1.4", wkt=None, seed=0):
    """A georeferenced LAS/LAZ: integer coordinates on a 1 mm grid near (512 km, 5400 km)."""
    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales, header.offsets = SCALE, OFFSET
    if wkt is not None:
        header.vlrs.append(laspy.vlrs.known.WktCoordinateSystemVlr(wkt))
    las = laspy.LasData(header)
    las.points = laspy.ScaleAwarePointRecord.zeros(n, header=header)
    ints = np.round(_sphere(n, seed) / SCALE).astype(np.int32)
    las.X, las.Y, las.Z = ints[:, 0], ints[:, 1], ints[:, 2]
    rng = np.random.default_rng(seed)
    las.intensity = rng.integers(0, 4000, n).astype(np.uint16)
    if classes is not None:
        las.classification = classes
    if "red" in set(header.point_format.dimension_names):
        las.red = las.green = las.blue = rng.integers(0, 65536, n).astype(np.uint16)
    las.write(str(path))
    return las


@pytest.mark.parametrize("ext", [".las", ".laz"])
def test_las_laz_georeferenced_round_trip_exact(tmp_path, ext):
    src = _las(tmp_path / f"geo{ext}")
    scan = load_scan(tmp_path / f"geo{ext}")
    expect = np.stack([np.asarray(src.x), np.asarray(src.y), np.asarray(src.z)], axis=1)
    assert scan.points.dtype == np.float64
    assert np.array_equal(scan.points, expect)  # integer * scale + offset, in float64, exactly
    assert scan.points[:, 1].min() > 5_399_000
    assert scan.intensity is not None and np.array_equal(scan.intensity, np.asarray(src.intensity, np.float32))
    assert scan.colors is not None and scan.classification is not None
    # Written back (the input's grid is kept): the same integers, so the same coordinates.
    out = tmp_path / f"back{ext}"
    write_point_cloud(
        scan.points,
        out,
        colors=scan.colors,
        intensity=scan.intensity,
        classification=scan.classification,
        grid=scan.grid,
    )
    back = laspy.read(str(out))
    assert np.array_equal(np.asarray(back.X), np.asarray(src.X))
    assert np.array_equal(np.asarray(back.Y), np.asarray(src.Y))
    assert np.array_equal(load_scan(out).points, expect)
    assert np.array_equal(np.asarray(back.intensity), np.asarray(src.intensity))


def test_las_1_2_point_format_3_reads(tmp_path):
    src = _las(tmp_path / "old.las", n=800, point_format=3, version="1.2")
    scan = load_scan(tmp_path / "old.las")
    assert len(scan) == 800 and np.array_equal(scan.points[:, 0], np.asarray(src.x))


def test_noise_classes_dropped_and_counted(tmp_path, capsys):
    n = 3000
    classes = np.full(n, 2, dtype=np.uint8)
    classes[:100] = 7
    classes[100:150] = 18
    _las(tmp_path / "noisy.las", n=n, classes=classes)
    scan = load_scan(tmp_path / "noisy.las")
    assert len(scan) == n - 150
    assert scan.read_counts["noise_class"] == 150 and scan.points_in_files == n
    assert not np.isin(scan.classification, (7, 18)).any()
    kept = load_scan(tmp_path / "noisy.las", config=ReadConfig(keep_noise=True))
    assert len(kept) == n and kept.read_counts["noise_class"] == 0
    assert main(["info", str(tmp_path / "noisy.las")]) == 0
    out = capsys.readouterr().out
    assert "noise classes" in out and "150" in out


def test_crs_reported_by_info(tmp_path, capsys):
    wkt = (
        'PROJCRS["ETRS89 / UTM zone 32N",BASEGEOGCRS["ETRS89",DATUM["European Terrestrial Reference '
        'System 1989",ELLIPSOID["GRS 1980",6378137,298.257222101]]],CONVERSION["UTM zone 32N",'
        'METHOD["Transverse Mercator"]],CS[Cartesian,2],ID["EPSG",25832]]'
    )
    _las(tmp_path / "crs.las", n=500, wkt=wkt)
    assert load_scan(tmp_path / "crs.las").crs == wkt
    assert main(["info", str(tmp_path / "crs.las")]) == 0
    out = capsys.readouterr().out
    assert "ETRS89 / UTM zone 32N (EPSG:25832)" in out
    assert main(["info", "--json", str(tmp_path / "crs.las")]) == 0
    assert "EPSG" in capsys.readouterr().out


def test_two_million_point_laz_in_chunks_under_a_budget(tmp_path):
    n = 2_000_000
    header = laspy.LasHeader(point_format=6, version="1.4")
    header.scales, header.offsets = SCALE, OFFSET
    las = laspy.LasData(header)
    las.points = laspy.ScaleAwarePointRecord.zeros(n, header=header)
    ints = np.round(_sphere(n, 3) / SCALE).astype(np.int32)
    las.X, las.Y, las.Z = ints.T
    las.write(str(tmp_path / "big.laz"))
    ticks = []
    scan = load_scan(
        tmp_path / "big.laz", progress=ticks.append, config=ReadConfig(max_points=150_000, chunk_points=200_000)
    )
    assert len(scan) == 150_000
    assert scan.decimated == n - 150_000 and scan.points_in_files == n
    assert len(ticks) >= 10 and ticks == sorted(ticks) and ticks[-1] == 1.0  # one tick per chunk
    radius = np.linalg.norm(scan.points - OFFSET, axis=1)
    assert np.allclose(radius, 20.0, atol=2e-3)  # still the sphere, in georeferenced coordinates
    # The kept points spread over the whole file (every chunk contributes).
    assert scan.points[:, 2].min() < OFFSET[2] - 19 and scan.points[:, 2].max() > OFFSET[2] + 19


def test_cancel_stops_a_chunked_read(tmp_path):
    _las(tmp_path / "c.las", n=20_000)
    token = CancelToken()

    def progress(fraction):
        if fraction > 0.2:
            token.cancel()

    with pytest.raises(Cancelled):
        load_scan(tmp_path / "c.las", progress=progress, cancel=token, config=ReadConfig(chunk_points=2000))


# ----------------------------------------------------------------------------- E57


def _quat(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return np.array([np.cos(angle / 2), *(np.sin(angle / 2) * axis)])  # w, x, y, z


def _rot(q):
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _e57_two_stations(path, invalid_every=0):
    """One sphere (radius 2 at C) seen from two stations with known poses; each station
    stores its half in its own frame (local = R^T (p - t))."""
    centre = np.array([10.0, -4.0, 1.5])
    world = centre + _sphere(4000, 7, radius=2.0)
    poses = [(_quat([0, 0, 1], 0.7), np.array([6.0, -4.0, 1.0])), (_quat([1, 1, 0], -1.1), np.array([14.0, -3.0, 2.0]))]
    halves = [world[world[:, 0] < centre[0]], world[world[:, 0] >= centre[0]]]
    e57 = pye57.E57(str(path), mode="w")
    for (q, t), part in zip(poses, halves):
        local = (part - t) @ _rot(q)  # R^T (p - t) for row vectors
        data = {"cartesianX": local[:, 0], "cartesianY": local[:, 1], "cartesianZ": local[:, 2]}
        data["intensity"] = np.linspace(0, 1, len(part)).astype(np.float32)
        data["colorRed"] = data["colorGreen"] = data["colorBlue"] = np.full(len(part), 200, np.uint8)
        if invalid_every:
            state = np.zeros(len(part), np.int8)
            state[::invalid_every] = 2
            data["cartesianInvalidState"] = state
            data["rowIndex"] = (np.arange(len(part)) // 50).astype(np.uint16)
            data["columnIndex"] = (np.arange(len(part)) % 50).astype(np.uint16)
        e57.write_scan_raw(data, rotation=q, translation=t)
    e57.close()
    return world, halves, poses, centre


def test_e57_two_stations_merge_onto_the_object(tmp_path):
    world, halves, poses, centre = _e57_two_stations(tmp_path / "two.e57")
    scan = load_scan(tmp_path / "two.e57")
    assert len(scan) == len(world)
    expect = np.concatenate(halves)
    rel = np.abs(scan.points - expect).max() / scan.diagonal
    assert rel < 1e-6, rel
    assert np.allclose(np.linalg.norm(scan.points - centre, axis=1), 2.0, atol=1e-5)
    assert scan.stations is not None and np.allclose(scan.stations, [t for _, t in poses])
    assert scan.intensity is not None and scan.colors is not None
    assert np.allclose(scan.colors, 200 / 255)
    one = load_scan(tmp_path / "two.e57", config=ReadConfig(scan_index=1))
    assert len(one) == len(halves[1]) and np.allclose(one.stations, [poses[1][1]])
    with pytest.raises(ScanError, match="out of range"):
        load_scan(tmp_path / "two.e57", config=ReadConfig(scan_index=2))


def test_e57_structured_invalid_points_dropped_and_counted(tmp_path, capsys):
    _, halves, _, _ = _e57_two_stations(tmp_path / "grid.e57", invalid_every=10)
    n_bad = sum(len(range(0, len(h), 10)) for h in halves)
    scan = load_scan(tmp_path / "grid.e57")
    assert scan.read_counts["invalid_state"] == n_bad
    assert len(scan) == sum(len(h) for h in halves) - n_bad
    assert main(["info", str(tmp_path / "grid.e57")]) == 0
    assert f"{n_bad:,}" in capsys.readouterr().out


def test_clean_writes_e57_las_laz(tmp_path, capsys):
    src = tmp_path / "in.las"
    _las(src, n=4000)
    for ext in (".e57", ".las", ".laz"):
        out = tmp_path / f"clean{ext}"
        rc = main(["clean", str(src), "-o", str(out), "--voxel-size", "0", "--statistical-neighbors", "0"])
        assert rc == 0, ext
        assert f"wrote {out}" in capsys.readouterr().out
        back = load_scan(out)
        assert len(back) == 4000 and back.intensity is not None
        assert np.abs(back.points - load_scan(src).points).max() < 1e-4  # georeferenced, E57 float32 local
    assert laspy.read(str(tmp_path / "clean.las")).header.offsets[1] == OFFSET[1]


# ----------------------------------------------------------------------------- refusals


def _broken(tmp_path):
    good = tmp_path / "good.las"
    _las(good, n=2000)
    raw = good.read_bytes()
    cases = {}
    (tmp_path / "trunc.las").write_bytes(raw[: len(raw) // 2])
    cases["truncated LAS"] = (tmp_path / "trunc.las", "truncated")
    (tmp_path / "junk.las").write_bytes(b"not a las file at all" * 50)
    cases["corrupt LAS"] = (tmp_path / "junk.las", "LAS")
    _las(tmp_path / "zero.las", n=0)
    cases["zero points"] = (tmp_path / "zero.las", "zero points")
    _las(tmp_path / "good.laz", n=2000)
    lz = (tmp_path / "good.laz").read_bytes()
    (tmp_path / "trunc.laz").write_bytes(lz[: len(lz) * 2 // 3])
    cases["truncated LAZ"] = (tmp_path / "trunc.laz", "LA")
    _e57_two_stations(tmp_path / "good.e57")
    e = (tmp_path / "good.e57").read_bytes()
    (tmp_path / "trunc.e57").write_bytes(e[: len(e) // 2])
    cases["truncated E57"] = (tmp_path / "trunc.e57", "E57")
    (tmp_path / "junk.e57").write_bytes(b"\x00garbage" * 400)
    cases["corrupt E57"] = (tmp_path / "junk.e57", "E57")
    pye57.E57(str(tmp_path / "empty.e57"), mode="w").close()
    cases["no 3D scans"] = (tmp_path / "empty.e57", "no 3D scans")
    return cases


def test_broken_lidar_files_raise_typed_one_line_errors(tmp_path):
    for name, (path, expect) in _broken(tmp_path).items():
        with pytest.raises(ScanError) as info:
            load_scan(path)
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg, (name, msg)
        assert expect.lower() in msg.lower(), (name, msg)


def test_broken_lidar_files_cli_exit_2_one_line(tmp_path, capsys):
    for name, (path, _) in _broken(tmp_path).items():
        rc = main(["info", str(path)])
        err = [e for e in capsys.readouterr().err.strip().splitlines() if "reading" not in e]
        assert rc == 2, name
        assert len(err) == 1 and err[0].startswith("levelset: error: "), (name, err)


def test_laz_without_a_backend_names_the_package(tmp_path):
    _las(tmp_path / "x.laz", n=500)
    code = (
        "import sys; sys.modules['lazrs'] = None; sys.modules['laszip'] = None\n"
        "from levelset_studio.core.cli import main\n"
        f"sys.exit(main(['info', {str(tmp_path / 'x.laz')!r}]))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    err = [e for e in r.stderr.strip().splitlines() if not e.startswith("reading")]
    assert r.returncode == 2, r.stderr
    assert len(err) == 1 and "laspy[lazrs]" in err[0] and "x.laz" in err[0], err


# ----------------------------------------------------------------------------- registry, LOD


def test_registry_drives_extensions_drop_and_info_formats(capsys):
    for spec in SCAN_FORMATS:
        for ext in spec.extensions:
            assert format_for(f"a{ext.upper()}") is spec
            assert accepts_drop(f"/x/scan{ext}")
    assert not accepts_drop("/x/notes.docx")
    assert main(["info", "--formats"]) == 0
    out = capsys.readouterr().out
    for spec in SCAN_FORMATS:
        assert spec.name in out and all(e in out for e in spec.extensions)
    assert format_for("a.laz").has("crs") and format_for("a.e57").has("stations")


def test_lod_subsample_keeps_attributes_and_transform(tmp_path):
    _las(tmp_path / "l.las", n=30_000)
    scan = load_scan(tmp_path / "l.las")
    lod = scan.lod(5000)
    assert len(lod) == 5000 and lod.transform is scan.transform
    idx = scan.lod_indices(5000)
    assert np.array_equal(lod.points, scan.points[idx]) and np.all(np.diff(idx) > 0)
    assert np.array_equal(lod.intensity, scan.intensity[idx])
    assert scan.lod(10**6) is scan
    assert np.array_equal(scan.lod_indices(5000), idx)  # the same scan, the same subsample


def test_readme_and_docs_tables_come_from_the_registry():
    from levelset_studio.core.cli.docs_command import formats_page, formats_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert formats_table() in readme
    assert (ROOT / "docs" / "formats.md").read_text(encoding="utf-8") == formats_page()
    for spec in SCAN_FORMATS:
        assert all(f"`{e}`" in formats_table() for e in spec.extensions)


def test_binary_ply_point_cloud_read_in_chunks_under_a_budget(tmp_path):
    pts = OFFSET + _sphere(50_000, 4)
    normals = (pts - OFFSET) / 20.0
    write_point_cloud(pts, tmp_path / "b.ply", normals, np.full((len(pts), 3), 0.5))
    full = load_scan(tmp_path / "b.ply", config=ReadConfig(chunk_points=7000))
    assert np.array_equal(full.points, pts) and np.allclose(full.normals, normals, atol=1e-6)
    ticks = []
    part = load_scan(tmp_path / "b.ply", progress=ticks.append, config=ReadConfig(max_points=5000, chunk_points=7000))
    assert len(part) == 5000 and part.decimated == 45_000 and len(ticks) >= 8
    assert np.isin(part.points[:, 0], pts[:, 0]).all() and part.colors is not None


def test_load_scan_job_runs_under_the_job_protocol(tmp_path):
    from levelset_studio.core.jobs import run_job
    from levelset_studio.core.surface.scans.scanio import load_scan_job

    _las(tmp_path / "j.las", n=3000)
    scan = run_job(load_scan_job(tmp_path / "j.las", ReadConfig(max_points=1000)))
    assert len(scan) == 1000 and scan.decimated == 2000
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_job(load_scan_job(tmp_path / "j.las"), cancel=token)


def test_normals_face_the_e57_scanners(tmp_path):
    from levelset_studio.core.surface.scans.cleaning import estimate_normals
    from levelset_studio.core.surface.scans.scan import Scan

    _, _, _, centre = _e57_two_stations(tmp_path / "two.e57")
    scan = load_scan(tmp_path / "two.e57")
    nearest = np.argmin(np.linalg.norm(scan.points[:, None] - scan.stations[None], axis=2), axis=1)
    to_scanner = scan.stations[nearest] - scan.points
    normals = estimate_normals(scan, orient="scanner").normals
    assert (np.einsum("ij,ij->i", normals, to_scanner) > 0).all()
    # Where a scanner looks at the outside of the sphere, its normals point outward.
    outward = scan.points - centre
    seen = np.einsum("ij,ij->i", outward, to_scanner) > 0
    assert seen.mean() > 0.5
    assert (np.einsum("ij,ij->i", normals[seen], outward[seen]) > 0).mean() > 0.99
    with pytest.raises(ScanError, match="scanner positions"):
        estimate_normals(Scan(points=scan.points), orient="scanner")


def test_batch_reads_laz_under_the_point_budget(tmp_path, capsys):
    _las(tmp_path / "site.laz", n=20_000)
    out = str(tmp_path / "out")
    rc = main(
        ["batch", str(tmp_path / "site.laz"), "-o", out, "--method", "poisson", "--max-points", "3000", "--quiet"]
    )
    assert rc == 0
    import json

    rows = json.loads((tmp_path / "out" / "report.json").read_text())
    rows = rows["rows"] if isinstance(rows, dict) else rows
    assert rows[0]["status"] == "ok" and rows[0]["points"] == 3000
