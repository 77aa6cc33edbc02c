"""PLY, ASCII and binary: vertices (with normals and colours) and faces.

Binary vertex tables are read in place with numpy; ASCII is parsed with numpy too
(plyfile's ASCII path is ~100x slower). Extra elements (the ``range_grid`` of the
Stanford range scans) are skipped; non-uniform face lists go through plyfile.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from levelset_studio.core.errors import ScanError, UnsupportedFormatError
from levelset_studio.core.surface.scans._common import (
    Cloud,
    Decimator,
    Progress,
    ReadConfig,
    colors01,
    one_line,
    read_bytes,
    stack,
)

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


def parse_ply_header(data: bytes, path: Path) -> tuple[str, list[_PlyElement], int]:
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


def read_ply_file(path: Path, config: ReadConfig, progress: Progress | None = None) -> Cloud:
    """A PLY file: binary point clouds (no faces) are read in chunks straight from the file,
    so memory is the result plus one chunk, and a point budget applies while reading;
    everything else goes through :func:`read_ply` on the file's bytes."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    fmt, elements, body = parse_ply_header(head, path)
    names = [e.name for e in elements]
    if fmt == "ascii" or "vertex" not in names or elements[names.index("vertex")].has_lists:
        return read_ply(read_bytes(path), path)
    k = names.index("vertex")
    if "face" in names and elements[names.index("face")].count > 0:
        return read_ply(read_bytes(path), path)
    if any(e.has_lists for e in elements[:k]):
        return read_ply(read_bytes(path), path)
    order = "<" if fmt == "binary_little_endian" else ">"
    offset = body
    for e in elements[:k]:
        offset += e.count * np.dtype([(n, order + t) for n, t, _ in e.props]).itemsize
    v = elements[k]
    dtype = np.dtype([(n, order + t) for n, t, _ in v.props])
    fields = set(dtype.names or ())
    if not {"x", "y", "z"} <= fields:
        raise ScanError("the PLY vertex element has no x, y, z properties", path)
    size = path.stat().st_size
    if size < offset + v.count * dtype.itemsize:
        raise ScanError(
            f"truncated binary PLY file: the vertex data needs {v.count * dtype.itemsize} bytes, "
            f"{max(size - offset, 0)} are there",
            path,
        )
    ntri = next((t for t in (("nx", "ny", "nz"), ("normal_x", "normal_y", "normal_z")) if set(t) <= fields), None)
    ctri = next(
        (
            t
            for t in (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue"))
            if set(t) <= fields
        ),
        None,
    )
    dec = Decimator(v.count, config.max_points, config.seed)
    cap = v.count if not dec.active else int(v.count * dec.rate * 1.05) + 1024
    pts = np.empty((cap, 3), dtype=np.float64)
    nrm = np.empty((cap, 3), dtype=np.float32) if ntri else None
    col = np.empty((cap, 3), dtype=dtype[ctri[0]]) if ctri else None
    n = 0
    chunk = max(1, config.chunk_points)
    with open(path, "rb") as fh:
        for s in range(0, v.count, chunk):
            m = min(chunk, v.count - s)
            fh.seek(offset + s * dtype.itemsize)
            table = np.fromfile(fh, dtype=dtype, count=m)
            if len(table) < m:
                raise ScanError(f"truncated binary PLY file: {s + len(table):,} of {v.count:,} vertices", path)
            keep = dec.mask(m)
            if keep is not None:
                table = table[keep]
            k2 = len(table)
            if n + k2 > len(pts):  # the binomial count ran over the estimate: grow
                grow = max(n + k2, int(len(pts) * 1.25))
                pts = _grow(pts, grow)
                nrm = None if nrm is None else _grow(nrm, grow)
                col = None if col is None else _grow(col, grow)
            pts[n : n + k2] = stack(table, ("x", "y", "z"))
            if nrm is not None and ntri:
                nrm[n : n + k2] = stack(table, ntri, np.float32)
            if col is not None and ctri:
                col[n : n + k2] = stack(table, ctri, col.dtype.type)
            n += k2
            if progress is not None:
                progress((s + m) / v.count)
    cloud = Cloud(points=pts[:n], normals=None if nrm is None else nrm[:n], points_in_file=v.count)
    if col is not None and ctri:
        cloud.colors = colors01(col[:n], dtype[ctri[0]])
    if dec.active:
        cloud.counts = {"decimated": v.count - n}
    return cloud


def _grow(a: np.ndarray, size: int) -> np.ndarray:
    out = np.empty((size, *a.shape[1:]), dtype=a.dtype)
    out[: len(a)] = a
    return out


def read_ply(data: bytes, path: Path) -> Cloud:
    fmt, elements, body = parse_ply_header(data, path)
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
    cloud = Cloud(points=stack(vertex, ("x", "y", "z")))
    for triple in (("nx", "ny", "nz"), ("normal_x", "normal_y", "normal_z")):
        if set(triple) <= set(fields):
            cloud.normals = stack(vertex, triple, np.float32)
            break
    for triple in (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue")):
        if set(triple) <= set(fields):
            cloud.colors = colors01(stack(vertex, triple), vertex.dtype[triple[0]])
            break
    faces = tables.get("face")
    if faces is not None and len(faces):
        if faces.min() < 0 or faces.max() >= len(cloud.points):
            raise ScanError("corrupt PLY file: a face refers to a vertex that does not exist", path)
        cloud.faces = faces
    return cloud


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
        msg = one_line(exc)
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
        raise ScanError(f"corrupt ASCII PLY {what} data ({one_line(exc)})", path) from None
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
