"""Reading scans: one file, several files merged, or a Stanford ``.conf`` scan set.

Every reader returns points in float64 in the file's own coordinates (doubles stay
exact, so georeferenced offsets of millions of metres survive), optional unit normals
and colours, and is vectorized (no Python loop per point). Non-finite points are
dropped and counted; the result is one :class:`~core.surface.scans.scan.Scan`.

Formats
- PLY, ASCII and binary, with or without normals/colours, with extra elements such
  as the ``range_grid`` of the Stanford range scans. Binary files go through plyfile;
  ASCII files are parsed here with numpy (plyfile's ASCII path is ~100x slower).
- PCD (ascii, binary, binary_compressed), organized clouds with NaN slots included.
  ascii and binary are parsed here (exact doubles, every NaN counted);
  binary_compressed (LZF) is decoded by open3d.
- XYZ / PTS / TXT / CSV: whitespace, commas or semicolons, CRLF, header lines
  (a PTS count line, column names), optional normals, colours and extra columns.
- Meshes as input (OBJ, STL, OFF, PLY with faces): the vertices that faces use plus
  area-weighted samples on the faces, with the faces' normals; ``Scan.from_mesh`` is set.
- ``.conf`` (Stanford): ``bmesh FILE tx ty tz qx qy qz qw`` lines; each scan is placed
  as p' = R(q)^T p + t, R the rotation of the unit quaternion (w = qw).

Refused with a one-line :class:`~core.errors.ScanError`: missing, unreadable or empty
files, directories, truncated or corrupt data, unknown formats
(:class:`~core.errors.UnsupportedFormatError`, listing the supported ones), fewer than
:data:`MIN_POINTS` finite points, and clouds whose points all lie on one line.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from levelset_studio.core.errors import ScanError, UnsupportedFormatError
from levelset_studio.core.surface.scans.scan import Scan

POINT_CLOUD_EXTENSIONS: tuple[str, ...] = (".ply", ".pcd", ".xyz", ".pts", ".txt", ".csv")
MESH_INPUT_EXTENSIONS: tuple[str, ...] = (".obj", ".stl", ".off")
SCAN_SET_EXTENSIONS: tuple[str, ...] = (".conf",)
SCAN_EXTENSIONS: tuple[str, ...] = POINT_CLOUD_EXTENSIONS + MESH_INPUT_EXTENSIONS + SCAN_SET_EXTENSIONS

MIN_POINTS = 10
"""Fewer finite points than this cannot define a surface."""

MESH_SAMPLES_MIN = 20_000
MESH_SAMPLES_MAX = 1_000_000
"""Area-weighted samples taken on an input mesh: as many as it has vertices, within these bounds."""


def scan_file_filter() -> str:
    """A Qt-style file-dialog filter for every readable scan (plain string, no Qt)."""

    def globs(exts: Sequence[str]) -> str:
        return " ".join("*" + e for e in exts)

    return ";;".join(
        [
            f"Scans ({globs(SCAN_EXTENSIONS)})",
            f"Point clouds ({globs(POINT_CLOUD_EXTENSIONS)})",
            f"Meshes ({globs((*MESH_INPUT_EXTENSIONS, '.ply'))})",
            f"Scan sets ({globs(SCAN_SET_EXTENSIONS)})",
            "All files (*)",
        ]
    )


def supported_text() -> str:
    return ", ".join(SCAN_EXTENSIONS)


@dataclass
class _Cloud:
    """What one file holds before merging (points may still be non-finite)."""

    points: np.ndarray  # (N, 3) float64
    normals: np.ndarray | None = None  # (N, 3)
    colors: np.ndarray | None = None  # (N, 3) in [0, 1]
    faces: np.ndarray | None = None  # (F, 3) int64 when the file is a mesh


# ----------------------------------------------------------------------------- entry


def load_scan(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    progress: Callable[[float], None] | None = None,
) -> Scan:
    """Read one or several scan files (merged) or a ``.conf`` scan set into one Scan.

    ``progress`` is called with the fraction of files read (0..1).
    """
    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files_in = [Path(p) for p in given]
    if not files_in:
        raise ScanError("no scan files given")

    # Expand scan sets into (file, rotation, translation) placements.
    jobs: list[tuple[Path, np.ndarray | None, np.ndarray | None]] = []
    for p in files_in:
        _check_file(p)
        if p.suffix.lower() == ".conf":
            jobs.extend(_read_conf(p))
        else:
            jobs.append((p, None, None))

    clouds: list[_Cloud] = []
    from_mesh = False
    for i, (path, rot, trans) in enumerate(jobs):
        if rot is not None:
            _check_file(path)
        cloud = _read_file(path)
        if cloud.faces is not None:
            cloud = _mesh_to_cloud(cloud, path)
            from_mesh = True
        if rot is not None:
            # p' = R^T p + t  (row vectors: p @ R + t); normals rotate the same way.
            cloud.points = cloud.points @ rot + trans
            if cloud.normals is not None:
                cloud.normals = cloud.normals @ rot
        clouds.append(cloud)
        if progress is not None:
            progress((i + 1) / len(jobs))

    points = np.concatenate([c.points for c in clouds]) if len(clouds) > 1 else clouds[0].points
    normals = _merge_optional([c.normals for c in clouds])
    colors = _merge_optional([c.colors for c in clouds])

    finite = np.isfinite(points).all(axis=1)
    dropped = int(len(points) - finite.sum())
    if dropped:
        points = points[finite]
        normals = None if normals is None else normals[finite]
        colors = None if colors is None else colors[finite]
    where = files_in[0] if len(files_in) == 1 else None
    _check_geometry(points, dropped, where)
    normals = _clean_normals(normals)
    if colors is not None:
        colors = np.clip(np.nan_to_num(colors.astype(np.float32), nan=0.0), 0.0, 1.0)
    files = tuple(str(p) for p in files_in)
    if any(p.suffix.lower() == ".conf" for p in files_in):
        files = tuple(dict.fromkeys(files + tuple(str(j[0]) for j in jobs)))
    return Scan(
        points=points, normals=normals, colors=colors, files=files, dropped_nonfinite=dropped, from_mesh=from_mesh
    )


def _read_file(path: str | os.PathLike) -> _Cloud:
    """Read one point-cloud or mesh file (no finiteness filtering, no merging)."""
    path = Path(path)
    _check_file(path)
    ext = path.suffix.lower()
    data = _read_bytes(path)
    try:
        if ext == ".ply":
            cloud = _read_ply(data, path)
        elif ext == ".pcd":
            cloud = _read_pcd(data, path)
        elif ext in (".xyz", ".pts", ".txt", ".csv"):
            cloud = _read_text(data, path)
        elif ext in MESH_INPUT_EXTENSIONS:
            cloud = _read_trimesh(data, path, ext)
        elif ext == ".conf":
            raise ScanError("a .conf scan set cannot be listed inside another scan set", path)
        else:
            raise UnsupportedFormatError(
                f"unsupported format '{ext or path.name}' (supported: {supported_text()})", path
            )
    except ScanError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # a parser tripped on corrupt data: name the file, one line
        raise ScanError(f"corrupt {ext.lstrip('.').upper()} file ({_one_line(exc)})", path) from exc
    if len(cloud.points) == 0:
        raise ScanError("the file holds no points", path)
    return cloud


# ----------------------------------------------------------------------------- checks


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else type(exc).__name__
    return msg[:200]


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise ScanError("is a directory, not a scan file", path)
    if not path.exists():
        raise ScanError("no such file", path)
    ext = path.suffix.lower()
    if ext not in SCAN_EXTENSIONS:
        raise UnsupportedFormatError(f"unsupported format '{ext or path.name}' (supported: {supported_text()})", path)
    if not os.access(path, os.R_OK):
        raise ScanError("cannot read the file (permission denied)", path)
    if path.stat().st_size == 0:
        raise ScanError("empty file", path)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise ScanError("cannot read the file (permission denied)", path) from None
    except OSError as exc:
        raise ScanError(f"cannot read the file ({exc.strerror or exc})", path) from None


def _check_geometry(points: np.ndarray, dropped: int, where: Path | None) -> None:
    n = len(points)
    if n < MIN_POINTS:
        extra = f" ({dropped} non-finite dropped)" if dropped else ""
        raise ScanError(f"only {n} finite points{extra}; at least {MIN_POINTS} are needed to define a surface", where)
    centered = points - points.mean(axis=0)
    cov = centered.T @ centered / n
    ev = np.sort(np.linalg.eigvalsh(cov))[::-1]
    if ev[0] <= 0:
        raise ScanError(f"all {n} points coincide; no surface to reconstruct", where)
    if ev[1] <= 1e-12 * ev[0]:
        raise ScanError(f"all {n} points lie on one line; no surface to reconstruct", where)


def _clean_normals(normals: np.ndarray | None) -> np.ndarray | None:
    """Unit float32 normals, or None when any is missing (a scan has all or none)."""
    if normals is None:
        return None
    n = normals.astype(np.float64)
    length = np.linalg.norm(n, axis=1)
    if not np.all(np.isfinite(length)) or np.any(length < 1e-12):
        return None
    return (n / length[:, None]).astype(np.float32)


def _merge_optional(parts: list[np.ndarray | None]) -> np.ndarray | None:
    """Concatenate per-file attributes; None unless every file has them."""
    present = [p for p in parts if p is not None]
    if len(present) < len(parts):
        return None
    return np.concatenate(present) if len(present) > 1 else present[0]


# ----------------------------------------------------------------------------- .conf


def _quaternion_matrix(qx: float, qy: float, qz: float, qw: float) -> np.ndarray:
    q = np.array([qx, qy, qz, qw], dtype=np.float64)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-12:
        raise ValueError("zero quaternion")
    x, y, z, w = q / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _read_conf(path: Path) -> list[tuple[Path, np.ndarray, np.ndarray]]:
    """The placements of a Stanford scan set: ``bmesh FILE tx ty tz qx qy qz qw``."""
    try:
        text = _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ScanError("not a text .conf scan set (binary data)", path) from None
    jobs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#") or tokens[0] == "camera":
            continue
        if tokens[0] != "bmesh":
            raise ScanError(f"line {lineno}: expected 'bmesh FILE tx ty tz qx qy qz qw', got '{tokens[0]}'", path)
        if len(tokens) != 9:
            raise ScanError(
                f"line {lineno}: expected 'bmesh FILE tx ty tz qx qy qz qw' (9 fields, got {len(tokens)})", path
            )
        try:
            vals = [float(t) for t in tokens[2:]]
            rot = _quaternion_matrix(*vals[3:])
        except ValueError:
            raise ScanError(f"line {lineno}: the pose must be 7 numbers (tx ty tz qx qy qz qw)", path) from None
        if not np.all(np.isfinite(vals)):
            raise ScanError(f"line {lineno}: the pose holds a non-finite number", path)
        target = path.parent / tokens[1]
        if not target.exists():
            raise ScanError(f"line {lineno}: scan '{tokens[1]}' not found next to the .conf", path)
        jobs.append((target, rot, np.array(vals[:3])))
    if not jobs:
        raise ScanError("no 'bmesh' lines: the scan set places no scans", path)
    return jobs


# ----------------------------------------------------------------------------- meshes


def _mesh_to_cloud(cloud: _Cloud, path: Path) -> _Cloud:
    """The mesh's vertices plus area-weighted samples on its faces, with face normals."""
    v = cloud.points
    f = cloud.faces
    assert f is not None  # only meshes come here
    finite_v = np.isfinite(v).all(axis=1)
    f = f[finite_v[f].all(axis=1)]
    tri = v[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.linalg.norm(cross, axis=1)
    ok = area2 > 0
    if not np.any(ok):
        return _Cloud(points=v, colors=cloud.colors)  # degenerate faces: a point cloud
    tri, cross, area2 = tri[ok], cross[ok], area2[ok]
    face_n = cross / area2[:, None]
    # Vertex normals: area-weighted average of adjacent face normals.
    fk = f[ok]
    corner = fk.ravel()
    per_corner = np.repeat(cross, 3, axis=0)
    vn = np.stack([np.bincount(corner, weights=per_corner[:, c], minlength=len(v)) for c in range(3)], axis=1)
    n_samples = int(np.clip(len(v), MESH_SAMPLES_MIN, MESH_SAMPLES_MAX))
    rng = np.random.default_rng(0)  # deterministic: the same file gives the same scan
    idx = rng.choice(len(tri), size=n_samples, p=area2 / area2.sum())
    a, b = rng.random(n_samples), rng.random(n_samples)
    flip = a + b > 1
    a[flip], b[flip] = 1 - a[flip], 1 - b[flip]
    t = tri[idx]
    samples = t[:, 0] + a[:, None] * (t[:, 1] - t[:, 0]) + b[:, None] * (t[:, 2] - t[:, 0])
    # Vertices no face uses are not on the surface (and have no normal): leave them out.
    used = np.zeros(len(v), dtype=bool)
    used[corner] = True
    normals = np.concatenate([vn[used], face_n[idx]])
    colors = None
    if cloud.colors is not None:
        colors = np.concatenate([cloud.colors[used], cloud.colors[fk[idx, 0]]])
    return _Cloud(points=np.concatenate([v[used], samples]), normals=normals, colors=colors)


def _read_trimesh(data: bytes, path: Path, ext: str) -> _Cloud:
    import trimesh

    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=ext.lstrip("."), process=ext == ".stl", force="mesh")
    except Exception as exc:  # noqa: BLE001 - turned into a typed error
        raise ScanError(f"corrupt or unreadable {ext.lstrip('.').upper()} file ({_one_line(exc)})", path) from None
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    if len(vertices) == 0:
        raise ScanError(f"the {ext.lstrip('.').upper()} file holds no vertices", path)
    return _Cloud(points=vertices, faces=faces if len(faces) else None)


# ----------------------------------------------------------------------------- PLY

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


@dataclass
class _PlyElement:
    name: str
    count: int
    props: list[tuple[str, str, str | None]]  # (name, value type, list-count type or None)

    @property
    def has_lists(self) -> bool:
        return any(p[2] is not None for p in self.props)


def _parse_ply_header(data: bytes, path: Path) -> tuple[str, list[_PlyElement], int]:
    """(format, elements, offset of the body)."""
    if not data.startswith(b"ply"):
        raise UnsupportedFormatError("not a PLY file (it does not start with 'ply')", path)
    m = re.search(rb"end_header[ \t]*\r?\n", data[: 1 << 20])
    if m is None:
        raise ScanError("corrupt PLY file: no 'end_header' line (truncated or not a PLY file)", path)
    try:
        header = data[: m.start()].decode("ascii")
    except UnicodeDecodeError:
        raise ScanError("corrupt PLY file: non-ASCII bytes in the header", path) from None
    fmt = None
    elements: list[_PlyElement] = []
    for lineno, line in enumerate(header.splitlines(), 1):
        t = line.split()
        if not t or t[0] in ("ply", "comment", "obj_info"):
            continue
        try:
            if t[0] == "format":
                fmt = t[1]
            elif t[0] == "element":
                elements.append(_PlyElement(t[1], int(t[2]), []))
            elif t[0] == "property":
                if t[1] == "list":
                    elements[-1].props.append((t[4], _PLY_TYPES[t[3]], _PLY_TYPES[t[2]]))
                else:
                    elements[-1].props.append((t[2], _PLY_TYPES[t[1]], None))
            else:
                raise ValueError(t[0])
        except (IndexError, KeyError, ValueError):
            raise ScanError(f"corrupt PLY header, line {lineno}: '{line.strip()[:60]}'", path) from None
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ScanError(f"corrupt PLY header: unknown format '{fmt}'", path)
    for e in elements:
        if e.count < 0:
            raise ScanError(f"corrupt PLY header: element '{e.name}' has a negative count", path)
    return fmt, elements, m.end()


def _read_ply(data: bytes, path: Path) -> _Cloud:
    fmt, elements, body = _parse_ply_header(data, path)
    names = [e.name for e in elements]
    if "vertex" not in names:
        raise ScanError("the PLY file has no 'vertex' element", path)
    need_faces = "face" in names and elements[names.index("face")].count > 0
    if fmt == "ascii":
        tables = _read_ply_ascii(data[body:], elements, need_faces, path)
    else:
        tables = _read_ply_binary(data, fmt, elements, body, path, need_faces)
    vertex = tables["vertex"]
    fields = vertex.dtype.names or ()
    if not {"x", "y", "z"} <= set(fields):
        raise ScanError("the PLY vertex element has no x, y, z properties", path)
    cloud = _Cloud(points=_stack(vertex, ("x", "y", "z")))
    for triple in (("nx", "ny", "nz"), ("normal_x", "normal_y", "normal_z")):
        if set(triple) <= set(fields):
            cloud.normals = _stack(vertex, triple)
            break
    for triple in (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue")):
        if set(triple) <= set(fields):
            cloud.colors = _colors01(_stack(vertex, triple), vertex.dtype[triple[0]])
            break
    faces = tables.get("face")
    if faces is not None and len(faces):
        if faces.min() < 0 or faces.max() >= len(cloud.points):
            raise ScanError("corrupt PLY file: a face refers to a vertex that does not exist", path)
        cloud.faces = faces
    return cloud


def _stack(table: np.ndarray, names: Sequence[str]) -> np.ndarray:
    return np.stack([np.asarray(table[n], dtype=np.float64) for n in names], axis=1)


def _colors01(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        top = 65535.0 if np.dtype(dtype).itemsize >= 2 and values.max(initial=0) > 255 else 255.0
        return (values / top).astype(np.float32)
    return (
        np.clip(values, 0.0, 1.0).astype(np.float32)
        if values.max(initial=0) <= 1.0
        else (np.clip(values, 0, 255) / 255.0).astype(np.float32)
    )


def _read_ply_binary(
    data: bytes, fmt: str, elements: list[_PlyElement], body: int, path: Path, need_faces: bool
) -> dict[str, np.ndarray]:
    """Scalar elements are read in place with numpy; faces (list properties) by plyfile."""
    order = "<" if fmt == "binary_little_endian" else ">"
    out: dict[str, np.ndarray] = {}
    offset = body
    for e in elements:
        if e.has_lists:
            break  # sizes of what follows are unknown without reading the lists
        dtype = np.dtype([(n, order + t) for n, t, _ in e.props])
        size = e.count * dtype.itemsize
        if e.name == "vertex":
            if len(data) < offset + size:
                raise ScanError(
                    f"truncated binary PLY file: the vertex data needs {size} bytes, "
                    f"{max(len(data) - offset, 0)} are there",
                    path,
                )
            out["vertex"] = np.frombuffer(data, dtype=dtype, count=e.count, offset=offset)
            break
        offset += size
    if "vertex" in out and not need_faces:
        return out
    if "vertex" in out:
        faces = _binary_uniform_faces(data, order, elements, offset + len(out["vertex"]) * out["vertex"].dtype.itemsize)
        if faces is not None:
            out["face"] = faces
            return out
    import plyfile

    try:
        ply = plyfile.PlyData.read(io.BytesIO(data))
        vertex = out.get("vertex")
        out["vertex"] = ply["vertex"].data if vertex is None else vertex
        if need_faces:
            fdata = ply["face"].data
    except (plyfile.PlyParseError, ValueError, EOFError, KeyError) as exc:
        msg = _one_line(exc)
        if "end-of-file" in msg.lower() or "early" in msg.lower():
            raise ScanError(f"truncated binary PLY file ({msg})", path) from None
        raise ScanError(f"corrupt binary PLY file ({msg})", path) from None
    if need_faces:
        names = fdata.dtype.names or ()
        key = "vertex_indices" if "vertex_indices" in names else ("vertex_index" if "vertex_index" in names else None)
        if key is None:
            raise ScanError("the PLY face element has no vertex_indices list", path)
        out["face"] = _triangulate(list(fdata[key]))
    return out


def _binary_uniform_faces(data: bytes, order: str, elements: list[_PlyElement], offset: int) -> np.ndarray | None:
    """Fast path: the face element right after the vertices, every face with the same corner count.

    Returns None when that does not hold (plyfile's general reader then takes over).
    """
    names = [e.name for e in elements]
    k = names.index("vertex") + 1
    if k >= len(names) or names[k] != "face":
        return None
    e = elements[k]
    lists = [p for p in e.props if p[2] is not None]
    if len(lists) != 1 or lists[0][0] not in ("vertex_indices", "vertex_index") or e.count == 0:
        return None
    count_type = lists[0][2]
    assert count_type is not None  # a list property
    count_t = np.dtype(order + count_type)
    if offset + count_t.itemsize > len(data):
        return None
    corners = int(np.frombuffer(data, dtype=count_t, count=1, offset=offset)[0])
    if corners < 3:
        return None
    fields: list[tuple[str, str] | tuple[str, str, tuple[int]]] = []
    for n, t, ct in e.props:
        if ct is None:
            fields.append((n, order + t))
        else:
            fields += [("_count", order + ct), ("_idx", order + t, (corners,))]
    dtype = np.dtype(fields)
    if offset + e.count * dtype.itemsize > len(data):
        return None
    table = np.frombuffer(data, dtype=dtype, count=e.count, offset=offset)
    if not np.all(table["_count"] == corners):
        return None
    idx = table["_idx"].astype(np.int64)
    if corners == 3:
        return idx
    fan = [np.stack([idx[:, 0], idx[:, j], idx[:, j + 1]], axis=1) for j in range(1, corners - 1)]
    return np.concatenate(fan)


def _triangulate(polys: list[np.ndarray]) -> np.ndarray:
    """Fan-triangulate polygons; all-triangle lists take the vectorized path."""
    if not polys:
        return np.zeros((0, 3), dtype=np.int64)
    lengths = np.fromiter((len(p) for p in polys), dtype=np.int64, count=len(polys))
    if np.all(lengths == 3):
        return np.asarray(np.stack(polys), dtype=np.int64)
    tris = []
    for p in polys:  # general polygons are rare; per-face loop is acceptable here
        p = np.asarray(p, dtype=np.int64)
        for k in range(1, len(p) - 1):
            tris.append((p[0], p[k], p[k + 1]))
    return np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def _split_lines(body: bytes, count: int, path: Path, what: str) -> tuple[list[bytes], bytes]:
    parts = body.split(b"\n", count)
    if len(parts) < count or (len(parts) == count and count and not parts[-1].strip()):
        raise ScanError(f"truncated ASCII PLY file: element '{what}' expects {count} lines", path)
    if len(parts) == count:
        return parts, b""
    return parts[:count], parts[count]


def _read_ply_ascii(body: bytes, elements: list[_PlyElement], need_faces: bool, path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for e in elements:
        wanted = e.name == "vertex" or (e.name == "face" and need_faces)
        if not wanted:
            if "vertex" in out and (not need_faces or "face" in out):
                break  # the rest (e.g. range_grid) is not needed
            _, body = _split_lines(body, e.count, path, e.name)
            continue
        lines, body = _split_lines(body, e.count, path, e.name)
        if e.name == "vertex":
            if e.has_lists:
                raise ScanError("ASCII PLY vertex element with list properties is not supported", path)
            table = _numeric_lines(lines, len(e.props), path, "vertex")
            vertex = np.zeros(len(table), dtype=[(n, t) for n, t, _ in e.props])
            for k, (n, t, _) in enumerate(e.props):
                col = table[:, k]
                vertex[n] = col if t.startswith("f") else np.nan_to_num(col)
            out["vertex"] = vertex
        else:
            out["face"] = _ascii_faces(lines, e, path)
    return out


def _numeric_lines(lines: list[bytes], ncols: int, path: Path, what: str) -> np.ndarray:
    if not lines:
        return np.zeros((0, ncols))
    try:
        table = np.loadtxt([ln.decode("ascii") for ln in lines], dtype=np.float64, ndmin=2)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScanError(f"corrupt ASCII PLY {what} data ({_one_line(exc)})", path) from None
    if table.shape[1] != ncols:
        raise ScanError(f"corrupt ASCII PLY {what} data: {table.shape[1]} values per line, expected {ncols}", path)
    return table


def _ascii_faces(lines: list[bytes], e: _PlyElement, path: Path) -> np.ndarray:
    if len(e.props) != 1 or e.props[0][2] is None:
        raise ScanError("ASCII PLY faces with properties besides the index list are not supported", path)
    text = [ln.decode("ascii") for ln in lines]
    try:
        table = np.loadtxt(text, dtype=np.int64, ndmin=2)  # all faces the same size
        if np.all(table[:, 0] == table.shape[1] - 1):
            return _triangulate(list(table[:, 1:])) if table.shape[1] != 4 else table[:, 1:].copy()
    except ValueError:
        pass
    polys = []
    for k, ln in enumerate(text):  # mixed polygon sizes: per-face parse
        vals = ln.split()
        try:
            n = int(vals[0])
            poly = np.array(vals[1 : 1 + n], dtype=np.int64)
        except (IndexError, ValueError):
            raise ScanError(f"corrupt ASCII PLY face {k}", path) from None
        if len(poly) != n:
            raise ScanError(f"corrupt ASCII PLY face {k}: expects {n} indices", path)
        polys.append(poly)
    return _triangulate(polys)


# ----------------------------------------------------------------------------- PCD

_PCD_TYPES = {
    ("F", 4): "f4",
    ("F", 8): "f8",
    ("I", 1): "i1",
    ("I", 2): "i2",
    ("I", 4): "i4",
    ("I", 8): "i8",
    ("U", 1): "u1",
    ("U", 2): "u2",
    ("U", 4): "u4",
    ("U", 8): "u8",
}


def _read_pcd(data: bytes, path: Path) -> _Cloud:
    header: dict[str, list[str]] = {}
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise ScanError("corrupt PCD file: no DATA line in the header (truncated or not a PCD file)", path)
        try:
            line = data[pos:nl].decode("ascii").strip()
        except UnicodeDecodeError:
            raise UnsupportedFormatError("not a PCD file (binary data where the header should be)", path) from None
        pos = nl + 1
        if not line or line.startswith("#"):
            continue
        key, *vals = line.split()
        header[key.upper()] = vals
        if key.upper() == "DATA":
            break
        if len(header) > 20:
            raise UnsupportedFormatError("not a PCD file (no DATA line in the header)", path)
    try:
        fields = header["FIELDS"]
        sizes = [int(s) for s in header["SIZE"]]
        types = header["TYPE"]
        counts = [int(c) for c in header.get("COUNT", ["1"] * len(fields))]
        width = int(header["WIDTH"][0])
        height = int(header.get("HEIGHT", ["1"])[0])
        npts = int(header.get("POINTS", [str(width * height)])[0])
        kind = header["DATA"][0].lower()
        dtype = np.dtype(
            [
                (f if f != "_" else f"_pad{i}", _PCD_TYPES[(t.upper(), s)], (c,) if c > 1 else ())
                for i, (f, s, t, c) in enumerate(zip(fields, sizes, types, counts))
            ]
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ScanError(f"corrupt PCD header ({_one_line(exc)})", path) from None
    if not (len(fields) == len(sizes) == len(types) == len(counts)):
        raise ScanError("corrupt PCD header: FIELDS, SIZE, TYPE and COUNT differ in length", path)
    if not {"x", "y", "z"} <= set(fields):
        raise ScanError("the PCD file has no x, y, z fields", path)
    if npts <= 0:
        raise ScanError("the PCD file holds no points", path)
    body = data[pos:]
    if kind == "ascii":
        lines = body.split(b"\n")
        lines = [ln for ln in lines if ln.strip()]
        if len(lines) < npts:
            raise ScanError(f"truncated PCD file: {len(lines)} of {npts} points", path)
        try:
            flat = np.loadtxt([ln.decode("ascii") for ln in lines[:npts]], dtype=np.float64, ndmin=2)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ScanError(f"corrupt ASCII PCD data ({_one_line(exc)})", path) from None
        if flat.shape[1] != sum(counts):
            raise ScanError(f"corrupt ASCII PCD data: {flat.shape[1]} values per point, expected {sum(counts)}", path)
        table = _unflatten(flat, dtype)
    elif kind == "binary":
        need = npts * dtype.itemsize
        if len(body) < need:
            raise ScanError(f"truncated binary PCD file: {len(body)} of {need} data bytes", path)
        table = np.frombuffer(body, dtype=dtype, count=npts)
    elif kind == "binary_compressed":
        return _read_pcd_compressed(path, body, npts)
    else:
        raise ScanError(f"unsupported PCD DATA kind '{kind}' (ascii, binary, binary_compressed)", path)
    cloud = _Cloud(points=_stack(table, ("x", "y", "z")))
    if {"normal_x", "normal_y", "normal_z"} <= set(fields):
        cloud.normals = _stack(table, ("normal_x", "normal_y", "normal_z"))
    for name in ("rgb", "rgba"):
        if name in fields:
            raw = np.asarray(table[name])
            if raw.dtype.kind == "f":
                raw = raw.astype(np.float32).view(np.uint32)
            raw = raw.astype(np.uint32)
            rgb = np.stack([(raw >> 16) & 255, (raw >> 8) & 255, raw & 255], axis=1)
            cloud.colors = (rgb / 255.0).astype(np.float32)
            break
    return cloud


def _unflatten(flat: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Column table (ascii PCD) -> structured array of ``dtype``."""
    out = np.zeros(len(flat), dtype=dtype)
    col = 0
    for name in dtype.names or ():
        shape = dtype[name].shape
        c = int(np.prod(shape)) if shape else 1
        vals = flat[:, col : col + c]
        base = dtype[name].base
        if base.kind in "ui":
            vals = np.nan_to_num(vals)
        out[name] = vals.reshape((len(flat), *shape)).astype(base) if shape else vals[:, 0].astype(base)
        col += c
    return out


def _read_pcd_compressed(path: Path, body: bytes, npts: int) -> _Cloud:
    """binary_compressed (LZF): open3d decodes it; we check the sizes first."""
    import open3d as o3d

    if len(body) < 8:
        raise ScanError("truncated binary_compressed PCD file (no size words)", path)
    compressed, _uncompressed = np.frombuffer(body[:8], dtype="<u4")
    if len(body) - 8 < int(compressed):
        raise ScanError(f"truncated binary_compressed PCD file: {len(body) - 8} of {int(compressed)} bytes", path)
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        pcd = o3d.io.read_point_cloud(path, format="pcd", remove_nan_points=False, remove_infinite_points=False)
    pts = np.asarray(pcd.points, dtype=np.float64)
    if len(pts) != npts:
        raise ScanError(f"corrupt binary_compressed PCD file: decoded {len(pts)} of {npts} points", path)
    cloud = _Cloud(points=pts.copy())
    if pcd.has_normals():
        cloud.normals = np.asarray(pcd.normals).copy()
    if pcd.has_colors():
        cloud.colors = np.asarray(pcd.colors, dtype=np.float32).copy()
    return cloud


# ----------------------------------------------------------------------------- text

_NAME_ALIASES = {
    "x": "x",
    "y": "y",
    "z": "z",
    "nx": "nx",
    "ny": "ny",
    "nz": "nz",
    "normal_x": "nx",
    "normal_y": "ny",
    "normal_z": "nz",
    "r": "r",
    "g": "g",
    "b": "b",
    "red": "r",
    "green": "g",
    "blue": "b",
}


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _read_text(data: bytes, path: Path) -> _Cloud:
    """XYZ / PTS / TXT / CSV: leading header lines skipped, columns guessed or named."""
    if b"\x00" in data[:4096]:
        raise ScanError("binary data in a text point file (expected numbers in columns)", path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    text = text.replace(",", " ").replace(";", " ").replace("\t", " ")
    lines = text.splitlines()
    start = None
    names: list[str] | None = None
    for i, line in enumerate(lines[:200]):
        tok = line.split()
        if not tok or tok[0].startswith(("#", "//")):
            # A commented header may name the columns ("//X,Y,Z,R,G,B" from CloudCompare).
            named = line.strip().lstrip("#/").split()
            if len(named) >= 3:
                names = [t.lower().strip("\"'") for t in named]
            continue
        if len(tok) >= 3 and all(_is_number(t) for t in tok):
            start = i
            break
        if not all(_is_number(t) for t in tok):
            names = [t.lower().strip("#/\"'") for t in tok]
    if start is None:
        raise ScanError("no lines of at least 3 numbers (x y z) found in the text point file", path)
    try:
        table = np.loadtxt(lines[start:], dtype=np.float64, comments=("#", "//"), ndmin=2)
    except ValueError as exc:
        raise ScanError(
            f"corrupt text point data ({_one_line(exc)}; every line must hold the same columns)", path
        ) from None
    ncols = table.shape[1]
    cloud = _Cloud(points=table[:, :3])
    if names is not None and len(names) == ncols and {"x", "y", "z"} <= {_NAME_ALIASES.get(n) for n in names}:
        canon = [_NAME_ALIASES.get(n, n) for n in names]
        col = {n: k for k, n in enumerate(canon)}
        cloud.points = table[:, [col["x"], col["y"], col["z"]]]
        if {"nx", "ny", "nz"} <= col.keys():
            cloud.normals = table[:, [col["nx"], col["ny"], col["nz"]]]
        if {"r", "g", "b"} <= col.keys():
            rgb = table[:, [col["r"], col["g"], col["b"]]]
            cloud.colors = _colors01(rgb, np.dtype("f8") if np.nanmax(rgb) <= 1.0 else np.dtype("u1"))
        return cloud
    _guess_columns(cloud, table)
    return cloud


def _guess_columns(cloud: _Cloud, table: np.ndarray) -> None:
    """After x y z: the first unit-length triple is normals, the first 0-255 integer triple colours."""
    finite = np.isfinite(table).all(axis=1)
    t = table[finite]
    if len(t) == 0:
        return
    ncols = table.shape[1]
    used = set(range(3))
    for k in range(3, ncols - 2):
        if cloud.normals is None and not used & {k, k + 1, k + 2}:
            tri = t[:, k : k + 3]
            length = np.linalg.norm(tri, axis=1)
            if np.all(np.abs(tri) <= 1.0 + 1e-6) and np.median(np.abs(length - 1.0)) < 1e-2:
                cloud.normals = table[:, k : k + 3]
                used |= {k, k + 1, k + 2}
                continue
    for k in range(3, ncols - 2):
        if cloud.colors is None and not used & {k, k + 1, k + 2}:
            tri = t[:, k : k + 3]
            if np.all((tri >= 0) & (tri <= 255)) and np.all(tri == np.round(tri)):
                cloud.colors = (table[:, k : k + 3] / 255.0).astype(np.float32)
                used |= {k, k + 1, k + 2}
