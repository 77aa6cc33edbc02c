"""Writing meshes and point clouds in the scan's own coordinates, and reading meshes back.

Every write is atomic: the file is written to a temporary name in the same folder and
then renamed over the target (``os.replace``), so a crash or a full disk never leaves a
half-written file in its place. The input scans are never overwritten: pass them as
``protect``.

Precision: PLY, OBJ, OFF, XYZ and PCD store coordinates as float64 (OBJ/OFF/XYZ as
17-digit decimals), so a georeferenced offset of 5,000,000 m survives exactly. STL and
GLB (glTF) store float32 by format: at 5,000,000 m a float32 step is 0.5 m, so use
PLY/OBJ/OFF for georeferenced results (or shift them first).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from levelset_studio.core.errors import MeshWriteError, ScanError, UnsupportedFormatError
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.scans.formats import WRITABLE_SCAN_EXTENSIONS, write_e57, write_las


@dataclass(frozen=True)
class MeshFormatSpec:
    """One mesh format results are written in (registered once, like the scan formats of
    :mod:`levelset_studio.core.surface.scans.formats`)."""

    name: str
    extension: str
    description: str
    precision: str  # how coordinates are stored
    normals: bool  # vertex normals are written
    readable: bool = True  # read_mesh reads it back (evaluate, the GUI)
    mime: str | None = None


MESH_FORMATS: tuple[MeshFormatSpec, ...] = (
    MeshFormatSpec("PLY", ".ply", "binary little-endian PLY", "float64", True, mime="model/x-ply"),
    MeshFormatSpec("Wavefront OBJ", ".obj", "text, 17-digit coordinates", "float64", True, mime="model/obj"),
    MeshFormatSpec("STL", ".stl", "binary STL", "float32 (by format)", False, mime="model/stl"),
    MeshFormatSpec("OFF", ".off", "text Object File Format", "float64", False, mime="model/x-off"),
    MeshFormatSpec(
        "glTF binary", ".glb", "glTF 2.0 binary, via trimesh", "float32 (by format)", False, mime="model/gltf-binary"
    ),
)
MESH_EXTENSIONS: tuple[str, ...] = tuple(f.extension for f in MESH_FORMATS)
POINT_CLOUD_OUTPUT_EXTENSIONS: tuple[str, ...] = WRITABLE_SCAN_EXTENSIONS


def mesh_file_filter() -> str:
    """A Qt-style save-dialog filter for meshes (plain string, no Qt)."""
    return ";;".join(f"{f.name} (*{f.extension})" for f in MESH_FORMATS)


def mesh_markdown_table() -> str:
    """The docs table of mesh output formats, from the registry."""
    rows = ["| Format | Extension | Coordinates | Normals | Read back |", "|---|---|---|---|---|"]
    for f in MESH_FORMATS:
        rows.append(
            f"| {f.name} | `{f.extension}` | {f.precision} | {'yes' if f.normals else ''} | "
            f"{'yes' if f.readable else ''} |"
        )
    return "\n".join(rows)


# ----------------------------------------------------------------------------- atomic write


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _atomic_write(
    path: Path,
    write: Callable[[Any], None],  # given the open file, or its name with by_name
    protect: Sequence[str | os.PathLike],
    error=MeshWriteError,
    *,
    by_name: bool = False,
) -> Path:
    path = Path(path)
    for p in protect:
        if _same_file(path, Path(p)):
            raise error("refusing to overwrite an input scan; choose another output name", path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise error("is a directory; give a file name", path)
    if not parent.is_dir():
        raise error(f"the folder '{parent}' does not exist", path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise error(f"cannot write in '{parent}' ({exc.strerror or exc})", path) from None
    try:
        if by_name:  # the writer opens the temporary file by its name (libE57Format)
            os.close(fd)
            write(tmp)
            fd = os.open(tmp, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        else:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise error(f"cannot write the file ({exc.strerror or exc})", path) from None
    except BaseException:
        _unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _unlink(p: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(p)


# ----------------------------------------------------------------------------- meshes


def write_mesh(mesh: Mesh, path: str | os.PathLike, *, protect: Sequence[str | os.PathLike] = ()) -> Path:
    """Write ``mesh`` (scan coordinates) as PLY, OBJ, STL, OFF or GLB, chosen by extension.

    Atomic (temporary file, then rename). Raises MeshWriteError for an unknown extension,
    an empty mesh, a missing folder, or a target listed in ``protect`` (the input scans).
    STL and GLB hold float32 coordinates by format (see the module docstring).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in MESH_EXTENSIONS:
        raise MeshWriteError(
            f"unsupported mesh format '{ext or path.name}' (supported: {', '.join(MESH_EXTENSIONS)})", path
        )
    if mesh.n_vertices == 0 or mesh.n_faces == 0:
        raise MeshWriteError("the mesh is empty; nothing to write", path)
    if not np.all(np.isfinite(mesh.vertices)):
        raise MeshWriteError("the mesh has non-finite vertices", path)
    if mesh.faces.min() < 0 or mesh.faces.max() >= mesh.n_vertices:
        raise MeshWriteError("the mesh has faces that refer to missing vertices", path)
    writer = {".ply": _write_ply_mesh, ".obj": _write_obj, ".stl": _write_stl, ".off": _write_off, ".glb": _write_glb}[
        ext
    ]
    return _atomic_write(path, lambda fh: writer(mesh, fh), protect)


def _ply_header(n_vertices: int, vertex_props: list[str], n_faces: int | None) -> bytes:
    lines = [
        "ply",
        "format binary_little_endian 1.0",
        "comment written by LevelSet Studio",
        f"element vertex {n_vertices}",
        *vertex_props,
    ]
    if n_faces is not None:
        lines += [f"element face {n_faces}", "property list uchar int vertex_indices"]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _write_ply_mesh(mesh: Mesh, fh) -> None:
    fields = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    props = ["property double x", "property double y", "property double z"]
    if mesh.vertex_normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
        props += ["property float nx", "property float ny", "property float nz"]
    v = np.empty(mesh.n_vertices, dtype=fields)
    v["x"], v["y"], v["z"] = mesh.vertices.T
    if mesh.vertex_normals is not None:
        v["nx"], v["ny"], v["nz"] = np.asarray(mesh.vertex_normals, dtype=np.float32).T
    f = np.empty(mesh.n_faces, dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    f["n"] = 3
    f["idx"] = mesh.faces
    fh.write(_ply_header(mesh.n_vertices, props, mesh.n_faces))
    fh.write(v.tobytes())
    fh.write(f.tobytes())


def _text_rows(fh, row: str, values: np.ndarray) -> None:
    """Write rows of numbers with the %-format ``row`` (one format call per block, not per value)."""
    values = np.asarray(values)
    if len(values) == 0:
        return
    block = 65536
    for s in range(0, len(values), block):
        chunk = values[s : s + block]
        fh.write(((row + "\n") * len(chunk) % tuple(chunk.ravel().tolist())).encode("ascii"))


def _write_obj(mesh: Mesh, fh) -> None:
    fh.write(b"# written by LevelSet Studio\n")
    _text_rows(fh, "v %.17g %.17g %.17g", mesh.vertices)
    if mesh.vertex_normals is not None:
        _text_rows(fh, "vn %.7g %.7g %.7g", np.asarray(mesh.vertex_normals, dtype=np.float64))
        _text_rows(fh, "f %d//%d %d//%d %d//%d", np.repeat(mesh.faces + 1, 2, axis=1))
    else:
        _text_rows(fh, "f %d %d %d", mesh.faces + 1)


def _write_off(mesh: Mesh, fh) -> None:
    fh.write(f"OFF\n{mesh.n_vertices} {mesh.n_faces} 0\n".encode("ascii"))
    _text_rows(fh, "%.17g %.17g %.17g", mesh.vertices)
    _text_rows(fh, "3 %d %d %d", mesh.faces)


def _write_stl(mesh: Mesh, fh) -> None:
    """Binary STL (float32 by format)."""
    tri = mesh.vertices[mesh.faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.divide(n, length, out=np.zeros_like(n), where=length > 0)
    rec = np.zeros(mesh.n_faces, dtype=[("n", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    rec["n"] = n
    rec["v"] = tri
    header = b"binary STL written by LevelSet Studio".ljust(80, b" ")
    fh.write(header)
    fh.write(np.uint32(mesh.n_faces).tobytes())
    fh.write(rec.tobytes())


def _write_glb(mesh: Mesh, fh) -> None:
    """glTF binary via trimesh (float32 by format)."""
    import trimesh

    tm = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=False)
    fh.write(tm.export(file_type="glb"))


def read_mesh(path: str | os.PathLike) -> Mesh:
    """Read a triangle mesh (PLY, OBJ, STL, OFF, GLB) in its own coordinates (float64).

    Raises ScanError (UnsupportedFormatError for other formats) with a one-line message.
    """
    from levelset_studio.core.surface.scans.scanio import read_mesh_arrays

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in MESH_EXTENSIONS:
        raise UnsupportedFormatError(
            f"unsupported mesh format '{ext or path.name}' (supported: {', '.join(MESH_EXTENSIONS)})", path
        )
    if ext == ".glb":
        if path.is_dir():
            raise ScanError("is a directory, not a mesh file", path)
        if not path.exists():
            raise ScanError("no such file", path)
        if path.stat().st_size == 0:
            raise ScanError("empty file", path)
    vertices, faces, normals = read_mesh_arrays(path)
    if faces is None:
        what = "the PLY file holds points but no faces (not a mesh)" if ext == ".ply" else None
        raise ScanError(what or f"the {ext.lstrip('.').upper()} file holds no faces", path)
    return Mesh(vertices, faces, normals if ext == ".ply" else None, name=path.stem)


# ----------------------------------------------------------------------------- point clouds


def write_point_cloud(
    points: np.ndarray,
    path: str | os.PathLike,
    normals: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    *,
    protect: Sequence[str | os.PathLike] = (),
    intensity: np.ndarray | None = None,
    classification: np.ndarray | None = None,
    grid: tuple[np.ndarray, np.ndarray] | None = None,
    crs: str | None = None,
) -> Path:
    """Write a point cloud (the output of ``levelset clean`` or ``make-scan``) as PLY, PCD,
    XYZ, E57, LAS or LAZ.

    Coordinates are written as float64 (LAS/LAZ: on the integer ``grid`` (scales, offsets)
    of the input when given, else a 0.1 mm grid; E57: float32 around a float64 pose);
    normals as float32 (not in E57); colours (floats in [0, 1]) as 8-bit. LAS/LAZ also
    keep ``intensity``, ``classification`` and ``crs``; E57 keeps ``intensity``.
    Atomic, and never over a path in ``protect``.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in POINT_CLOUD_OUTPUT_EXTENSIONS:
        raise MeshWriteError(
            f"unsupported point-cloud format '{ext or path.name}' "
            f"(supported: {', '.join(POINT_CLOUD_OUTPUT_EXTENSIONS)})",
            path,
        )
    pts = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    if len(pts) == 0:
        raise MeshWriteError("no points to write", path)
    nrm = None if normals is None else np.asarray(normals, dtype=np.float32).reshape(-1, 3)
    rgb = (
        None
        if colors is None
        else np.clip(np.round(np.asarray(colors, dtype=np.float64) * 255), 0, 255).astype(np.uint8).reshape(-1, 3)
    )
    for name, arr in (("normals", nrm), ("colors", rgb)):
        if arr is not None and len(arr) != len(pts):
            raise MeshWriteError(f"{name} count {len(arr)} differs from the point count {len(pts)}", path)
    for name, arr in (("intensity", intensity), ("classification", classification)):
        if arr is not None and len(arr) != len(pts):
            raise MeshWriteError(f"{name} count {len(arr)} differs from the point count {len(pts)}", path)
    if ext in (".las", ".laz"):
        return _atomic_write(
            path,
            lambda fh: write_las(
                fh, path, pts, nrm, rgb, intensity=intensity, classification=classification, grid=grid, crs=crs
            ),
            protect,
        )
    if ext == ".e57":
        # libE57Format writes by file name: into the temporary file _atomic_write made.
        return _atomic_write(
            path,
            lambda tmp: write_e57(
                Path(tmp),
                pts,
                rgb,
                intensity,
            ),
            protect,
            by_name=True,
        )
    writer = {".ply": _write_ply_points, ".pcd": _write_pcd, ".xyz": _write_xyz}[ext]
    return _atomic_write(path, lambda fh: writer(pts, nrm, rgb, fh), protect)


def _point_table(pts, nrm, rgb) -> np.ndarray:
    fields = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    if nrm is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    if rgb is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    t = np.empty(len(pts), dtype=fields)
    t["x"], t["y"], t["z"] = pts.T
    if nrm is not None:
        t["nx"], t["ny"], t["nz"] = nrm.T
    if rgb is not None:
        t["red"], t["green"], t["blue"] = rgb.T
    return t


def _write_ply_points(pts, nrm, rgb, fh) -> None:
    t = _point_table(pts, nrm, rgb)
    kind = {"<f8": "double", "<f4": "float", "|u1": "uchar"}
    props = [f"property {kind[t.dtype[n].str]} {n}" for n in (t.dtype.names or ())]
    fh.write(_ply_header(len(pts), props, None))
    fh.write(t.tobytes())


def _write_pcd(pts, nrm, rgb, fh) -> None:
    """Binary PCD v0.7: x y z as doubles (F 8), normal_x.. as floats, rgb packed as U 4."""
    fields = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    if nrm is not None:
        fields += [("normal_x", "<f4"), ("normal_y", "<f4"), ("normal_z", "<f4")]
    if rgb is not None:
        fields += [("rgb", "<u4")]
    t = np.empty(len(pts), dtype=fields)
    t["x"], t["y"], t["z"] = pts.T
    if nrm is not None:
        t["normal_x"], t["normal_y"], t["normal_z"] = nrm.T
    if rgb is not None:
        c = rgb.astype(np.uint32)
        t["rgb"] = (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]
    names = [f[0] for f in fields]
    sizes = [str(np.dtype(f[1]).itemsize) for f in fields]
    types = ["U" if f[1] == "<u4" else "F" for f in fields]
    header = (
        "# .PCD v0.7 - Point Cloud Data file format (written by LevelSet Studio)\n"
        "VERSION 0.7\n"
        f"FIELDS {' '.join(names)}\nSIZE {' '.join(sizes)}\nTYPE {' '.join(types)}\n"
        f"COUNT {' '.join('1' for _ in fields)}\nWIDTH {len(pts)}\nHEIGHT 1\n"
        f"VIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(pts)}\nDATA binary\n"
    )
    fh.write(header.encode("ascii"))
    fh.write(t.tobytes())


def _write_xyz(pts, nrm, rgb, fh) -> None:
    """Text columns: x y z [nx ny nz] [r g b] (colours as 0-255 integers)."""
    cols = [pts]
    fmts = ["%.17g"] * 3
    if nrm is not None:
        cols.append(nrm.astype(np.float64))
        fmts += ["%.9g"] * 3
    if rgb is not None:
        cols.append(rgb.astype(np.float64))
        fmts += ["%d"] * 3
    _text_rows(fh, " ".join(fmts), np.concatenate(cols, axis=1))
