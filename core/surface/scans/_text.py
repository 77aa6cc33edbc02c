"""XYZ / PTS / TXT / CSV: whitespace, commas or semicolons, CRLF, header lines (a PTS
count line, column names), optional normals, colours and extra columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from levelset_studio.core.errors import ScanError
from levelset_studio.core.surface.scans._common import Cloud, colors01, one_line

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


def read_text(data: bytes, path: Path) -> Cloud:
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
            f"corrupt text point data ({one_line(exc)}; every line must hold the same columns)", path
        ) from None
    ncols = table.shape[1]
    cloud = Cloud(points=table[:, :3])
    if names is not None and len(names) == ncols and {"x", "y", "z"} <= {_NAME_ALIASES.get(n) for n in names}:
        canon = [_NAME_ALIASES.get(n, n) for n in names]
        col = {n: k for k, n in enumerate(canon)}
        cloud.points = table[:, [col["x"], col["y"], col["z"]]]
        if {"nx", "ny", "nz"} <= col.keys():
            cloud.normals = table[:, [col["nx"], col["ny"], col["nz"]]]
        if {"r", "g", "b"} <= col.keys():
            rgb = table[:, [col["r"], col["g"], col["b"]]]
            cloud.colors = colors01(rgb, np.dtype("f8") if np.nanmax(rgb) <= 1.0 else np.dtype("u1"))
        return cloud
    _guess_columns(cloud, table)
    return cloud


def _guess_columns(cloud: Cloud, table: np.ndarray) -> None:
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
