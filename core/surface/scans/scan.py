"""The ``Scan`` value every stage works on, and its map into the unit box.

Points are kept in float64 in the scan's own coordinates, so georeferenced scans
(offsets of millions of metres) survive the round trip through the normalized space
without loss. Networks see ``scan.normalized_points`` (float32, inside [-1, 1]^3);
everything they produce goes back through ``scan.transform.to_scan``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class NormalizingTransform:
    """Similarity map ``unit = (p - center) / scale`` (float64)."""

    center: np.ndarray  # (3,) float64
    scale: float

    @classmethod
    def fit(cls, points: np.ndarray) -> NormalizingTransform:
        """Centre the bounding box at 0 and scale its largest half-extent to 1."""
        pts = np.asarray(points, dtype=np.float64)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        center = (lo + hi) / 2.0
        half = float(np.max(hi - lo)) / 2.0
        if not np.isfinite(half) or half <= 0:
            half = 1.0
        return cls(center=center, scale=half)

    @classmethod
    def identity(cls) -> NormalizingTransform:
        return cls(center=np.zeros(3), scale=1.0)

    def to_unit(self, points: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """Points in the unit box; computed in float64 blocks, so a big cloud never has a
        second full-size float64 copy (the subtraction is exact before the cast)."""
        p = np.asarray(points)
        out: np.ndarray = np.empty(p.shape, dtype=dtype)
        block = 1_000_000
        for s in range(0, len(p), block):
            q = np.asarray(p[s : s + block], dtype=np.float64) - self.center
            q /= self.scale
            out[s : s + block] = q
        return out

    def to_scan(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        return p * self.scale + self.center

    def to_dict(self) -> dict:
        return {"center": [float(c) for c in self.center], "scale": float(self.scale)}

    @classmethod
    def from_dict(cls, d: dict) -> NormalizingTransform:
        return cls(center=np.asarray(d["center"], dtype=np.float64), scale=float(d["scale"]))


@dataclass(frozen=True)
class Scan:
    """A point cloud read from one or more files (the result of ``core.surface.scans.scanio.load_scan``)."""

    points: np.ndarray  # (N, 3) float64, scan coordinates, all finite
    normals: np.ndarray | None = None  # (N, 3) float32 unit vectors, or None
    colors: np.ndarray | None = None  # (N, 3) float32 in [0, 1], or None
    files: tuple[str, ...] = ()
    dropped_nonfinite: int = 0
    transform: NormalizingTransform = field(default=None)  # type: ignore[assignment]
    from_mesh: bool = False  # points were sampled from mesh faces
    intensity: np.ndarray | None = None  # (N,) float32, the file's own units (LAS, E57)
    classification: np.ndarray | None = None  # (N,) uint8 LAS classes
    stations: np.ndarray | None = None  # (S, 3) float64 scanner positions (E57 poses, .conf placements)
    crs: str | None = None  # coordinate reference system of the files (WKT or EPSG:<code>)
    read_counts: Mapping[str, int] = field(default_factory=dict)  # points the readers dropped, by reason
    points_in_files: int = 0  # points the files hold, before anything was dropped or decimated
    grid: tuple[np.ndarray, np.ndarray] | None = None  # LAS (scales, offsets) when every file shares one

    def __post_init__(self) -> None:
        pts = np.ascontiguousarray(self.points, dtype=np.float64)
        object.__setattr__(self, "points", pts)
        if self.transform is None:
            object.__setattr__(self, "transform", NormalizingTransform.fit(pts))
        if not self.points_in_files:
            object.__setattr__(self, "points_in_files", len(pts))

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def decimated(self) -> int:
        """Points left out by a point budget (``--max-points``) while reading."""
        return int(self.read_counts.get("decimated", 0))

    def lod_indices(self, max_points: int, seed: int = 0) -> np.ndarray:
        """Sorted indices of a uniform random subsample of at most ``max_points`` points
        (all of them when the scan is smaller); the same scan gives the same subsample."""
        from levelset_studio.core.surface.scans._common import subsample_indices

        return subsample_indices(len(self), max(int(max_points), 1), seed)

    def lod(self, max_points: int = 3_000_000, seed: int = 0) -> Scan:
        """A level-of-detail subsample for drawing: at most ``max_points`` points with their
        attributes, the same transform and metadata. The scan itself when it is small enough."""
        if len(self) <= max_points:
            return self
        idx = self.lod_indices(max_points, seed)

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return self.with_points(
            self.points[idx],
            pick(self.normals),
            pick(self.colors),
            intensity=pick(self.intensity),
            classification=pick(self.classification),
        )

    @property
    def has_normals(self) -> bool:
        return self.normals is not None

    @property
    def bbox_min(self) -> np.ndarray:
        return self.points.min(axis=0)

    @property
    def bbox_max(self) -> np.ndarray:
        return self.points.max(axis=0)

    @property
    def diagonal(self) -> float:
        """Bounding-box diagonal in scan units: sizes are given as fractions of it."""
        return float(np.linalg.norm(self.bbox_max - self.bbox_min))

    @property
    def normalized_points(self) -> np.ndarray:
        return self.transform.to_unit(self.points)

    def with_points(
        self,
        points: np.ndarray,
        normals: np.ndarray | None = None,
        colors: np.ndarray | None = None,
        *,
        intensity: np.ndarray | None = None,
        classification: np.ndarray | None = None,
    ) -> Scan:
        """A new scan (e.g. after cleaning) that keeps this scan's files, transform and
        metadata (stations, CRS, what was dropped while reading)."""
        return Scan(
            points=points,
            normals=normals,
            colors=colors,
            files=self.files,
            dropped_nonfinite=self.dropped_nonfinite,
            transform=self.transform,
            from_mesh=self.from_mesh,
            intensity=intensity,
            classification=classification,
            stations=self.stations,
            crs=self.crs,
            read_counts=self.read_counts,
            points_in_files=self.points_in_files,
            grid=self.grid,
        )
