"""A virtual range scanner: known shapes scanned with the faults real scans have.

``make_scan(shape, config)`` places ``views`` pinhole range cameras around the object
(the object stands on a turntable: without ``underside`` every view looks from above, so
the underside is never seen), casts one ray per pixel at the exact ground-truth mesh
(open3d RaycastingScene) and keeps the first hit of each ray. Then, as in real scans:

- grazing angles: no return beyond ``max_incidence`` degrees between ray and normal,
  and returns thin out over the last 15 degrees before it;
- occlusion: only first hits are kept, so concavities and parts hidden behind thin
  parts stay empty;
- depth noise: each hit moves along its ray by e / cos(incidence), e ~ N(0, sigma), with
  sigma = ``noise`` x the bounding-box diagonal: the error grows at grazing angles as
  in real scanners, and the distance of a point to the surface has std sigma;
- misalignment: every view after the first is moved by a small rigid motion: a
  rotation about the object's centre that moves points on its bounding sphere by
  ``misalign`` x diagonal, and a shift of the same length in a random direction;
- outliers: a fraction ``outliers`` of the final points are not on the surface: half
  stray returns uniform in the (10% enlarged) bounding box, half ghost returns along
  a ray, 3-15% of the diagonal off their hit.

Real scanners give no normals; with ``normals`` the true surface normal at each hit is
attached (rotated with its view's misalignment). The same seed gives the same scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.params import param, validate_config
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.scans.scan import Scan
from levelset_studio.core.surface.scans.shapes import SHAPES, ground_truth_mesh

__all__ = ["SHAPES", "ScannerConfig", "make_scan"]


@dataclass(frozen=True)
class ScannerConfig:
    """How the virtual scanner sees a shape. Fractions refer to the bounding-box diagonal."""

    views: int = param(6, "Views", "number of scanner positions around the object", minimum=1, maximum=64)
    resolution: int = param(
        160,
        "Resolution",
        "rays along each side of a view's image (resolution^2 rays per view)",
        minimum=8,
        maximum=2048,
    )
    noise: float = param(
        0.002,
        "Depth noise",
        "standard deviation of the points' distance to the surface, as a fraction of the bounding-box diagonal",
        minimum=0.0,
        maximum=0.05,
        unit="x diagonal",
    )
    outliers: float = param(
        0.005, "Outliers", "fraction of the returned points that are outliers", minimum=0.0, maximum=0.5
    )
    misalign: float = param(
        0.001,
        "Misalignment",
        "per-view rigid misalignment, as a fraction of the bounding-box diagonal (0 = perfectly registered views)",
        minimum=0.0,
        maximum=0.05,
        unit="x diagonal",
    )
    max_incidence: float = param(
        80.0,
        "Max incidence",
        "no return where the ray meets the surface more obliquely than this",
        minimum=20.0,
        maximum=89.9,
        advanced=True,
        unit="degrees",
    )
    underside: bool = param(
        False,
        "Scan underside",
        "also scan from below (otherwise the object stands on a turntable and its underside is never seen)",
        advanced=True,
    )
    normals: bool = param(False, "Normals", "attach the true surface normals (real scanners give none)", advanced=True)
    size: float = param(
        100.0,
        "Size",
        "length of the object's longest side",
        minimum=1e-6,
        maximum=1e9,
        advanced=True,
        unit="scan units",
    )
    seed: int = param(0, "Seed", "random seed: the same seed gives the same scan", minimum=0, maximum=2**31 - 1)

    def __post_init__(self) -> None:
        validate_config(self)


def shape_mesh(shape: str, size: float = 100.0) -> Mesh:
    """The exact ground-truth mesh of ``shape``, scaled so its longest side is ``size``
    and centred on the turntable axis, its lowest point at z = 0."""
    if shape not in SHAPES:
        raise ConfigError(f"unknown shape '{shape}' (one of: {', '.join(SHAPES)})")
    m = ground_truth_mesh(shape)
    lo, hi = m.vertices.min(axis=0), m.vertices.max(axis=0)
    scale = size / float(np.max(hi - lo))
    offset = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    return Mesh((m.vertices - offset) * scale, m.faces, name=shape)


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _view_rays(origin: np.ndarray, target: np.ndarray, half_angle: float, res: int) -> np.ndarray:
    """Unit ray directions (res*res, 3) of a pinhole camera at ``origin`` looking at ``target``."""
    fwd = target - origin
    fwd /= np.linalg.norm(fwd)
    up = np.array([0.0, 0.0, 1.0])
    if abs(fwd @ up) > 0.99:
        up = np.array([1.0, 0.0, 0.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    s = np.tan(half_angle) * np.linspace(-1.0, 1.0, res)
    u, v = np.meshgrid(s, s, indexing="xy")
    d = fwd[None] + u.reshape(-1, 1) * right[None] + v.reshape(-1, 1) * up[None]
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def make_scan(shape: str, config: ScannerConfig | None = None) -> tuple[Scan, Mesh]:
    """Scan ``shape`` (one of SHAPES) with the virtual scanner; return the scan and the
    exact ground-truth mesh, both in scan units."""
    import open3d as o3d

    config = config or ScannerConfig()
    gt = shape_mesh(shape, config.size)
    rng = np.random.default_rng(config.seed)
    lo, hi = gt.vertices.min(axis=0), gt.vertices.max(axis=0)
    diag = float(np.linalg.norm(hi - lo))
    center = (lo + hi) / 2.0
    radius = float(np.max(np.linalg.norm(gt.vertices - center, axis=1)))

    # Ray casting happens relative to the centre (float32 inside open3d).
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor((gt.vertices - center).astype(np.float32)),  # type: ignore[call-overload]
        o3d.core.Tensor(gt.faces.astype(np.uint32)),  # type: ignore[call-overload]  # stubs omit the NumPy overload
    )
    tri = gt.vertices[gt.faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    face_n /= np.maximum(np.linalg.norm(face_n, axis=1, keepdims=True), 1e-300)

    distance = 3.0 * radius
    half_angle = math.asin(min(radius / distance, 0.99)) * 1.05
    cos_max = math.cos(math.radians(config.max_incidence))
    cos_full = math.cos(math.radians(max(config.max_incidence - 15.0, 0.0)))
    sigma = config.noise * diag
    shift = config.misalign * diag

    points, normals, ghosts = [], [], []
    for i in range(config.views):
        azimuth = 2 * math.pi * (i + rng.uniform(-0.25, 0.25)) / config.views
        if config.underside:
            elevation = math.radians(rng.uniform(-60.0, 60.0))
        else:  # turntable: from just above the table to well above it
            elevation = math.radians(10.0 + 45.0 * ((i * 0.618034) % 1.0) + rng.uniform(-5.0, 5.0))
        origin = distance * np.array(
            [math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth), math.sin(elevation)]
        )
        aim = rng.normal(0.0, 0.05 * radius, 3)
        dirs = _view_rays(origin, aim, half_angle, config.resolution)
        rays = np.concatenate([np.broadcast_to(origin, dirs.shape), dirs], axis=1).astype(np.float32)
        hit = scene.cast_rays(o3d.core.Tensor(rays))  # type: ignore[call-overload]
        t = hit["t_hit"].numpy().astype(np.float64)
        ok = np.isfinite(t)
        fid = hit["primitive_ids"].numpy()[ok].astype(np.int64)
        d, t = dirs[ok], t[ok]
        n = face_n[fid]
        cos = np.abs(np.einsum("ij,ij->i", n, d))
        # Grazing angles: nothing beyond max_incidence, returns thinning out before it.
        p_keep = np.clip((cos - cos_max) / max(cos_full - cos_max, 1e-9), 0.0, 1.0)
        keep = rng.random(len(cos)) < p_keep
        d, t, n, cos = d[keep], t[keep], n[keep], cos[keep]
        # Depth noise along the ray, e / cos: the distance to the surface has std sigma.
        t = t + rng.normal(0.0, sigma, len(t)) / np.maximum(cos, cos_max)
        p = origin + t[:, None] * d
        if i > 0 and shift > 0:
            rot = _rotation(rng.normal(size=3), shift / radius)
            move = rng.normal(size=3)
            move *= shift / np.linalg.norm(move)
            p = p @ rot.T + move
            n = n @ rot.T
        points.append(p)
        normals.append(n)
        ghosts.append((origin, d, t))

    pts = np.concatenate(points)
    nrm = np.concatenate(normals)
    n_in = len(pts)
    if n_in == 0:
        raise ConfigError("the scanner saw nothing; raise the resolution or max_incidence")
    if config.outliers > 0:
        n_out = round(config.outliers * n_in / (1.0 - config.outliers))
        n_uniform = n_out // 2
        span = (hi - lo) * 1.1
        stray = (rng.random((n_uniform, 3)) - 0.5) * span  # relative to the centre, like the hits
        view = rng.integers(0, len(ghosts), n_out - n_uniform)
        ghost = []
        for k in np.unique(view):
            origin, d, t = ghosts[k]
            m = int(np.sum(view == k))
            if len(t) == 0:
                continue
            j = rng.integers(0, len(t), m)
            off = rng.uniform(0.03, 0.15, m) * diag * rng.choice([-1.0, 1.0], m)
            ghost.append(origin + (t[j] + off)[:, None] * d[j])
        ghost_pts = np.concatenate(ghost) if ghost else np.zeros((0, 3))
        out = np.concatenate([stray, ghost_pts])
        out_n = rng.normal(size=out.shape)
        out_n /= np.linalg.norm(out_n, axis=1, keepdims=True)
        pts = np.concatenate([pts, out])
        nrm = np.concatenate([nrm, out_n])
        order = rng.permutation(len(pts))  # outliers are not marked by their position in the file
        pts, nrm = pts[order], nrm[order]
    pts = pts + center
    scan = Scan(points=pts, normals=nrm.astype(np.float32) if config.normals else None)
    return scan, gt
