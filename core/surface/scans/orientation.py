"""Which way is up: a guess of a scan's up axis, for the 3D view's default camera.

Files do not say which axis points up, and conventions differ: surveying and lidar
formats (LAS/LAZ, E57, PTS/PTX, XYZ) put Z up; many graphics models and range scans
put Y up, with Z towards the viewer. For everything but the surveying formats we use
the shape: an object seen from the front is usually shallower front to back than it
is wide or tall, so when Z is the smallest extent, Z is taken as the viewing direction
and Y as up; otherwise Z is up. It is a guess: the GUI lets the user pick another axis
and remembers the choice per file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Z_UP_SUFFIXES = frozenset({".las", ".laz", ".e57", ".pts", ".ptx", ".xyz"})


def guess_up_axis(points: np.ndarray, source: str | Path | None = None) -> str:
    """``"z"`` or ``"y"``: the axis of ``points`` (N, 3) that most likely points up.

    ``source``, the file the points came from, decides for surveying formats.
    """
    if source is not None and Path(str(source)).suffix.lower() in Z_UP_SUFFIXES:
        return "z"
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    p = p[np.all(np.isfinite(p), axis=1)]
    if len(p) < 2:
        return "z"
    # robust extents: the 1st-99th percentile range, so a few outliers do not decide
    lo, hi = np.percentile(p, [1.0, 99.0], axis=0)
    ext = hi - lo
    if not np.all(ext > 0):
        return "z"
    return "y" if ext[2] < 0.95 * min(ext[0], ext[1]) else "z"
