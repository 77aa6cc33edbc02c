"""The triangle mesh value that meshing produces and every writer, metric and view uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mesh:
    """Triangles in the scan's own coordinates (float64 vertices, int64 faces)."""

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    vertex_normals: np.ndarray | None = None  # (V, 3) float32, optional
    name: str = "mesh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "vertices", np.ascontiguousarray(self.vertices, dtype=np.float64).reshape(-1, 3))
        object.__setattr__(self, "faces", np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3))

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def is_empty(self) -> bool:
        return self.n_faces == 0

    def face_areas(self) -> np.ndarray:
        v = self.vertices
        a, b, c = v[self.faces[:, 0]], v[self.faces[:, 1]], v[self.faces[:, 2]]
        return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)

    def area(self) -> float:
        return float(self.face_areas().sum())

    def sample_surface(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` points uniformly distributed over the surface (area-weighted), float64."""
        return self.sample_surface_faces(n, seed)[0]

    def sample_surface_faces(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` area-weighted surface points (float64) and the face each lies on (int64)."""
        if self.is_empty:
            return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
        rng = np.random.default_rng(seed)
        areas = self.face_areas()
        total = areas.sum()
        if total <= 0:
            idx = rng.integers(0, self.n_faces, n)
            return self.vertices[self.faces[idx, 0]], idx.astype(np.int64)
        idx = rng.choice(self.n_faces, size=n, p=areas / total)
        u, v = rng.random(n), rng.random(n)
        flip = u + v > 1
        u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
        tri = self.vertices[self.faces[idx]]
        pts = tri[:, 0] + u[:, None] * (tri[:, 1] - tri[:, 0]) + v[:, None] * (tri[:, 2] - tri[:, 0])
        return pts, idx.astype(np.int64)

    def with_faces(self, keep: np.ndarray, name: str | None = None) -> Mesh:
        """A new mesh of the faces selected by the boolean mask ``keep`` (unused vertices removed)."""
        faces = self.faces[keep]
        used, inverse = np.unique(faces, return_inverse=True)
        vn = None if self.vertex_normals is None else self.vertex_normals[used]
        return Mesh(self.vertices[used], inverse.reshape(-1, 3), vn, name or self.name)
