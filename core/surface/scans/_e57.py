"""E57 (ASTM E2807) through pye57 (libE57Format).

Every 3D scan ("station") of the file is placed by its pose, p' = R(q) p + t with the
unit quaternion q = (w, x, y, z), and merged, or one is chosen (``ReadConfig.scan_index``).
Points are read in chunks; Cartesian or spherical coordinates; colour and intensity
are kept. Points whose ``cartesianInvalidState`` (or ``sphericalInvalidState``) is not 0
are dropped and counted. Each station's scanner position (its pose's translation) is kept.

Writing stores each cloud as one station whose pose translation is the cloud's centre:
pye57 writes coordinates as float32, so the float64 offset goes in the pose and the
float32 values stay small (georeferenced coordinates keep sub-millimetre precision).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from levelset_studio.core.errors import ScanError
from levelset_studio.core.surface.scans._common import Cloud, Decimator, Progress, ReadConfig, one_line

E57_PACKAGE = "pye57"


def _pye57() -> Any:
    try:
        import pye57
    except ImportError:  # pragma: no cover - a main dependency
        raise ScanError(f"reading E57 needs the {E57_PACKAGE} package (pip install {E57_PACKAGE})") from None
    return pye57


def _open(path: Path) -> Any:
    pye57 = _pye57()
    try:
        return pye57.E57(str(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - libE57Format raises its own exception types
        raise ScanError(f"corrupt or truncated E57 file ({one_line(exc)})", path) from None


def station_count(path: Path) -> int:
    """How many 3D scans the file holds (for the GUI's pick list)."""
    e57 = _open(path)
    try:
        return int(e57.scan_count)
    finally:
        e57.close()


def read_e57(path: Path, config: ReadConfig, progress: Progress | None = None) -> Cloud:
    e57 = _open(path)
    try:
        return _read(e57, path, config, progress)
    except ScanError:
        raise
    except Exception as exc:  # noqa: BLE001 - a libE57Format error while reading the data
        raise ScanError(f"corrupt or truncated E57 file ({one_line(exc)})", path) from None
    finally:
        e57.close()


def _read(e57: Any, path: Path, config: ReadConfig, progress: Progress | None) -> Cloud:
    from pye57.utils import convert_spherical_to_cartesian

    count = int(e57.scan_count)
    if count == 0:
        n_images = len(e57.root["images2D"]) if e57.root.isDefined("images2D") else 0
        what = f"{n_images} images only" if n_images else "no data"
        raise ScanError(f"the E57 file holds no 3D scans ({what})", path)
    if config.scan_index is not None and config.scan_index >= count:
        raise ScanError(f"--scan-index {config.scan_index} is out of range: the E57 file holds {count} scans", path)
    indices = [config.scan_index] if config.scan_index is not None else list(range(count))
    headers = [e57.get_header(i) for i in indices]
    total = sum(int(h.point_count) for h in headers)
    if total == 0:
        raise ScanError("the E57 file's scans hold zero points", path)
    dec = Decimator(total, config.max_points, config.seed)
    parts: dict[str, list[np.ndarray]] = {"p": [], "i": [], "c": []}
    stations = []
    invalid = 0
    done = 0
    have_i = all("intensity" in h.point_fields for h in headers)
    have_c = all({"colorRed", "colorGreen", "colorBlue"} <= set(h.point_fields) for h in headers)
    for h in headers:
        fields = set(h.point_fields)
        if {"cartesianX", "cartesianY", "cartesianZ"} <= fields:
            coords, state = ["cartesianX", "cartesianY", "cartesianZ"], "cartesianInvalidState"
        elif {"sphericalRange", "sphericalAzimuth", "sphericalElevation"} <= fields:
            coords, state = ["sphericalRange", "sphericalAzimuth", "sphericalElevation"], "sphericalInvalidState"
        else:
            raise ScanError("an E57 scan has neither Cartesian nor spherical coordinates", path)
        wanted = list(coords)
        if state in fields:
            wanted.append(state)
        if have_i:
            wanted.append("intensity")
        if have_c:
            wanted += ["colorRed", "colorGreen", "colorBlue"]
        rot = np.asarray(h.rotation_matrix, dtype=np.float64) if h.has_pose() else np.eye(3)
        trans = np.asarray(h.translation, dtype=np.float64) if h.has_pose() else np.zeros(3)
        stations.append(trans)
        n_points = int(h.point_count)
        if n_points == 0:
            continue
        cap = max(1, min(config.chunk_points, n_points))
        data, buffers = e57.make_buffers(wanted, cap)
        reader = h.points.reader(buffers)
        try:
            while True:
                got = int(reader.read())
                if got == 0:
                    break
                keep = np.ones(got, dtype=bool)
                if state in data:
                    bad = data[state][:got] != 0
                    invalid += int(bad.sum())
                    keep &= ~bad
                dm = dec.mask(got)
                if dm is not None:
                    keep &= dm
                xyz = np.stack([np.asarray(data[c][:got], dtype=np.float64)[keep] for c in coords], axis=1)
                if coords[0] == "sphericalRange":
                    xyz = convert_spherical_to_cartesian(xyz)
                parts["p"].append(xyz @ rot.T + trans)
                if have_i:
                    parts["i"].append(np.asarray(data["intensity"][:got], dtype=np.float32)[keep])
                if have_c:
                    parts["c"].append(
                        np.stack([data[c][:got][keep] for c in ("colorRed", "colorGreen", "colorBlue")], axis=1)
                    )
                done += got
                if progress is not None:
                    progress(min(done / total, 1.0))
        finally:
            reader.close()
    if done < total:
        raise ScanError(f"truncated E57 file: {done:,} of {total:,} points", path)
    points = np.concatenate(parts["p"]) if parts["p"] else np.zeros((0, 3))
    cloud = Cloud(points=points, stations=np.asarray(stations, dtype=np.float64), points_in_file=total)
    if have_i and parts["i"]:
        cloud.intensity = np.concatenate(parts["i"])
    if have_c and parts["c"]:
        rgb = np.concatenate(parts["c"]).astype(np.float32)
        cloud.colors = (rgb / (255.0 if rgb.max(initial=0) <= 255 else 65535.0)).astype(np.float32)
    cloud.counts = {"invalid_state": invalid}
    if dec.active:
        cloud.counts["decimated"] = total - invalid - len(points)
    return cloud


def write_e57(
    path: Path,
    points: np.ndarray,
    rgb: np.ndarray | None,
    intensity: np.ndarray | None = None,
) -> None:
    """One station: float32 coordinates around the cloud's centre, the centre in its pose."""
    pye57 = _pye57()
    origin = np.round((points.min(axis=0) + points.max(axis=0)) / 2.0)
    local = points - origin
    data: dict[str, np.ndarray] = {
        "cartesianX": local[:, 0].copy(),
        "cartesianY": local[:, 1].copy(),
        "cartesianZ": local[:, 2].copy(),
    }
    if rgb is not None:
        data["colorRed"], data["colorGreen"], data["colorBlue"] = (rgb[:, j].astype(np.uint8).copy() for j in range(3))
    if intensity is not None:
        data["intensity"] = np.asarray(intensity, dtype=np.float32).copy()
    e57 = pye57.E57(str(path), mode="w")
    try:
        e57.write_scan_raw(data, name="LevelSet Studio", rotation=np.array([1.0, 0.0, 0.0, 0.0]), translation=origin)
    finally:
        e57.close()
