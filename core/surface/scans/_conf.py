"""Stanford ``.conf`` scan sets: ``bmesh FILE tx ty tz qx qy qz qw`` lines; each scan is
placed as p' = R(q)^T p + t, R the rotation of the unit quaternion (w = qw)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from levelset_studio.core.errors import ScanError
from levelset_studio.core.surface.scans._common import read_bytes


def quaternion_matrix(qx: float, qy: float, qz: float, qw: float) -> np.ndarray:
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


def read_conf(path: Path) -> list[tuple[Path, np.ndarray, np.ndarray]]:
    """The placements of a Stanford scan set: ``bmesh FILE tx ty tz qx qy qz qw``."""
    try:
        text = read_bytes(path).decode("utf-8")
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
            rot = quaternion_matrix(*vals[3:])
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
