"""Meshes as input (OBJ, STL, OFF; PLY with faces goes through the PLY reader): the vertices
that faces use plus area-weighted samples on the faces, with the faces' normals."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from levelset_studio.core.errors import ScanError
from levelset_studio.core.surface.scans._common import Cloud, one_line

MESH_SAMPLES_MIN = 20_000
MESH_SAMPLES_MAX = 1_000_000
"""Area-weighted samples taken on an input mesh: as many as it has vertices, within these bounds."""


def mesh_to_cloud(cloud: Cloud, path: Path) -> Cloud:
    """The mesh's vertices plus area-weighted samples on its faces, with face normals."""
    v = cloud.points
    f = cloud.faces
    assert f is not None  # only meshes come here
    finite_v = np.isfinite(v).all(axis=1)
    f = f[finite_v[f].all(axis=1)]
    tri = v[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.linalg.norm(cross, axis=1)
    ok = area2 > 0
    if not np.any(ok):
        return Cloud(points=v, colors=cloud.colors)  # degenerate faces: a point cloud
    tri, cross, area2 = tri[ok], cross[ok], area2[ok]
    face_n = cross / area2[:, None]
    # Vertex normals: area-weighted average of adjacent face normals.
    fk = f[ok]
    corner = fk.ravel()
    per_corner = np.repeat(cross, 3, axis=0)
    vn = np.stack([np.bincount(corner, weights=per_corner[:, c], minlength=len(v)) for c in range(3)], axis=1)
    n_samples = int(np.clip(len(v), MESH_SAMPLES_MIN, MESH_SAMPLES_MAX))
    rng = np.random.default_rng(0)  # deterministic: the same file gives the same scan
    idx = rng.choice(len(tri), size=n_samples, p=area2 / area2.sum())
    a, b = rng.random(n_samples), rng.random(n_samples)
    flip = a + b > 1
    a[flip], b[flip] = 1 - a[flip], 1 - b[flip]
    t = tri[idx]
    samples = t[:, 0] + a[:, None] * (t[:, 1] - t[:, 0]) + b[:, None] * (t[:, 2] - t[:, 0])
    # Vertices no face uses are not on the surface (and have no normal): leave them out.
    used = np.zeros(len(v), dtype=bool)
    used[corner] = True
    normals = np.concatenate([vn[used], face_n[idx]])
    colors = None
    if cloud.colors is not None:
        colors = np.concatenate([cloud.colors[used], cloud.colors[fk[idx, 0]]])
    return Cloud(points=np.concatenate([v[used], samples]), normals=normals, colors=colors)


def read_trimesh(data: bytes, path: Path, ext: str) -> Cloud:
    import trimesh

    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=ext.lstrip("."), process=ext == ".stl", force="mesh")
    except Exception as exc:  # noqa: BLE001 - turned into a typed error
        raise ScanError(f"corrupt or unreadable {ext.lstrip('.').upper()} file ({one_line(exc)})", path) from None
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    if len(vertices) == 0:
        raise ScanError(f"the {ext.lstrip('.').upper()} file holds no vertices", path)
    return Cloud(points=vertices, faces=faces if len(faces) else None)
