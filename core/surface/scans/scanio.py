"""Reading scans: one file, several files merged, or a ``.conf`` scan set, into one Scan.

Every reader returns points in float64 in the file's own coordinates (doubles stay
exact, so georeferenced offsets of millions of metres survive), optional unit normals,
colours, intensity and classes, and is vectorized (no Python loop per point). The
readers are listed, with what each format can hold, in the format registry
(:mod:`~levelset_studio.core.surface.scans.formats`); the per-format code lives in the
private modules next to this one (``_ply``, ``_pcd``, ``_text``, ``_meshfiles``,
``_conf``, ``_las``, ``_e57``).

Non-finite points are dropped and counted. A point budget (``ReadConfig.max_points``,
the CLI's ``--max-points``) decimates big clouds: the chunked readers (LAS/LAZ, E57) while
they read, the others after. Progress is reported as the fraction of the points or files
read; a progress callback that raises ``Cancelled`` (a GUI job's token) stops the read.

Refused with a one-line :class:`~levelset_studio.core.errors.ScanError`: missing,
unreadable or empty files, directories, truncated or corrupt data, unknown formats
(:class:`~levelset_studio.core.errors.UnsupportedFormatError`, listing the supported
ones), fewer than :data:`MIN_POINTS` finite points, and clouds whose points all lie on
one line.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from levelset_studio.core.errors import ScanError, UnsupportedFormatError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.surface.scans import _conf, _meshfiles, _ply
from levelset_studio.core.surface.scans._common import (
    MIN_POINTS,
    Cloud,
    ReadConfig,
    check_geometry,
    clean_normals,
    merge_optional,
    one_line,
    read_bytes,
    subsample_indices,
)
from levelset_studio.core.surface.scans._meshfiles import MESH_SAMPLES_MAX, MESH_SAMPLES_MIN
from levelset_studio.core.surface.scans.formats import (
    SCAN_EXTENSIONS,
    SCAN_FORMATS,
    format_for,
    scan_file_filter,
    supported_text,
)
from levelset_studio.core.surface.scans.scan import Scan

POINT_CLOUD_EXTENSIONS: tuple[str, ...] = tuple(e for f in SCAN_FORMATS if f.kind == "cloud" for e in f.extensions)
MESH_INPUT_EXTENSIONS: tuple[str, ...] = tuple(e for f in SCAN_FORMATS if f.kind == "mesh" for e in f.extensions)
SCAN_SET_EXTENSIONS: tuple[str, ...] = tuple(e for f in SCAN_FORMATS if f.kind == "set" for e in f.extensions)

__all__ = [
    "MESH_INPUT_EXTENSIONS",
    "MESH_SAMPLES_MAX",
    "MESH_SAMPLES_MIN",
    "MIN_POINTS",
    "POINT_CLOUD_EXTENSIONS",
    "SCAN_EXTENSIONS",
    "SCAN_SET_EXTENSIONS",
    "ReadConfig",
    "add_read_arguments",
    "load_scan",
    "load_scan_job",
    "read_config_from_args",
    "read_mesh_arrays",
    "scan_file_filter",
    "supported_text",
    "transfer_attributes",
]


# ----------------------------------------------------------------------------- options


def add_read_arguments(parser: argparse.ArgumentParser | Any) -> None:
    """The reading options every command that reads scans takes (info, clean, reconstruct,
    evaluate --scan, batch): ``--max-points``, ``--scan-index``, ``--keep-noise``."""
    g = parser.add_argument_group("reading") if hasattr(parser, "add_argument_group") else parser
    g.add_argument(
        "--max-points",
        type=int,
        default=None,
        metavar="N",
        help="point budget: decimate bigger clouds (uniformly at random) while reading, and say so",
    )
    g.add_argument(
        "--scan-index",
        type=int,
        default=None,
        metavar="I",
        help="E57: read only the scan (station) number I, 0-based (default: merge all)",
    )
    g.add_argument(
        "--keep-noise",
        action="store_true",
        help="LAS/LAZ: keep the points of the noise classes 7 and 18 (dropped by default)",
    )


def read_config_from_args(args: argparse.Namespace) -> ReadConfig:
    """The :class:`ReadConfig` of parsed arguments (defaults for options a command lacks)."""
    return ReadConfig(
        max_points=getattr(args, "max_points", None),
        scan_index=getattr(args, "scan_index", None),
        keep_noise=bool(getattr(args, "keep_noise", False)),
    )


# ----------------------------------------------------------------------------- entry


def load_scan(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    progress: Callable[[float], None] | None = None,
    config: ReadConfig | None = None,
    cancel: CancelToken | None = None,
) -> Scan:
    """Read one or several scan files (merged) or a ``.conf`` scan set into one Scan.

    ``progress`` is called with the fraction read (0..1), often within a file for the
    big formats; if it raises (a cancelled GUI job), the read stops. ``cancel`` is
    checked at the same points. ``config`` sets the point budget and format options.
    """
    config = config or ReadConfig()
    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files_in = [Path(p) for p in given]
    if not files_in:
        raise ScanError("no scan files given")

    # Expand scan sets into (file, rotation, translation) placements.
    jobs: list[tuple[Path, np.ndarray | None, np.ndarray | None]] = []
    for p in files_in:
        _check_file(p)
        if p.suffix.lower() in SCAN_SET_EXTENSIONS:
            jobs.extend(_conf.read_conf(p))
        else:
            jobs.append((p, None, None))

    clouds: list[Cloud] = []
    from_mesh = False
    for i, (path, rot, trans) in enumerate(jobs):
        if rot is not None:
            _check_file(path)

        def step(fraction: float, i: int = i) -> None:
            if cancel is not None:
                cancel.raise_if_cancelled()
            if progress is not None:
                progress((i + min(max(fraction, 0.0), 1.0)) / len(jobs))

        cloud = _read_file(path, config, step)
        if cloud.faces is not None:
            cloud = _meshfiles.mesh_to_cloud(cloud, path)
            from_mesh = True
        if rot is not None and trans is not None:
            # p' = R^T p + t  (row vectors: p @ R + t); normals rotate the same way.
            cloud.points = cloud.points @ rot + trans
            if cloud.normals is not None:
                cloud.normals = cloud.normals @ rot
            cloud.stations = trans.reshape(1, 3)
        clouds.append(cloud)
        step(1.0)
    return _merge(clouds, files_in, jobs, from_mesh, config)


def _merge(
    clouds: list[Cloud],
    files_in: list[Path],
    jobs: list[tuple[Path, np.ndarray | None, np.ndarray | None]],
    from_mesh: bool,
    config: ReadConfig,
) -> Scan:
    def merged(name: str) -> np.ndarray | None:
        return merge_optional([getattr(c, name) for c in clouds])

    points = np.concatenate([c.points for c in clouds]) if len(clouds) > 1 else clouds[0].points
    attrs = {name: merged(name) for name in ("normals", "colors", "intensity", "classification")}
    for c in clouds:  # free per-file arrays that were copied into the merged ones
        c.points = c.normals = c.colors = c.intensity = c.classification = None  # type: ignore[assignment]
    counts: dict[str, int] = {}
    for c in clouds:
        for k, v in c.counts.items():
            counts[k] = counts.get(k, 0) + int(v)
    in_files = sum(int(c.points_in_file) if c.points_in_file is not None else -1 for c in clouds)

    finite = np.isfinite(points).all(axis=1)
    dropped = int(len(points) - np.count_nonzero(finite))
    keep: np.ndarray | None = np.flatnonzero(finite) if dropped else None
    budget = config.max_points
    n_finite = len(points) - dropped
    if budget is not None and n_finite > budget:  # formats read whole: decimate now
        sub = subsample_indices(n_finite, budget, config.seed)
        keep = sub if keep is None else keep[sub]
        counts["decimated"] = counts.get("decimated", 0) + n_finite - budget
    if keep is not None:
        points = points[keep]
        attrs = {k: (None if v is None else v[keep]) for k, v in attrs.items()}
    where = files_in[0] if len(files_in) == 1 else None
    check_geometry(points, dropped, where)
    normals = clean_normals(attrs["normals"])
    colors = attrs["colors"]
    if colors is not None:
        colors = np.clip(np.nan_to_num(colors.astype(np.float32, copy=False), nan=0.0), 0.0, 1.0)
    files = tuple(str(p) for p in files_in)
    if any(p.suffix.lower() in SCAN_SET_EXTENSIONS for p in files_in):
        files = tuple(dict.fromkeys(files + tuple(str(j[0]) for j in jobs)))
    stations = [c.stations for c in clouds if c.stations is not None]
    crs = {c.crs for c in clouds if c.crs is not None}
    grids = [c.grid for c in clouds]
    same_grid = all(g is not None for g in grids) and all(
        np.array_equal(g[0], grids[0][0]) and np.array_equal(g[1], grids[0][1])  # type: ignore[index]
        for g in grids
    )
    return Scan(
        points=points,
        normals=normals,
        colors=colors,
        files=files,
        dropped_nonfinite=dropped,
        from_mesh=from_mesh,
        intensity=attrs["intensity"],
        classification=attrs["classification"],
        stations=np.concatenate(stations) if stations else None,
        crs=crs.pop() if len(crs) == 1 else None,
        read_counts=counts,
        points_in_files=in_files if in_files > 0 else 0,
        grid=grids[0] if same_grid else None,
    )


def load_scan_job(
    paths: str | os.PathLike | Sequence[str | os.PathLike], config: ReadConfig | None = None
) -> Callable[[CancelToken], Scan]:
    """``load_scan`` as a job of the job protocol (:mod:`levelset_studio.core.jobs`): the
    token's ``report`` receives the fraction read, and cancelling the token stops the read
    between chunks (``Cancelled``). Run it with the GUI's job runner or ``run_job``."""

    def job(token: CancelToken) -> Scan:
        return load_scan(paths, progress=token.report, config=config, cancel=token)

    return job


def transfer_attributes(source: Scan, target: Scan) -> Scan:
    """``target`` (e.g. ``source`` cleaned, possibly voxel-averaged) with the intensity and
    classes of its nearest point in ``source``: what a LAS or E57 written after cleaning keeps."""
    if source.intensity is None and source.classification is None:
        return target
    if len(target) == len(source) and np.array_equal(target.points, source.points):
        nearest = np.arange(len(source))
    else:
        from scipy.spatial import cKDTree

        origin = source.transform.center
        tree = cKDTree(source.points - origin)
        _, nearest = tree.query(target.points - origin, k=1, workers=-1)
    return target.with_points(
        target.points,
        target.normals,
        target.colors,
        intensity=None if source.intensity is None else source.intensity[nearest],
        classification=None if source.classification is None else source.classification[nearest],
    )


def _read_file(path: Path, config: ReadConfig, progress: Callable[[float], None] | None = None) -> Cloud:
    """Read one point-cloud or mesh file (no finiteness filtering, no merging)."""
    from levelset_studio.core.errors import Cancelled

    _check_file(path)
    spec = format_for(path)
    ext = path.suffix.lower()
    if spec is None:
        raise UnsupportedFormatError(f"unsupported format '{ext or path.name}' (supported: {supported_text()})", path)
    if spec.reader is None:
        raise ScanError("a .conf scan set cannot be listed inside another scan set", path)
    try:
        cloud = spec.reader(path, config, progress)
    except (ScanError, MemoryError, Cancelled):
        raise
    except Exception as exc:  # a parser tripped on corrupt data: name the file, one line
        raise ScanError(f"corrupt {spec.name} file ({one_line(exc)})", path) from exc
    if len(cloud.points) == 0:
        raise ScanError("the file holds no points", path)
    return cloud


def read_mesh_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(vertices, faces or None, vertex normals or None) of a PLY, OBJ, STL or OFF file,
    for :func:`levelset_studio.core.surface.meshes.meshio.read_mesh`."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".glb":
        _check_exists(path)
    else:
        _check_file(path)
    data = read_bytes(path)
    if ext == ".ply":
        cloud = _ply.read_ply(data, path)
        normals = None if cloud.normals is None else cloud.normals.astype(np.float32)
        return cloud.points, cloud.faces, normals
    cloud = _meshfiles.read_trimesh(data, path, ext)
    return cloud.points, cloud.faces, None


# ----------------------------------------------------------------------------- checks


def _check_exists(path: Path) -> None:
    if path.is_dir():
        raise ScanError("is a directory, not a scan file", path)
    if not path.exists():
        raise ScanError("no such file", path)


def _check_file(path: Path) -> None:
    _check_exists(path)
    ext = path.suffix.lower()
    if ext not in SCAN_EXTENSIONS:
        raise UnsupportedFormatError(f"unsupported format '{ext or path.name}' (supported: {supported_text()})", path)
    if not os.access(path, os.R_OK):
        raise ScanError("cannot read the file (permission denied)", path)
    if path.stat().st_size == 0:
        raise ScanError("empty file", path)
