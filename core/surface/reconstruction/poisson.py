"""The baseline users would otherwise pick: screened Poisson reconstruction (open3d).

Same inputs and outputs as the neural method (a :class:`~core.surface.scans.scan.Scan` in, a
:class:`~core.surface.meshes.mesh.Mesh` in scan coordinates out), so both go through the same
writers and metrics. Work happens in the scan's normalized space (float64 there,
so georeferenced offsets do not cost precision); normals are estimated and oriented
consistently when the scan has none. Defaults chosen by measurement (bench/raw_scans.py,
bench/poisson.py) so that this path is no worse than open3d's Poisson used plainly: the
surface is trimmed by support (faces far from every supporting point, gap-aware, as
the neural method's final trim) rather than by Poisson density, which cut real
surface next to holes (scan->mesh worse by 1-9% at quantiles 0.005-0.02 on a raw SRB scan).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from levelset_studio.core.errors import ScanError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.params import param, validate_config
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.scans.scan import Scan


@dataclass(frozen=True)
class PoissonConfig:
    """Settings of the screened Poisson baseline."""

    depth: int = param(
        9,
        "Octree depth",
        "Octree depth of the Poisson solve: 9 is detailed, 8 faster and smoother, 10 finer and slower",
        minimum=5,
        maximum=12,
    )
    density_quantile: float = param(
        0.0,
        "Density trim",
        "Remove surface whose Poisson density is in this "
        "lowest fraction (surface invented far from the points); 0 keeps a "
        "closed surface",
        minimum=0.0,
        maximum=0.5,
        zero="off",
    )
    trim_distance: float = param(
        0.01,
        "Trim distance",
        "remove faces farther than this from every supporting scan point (fraction of the "
        "diagonal, at least 1.5 local point spacings; 0: keep all)",
        minimum=0.0,
        maximum=1.0,
        unit="diagonal",
    )
    ignore_outliers: bool = param(
        False,
        "Ignore outliers",
        "leave out points with no surface around them (the neural method's pass); off by default: "
        "on a raw SRB scan it left scan->mesh 0.4% worse and the support trim alone removed the blobs",
    )
    normals_k: int = param(
        30, "Normal neighbours", "Neighbours used to estimate normals when the scan has none", minimum=3, maximum=200
    )
    orient_k: int = param(
        12,
        "Orientation neighbours",
        "Neighbours of the graph that orients estimated normals consistently (larger is more robust and slower)",
        minimum=3,
        maximum=100,
    )
    orient_max_points: int = param(
        60000,
        "Orientation points",
        "Orient normals on at most this many points and transfer to the rest (bounds the time on big scans)",
        minimum=1000,
        maximum=5_000_000,
        advanced=True,
    )
    scale: float = param(
        1.1,
        "Box scale",
        "Ratio of the Poisson cube to the scan's bounding box",
        minimum=1.0,
        maximum=2.0,
        advanced=True,
    )
    linear_fit: bool = param(
        False, "Linear fit", "Place iso-vertices by linear interpolation (open3d linear_fit)", advanced=True
    )
    reestimate_normals: bool = param(
        False, "Re-estimate normals", "Ignore the scan's own normals and estimate them", advanced=True
    )

    def __post_init__(self) -> None:
        validate_config(self)


#: Timings (seconds) of the last :func:`poisson_reconstruct` call, per stage (for benches).
last_timings: dict[str, float] = {}


def estimate_oriented_normals(
    points: np.ndarray, k: int = 30, orient_k: int = 12, orient_max_points: int = 60000, seed: int = 0
) -> np.ndarray:
    """Unit normals for ``points`` (normalized space), oriented consistently and outward.

    open3d's ``orient_normals_consistent_tangent_plane`` (a minimum spanning tree over
    a k-NN graph) is slow on big clouds, so it runs on a random subset of at most
    ``orient_max_points`` points; every point then takes the orientation of its
    nearest oriented neighbour. Finally the whole field is flipped, if needed, so that
    normals point away from the centroid on average (outward for closed objects).
    """
    import open3d as o3d
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=int(k)))
    normals = np.asarray(pcd.normals).copy()
    n = pts.shape[0]
    if n > orient_max_points:
        idx = np.random.default_rng(seed).choice(n, size=orient_max_points, replace=False)
    else:
        idx = np.arange(n)
    sub = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts[idx]))
    sub.normals = o3d.utility.Vector3dVector(normals[idx])
    sub.orient_normals_consistent_tangent_plane(int(min(orient_k, max(3, idx.size - 1))))
    oriented = np.asarray(sub.normals)
    if idx.size < n:
        _, nearest = cKDTree(pts[idx]).query(pts, k=1, workers=-1)
        flip = np.einsum("ij,ij->i", normals, oriented[nearest]) < 0
        normals[flip] *= -1.0
    else:
        normals = oriented.copy()
    if np.einsum("ij,ij->i", normals, pts - pts.mean(axis=0)).sum() < 0:
        normals *= -1.0
    return normals


def poisson_reconstruct(scan: Scan, config: PoissonConfig | None = None, cancel: CancelToken | None = None) -> Mesh:
    """Screened Poisson surface of ``scan`` (open3d), trimmed by support, in scan coordinates."""
    import open3d as o3d

    cfg = PoissonConfig() if config is None else config
    if len(scan) < 10:
        raise ScanError(f"Poisson needs at least 10 points, the scan has {len(scan)}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    from levelset_studio.core.surface.reconstruction.support import find_support, support_faces_mask

    pts = scan.transform.to_unit(scan.points, dtype=np.float64)
    support = find_support(pts) if (cfg.ignore_outliers or cfg.trim_distance > 0) else None
    keep = support.inliers if (support is not None and cfg.ignore_outliers) else np.ones(len(pts), dtype=bool)
    if keep.sum() < 10:
        keep = np.ones(len(pts), dtype=bool)
    timings["support"] = time.perf_counter() - t0
    scan_normals = None if scan.normals is None else np.asarray(scan.normals, dtype=np.float64)[keep]
    pts = pts[keep]
    if scan_normals is not None and not cfg.reestimate_normals:
        normals = scan_normals
        ln = np.linalg.norm(normals, axis=1, keepdims=True)
        good = (ln[:, 0] > 1e-12) & np.all(np.isfinite(normals), axis=1)
        pts, normals = pts[good], normals[good] / ln[good]
        if pts.shape[0] < 10:
            raise ScanError("Poisson: fewer than 10 points have a usable normal")
    else:
        normals = estimate_oriented_normals(pts, cfg.normals_k, cfg.orient_k, cfg.orient_max_points)
    timings["normals"] = time.perf_counter() - t0
    if cancel is not None:
        cancel.raise_if_cancelled()

    t1 = time.perf_counter()
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    pcd.normals = o3d.utility.Vector3dVector(normals)
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        tri, densities = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
            pcd, depth=int(cfg.depth), scale=float(cfg.scale), linear_fit=bool(cfg.linear_fit)
        )
    timings["poisson"] = time.perf_counter() - t1
    if cancel is not None:
        cancel.raise_if_cancelled()

    verts = np.asarray(tri.vertices, dtype=np.float64)
    faces = np.asarray(tri.triangles, dtype=np.int64)
    dens = np.asarray(densities, dtype=np.float64)
    mesh = Mesh(scan.transform.to_scan(verts), faces, None, name="poisson")
    if cfg.density_quantile > 0 and mesh.n_faces:
        low = dens < np.quantile(dens, cfg.density_quantile)
        mesh = mesh.with_faces(np.asarray(~low[faces].any(axis=1)), name="poisson")
    if cfg.trim_distance > 0 and support is not None and mesh.n_faces:
        from levelset_studio.core.surface.meshes.meshing import trim_distance_for

        inliers = scan.points[support.inliers]
        distance = trim_distance_for(inliers, cfg.trim_distance, scan.diagonal)
        spacing = support.spacing[support.inliers].astype(np.float64) * scan.transform.scale
        mesh = mesh.with_faces(
            support_faces_mask(mesh.vertices, mesh.faces, inliers, spacing, distance), name="poisson"
        )
    if mesh.n_vertices:
        mesh = Mesh(mesh.vertices, mesh.faces, _vertex_normals(mesh), name="poisson")
    timings["total"] = time.perf_counter() - t0
    last_timings.clear()
    last_timings.update(timings)
    return mesh


def _vertex_normals(mesh: Mesh) -> np.ndarray:
    """Area-weighted vertex normals (float32) for display."""
    v = mesh.vertices - mesh.vertices.mean(axis=0)
    fn = np.cross(v[mesh.faces[:, 1]] - v[mesh.faces[:, 0]], v[mesh.faces[:, 2]] - v[mesh.faces[:, 0]])
    vn = np.zeros_like(v)
    for c in range(3):
        np.add.at(vn, mesh.faces[:, c], fn)
    ln = np.linalg.norm(vn, axis=1, keepdims=True)
    return np.where(ln > 0, vn / np.maximum(ln, 1e-300), 0.0).astype(np.float32)
