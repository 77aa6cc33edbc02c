"""How good is a reconstruction: distances between a mesh, a scan and a reference mesh.

Definitions (docs/method.md §4), all in the scan's own units unless said otherwise:

- point -> mesh distance: exact Euclidean distance from a point to the nearest triangle
  (open3d ``RaycastingScene.compute_distance``), computed in a local frame so that
  georeferenced coordinates (offsets of millions of units) keep their precision;
- point -> scan distance: distance to the nearest scan point (KD-tree);
- a mesh is represented by ``n_samples`` area-weighted points on its surface;
- Chamfer L1 = (mean d(A -> B) + mean d(B -> A)) / 2 over samples of mesh A
  (reconstruction) and B (reference); Chamfer L2 the same with squared distances
  (squared units); Hausdorff = max(max d(A -> B), max d(B -> A));
- one-sided scan -> mesh (every scan point) and mesh -> scan (mesh samples) distance
  statistics: mean, RMS, 95th percentile, max;
- far-area fraction: the fraction of the mesh's area farther than
  ``far_threshold * diagonal`` from every scan point (invented surface);
- normal consistency: mean |cos| between the normal at a sample and the normal of the
  nearest triangle of the other surface (both ways averaged against a reference, or
  scan normals against the mesh when there is no reference);
- diagonal: the bounding-box diagonal of the scan points; every length is also given
  as a fraction of it (squared lengths as a fraction of its square).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from levelset_studio.core.errors import LevelSetError
from levelset_studio.core.surface.meshes.mesh import Mesh

# --------------------------------------------------------------------------- distances


def _points(a: np.ndarray, what: str) -> np.ndarray:
    p = np.asarray(a, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise LevelSetError(f"{what}: expected an (N, 3) array of points, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise LevelSetError(f"{what}: contains non-finite coordinates")
    return p


def point_distances(query: np.ndarray, reference_points: np.ndarray) -> np.ndarray:
    """Distance from each query point to its nearest reference point (float64)."""
    from scipy.spatial import cKDTree

    q = _points(query, "query points")
    ref = _points(reference_points, "reference points")
    if ref.shape[0] == 0:
        raise LevelSetError("reference points: the point set is empty")
    if q.shape[0] == 0:
        return np.zeros(0)
    origin = ref.mean(axis=0)  # a local frame keeps precision far from the origin
    d, _ = cKDTree(ref - origin).query(q - origin, k=1, workers=-1)
    return np.asarray(d, dtype=np.float64)


class SurfaceQuery:
    """Exact point -> triangle queries against one mesh (open3d RaycastingScene).

    open3d works in float32, so the mesh is moved to a local frame (``origin``,
    float64) first: distances stay accurate for scans far from the coordinate origin.
    """

    def __init__(self, mesh: Mesh, origin: np.ndarray | None = None) -> None:
        import open3d as o3d

        if mesh.is_empty:
            raise LevelSetError(f"{mesh.name}: the mesh has no triangles")
        if not np.all(np.isfinite(mesh.vertices)):
            raise LevelSetError(f"{mesh.name}: the mesh has non-finite vertex coordinates")
        if mesh.faces.min() < 0 or mesh.faces.max() >= mesh.n_vertices:
            raise LevelSetError(f"{mesh.name}: a face refers to a vertex that does not exist")
        self.origin = mesh.vertices.mean(axis=0) if origin is None else np.asarray(origin, dtype=np.float64)
        self._o3d = o3d
        self.scene = o3d.t.geometry.RaycastingScene()
        verts = o3d.core.Tensor(np.ascontiguousarray(mesh.vertices - self.origin, dtype=np.float32))  # type: ignore[call-overload]  # stubs omit the NumPy overload
        faces = o3d.core.Tensor(np.ascontiguousarray(mesh.faces, dtype=np.uint32))  # type: ignore[call-overload]
        self.scene.add_triangles(verts, faces)

    def _query(self, points: np.ndarray) -> Any:
        p = np.ascontiguousarray(np.asarray(points, dtype=np.float64) - self.origin, dtype=np.float32)
        return self._o3d.core.Tensor(p)  # type: ignore[call-overload]

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Unsigned distance from each point to the surface (float64)."""
        if len(points) == 0:
            return np.zeros(0)
        return self.scene.compute_distance(self._query(points)).numpy().astype(np.float64)

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance to the surface and the unit normal of the nearest triangle."""
        if len(points) == 0:
            return np.zeros(0), np.zeros((0, 3))
        q = np.asarray(points, dtype=np.float64)
        out = self.scene.compute_closest_points(self._query(q))
        closest = out["points"].numpy().astype(np.float64) + self.origin
        normals = out["primitive_normals"].numpy().astype(np.float64)
        return np.linalg.norm(q - closest, axis=1), normals


def mesh_distances(points: np.ndarray, mesh: Mesh, n_samples: int | None = None, seed: int = 0) -> np.ndarray:
    """Distance from each point to the surface of ``mesh`` (float64, mesh units).

    Exact point-to-triangle distance by default; with ``n_samples`` the distance to
    that many area-weighted surface samples instead (an upper bound, for comparison).
    """
    p = _points(points, "points")
    if mesh.is_empty:
        raise LevelSetError(f"{mesh.name}: the mesh has no triangles")
    if n_samples is None:
        return SurfaceQuery(mesh).distance(p)
    return point_distances(p, mesh.sample_surface(int(n_samples), seed=seed))


def vertex_distances(mesh: Mesh, scan_points: np.ndarray) -> np.ndarray:
    """Per-vertex distance to the nearest scan point: for colouring a mesh by error."""
    if mesh.n_vertices == 0:
        return np.zeros(0)
    return point_distances(mesh.vertices, scan_points)


def distance_histogram(d: np.ndarray, bins: int | np.ndarray = 50) -> tuple[np.ndarray, np.ndarray]:
    """Histogram (counts, bin edges) of the finite distances ``d`` (for the GUI legend)."""
    d = np.asarray(d, dtype=np.float64).reshape(-1)
    d = d[np.isfinite(d)]
    if d.size == 0:
        edges = np.linspace(0.0, 1.0, (bins if isinstance(bins, int) else len(bins) - 1) + 1)
        return np.zeros(len(edges) - 1, dtype=np.int64), edges
    counts, edges = np.histogram(
        d, bins=bins, range=None if not isinstance(bins, int) else (0.0, max(float(d.max()), 1e-300))
    )
    return counts.astype(np.int64), edges


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class DistanceStats:
    """Summary of one-sided distances (scan units)."""

    mean: float
    rms: float
    p95: float
    max: float
    count: int = 0

    @classmethod
    def of(cls, d: np.ndarray) -> DistanceStats:
        d = np.asarray(d, dtype=np.float64)
        if d.size == 0:
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        return cls(
            float(d.mean()), float(np.sqrt(np.mean(d * d))), float(np.percentile(d, 95)), float(d.max()), int(d.size)
        )

    def to_dict(self, diagonal: float | None = None) -> dict[str, float]:
        out: dict[str, Any] = {
            "mean": self.mean,
            "rms": self.rms,
            "p95": self.p95,
            "max": self.max,
            "count": self.count,
        }
        if diagonal:
            out["fraction_of_diagonal"] = {k: getattr(self, k) / diagonal for k in ("mean", "rms", "p95", "max")}
        return out


@dataclass(frozen=True)
class EvaluationReport:
    """Every number of :func:`evaluate_reconstruction`, in scan units, with its definition."""

    diagonal: float
    n_samples: int
    far_threshold: float  # fraction of the diagonal
    scan_to_mesh: DistanceStats
    mesh_to_scan: DistanceStats
    far_area_fraction: float
    mesh_area: float
    mesh_faces: int
    scan_points: int
    chamfer_l1: float | None = None
    chamfer_l2: float | None = None
    hausdorff: float | None = None
    mesh_to_reference: DistanceStats | None = None
    reference_to_mesh: DistanceStats | None = None
    normal_consistency: float | None = None
    normal_consistency_against: str | None = None  # "reference" or "scan normals"
    name: str = "mesh"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: values in scan units plus ``fraction_of_diagonal`` entries."""
        diag = self.diagonal
        out: dict[str, Any] = {
            "mesh": self.name,
            "units": "scan units (the input scan's own coordinates)",
            "diagonal": diag,
            "n_samples": self.n_samples,
            "far_threshold": self.far_threshold,
            "far_threshold_distance": self.far_threshold * diag,
            "mesh_faces": self.mesh_faces,
            "mesh_area": self.mesh_area,
            "scan_points": self.scan_points,
            "scan_to_mesh": self.scan_to_mesh.to_dict(diag),
            "mesh_to_scan": self.mesh_to_scan.to_dict(diag),
            "far_area_fraction": self.far_area_fraction,
            "chamfer_l1": self.chamfer_l1,
            "chamfer_l2": self.chamfer_l2,
            "hausdorff": self.hausdorff,
            "mesh_to_reference": None if self.mesh_to_reference is None else self.mesh_to_reference.to_dict(diag),
            "reference_to_mesh": None if self.reference_to_mesh is None else self.reference_to_mesh.to_dict(diag),
            "normal_consistency": self.normal_consistency,
            "normal_consistency_against": self.normal_consistency_against,
            "fraction_of_diagonal": {
                "chamfer_l1": None if self.chamfer_l1 is None else self.chamfer_l1 / diag,
                "chamfer_l2": None if self.chamfer_l2 is None else self.chamfer_l2 / diag**2,
                "hausdorff": None if self.hausdorff is None else self.hausdorff / diag,
            },
            "definitions": DEFINITIONS,
        }
        out.update(self.extra)
        return _json_safe(out)

    def format(self) -> str:
        """A text table that says what each number means and its units."""
        diag = self.diagonal
        rows: list[tuple[str, str, str]] = []

        def add(label: str, value: float | None, squared: bool = False) -> None:
            if value is None:
                return
            frac = value / (diag**2 if squared else diag)
            unit = "units^2" if squared else "units"
            rows.append((label, f"{value:.6g} {unit}", f"{100 * frac:.4g}%" + (" of diag^2" if squared else "")))

        lines = [
            f"Evaluation of {self.name}: {self.mesh_faces} faces, area {self.mesh_area:.6g} units^2; "
            f"scan of {self.scan_points} points",
            f"Units: the scan's own; bounding-box diagonal of the scan = {diag:.6g} (percentages are of this diagonal)",
        ]
        if self.chamfer_l1 is not None:
            add("Chamfer L1 (mean dist, both ways averaged)", self.chamfer_l1)
            add("Chamfer L2 (mean squared dist, both ways)", self.chamfer_l2, squared=True)
            add("Hausdorff (larger one-sided max)", self.hausdorff)
        for title, st in (
            ("scan -> mesh", self.scan_to_mesh),
            ("mesh -> scan", self.mesh_to_scan),
            ("mesh -> reference", self.mesh_to_reference),
            ("reference -> mesh", self.reference_to_mesh),
        ):
            if st is None:
                continue
            for key in ("mean", "rms", "p95", "max"):
                add(f"{title} {key}", getattr(st, key))
        w = max(len(r[0]) for r in rows) if rows else 10
        lines.append(f"{'metric':<{w}}  {'value':>20}  {'% diagonal':>12}")
        lines += [f"{a:<{w}}  {b:>20}  {c:>12}" for a, b, c in rows]
        far_label = f"area > {100 * self.far_threshold:g}% diag from scan"
        lines.append(f"{far_label:<{w}}  {100 * self.far_area_fraction:>19.4g}%  {'of mesh area':>12}")
        if self.normal_consistency is not None:
            lines.append(
                f"{'normal consistency vs ' + str(self.normal_consistency_against):<{w}}  "
                f"{self.normal_consistency:>20.4f}  (mean |cos|, 1 = perfect)"
            )
        lines.append("Definitions:")
        lines += [f"  {k}: {v}" for k, v in DEFINITIONS.items()]
        return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    """Replace non-finite floats (an undefined number) by None, recursively."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


DEFINITIONS = {
    "distance": "Euclidean; point->mesh exact to the nearest triangle, point->scan to the nearest scan point",
    "samples": "a mesh is represented by n_samples area-weighted points on its surface",
    "chamfer_l1": "(mean d(mesh->reference) + mean d(reference->mesh)) / 2",
    "chamfer_l2": "(mean d^2(mesh->reference) + mean d^2(reference->mesh)) / 2, squared units",
    "hausdorff": "max(max d(mesh->reference), max d(reference->mesh))",
    "scan_to_mesh": "every scan point to the mesh surface",
    "mesh_to_scan": "mesh samples to the nearest scan point",
    "far_area_fraction": "fraction of mesh area farther than far_threshold*diagonal from every scan point",
    "normal_consistency": "mean |cos| between sample normals and the nearest triangle's normal",
    "diagonal": "bounding-box diagonal of the scan points",
}


def _normal_consistency(normals_a: np.ndarray, normals_b: np.ndarray) -> float:
    na = normals_a / np.maximum(np.linalg.norm(normals_a, axis=1, keepdims=True), 1e-30)
    nb = normals_b / np.maximum(np.linalg.norm(normals_b, axis=1, keepdims=True), 1e-30)
    cos = np.abs(np.einsum("ij,ij->i", na, nb))
    ok = np.isfinite(cos) & (np.linalg.norm(normals_a, axis=1) > 0) & (np.linalg.norm(normals_b, axis=1) > 0)
    return float(cos[ok].mean()) if ok.any() else math.nan


def face_normals(mesh: Mesh) -> np.ndarray:
    """Unit normals of the faces (zero for degenerate faces)."""
    v = mesh.vertices
    n = np.cross(v[mesh.faces[:, 1]] - v[mesh.faces[:, 0]], v[mesh.faces[:, 2]] - v[mesh.faces[:, 0]])
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(ln > 0, n / np.maximum(ln, 1e-300), 0.0)


def evaluate_reconstruction(
    mesh: Mesh,
    scan_points: np.ndarray,
    reference: Mesh | None = None,
    *,
    n_samples: int = 1_000_000,
    far_threshold: float = 0.02,
    seed: int = 0,
    scan_normals: np.ndarray | None = None,
) -> EvaluationReport:
    """Compare a reconstructed mesh with its scan (and a reference mesh when given).

    See the module docstring for the definitions. ``scan_normals`` (optional) gives the
    normal consistency when there is no reference.
    """
    scan = _points(scan_points, "scan points")
    if scan.shape[0] == 0:
        raise LevelSetError("scan: no points to evaluate against")
    if mesh.is_empty:
        raise LevelSetError(f"{mesh.name}: the mesh has no triangles, nothing to evaluate")
    if n_samples < 1:
        raise LevelSetError(f"samples: {n_samples} must be at least 1")
    if not (0 < far_threshold < 1):
        raise LevelSetError(f"far_threshold: {far_threshold} is outside (0, 1)")
    diagonal = float(np.linalg.norm(scan.max(axis=0) - scan.min(axis=0)))
    if diagonal <= 0:
        raise LevelSetError("scan: all points coincide (zero bounding-box diagonal)")
    origin = 0.5 * (scan.max(axis=0) + scan.min(axis=0))

    mesh_query = SurfaceQuery(mesh, origin)
    samples, sample_faces = mesh.sample_surface_faces(n_samples, seed=seed)
    d_scan_mesh, mesh_normals_at_scan = mesh_query.closest(scan)
    d_mesh_scan = point_distances(samples, scan)
    far = float(np.mean(d_mesh_scan > far_threshold * diagonal))

    kw: dict[str, Any] = {}
    fn_mesh = face_normals(mesh)
    if reference is not None:
        if reference.is_empty:
            raise LevelSetError(f"{reference.name}: the reference mesh has no triangles")
        ref_query = SurfaceQuery(reference, origin)
        ref_samples, ref_faces = reference.sample_surface_faces(n_samples, seed=seed + 1)
        d_m2r, ref_normals = ref_query.closest(samples)
        d_r2m, mesh_normals = mesh_query.closest(ref_samples)
        kw.update(
            chamfer_l1=0.5 * (float(d_m2r.mean()) + float(d_r2m.mean())),
            chamfer_l2=0.5 * (float(np.mean(d_m2r**2)) + float(np.mean(d_r2m**2))),
            hausdorff=max(float(d_m2r.max()), float(d_r2m.max())),
            mesh_to_reference=DistanceStats.of(d_m2r),
            reference_to_mesh=DistanceStats.of(d_r2m),
            normal_consistency=0.5
            * (
                _normal_consistency(fn_mesh[sample_faces], ref_normals)
                + _normal_consistency(face_normals(reference)[ref_faces], mesh_normals)
            ),
            normal_consistency_against="reference",
        )
    elif scan_normals is not None:
        sn = np.asarray(scan_normals, dtype=np.float64).reshape(-1, 3)
        if sn.shape[0] == scan.shape[0]:
            kw.update(
                normal_consistency=_normal_consistency(sn, mesh_normals_at_scan),
                normal_consistency_against="scan normals",
            )

    return EvaluationReport(
        diagonal=diagonal,
        n_samples=int(n_samples),
        far_threshold=float(far_threshold),
        scan_to_mesh=DistanceStats.of(d_scan_mesh),
        mesh_to_scan=DistanceStats.of(d_mesh_scan),
        far_area_fraction=far,
        mesh_area=mesh.area(),
        mesh_faces=mesh.n_faces,
        scan_points=int(scan.shape[0]),
        name=mesh.name,
        **kw,
    )


def chamfer_distance(a: Mesh, b: Mesh, n_samples: int = 1_000_000, seed: int = 0) -> tuple[float, float, float]:
    """(Chamfer L1, Chamfer L2, Hausdorff) between two meshes, as defined above."""
    origin = 0.5 * (b.vertices.min(axis=0) + b.vertices.max(axis=0)) if b.n_vertices else None
    sa = a.sample_surface(n_samples, seed=seed)
    sb = b.sample_surface(n_samples, seed=seed + 1)
    d_ab = SurfaceQuery(b, origin).distance(sa)
    d_ba = SurfaceQuery(a, origin).distance(sb)
    return (
        0.5 * (float(d_ab.mean()) + float(d_ba.mean())),
        0.5 * (float(np.mean(d_ab**2)) + float(np.mean(d_ba**2))),
        max(float(d_ab.max()), float(d_ba.max())),
    )
