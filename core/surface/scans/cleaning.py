"""Cleaning a scan before reconstruction (open3d): voxel downsampling, statistical and
radius outlier removal, normal estimation and orientation. Each step is optional.

Sizes are fractions of the scan's bounding-box diagonal (as in MeshLab/CloudCompare),
so the defaults work at any scale. The result is a new Scan that keeps the original's
files and normalizing transform, plus a report of what each step removed.

Points are handed to open3d relative to the bounding-box centre, so large georeferenced
offsets do not cost precision in its neighbour searches; the kept points are taken
from the original float64 array (voxel averages are computed in float64 too).

Orientation 'tangent_plane' (consistent orientation over a Riemannian graph) grows
super-linearly with the number of points. Its time is bounded: it runs on at most
``orient_max_points`` points (a voxel-downsampled subset); every other point takes
the side of its nearest oriented subset point. The overall sign is chosen so that
normals point away from the centroid on average (outward for closed objects).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from levelset_studio.core.errors import ScanError
from levelset_studio.core.params import param, validate_config
from levelset_studio.core.surface.scans.scan import Scan

ORIENT_MODES = ("none", "viewpoint", "tangent_plane", "scanner")


@dataclass(frozen=True)
class CleaningConfig:
    """What ``clean_scan`` does. A step with size 0 (or 'off') is skipped."""

    voxel_size: float = param(
        0.0,
        "Voxel size",
        "voxel downsampling cell size, as a fraction of the bounding-box diagonal (0 = off)",
        minimum=0.0,
        maximum=0.1,
        unit="x diagonal",
    )
    statistical_neighbors: int = param(
        20,
        "Statistical: neighbours",
        "statistical outlier removal: neighbours whose mean distance is compared (0 = off)",
        minimum=0,
        maximum=500,
    )
    statistical_std_ratio: float = param(
        2.0,
        "Statistical: std ratio",
        "statistical outlier removal: drop points "
        "whose mean neighbour distance exceeds the average by this many standard "
        "deviations",
        minimum=0.1,
        maximum=20.0,
        advanced=True,
    )
    radius: float = param(
        0.0,
        "Radius: radius",
        "radius outlier removal: search radius, as a fraction of the bounding-box diagonal (0 = off)",
        minimum=0.0,
        maximum=0.5,
        unit="x diagonal",
    )
    radius_min_points: int = param(
        5,
        "Radius: min points",
        "radius outlier removal: drop points with fewer neighbours than this inside the radius",
        minimum=1,
        maximum=1000,
        advanced=True,
    )
    estimate_normals: bool = param(
        False, "Estimate normals", "estimate normals by local plane fits (replaces normals the file had)"
    )
    normal_neighbors: int = param(
        30, "Normals: neighbours", "neighbours in each local plane fit", minimum=3, maximum=500, advanced=True
    )
    orient: str = param(
        "tangent_plane",
        "Normals: orientation",
        "how estimated normals are oriented: towards a "
        "viewpoint, consistently over the surface (tangent_plane, time-bounded), towards the nearest "
        "scanner position the file records (scanner: E57 stations, .conf placements), or not at all",
        choices=ORIENT_MODES,
    )
    viewpoint_x: float = param(
        0.0, "Viewpoint x", "scanner position for 'viewpoint' orientation", advanced=True, unit="scan units"
    )
    viewpoint_y: float = param(
        0.0, "Viewpoint y", "scanner position for 'viewpoint' orientation", advanced=True, unit="scan units"
    )
    viewpoint_z: float = param(
        0.0, "Viewpoint z", "scanner position for 'viewpoint' orientation", advanced=True, unit="scan units"
    )
    orient_max_points: int = param(
        20000,
        "Orientation: max points",
        "consistent orientation runs on at most "
        "this many points (a voxel subset) and propagates to the rest; bounds its time",
        minimum=100,
        maximum=2_000_000,
        advanced=True,
    )

    def __post_init__(self) -> None:
        validate_config(self)


@dataclass(frozen=True)
class CleaningStep:
    name: str
    removed: int  # points removed by this step (negative never; 0 for normals)
    remaining: int
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class CleaningReport:
    """What each cleaning step did, in order."""

    input_points: int
    output_points: int
    diagonal: float  # the bounding-box diagonal that the fractions refer to (scan units)
    steps: tuple[CleaningStep, ...] = field(default_factory=tuple)

    @property
    def removed(self) -> int:
        return self.input_points - self.output_points

    def summary(self) -> str:
        lines = [f"{self.input_points:,} points in (bounding-box diagonal {self.diagonal:.6g} scan units)"]
        for s in self.steps:
            change = f"-{s.removed:,}" if s.removed else "  0"
            extra = f"  ({s.detail})" if s.detail else ""
            lines.append(f"  {s.name:<24} {change:>10}  -> {s.remaining:,} points  [{s.seconds:.2f} s]{extra}")
        lines.append(f"{self.output_points:,} points out")
        return "\n".join(lines)


def _o3d_cloud(points: np.ndarray, normals: np.ndarray | None = None):
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.ascontiguousarray(points, dtype=np.float64)))
    if normals is not None:
        pcd.normals = o3d.utility.Vector3dVector(np.ascontiguousarray(normals, dtype=np.float64))
    return pcd


def _voxel_average(points: np.ndarray, voxel: float, *extra: np.ndarray | None):
    """Average points (and attributes) per voxel in float64. Returns (points, extras, cell ids)."""
    keys = np.floor((points - points.min(axis=0)) / voxel).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    m = len(counts)

    def mean(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return (
            np.stack([np.bincount(inverse, weights=a[:, c], minlength=m) for c in range(a.shape[1])], axis=1)
            / counts[:, None]
        )

    return mean(points), [None if e is None else mean(e) for e in extra], inverse


def clean_scan(scan: Scan, config: CleaningConfig) -> tuple[Scan, CleaningReport]:
    """A new, cleaned Scan (same files and transform) and a report of each step."""
    pts = scan.points
    normals = None if scan.normals is None else scan.normals.astype(np.float64)
    colors = None if scan.colors is None else scan.colors.astype(np.float64)
    diag = scan.diagonal
    center = (scan.bbox_min + scan.bbox_max) / 2.0
    steps: list[CleaningStep] = []

    def keep(mask_or_idx) -> None:
        nonlocal pts, normals, colors
        pts = pts[mask_or_idx]
        normals = None if normals is None else normals[mask_or_idx]
        colors = None if colors is None else colors[mask_or_idx]

    if config.voxel_size > 0:
        t0 = time.perf_counter()
        n0 = len(pts)
        voxel = config.voxel_size * diag
        pts, (normals, colors), _ = _voxel_average(pts, voxel, normals, colors)
        if normals is not None:
            length = np.linalg.norm(normals, axis=1, keepdims=True)
            normals = np.divide(normals, length, out=np.zeros_like(normals), where=length > 1e-12)
            if np.any(length <= 1e-12):
                normals = None  # opposite normals cancelled: re-estimate rather than keep zeros
        steps.append(
            CleaningStep(
                "voxel downsampling", n0 - len(pts), len(pts), time.perf_counter() - t0, f"cell {voxel:.4g} scan units"
            )
        )

    if config.statistical_neighbors > 0 and len(pts) > config.statistical_neighbors:
        t0 = time.perf_counter()
        n0 = len(pts)
        _, idx = _o3d_cloud(pts - center).remove_statistical_outlier(
            nb_neighbors=config.statistical_neighbors, std_ratio=config.statistical_std_ratio
        )
        keep(np.sort(np.asarray(idx, dtype=np.int64)))
        steps.append(
            CleaningStep(
                "statistical outliers",
                n0 - len(pts),
                len(pts),
                time.perf_counter() - t0,
                f"{config.statistical_neighbors} neighbours, {config.statistical_std_ratio:g} std",
            )
        )

    if config.radius > 0:
        t0 = time.perf_counter()
        n0 = len(pts)
        r = config.radius * diag
        _, idx = _o3d_cloud(pts - center).remove_radius_outlier(nb_points=config.radius_min_points, radius=r)
        keep(np.sort(np.asarray(idx, dtype=np.int64)))
        steps.append(
            CleaningStep(
                "radius outliers",
                n0 - len(pts),
                len(pts),
                time.perf_counter() - t0,
                f"radius {r:.4g} scan units, {config.radius_min_points} points",
            )
        )

    if len(pts) < 10:
        raise ScanError(
            f"cleaning left only {len(pts)} points; relax the outlier settings",
            scan.files[0] if len(scan.files) == 1 else None,
        )

    out = scan.with_points(
        pts,
        None if normals is None else normals.astype(np.float32),
        None if colors is None else colors.astype(np.float32),
    )
    if config.estimate_normals:
        t0 = time.perf_counter()
        out = estimate_normals(
            out,
            neighbors=config.normal_neighbors,
            orient=config.orient,
            viewpoint=(config.viewpoint_x, config.viewpoint_y, config.viewpoint_z),
            orient_max_points=config.orient_max_points,
        )
        steps.append(
            CleaningStep(
                "normals",
                0,
                len(out),
                time.perf_counter() - t0,
                f"{config.normal_neighbors} neighbours, oriented: {config.orient}",
            )
        )
    report = CleaningReport(input_points=len(scan), output_points=len(out), diagonal=diag, steps=tuple(steps))
    return out, report


def estimate_normals(
    scan: Scan,
    neighbors: int = 30,
    orient: str = "tangent_plane",
    viewpoint: tuple[float, float, float] = (0.0, 0.0, 0.0),
    orient_max_points: int = 20000,
) -> Scan:
    """A new Scan with normals from local plane fits, oriented as asked.

    'viewpoint' makes every normal face the given scanner position (scan units);
    'scanner' makes each normal face the nearest of the scan's recorded scanner positions;
    'tangent_plane' orients consistently over the surface in bounded time (see the
    module docstring); 'none' leaves the sign of each normal arbitrary.
    """
    import open3d as o3d

    if orient not in ORIENT_MODES:
        raise ValueError(f"orient must be one of {ORIENT_MODES}")
    center = (scan.bbox_min + scan.bbox_max) / 2.0
    local = scan.points - center
    k = int(min(max(neighbors, 3), len(scan) - 1))
    pcd = _o3d_cloud(local)
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=k))
    normals = np.asarray(pcd.normals).copy()
    if orient == "viewpoint":
        toward = np.asarray(viewpoint, dtype=np.float64) - scan.points
        flip = np.einsum("ij,ij->i", normals, toward) < 0
        normals[flip] *= -1
    elif orient == "tangent_plane":
        normals = _orient_consistently(local, normals, k, orient_max_points)
    elif orient == "scanner":
        if scan.stations is None or len(scan.stations) == 0:
            raise ScanError("orientation 'scanner' needs scanner positions (an E57 or .conf scan); this scan has none")
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(scan.stations - center).query(local, k=1)
        toward = scan.stations[nearest] - scan.points
        flip = np.einsum("ij,ij->i", normals, toward) < 0
        normals[flip] *= -1
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)
    normals[length[:, 0] == 0] = (0.0, 0.0, 1.0)  # isolated points: any unit vector
    return scan.with_points(scan.points, normals.astype(np.float32), scan.colors)


def _orient_consistently(local: np.ndarray, normals: np.ndarray, k: int, max_points: int) -> np.ndarray:
    """Consistent tangent-plane orientation on at most ``max_points`` points, then propagated."""
    from scipy.spatial import cKDTree

    n = len(local)
    if n <= max_points:
        sub = np.arange(n)
    else:
        # A voxel subset of about max_points points: one representative per cell.
        extent = float(np.max(local.max(axis=0) - local.min(axis=0))) or 1.0
        voxel = extent / np.cbrt(max_points) / 1.5
        for _ in range(20):
            keys = np.floor((local - local.min(axis=0)) / voxel).astype(np.int64)
            _, first = np.unique(keys, axis=0, return_index=True)
            if len(first) <= max_points:
                break
            voxel *= 1.25
        sub = np.sort(first)
    pcd = _o3d_cloud(local[sub], normals[sub])
    pcd.orient_normals_consistent_tangent_plane(int(min(k, max(len(sub) - 1, 3), 30)))
    sub_n = np.asarray(pcd.normals).copy()
    # Global sign: outward from the centroid on average.
    if np.einsum("ij,ij->", sub_n, local[sub] - local[sub].mean(axis=0)) < 0:
        sub_n *= -1
    if len(sub) == n:
        return sub_n
    _, nearest = cKDTree(local[sub]).query(local, k=1)
    flip = np.einsum("ij,ij->i", normals, sub_n[nearest]) < 0
    out = normals.copy()
    out[flip] *= -1
    out[sub] = sub_n
    return out
