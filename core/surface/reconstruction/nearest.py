"""Distance from points to the nearest scan point, without a dense N x M matrix.

The CNLS loss needs dist(p(theta), X) for ~10^4 samples per step, differentiable in
p. Two ways, same interface:

- ``NearestPointField`` (default): once per scan, the indices of the ``k`` nearest
  scan points of every node of a grid over the sampling box (one KD-tree pass). A
  query gathers the candidates of the 8 nodes of its cell and takes the closest one:
  a few gathers instead of a tree walk, on any device, and the far-away queries that
  are slow in a tree are as cheap as the near ones. The distance is exact whenever the
  true nearest point is among the candidates (almost always near the surface, where
  it matters); elsewhere it overestimates by at most about one cell.
- ``KDTreeDistance``: exact nearest neighbours with scipy's cKDTree (CPU, parallel).

Both return ||p - q|| with q the chosen scan point, so the gradient in p is the unit
vector away from the scan (the gradient of the distance function).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree


class KDTreeDistance:
    """Exact nearest-scan-point distances through a KD-tree (queries run on the CPU)."""

    def __init__(self, points: np.ndarray, device: torch.device | None = None, workers: int = -1) -> None:
        self.points_np = np.ascontiguousarray(points, dtype=np.float32)
        self.tree = cKDTree(self.points_np)
        self.points = torch.tensor(self.points_np, device=device or "cpu")  # torch-aligned copy
        self.workers = workers

    def nearest(self, p: torch.Tensor) -> torch.Tensor:
        """Index of the nearest scan point of each row of p (N, 3)."""
        q = p.detach().to("cpu", torch.float32).numpy()
        _, idx = self.tree.query(q, k=1, workers=self.workers)
        return torch.from_numpy(idx.astype(np.int64)).to(p.device)

    def distance(self, p: torch.Tensor) -> torch.Tensor:
        return (p - self.points[self.nearest(p)]).norm(dim=1)


class NearestPointField:
    """Nearest scan-surface point for any query, from a grid precomputed once per scan.

    The scan is binned into the nodes of a grid over [-bound, bound]^3; each occupied
    node holds the centroid of its points (a denoised representative). A Euclidean
    distance transform (scipy.ndimage, O(R^3)) gives every node its nearest occupied
    node. A query takes the closest of the representatives of the 8 nodes of its cell.
    Near the surface this is the distance to the scan sampled at the node spacing h:
    the tangential error (< h/2) does not bias the normal motion of a flat patch and
    only by ~h^2 * curvature on curved ones; far away the error is about one cell.
    """

    def __init__(
        self, points: np.ndarray, resolution: int = 128, bound: float = 1.5, device: torch.device | None = None
    ) -> None:
        from scipy.ndimage import distance_transform_edt

        pts = np.asarray(points, dtype=np.float64)
        r = self.resolution = int(resolution)
        self.bound = float(bound)
        key = np.rint((np.clip(pts, -bound, bound) + bound) * ((r - 1) / (2 * bound))).astype(np.int64)
        flat = (key[:, 0] * r + key[:, 1]) * r + key[:, 2]
        occupied, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
        reps = np.stack([np.bincount(inverse, weights=pts[:, i], minlength=len(occupied)) for i in range(3)], 1)
        reps = reps / counts[:, None]
        empty = np.ones(r**3, dtype=bool)
        empty[occupied] = False
        ind = distance_transform_edt(empty.reshape(r, r, r), return_distances=False, return_indices=True)
        nearest_node = ((ind[0].astype(np.int64) * r + ind[1]) * r + ind[2]).ravel()
        del ind
        rep_of_node = np.full(r**3, -1, dtype=np.int64)
        rep_of_node[occupied] = np.arange(len(occupied))
        dev = device or torch.device("cpu")
        self.index = torch.from_numpy(rep_of_node[nearest_node].astype(np.int32)).to(dev)
        self.points = torch.tensor(reps, dtype=torch.float32, device=dev)  # torch-aligned copy
        offs = [(dx * r + dy) * r + dz for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)]
        self._offsets = torch.tensor(offs, dtype=torch.int64, device=dev)

    def candidates(self, p: torch.Tensor) -> torch.Tensor:
        """Candidate representative indices (N, 8): those of the 8 nodes of each point's cell."""
        r = self.resolution
        u = ((p.detach() + self.bound) * ((r - 1) / (2 * self.bound))).clamp(0.0, r - 1 - 1e-4)
        i0 = u.floor().long()
        base = (i0[:, 0] * r + i0[:, 1]) * r + i0[:, 2]
        return self.index[base[:, None] + self._offsets[None, :]].long()

    def nearest(self, p: torch.Tensor) -> torch.Tensor:
        cand = self.candidates(p)
        with torch.no_grad():
            d2 = (self.points[cand] - p.detach()[:, None, :]).pow(2).sum(-1)
            best = d2.argmin(1)
        return cand.gather(1, best[:, None])[:, 0]

    def distance(self, p: torch.Tensor) -> torch.Tensor:
        """||p - q|| to the chosen representative q, differentiable in p."""
        return (p - self.points[self.nearest(p)]).norm(dim=1)
