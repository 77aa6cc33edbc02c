"""LAS and LAZ (ASPRS LAS 1.2-1.4) through laspy, LAZ through its ``lazrs`` backend.

Reading is chunked (laspy's chunk iterator): memory beyond the result is about one chunk,
and a point budget decimates while reading. Coordinates are the file's integers times
its scale plus its offset, computed in float64, so georeferenced coordinates of millions
of metres are exact. The noise classes (7, 18) are dropped unless asked otherwise;
intensity, colour and classification are kept. The CRS is reported as the file's WKT
or as ``EPSG:<code>`` from its GeoTIFF keys.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from levelset_studio.core.errors import ScanError
from levelset_studio.core.surface.scans._common import (
    NOISE_CLASSES,
    Cloud,
    Decimator,
    Progress,
    ReadConfig,
    one_line,
)

LAZ_PACKAGE = "laspy[lazrs]"
NORMAL_DIMS = ("nx", "ny", "nz")  # extra bytes we write (and read back) for normals


def _laspy() -> Any:
    try:
        import laspy
    except ImportError:  # pragma: no cover - a main dependency
        raise ScanError(f"reading LAS needs the laspy package (pip install '{LAZ_PACKAGE}')") from None
    return laspy


def laz_backend_available() -> bool:
    return bool(_laspy().LazBackend.detect_available())


def _is_laz(path: Path, header: Any) -> bool:
    return path.suffix.lower() == ".laz" or bool(getattr(header, "are_points_compressed", False))


def read_las(path: Path, config: ReadConfig, progress: Progress | None = None) -> Cloud:
    laspy = _laspy()
    try:
        reader = laspy.open(str(path))
    except laspy.errors.LaspyException as exc:
        raise ScanError(f"corrupt LAS file ({one_line(exc)})", path) from None
    except (OSError, ValueError, EOFError) as exc:
        raise ScanError(f"corrupt or truncated LAS file ({one_line(exc)})", path) from None
    with reader:
        header = reader.header
        if _is_laz(path, header) and not laz_backend_available():
            raise ScanError(f"reading LAZ needs a LAZ backend: install it with pip install '{LAZ_PACKAGE}'", path)
        total = int(header.point_count)
        if total == 0:
            raise ScanError("the LAS file holds zero points", path)
        _check_size(path, header, total)
        dims = set(header.point_format.dimension_names)
        has_rgb = {"red", "green", "blue"} <= dims
        has_normals = set(NORMAL_DIMS) <= dims
        dec = Decimator(total, config.max_points, config.seed)
        cap = total if not dec.active else int(total * dec.rate * 1.05) + 1024
        pts = np.empty((cap, 3), dtype=np.float64)
        inten = np.empty(cap, dtype=np.float32) if "intensity" in dims else None
        cls = np.empty(cap, dtype=np.uint8)
        rgb = np.empty((cap, 3), dtype=np.uint16) if has_rgb else None
        nrm = np.empty((cap, 3), dtype=np.float32) if has_normals else None
        noise = 0
        n = 0
        done = 0
        try:
            for chunk in reader.chunk_iterator(config.chunk_points):
                m = len(chunk)
                if m == 0:
                    continue
                keep = np.ones(m, dtype=bool)
                c = np.asarray(chunk.classification, dtype=np.uint8)
                if not config.keep_noise:
                    is_noise = np.isin(c, NOISE_CLASSES)
                    noise += int(is_noise.sum())
                    keep &= ~is_noise
                dm = dec.mask(m)
                if dm is not None:
                    keep &= dm
                k = int(keep.sum())
                if n + k > len(pts):  # the binomial count ran over the estimate: grow
                    grow = max(n + k, int(len(pts) * 1.25))
                    pts, cls = _grow(pts, grow), _grow(cls, grow)
                    inten = None if inten is None else _grow(inten, grow)
                    rgb = None if rgb is None else _grow(rgb, grow)
                    nrm = None if nrm is None else _grow(nrm, grow)
                sel = slice(n, n + k)
                for j, name in enumerate("xyz"):
                    # laspy scales in float64: integer * scale + offset
                    pts[sel, j] = np.asarray(chunk[name], dtype=np.float64)[keep]
                cls[sel] = c[keep]
                if inten is not None:
                    inten[sel] = np.asarray(chunk.intensity)[keep]
                if rgb is not None:
                    for j, name in enumerate(("red", "green", "blue")):
                        rgb[sel, j] = np.asarray(chunk[name])[keep]
                if nrm is not None:
                    for j, name in enumerate(NORMAL_DIMS):
                        nrm[sel, j] = np.asarray(chunk[name])[keep]
                n += k
                done += m
                if progress is not None:
                    progress(min(done / total, 1.0))
        except laspy.errors.LaspyException as exc:
            msg = one_line(exc)
            if "backend" in msg.lower():
                raise ScanError(
                    f"reading LAZ needs a LAZ backend: install it with pip install '{LAZ_PACKAGE}'", path
                ) from None
            raise ScanError(f"corrupt LAS file ({msg})", path) from None
        except (ValueError, EOFError, OSError, RuntimeError) as exc:
            raise ScanError(f"corrupt or truncated LAS file ({one_line(exc)})", path) from None
        if done < total:
            raise ScanError(f"truncated LAS file: {done:,} of {total:,} points", path)
        crs = _crs(header)
        scales = np.asarray(header.scales, dtype=np.float64)
        offsets = np.asarray(header.offsets, dtype=np.float64)
    cloud = Cloud(points=pts[:n], classification=cls[:n], crs=crs, points_in_file=total)
    cloud.intensity = None if inten is None else inten[:n]
    if rgb is not None:
        top = 65535.0 if n and int(rgb[:n].max()) > 255 else 255.0
        cloud.colors = (rgb[:n] / top).astype(np.float32)
    cloud.normals = None if nrm is None else nrm[:n]
    cloud.counts = {"noise_class": noise}
    if dec.active:
        cloud.counts["decimated"] = total - noise - n
    cloud.grid = (scales, offsets)
    return cloud


def _grow(a: np.ndarray, size: int) -> np.ndarray:
    out = np.empty((size, *a.shape[1:]), dtype=a.dtype)
    out[: len(a)] = a
    return out


def _check_size(path: Path, header: Any, total: int) -> None:
    """An uncompressed file must hold every record its header announces."""
    if getattr(header, "are_points_compressed", False) or path.suffix.lower() == ".laz":
        return
    need = int(header.offset_to_point_data) + total * int(header.point_format.size)
    have = path.stat().st_size
    if have < need:
        raise ScanError(
            f"truncated LAS file: the header announces {total:,} points ({need:,} bytes), the file has {have:,}",
            path,
        )


def _crs(header: Any) -> str | None:
    """The file's coordinate reference system, as WKT or ``EPSG:<code>``, without pyproj."""
    from laspy.vlrs.known import GeoKeyDirectoryVlr, WktCoordinateSystemVlr

    vlrs = list(header.vlrs) + list(getattr(header, "evlrs", None) or [])
    for rec in vlrs:
        if isinstance(rec, WktCoordinateSystemVlr) and rec.string.strip():
            return rec.string.strip()
    for rec in vlrs:
        if isinstance(rec, GeoKeyDirectoryVlr):
            for key in rec.geo_keys:
                if key.id in (3072, 2048) and 1024 <= key.value_offset <= 32766:  # projected, then geographic
                    return f"EPSG:{key.value_offset}"
    return None


def crs_name(crs: str | None) -> str | None:
    """A short name for a CRS: ``EPSG:<code>`` as it is, else the first quoted name of the WKT."""
    if crs is None or crs.startswith("EPSG:"):
        return crs
    start = crs.find('"')
    end = crs.find('"', start + 1)
    name = crs[start + 1 : end] if 0 <= start < end else crs[:60]
    code = crs.rfind('ID["EPSG",')
    if code >= 0:
        digits = crs[code + 10 :].split("]")[0].strip()
        return f"{name} (EPSG:{digits})"
    return name


def write_las(
    fh: io.BufferedWriter,
    path: Path,
    points: np.ndarray,
    normals: np.ndarray | None,
    rgb: np.ndarray | None,
    *,
    intensity: np.ndarray | None = None,
    classification: np.ndarray | None = None,
    grid: tuple[np.ndarray, np.ndarray] | None = None,
    crs: str | None = None,
) -> None:
    """LAS 1.4, point format 7 (with colour) or 6; LAZ when ``path`` ends in .laz.

    ``grid`` (scales, offsets) keeps the input's integer grid (a LAS read, cleaned and
    written back keeps its coordinates exactly); otherwise a 0.1 mm grid at the cloud's
    lower corner is used. Normals go in extra dimensions nx, ny, nz (float32).
    """
    laspy = _laspy()
    compress = path.suffix.lower() == ".laz"
    if compress and not laz_backend_available():
        from levelset_studio.core.errors import MeshWriteError

        raise MeshWriteError(f"writing LAZ needs a LAZ backend: install it with pip install '{LAZ_PACKAGE}'", path)
    header = laspy.LasHeader(point_format=7 if rgb is not None else 6, version="1.4")
    if grid is not None:
        header.scales, header.offsets = np.asarray(grid[0]), np.asarray(grid[1])
    else:
        lo = np.floor(points.min(axis=0))
        extent = float(np.max(points.max(axis=0) - lo))
        scale = 1e-4
        while extent / scale > 2.0e9:  # int32 range
            scale *= 10.0
        header.scales, header.offsets = np.full(3, scale), lo
    if normals is not None:
        header.add_extra_dims([laspy.ExtraBytesParams(name=n, type=np.float32) for n in NORMAL_DIMS])
    if crs is not None and not crs.startswith("EPSG:"):
        from laspy.vlrs.known import WktCoordinateSystemVlr

        header.vlrs.append(WktCoordinateSystemVlr(crs))
        header.global_encoding.wkt = True
    las = laspy.LasData(header)
    las.points = laspy.ScaleAwarePointRecord.zeros(len(points), header=header)
    las.x, las.y, las.z = points[:, 0], points[:, 1], points[:, 2]
    if rgb is not None:
        las.red, las.green, las.blue = (rgb[:, j].astype(np.uint16) * 257 for j in range(3))
    if intensity is not None:
        las.intensity = np.clip(np.round(intensity), 0, 65535).astype(np.uint16)
    if classification is not None:
        las.classification = np.asarray(classification, dtype=np.uint8)
    if normals is not None:
        for j, n in enumerate(NORMAL_DIMS):
            las[n] = normals[:, j].astype(np.float32)
    las.write(fh, do_compress=compress)
