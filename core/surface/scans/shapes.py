"""Analytic shapes with exact surfaces, for the virtual scanner and for tests.

Each shape has an exact ground-truth triangle mesh whose vertices lie on the exact
surface (to ~1e-9 of its size) and whose flat triangles deviate from it by less than
~1e-4 of the bounding-box diagonal (the chord error), far below any scanner noise.

- sphere, torus, torus_knot: parametric meshes; every vertex is a point of the surface
  by construction (the knot is the tube of radius a around a (2,3) torus knot; its
  radius is below both the curve's smallest radius of curvature (1.43) and half the
  closest approach of two strands (0.83), so the tube is the exact offset surface).
- rounded_box, creature: implicit surfaces F(x) = 0 (the rounded box's F is its exact
  signed distance; the creature is a smooth union of spheres, capsules and ellipsoids,
  with thin legs, ears and tail and concavities between them). The mesh is marching
  cubes on a fine grid, then every vertex is projected onto F = 0 with the shared
  Newton projection (core.levelset.project_to_level_set).

Shapes live in a canonical frame (z up, about 2-3 units long); the scanner scales them.
torch is imported only when a mesh is built, so listing SHAPES stays cheap.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from levelset_studio.core.surface.meshes.mesh import Mesh

if TYPE_CHECKING:
    import torch

SHAPES: tuple[str, ...] = ("sphere", "torus", "rounded_box", "torus_knot", "creature")


# ----------------------------------------------------------------------------- implicit pieces (torch)


def _sphere(p: torch.Tensor, c, r: float) -> torch.Tensor:
    return (p - p.new_tensor(c)).norm(dim=-1) - r


def _capsule(p: torch.Tensor, a, b, r: float) -> torch.Tensor:
    a, b = p.new_tensor(a), p.new_tensor(b)
    pa, ba = p - a, b - a
    h = ((pa @ ba) / (ba @ ba)).clamp(0.0, 1.0)
    return (pa - h[:, None] * ba).norm(dim=-1) - r


def _ellipsoid(p: torch.Tensor, c, radii) -> torch.Tensor:
    """A distance bound whose zero set is exactly the ellipsoid (Quilez)."""
    q = p - p.new_tensor(c)
    r = p.new_tensor(radii)
    k0 = (q / r).norm(dim=-1)
    k1 = (q / (r * r)).norm(dim=-1).clamp_min(1e-12)
    return k0 * (k0 - 1.0) / k1


def _smin(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    """Polynomial smooth minimum: a smooth union with blend radius ~k."""
    h = (k - (a - b).abs()).clamp_min(0.0) / k
    return a.minimum(b) - h * h * k * 0.25


def rounded_box_sdf(p: torch.Tensor, half=(1.0, 0.7, 0.5), radius: float = 0.15) -> torch.Tensor:
    """Exact signed distance of a box with rounded edges (half extents include the rounding)."""
    b = p.new_tensor(half) - radius
    q = p.abs() - b
    outside = q.clamp_min(0.0).norm(dim=-1)
    inside = q.max(dim=-1).values.clamp_max(0.0)
    return outside + inside - radius


def creature_field(p: torch.Tensor) -> torch.Tensor:
    """A four-legged blobby creature facing +x, standing on z = 0 (negative inside)."""
    body = _ellipsoid(p, (0.0, 0.0, 0.62), (0.75, 0.36, 0.3))
    neck = _capsule(p, (0.5, 0.0, 0.72), (0.9, 0.0, 0.98), 0.13)
    head = _sphere(p, (0.98, 0.0, 1.02), 0.24)
    snout = _ellipsoid(p, (1.22, 0.0, 0.95), (0.16, 0.1, 0.09))
    f = _smin(body, neck, 0.12)
    f = _smin(f, head, 0.1)
    f = _smin(f, snout, 0.06)
    for s in (-1.0, 1.0):  # thin ears
        f = _smin(f, _capsule(p, (0.97, 0.1 * s, 1.2), (0.9, 0.2 * s, 1.46), 0.04), 0.04)
    for sx in (-1.0, 1.0):  # thin legs with feet
        for sy in (-1.0, 1.0):
            top = (0.45 * sx, 0.18 * sy, 0.5)
            foot = (0.5 * sx, 0.23 * sy, 0.07)
            leg = _capsule(p, top, foot, 0.065)
            leg = _smin(leg, _ellipsoid(p, (foot[0] + 0.05, foot[1], 0.06), (0.11, 0.07, 0.06)), 0.03)
            f = _smin(f, leg, 0.07)
    tail = _capsule(p, (-0.68, 0.0, 0.7), (-1.0, 0.0, 0.85), 0.05)
    tail = _smin(tail, _capsule(p, (-1.0, 0.0, 0.85), (-1.22, 0.05, 1.12), 0.04), 0.03)
    return _smin(f, tail, 0.06)


# ----------------------------------------------------------------------------- meshes


def _oriented_outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Flip the winding if the enclosed signed volume is negative (normals inward)."""
    tri = vertices[faces]
    vol = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    return faces if vol > 0 else faces[:, ::-1].copy()


def _grid_faces(nu: int, nv: int) -> np.ndarray:
    """Quads of a (nu x nv) periodic grid of vertices, split into triangles."""
    i, j = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    a = i * nv + j
    b = ((i + 1) % nu) * nv + j
    c = ((i + 1) % nu) * nv + (j + 1) % nv
    d = i * nv + (j + 1) % nv
    return np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])


def _sphere_mesh() -> Mesh:
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=6, radius=1.0)
    v = np.asarray(m.vertices, dtype=np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)  # exactly on the unit sphere
    return Mesh(v, _oriented_outward(v, np.asarray(m.faces)), name="sphere")


def _torus_mesh(big: float = 1.0, small: float = 0.35, nu: int = 384, nv: int = 128) -> Mesh:
    u = np.linspace(0, 2 * np.pi, nu, endpoint=False)[:, None]
    w = np.linspace(0, 2 * np.pi, nv, endpoint=False)[None, :]
    ring = big + small * np.cos(w)
    v = np.stack([ring * np.cos(u), ring * np.sin(u), small * np.sin(w) + 0 * u], -1).reshape(-1, 3)
    return Mesh(v, _oriented_outward(v, _grid_faces(nu, nv)), name="torus")


def torus_knot_curve(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (2,3) torus knot and its exact tangent (derivative) at parameters ``t``."""
    r = np.cos(3 * t) + 2.0
    c = np.stack([r * np.cos(2 * t), r * np.sin(2 * t), -np.sin(3 * t)], -1)
    dr = -3 * np.sin(3 * t)
    d = np.stack(
        [dr * np.cos(2 * t) - 2 * r * np.sin(2 * t), dr * np.sin(2 * t) + 2 * r * np.cos(2 * t), -3 * np.cos(3 * t)], -1
    )
    return c, d


def _torus_knot_mesh(tube: float = 0.42, nu: int = 1400, nv: int = 48) -> Mesh:
    t = np.linspace(0, 2 * np.pi, nu, endpoint=False)
    c, d = torus_knot_curve(t)
    tang = d / np.linalg.norm(d, axis=1, keepdims=True)
    # Parallel-transported normal (rotation-minimizing frame), twist closed evenly.
    n = np.empty_like(tang)
    seed = np.cross(tang[0], [0.0, 0.0, 1.0])
    n[0] = seed / np.linalg.norm(seed)
    for i in range(1, nu):
        v = n[i - 1] - (n[i - 1] @ tang[i]) * tang[i]
        n[i] = v / np.linalg.norm(v)
    last = n[-1] - (n[-1] @ tang[0]) * tang[0]
    last /= np.linalg.norm(last)
    b0 = np.cross(tang[0], n[0])
    twist = math.atan2(last @ b0, last @ n[0])
    ang = -twist * np.arange(nu) / nu
    b = np.cross(tang, n)
    n, b = np.cos(ang)[:, None] * n + np.sin(ang)[:, None] * b, -np.sin(ang)[:, None] * n + np.cos(ang)[:, None] * b
    w = np.linspace(0, 2 * np.pi, nv, endpoint=False)
    v = (
        c[:, None, :] + tube * (np.cos(w)[None, :, None] * n[:, None, :] + np.sin(w)[None, :, None] * b[:, None, :])
    ).reshape(-1, 3)
    return Mesh(v, _oriented_outward(v, _grid_faces(nu, nv)), name="torus_knot")


def _subdivide(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split every triangle into four at its edge midpoints (shared edges share midpoints)."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    uniq, inverse = np.unique(edges, axis=0, return_inverse=True)
    mid = len(vertices) + inverse.ravel().reshape(3, -1).T  # midpoint ids of edges 01, 12, 20
    verts = np.concatenate([vertices, 0.5 * (vertices[uniq[:, 0]] + vertices[uniq[:, 1]])])
    a, b, c = faces.T
    m01, m12, m20 = mid.T
    new = np.concatenate(
        [
            np.stack([a, m01, m20], 1),
            np.stack([m01, b, m12], 1),
            np.stack([m20, m12, c], 1),
            np.stack([m01, m12, m20], 1),
        ]
    )
    return verts, new


def _eval(fn: Callable[[torch.Tensor], torch.Tensor], pts: np.ndarray, chunk: int = 65536) -> np.ndarray:
    import torch

    out = np.empty(len(pts), dtype=np.float32)
    with torch.no_grad():
        for s in range(0, len(pts), chunk):
            out[s : s + chunk] = fn(torch.from_numpy(pts[s : s + chunk].astype(np.float32))).numpy()
    return out


def _banded_volume(
    fn: Callable[[torch.Tensor], torch.Tensor], lo, hi, step: float, factor: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """F on a fine grid, evaluated exactly only near the surface.

    A coarse grid (``factor`` x the step) is evaluated first; fine samples are computed
    only in coarse cells that some corner says may hold the surface (|F| below twice the
    cell diagonal, a margin for fields that are not exact distances). Elsewhere F keeps the sign of the coarse
    corner it is nearest to, which is all marching cubes needs there.
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    coarse = step * factor
    nc = np.ceil((hi - lo) / coarse).astype(int) + 1  # coarse samples per axis
    cg = np.stack(np.meshgrid(*[lo[k] + coarse * np.arange(nc[k]) for k in range(3)], indexing="ij"), -1)
    cv = _eval(fn, cg.reshape(-1, 3)).reshape(tuple(nc))
    near_corner = np.abs(cv) < 2.0 * coarse * math.sqrt(3.0)
    # A coarse cell is near if any of its 8 corners is.
    near = np.zeros(tuple(nc - 1), dtype=bool)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                near |= near_corner[dx : dx + nc[0] - 1, dy : dy + nc[1] - 1, dz : dz + nc[2] - 1]
    nf = (nc - 1) * factor + 1
    # Default: the nearest coarse sample's value (correct sign away from the surface).
    idx = [np.minimum(np.rint(np.arange(nf[k]) / factor).astype(int), nc[k] - 1) for k in range(3)]
    vol = cv[np.ix_(*idx)].astype(np.float32)
    cells = np.argwhere(near)
    offs = np.stack(np.meshgrid(*[np.arange(factor + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
    fine = (cells[:, None, :] * factor + offs[None]).reshape(-1, 3)
    flat = np.unique(np.ravel_multi_index(fine.T, tuple(nf)))
    ijk = np.stack(np.unravel_index(flat, tuple(nf)), -1)
    vol.reshape(-1)[flat] = _eval(fn, lo + ijk * step)
    return vol, lo


def _implicit_mesh(
    fn: Callable[[torch.Tensor], torch.Tensor], lo, hi, step: float, name: str, subdivisions: int = 1
) -> Mesh:
    """Marching cubes of F = 0, subdivided, and every vertex Newton-projected onto the surface.

    Each subdivision (midpoints, then projection) divides the chord error by about 4.
    """
    import torch
    from skimage.measure import marching_cubes

    from levelset_studio.core.levelset import project_to_level_set

    vol, lo = _banded_volume(fn, lo, hi, step)
    verts, faces, _, _ = marching_cubes(vol, level=0.0, spacing=(step, step, step))
    verts = verts.astype(np.float64) + lo
    faces = np.asarray(faces, dtype=np.int64)
    done = 0  # vertices before this index are already on the surface
    for level in range(subdivisions + 1):
        proj = project_to_level_set(fn, torch.from_numpy(verts[done:]), 0.0, max_iters=20, tol=1e-10, max_step=step)
        verts = np.concatenate([verts[:done], proj.points.numpy()])
        if level < subdivisions:
            done = len(verts)
            verts, faces = _subdivide(verts, faces)  # new midpoints come after the old vertices
    return Mesh(verts, _oriented_outward(verts, faces), name=name)


_CACHE_VERSION = 1  # bump when a shape or its meshing changes


def _cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = Path(base) / "levelset-studio" / "shapes"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return d if os.access(d, os.W_OK) else None


@functools.cache
def ground_truth_mesh(shape: str) -> Mesh:
    """The exact ground-truth mesh of ``shape`` in its canonical frame.

    Cached in memory and, for the implicit shapes (seconds of CPU to mesh), on disk
    under ~/.cache/levelset-studio/shapes (or $XDG_CACHE_HOME); a cache that cannot be
    read or written is ignored.
    """
    if shape not in SHAPES:
        raise KeyError(shape)
    if shape not in ("rounded_box", "creature"):
        return _build_mesh(shape)
    d = _cache_dir()
    f = None if d is None else d / f"{shape}-v{_CACHE_VERSION}.npz"
    if f is not None and f.is_file():
        try:
            with np.load(f) as z:
                return Mesh(z["vertices"], z["faces"], name=shape)
        except (OSError, ValueError, KeyError):
            pass
    mesh = _build_mesh(shape)
    if f is not None:
        try:
            tmp = f.with_name(f".{f.name}.{os.getpid()}.tmp.npz")
            np.savez(tmp, vertices=mesh.vertices, faces=mesh.faces)
            os.replace(tmp, f)
        except OSError:
            pass
    return mesh


def _build_mesh(shape: str) -> Mesh:
    if shape == "sphere":
        return _sphere_mesh()
    if shape == "torus":
        return _torus_mesh()
    if shape == "torus_knot":
        return _torus_knot_mesh()
    if shape == "rounded_box":
        return _implicit_mesh(rounded_box_sdf, (-1.05, -0.75, -0.55), (1.05, 0.75, 0.55), 0.02, "rounded_box")
    if shape == "creature":
        return _implicit_mesh(creature_field, (-1.35, -0.45, -0.05), (1.45, 0.45, 1.6), 0.012, "creature")
    raise KeyError(shape)
