"""Meshing the zero level set of an implicit function: coarse-to-fine marching cubes.

A dense 256^3 grid is 16.8M network evaluations, yet only the cells near the surface
matter. :func:`extract_mesh` evaluates a coarse grid (~16 cells per axis), then refines
level by level (stride 16 -> 8 -> 4 -> 2 -> 1 at 256^3) only the cells that may hold
the surface: a sign change among the corners, or a corner value within a Lipschitz
margin of zero. The F of a reconstruction is roughly a distance but not exactly one,
so the margin uses the largest slope measured on the coarse grid (at least 1) times a
safety factor; the last decision (which stride-2 cells get unit resolution) uses half
the bound, because a verification pass follows: it evaluates every cell next to the
surface found so far (and every cell where the filled-in signs would fake a
crossing) until nothing changes. On the cells that hold the surface the grid values
are then exactly those of the dense grid, so marching cubes (restricted by a mask to
those cells) returns the same triangles. What can be missed is a separate piece
smaller than about one stride-2 cell that no refined node touches.

Also here: the clean-up filters that follow meshing (:func:`trim_far_from_points`,
:func:`remove_small_components`), which return new meshes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from levelset_studio.core.errors import ConfigError, ModelError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.scans.scan import NormalizingTransform

#: Largest grid accepted (the reconstruction settings allow the same). Memory is about 20 bytes per
#: grid node (512^3: ~2.7 GB; 1024^3 needs a large machine: core.memory checks before a run).
MAX_RESOLUTION = 1024
#: The coarsest level has about this many cells per axis.
COARSE_CELLS = 16
#: Margin factor (times the Lipschitz bound) of the last refinement decision.
LAST_LEVEL_FACTOR = 0.5

# Corner offsets of a unit cell, in (i, j, k) index order.
_CORNERS = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=np.int64)


class MeshingStats:
    """What one extraction cost (filled in by :func:`extract_mesh`, kept on the last call)."""

    def __init__(self) -> None:
        self.evaluations = 0  # network evaluations (points)
        self.dense_evaluations = 0  # what the dense grid would have cost
        self.levels = 0
        self.verify_rounds = 0
        self.verify_evaluations = 0
        self.lipschitz = 1.0

    def as_dict(self) -> dict[str, float]:
        return dict(vars(self))


#: Statistics of the most recent :func:`extract_mesh` call in this process (for benches/tests).
last_stats = MeshingStats()


def _check_args(resolution: int, bound: float, batch_size: int) -> None:
    if not isinstance(resolution, (int, np.integer)) or not 8 <= resolution <= MAX_RESOLUTION:
        raise ConfigError(f"resolution: {resolution!r} is outside [8, {MAX_RESOLUTION}]")
    if not (math.isfinite(bound) and bound > 0):
        raise ConfigError(f"bound: {bound!r} must be a positive number")
    if batch_size < 1:
        raise ConfigError(f"batch_size: {batch_size!r} must be at least 1")


class _Evaluator:
    """Evaluates ``fn`` at grid nodes given by (flat) indices of a cubic grid, in batches."""

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        n: int,
        h: float,
        bound: float,
        device: torch.device,
        batch_size: int,
        cancel: CancelToken | None,
    ) -> None:
        self.fn, self.n, self.h, self.bound = fn, n, h, bound
        self.device, self.batch_size, self.cancel = device, batch_size, cancel
        self.count = 0

    def __call__(self, flat: np.ndarray) -> np.ndarray:
        """Values (float32) at the nodes with flat indices ``flat`` of the n^3 grid."""
        out = np.empty(flat.shape[0], dtype=np.float32)
        n = self.n
        with torch.no_grad():
            for start in range(0, flat.shape[0], self.batch_size):
                if self.cancel is not None:
                    self.cancel.raise_if_cancelled()
                f = flat[start : start + self.batch_size]
                ijk = np.stack((f // (n * n), (f // n) % n, f % n), axis=1)
                pts = torch.from_numpy((ijk * self.h - self.bound).astype(np.float32)).to(self.device)
                vals = self.fn(pts)
                out[start : start + f.shape[0]] = vals.detach().reshape(-1).to("cpu", torch.float32).numpy()
        if not np.all(np.isfinite(out)):
            raise ModelError("the network produced non-finite values (NaN or inf) while meshing")
        self.count += flat.shape[0]
        return out


def _upsample_sign(a: np.ndarray) -> np.ndarray:
    """Nearest-node upsampling of a boolean node grid by 2: (m,)^3 -> (2m-1,)^3.

    Inside a cell whose corners share one sign every new node gets that sign, which is
    all the fill of unevaluated nodes needs (their values are never interpolated).
    """
    m = a.shape[0]
    out = np.empty((2 * m - 1,) * 3, dtype=bool)
    out[::2, ::2, ::2] = a
    out[1::2, ::2, ::2] = a[:-1]
    out[:, 1::2, ::2] = out[:, :-1:2, ::2]
    out[:, :, 1::2] = out[:, :, :-1:2]
    return out


def _cell_view(arr: np.ndarray, corner: np.ndarray) -> np.ndarray:
    """The values of one corner of every unit cell of a node grid (shape (n-1,)^3)."""
    i, j, k = corner
    n = arr.shape[0]
    return arr[i : n - 1 + i, j : n - 1 + j, k : n - 1 + k]


def _crossing_and_complete(fill: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit cell: does the filled grid change sign across it, and are all corners known?"""
    pos = fill > 0
    any_pos = np.zeros(tuple(s - 1 for s in fill.shape), dtype=bool)
    all_pos = np.ones_like(any_pos)
    complete = np.ones_like(any_pos)
    for c in _CORNERS:
        p = _cell_view(pos, c)
        any_pos |= p
        all_pos &= p
        complete &= _cell_view(known, c)
    return any_pos & ~all_pos, complete


def _cells_corner_nodes(cells: np.ndarray, n: int) -> np.ndarray:
    """Flat node indices (n^3 grid) of the 8 corners of unit cells given as (K, 3) indices."""
    nodes = (cells[:, None, :] + _CORNERS[None, :, :]).reshape(-1, 3)
    return np.unique((nodes[:, 0] * n + nodes[:, 1]) * n + nodes[:, 2])


def _refine_dense(values: np.ndarray, known: np.ndarray, evaluate: _Evaluator) -> None:
    """Evaluate every node of the grid (the dense baseline)."""
    flat = np.arange(values.size, dtype=np.int64)
    values.reshape(-1)[:] = evaluate(flat)
    known[:] = True


def extract_mesh(
    fn: Callable[[torch.Tensor], torch.Tensor],
    resolution: int,
    transform: NormalizingTransform,
    *,
    bound: float = 1.2,
    device: torch.device | None = None,
    coarse_to_fine: bool = True,
    batch_size: int = 65536,
    cancel: CancelToken | None = None,
    safety: float = 1.5,
    name: str = "reconstruction",
) -> Mesh:
    """The zero level set of ``fn`` as a triangle mesh in scan coordinates.

    ``fn`` maps (N, 3) float32 points of the unit space (on ``device``) to (N,) values,
    negative inside. The grid has ``resolution`` nodes per axis over [-bound, bound]^3.
    With ``coarse_to_fine`` only cells near the surface are evaluated at full
    resolution (``safety`` scales the Lipschitz margin that decides "near"); the
    triangles equal those of the dense grid. Faces are oriented outward and vertex
    normals point outward. An empty level set gives an empty mesh.
    """
    _check_args(resolution, bound, batch_size)
    device = torch.device("cpu") if device is None else torch.device(device)
    stats = MeshingStats()
    h = 2.0 * bound / (resolution - 1)
    stats.dense_evaluations = resolution**3

    if coarse_to_fine:
        # Strides S = 2^k so that the coarse grid has ~COARSE_CELLS cells per axis; the
        # node grid is padded to n = nb*S + 1 >= resolution (same spacing h) and cropped.
        k = max(0, math.ceil(math.log2((resolution - 1) / COARSE_CELLS)))
        stride = 2**k
        nb = math.ceil((resolution - 1) / stride)
        n = nb * stride + 1
    else:
        stride, n = 1, resolution
    evaluate = _Evaluator(fn, n, h, bound, device, batch_size, cancel)
    values = np.zeros((n, n, n), dtype=np.float32)
    known = np.zeros((n, n, n), dtype=bool)

    mask = None
    if not coarse_to_fine or stride == 1:
        _refine_dense(values, known, evaluate)
        fill = values
    else:
        fill = _refine_coarse_to_fine(values, known, evaluate, stride, h, safety, stats)
        crossing = _verify(fill, values, known, evaluate, stats, cancel)
        # marching cubes visits only the crossing cells (all 8 corners must be in the mask)
        mask = np.zeros_like(known)
        for c in _CORNERS:
            mask[c[0] : n - 1 + c[0], c[1] : n - 1 + c[1], c[2] : n - 1 + c[2]] |= crossing

    stats.evaluations = evaluate.count
    global last_stats
    last_stats = stats

    r = resolution
    volume = fill[:r, :r, :r]
    return _marching_cubes(volume, h, bound, transform, name, None if mask is None else mask[:r, :r, :r])


def _refine_coarse_to_fine(
    values: np.ndarray,
    known: np.ndarray,
    evaluate: _Evaluator,
    stride: int,
    h: float,
    safety: float,
    stats: MeshingStats,
) -> np.ndarray:
    """Evaluate the coarse grid and refine near-surface cells down to stride 1.

    Returns the filled grid: real values where evaluated, elsewhere +1 or -1, the sign
    of the finest evaluated cell around the node (a cell found to hold no surface has
    one sign at all its corners, so filling it with that sign adds no crossing).
    """
    n = values.shape[0]
    # Level 0: every node of the coarse grid.
    coarse_idx = np.arange(0, n, stride)
    gi, gj, gk = np.meshgrid(coarse_idx, coarse_idx, coarse_idx, indexing="ij")
    flat = ((gi * n + gj) * n + gk).reshape(-1)
    values.reshape(-1)[flat] = evaluate(flat)
    known.reshape(-1)[flat] = True
    coarse = values[::stride, ::stride, ::stride]

    # Lipschitz estimate: the steepest coarse edge (F of a reconstruction is ~ a distance,
    # so at least 1), which makes "no surface within this cell" a bound, not a guess.
    slopes = [np.abs(np.diff(coarse, axis=a)).max(initial=0.0) for a in range(3)]
    lipschitz = max(1.0, float(max(slopes)) / (stride * h))
    stats.lipschitz = lipschitz

    # Active cells at the current stride, as flat indices of their origin node.
    nb = (n - 1) // stride
    o = np.arange(nb, dtype=np.int64) * stride
    cells = ((o[:, None, None] * n + o[None, :, None]) * n + o[None, None, :]).reshape(-1)
    corner_flat = (_CORNERS[:, 0] * n + _CORNERS[:, 1]) * n + _CORNERS[:, 2]  # unit-cell corner offsets
    sub = np.array([[i, j, k] for i in range(3) for j in range(3) for k in range(3)], dtype=np.int64)
    sub_flat = (sub[:, 0] * n + sub[:, 1]) * n + sub[:, 2]
    vflat, kflat = values.reshape(-1), known.reshape(-1)
    mark = np.zeros(n**3, dtype=bool)
    s = stride
    positive = coarse > 0  # sign grid at the current stride
    while s > 1 and cells.size:
        stats.levels += 1
        corner_vals = vflat[cells[:, None] + s * corner_flat[None, :]]  # (K, 8)
        # "May hold the surface": a sign change, or a corner closer to 0 than the
        # Lipschitz bound over half the cell diagonal. The last decision (which cells get
        # unit resolution) uses the bound itself: the verification pass that follows
        # extends every surface found to all of its cells.
        factor = safety if s > 2 else min(safety, LAST_LEVEL_FACTOR)
        margin = factor * lipschitz * math.sqrt(3.0) * s * h / 2.0
        cmin, cmax = corner_vals.min(axis=1), corner_vals.max(axis=1)
        active = ((cmin <= 0) & (cmax > 0)) | (np.minimum(np.abs(cmin), np.abs(cmax)) <= margin)
        cells = cells[active]
        half = s // 2
        # Every node of the subdivided cells (3^3 per cell at the new stride), deduplicated.
        mark[(cells[:, None] + half * sub_flat[None, :]).reshape(-1)] = True
        mark &= ~kflat
        flat = np.flatnonzero(mark)
        mark[flat] = False
        vflat[flat] = evaluate(flat)
        kflat[flat] = True
        # Signs at the new stride: known values, else the sign of the coarser grid.
        positive = np.where(known[::half, ::half, ::half], values[::half, ::half, ::half] > 0, _upsample_sign(positive))
        cells = (cells[:, None] + half * corner_flat[None, :]).reshape(-1)
        s = half
    while s > 1:  # nothing left to refine: bring the signs down to the unit grid
        half = s // 2
        positive = np.where(known[::half, ::half, ::half], values[::half, ::half, ::half] > 0, _upsample_sign(positive))
        s = half
    return np.where(known, values, np.where(positive, np.float32(1.0), np.float32(-1.0))).astype(np.float32)


def _verify(
    fill: np.ndarray,
    values: np.ndarray,
    known: np.ndarray,
    evaluate: _Evaluator,
    stats: MeshingStats,
    cancel: CancelToken | None,
) -> np.ndarray:
    """Evaluate every node that the surface could depend on, until nothing changes.

    Two kinds of cells need real values: cells where the filled grid changes sign but
    some corner is only filled (a crossing that may be fake), and the six neighbours of
    every real crossing cell (the surface may continue there, and marching cubes reads
    the neighbours' nodes for the normals). Returns the crossing cells (bool per cell).
    """
    n = fill.shape[0]
    while True:
        if cancel is not None:
            cancel.raise_if_cancelled()
        crossing, complete = _crossing_and_complete(fill, known)
        suspect = crossing & ~complete
        real = crossing & complete
        need = suspect.copy()
        m = n - 1
        for axis in range(3):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis], hi[axis] = slice(0, m - 1), slice(1, m)
            # neighbours at +1 and -1 along this axis of real crossing cells
            need[tuple(hi)] |= real[tuple(lo)] & ~complete[tuple(hi)]
            need[tuple(lo)] |= real[tuple(hi)] & ~complete[tuple(lo)]
        cells = np.argwhere(need)
        if cells.shape[0] == 0:
            return crossing
        flat = _cells_corner_nodes(cells, n)
        flat = flat[~known.reshape(-1)[flat]]
        if flat.shape[0] == 0:
            return crossing
        stats.verify_rounds += 1
        stats.verify_evaluations += int(flat.shape[0])
        vals = evaluate(flat)
        values.reshape(-1)[flat] = vals
        fill.reshape(-1)[flat] = vals
        known.reshape(-1)[flat] = True


def _marching_cubes(
    volume: np.ndarray,
    h: float,
    bound: float,
    transform: NormalizingTransform,
    name: str,
    mask: np.ndarray | None = None,
) -> Mesh:
    """skimage marching cubes at level 0, oriented outward, mapped to scan coordinates."""
    from skimage.measure import marching_cubes

    if not (volume.min() < 0.0 < volume.max()):
        return Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros((0, 3), np.float32), name)
    # skimage's 'descent' winding is outward for our convention (F < 0 inside); its
    # normals point down the gradient (inward), so they are negated.
    if mask is not None and not mask.any():
        return Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros((0, 3), np.float32), name)
    verts, faces, normals, _ = marching_cubes(
        np.ascontiguousarray(volume), level=0.0, gradient_direction="descent", mask=mask
    )
    unit = verts.astype(np.float64) * h - bound
    normals = -np.asarray(normals, dtype=np.float32)
    lens = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(lens > 0, normals / np.maximum(lens, 1e-12), 0.0).astype(np.float32)
    return Mesh(transform.to_scan(unit), faces.astype(np.int64), normals, name)


def gradient_normals(
    fn: Callable[[torch.Tensor], torch.Tensor],
    mesh: Mesh,
    transform: NormalizingTransform,
    *,
    device: torch.device | None = None,
    batch_size: int = 65536,
) -> Mesh:
    """``mesh`` with vertex normals from the gradient of the implicit ``fn`` (autograd).

    The network's gradient at a zero-level vertex is the surface normal exactly, where
    marching cubes only estimates it from grid differences: shading from these normals
    shows the surface the network learned, not the grid's facets. ``fn`` takes unit-space
    points like :func:`extract_mesh`'s and must be differentiable (no ``torch.no_grad``).
    The transform is a similarity, so unit-space directions are scan-space directions.
    Vertices where the gradient vanishes keep their marching-cubes normal.
    """
    if mesh.is_empty:
        return mesh
    device = torch.device("cpu") if device is None else torch.device(device)
    unit = transform.to_unit(mesh.vertices)
    out = np.empty((len(unit), 3), dtype=np.float32)
    for i in range(0, len(unit), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(unit[i : i + batch_size])).to(device).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(fn(x).sum(), x)
        out[i : i + batch_size] = g.detach().float().cpu().numpy()
    lens = np.linalg.norm(out, axis=1, keepdims=True)
    ok = (lens[:, 0] > 1e-12) & np.all(np.isfinite(out), axis=1)
    normals = np.zeros_like(out) if mesh.vertex_normals is None else np.array(mesh.vertex_normals, dtype=np.float32)
    normals[ok] = out[ok] / lens[ok]
    return Mesh(mesh.vertices, mesh.faces, normals, mesh.name)


# --------------------------------------------------------------------------- clean-up


def trim_far_from_points(mesh: Mesh, points: np.ndarray, max_distance: float) -> Mesh:
    """A new mesh without the faces that lie farther than ``max_distance`` from every point.

    A face is kept when its centroid or one of its vertices is within ``max_distance``
    (scan units) of some scan point: the neural counterpart of Poisson's density
    trimming, which removes surface the network invented away from the data.
    """
    if mesh.is_empty:
        return mesh
    return mesh.with_faces(near_faces_mask(mesh, points, max_distance))


# The trim distance never goes below this many median point spacings: on a sparse
# scan a threshold set as a fraction of the diagonal would tear holes between samples.
TRIM_MIN_SPACINGS = 3.0


def median_point_spacing(points: np.ndarray, *, max_samples: int = 20_000, seed: int = 0) -> float:
    """The median distance from a scan point to its nearest other point (scan units).

    Estimated on at most ``max_samples`` query points (all points stay in the tree).
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if pts.shape[0] < 2:
        return 0.0
    pts = pts - pts.mean(axis=0)
    rng = np.random.default_rng(seed)
    queries = pts if pts.shape[0] <= max_samples else pts[rng.choice(pts.shape[0], max_samples, replace=False)]
    d, _ = cKDTree(pts).query(queries, k=2, workers=-1)
    nearest = d[:, 1]
    nearest = nearest[nearest > 0]  # duplicated points say nothing of the spacing
    return float(np.median(nearest)) if nearest.size else 0.0


def trim_distance_for(points: np.ndarray, fraction: float, diagonal: float) -> float:
    """The trim distance (scan units) for ``fraction`` of the diagonal, never below
    ``TRIM_MIN_SPACINGS`` median point spacings; 0 when ``fraction`` is 0 (no trimming)."""
    if fraction <= 0:
        return 0.0
    return max(fraction * diagonal, TRIM_MIN_SPACINGS * median_point_spacing(points))


def near_faces_mask(mesh: Mesh, points: np.ndarray, max_distance: float) -> np.ndarray:
    """Which faces :func:`trim_far_from_points` keeps (a boolean per face).

    Useful where the vertices must stay as they are, e.g. a preview that keeps the
    per-vertex colours of the untrimmed mesh.
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if not (math.isfinite(max_distance) and max_distance >= 0):
        raise ConfigError(f"max_distance: {max_distance!r} must be a non-negative number")
    if mesh.is_empty:
        return np.zeros(mesh.n_faces, dtype=bool)
    if pts.shape[0] == 0:
        return np.zeros(mesh.n_faces, dtype=bool)
    origin = pts.mean(axis=0)  # local frame: keeps precision for georeferenced scans
    tree = cKDTree(pts - origin)
    v = mesh.vertices - origin
    dv, _ = tree.query(v, k=1, distance_upper_bound=max_distance * (1 + 1e-12) + 1e-300, workers=-1)
    near_v = np.isfinite(dv)
    centroids = v[mesh.faces].mean(axis=1)
    dc, _ = tree.query(centroids, k=1, distance_upper_bound=max_distance * (1 + 1e-12) + 1e-300, workers=-1)
    return np.isfinite(dc) | near_v[mesh.faces].any(axis=1)


def face_components(mesh: Mesh) -> tuple[int, np.ndarray]:
    """Connected components of faces (sharing a vertex): (count, label per face)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nf, nv = mesh.n_faces, mesh.n_vertices
    rows = np.repeat(np.arange(nf), 3)
    graph = coo_matrix((np.ones(3 * nf, dtype=np.int8), (rows, mesh.faces.reshape(-1))), shape=(nf, nv)).tocsr()
    # faces and vertices as one bipartite graph; the face labels are what we need
    from scipy.sparse import bmat

    full = bmat([[None, graph], [graph.T, None]], format="csr")
    _count, labels = connected_components(full, directed=False)
    face_labels = labels[:nf]
    uniq, face_labels = np.unique(face_labels, return_inverse=True)
    return int(uniq.shape[0]), face_labels


def remove_small_components(mesh: Mesh, min_fraction: float) -> Mesh:
    """A new mesh without the connected pieces holding less than ``min_fraction`` of the area.

    Removes the small floating blobs a network leaves away from the surface.
    """
    if not (math.isfinite(min_fraction) and 0 <= min_fraction <= 1):
        raise ConfigError(f"min_fraction: {min_fraction!r} is outside [0, 1]")
    if mesh.is_empty or min_fraction == 0:
        return mesh
    count, labels = face_components(mesh)
    areas = mesh.face_areas()
    total = areas.sum()
    if count <= 1 or total <= 0:
        return mesh
    comp_area = np.bincount(labels, weights=areas, minlength=count)
    keep_comp = comp_area >= min_fraction * total
    return mesh.with_faces(keep_comp[labels])
