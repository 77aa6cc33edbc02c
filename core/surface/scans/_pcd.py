"""PCD (ascii, binary, binary_compressed), organized clouds with NaN slots included.

ascii and binary are parsed here (exact doubles, every NaN counted); binary_compressed
(LZF) is decoded by open3d after its sizes are checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from levelset_studio.core.errors import ScanError, UnsupportedFormatError
from levelset_studio.core.surface.scans._common import Cloud, one_line, stack

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


def read_pcd(data: bytes, path: Path) -> Cloud:
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
        raise ScanError(f"corrupt PCD header ({one_line(exc)})", path) from None
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
            raise ScanError(f"corrupt ASCII PCD data ({one_line(exc)})", path) from None
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
    cloud = Cloud(points=stack(table, ("x", "y", "z")))
    if {"normal_x", "normal_y", "normal_z"} <= set(fields):
        cloud.normals = stack(table, ("normal_x", "normal_y", "normal_z"))
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


def _read_pcd_compressed(path: Path, body: bytes, npts: int) -> Cloud:
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
    cloud = Cloud(points=pts.copy())
    if pcd.has_normals():
        cloud.normals = np.asarray(pcd.normals).copy()
    if pcd.has_colors():
        cloud.colors = np.asarray(pcd.colors, dtype=np.float32).copy()
    return cloud
