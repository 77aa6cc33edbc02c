"""Time reading the shared real scans with core.surface.scans.scanio.load_scan, against the readers a
user would otherwise call (open3d.io.read_point_cloud; plyfile for PLY), measured in the
same run. Needs ../shared/data (or $LEVELSET_DATA).

    python bench/scan_reading.py
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    import open3d as o3d
    import plyfile

    from levelset_studio.core.surface.scans.scanio import load_scan

    data = Path(os.environ.get("LEVELSET_DATA", ROOT.parent / "shared" / "data")) / "scans"
    if not data.is_dir():
        print(f"no real data at {data}: set LEVELSET_DATA")
        return 1
    files = [
        "srb/anchor.ply",
        "stanford-bunny/data/bun000.ply",
        "stanford-bunny/data/bun.conf",
        "pcl/table_scene_mug_stereo_textured.pcd",
        "pcl/milk.pcd",
        "stanford-bunny/reconstruction/bun_zipper.ply",
    ]
    print(f"{'file':<46} {'points':>9} {'load_scan':>10} {'open3d':>9} {'plyfile':>9}   (best of 3, seconds)")
    for name in files:
        path = data / name
        scan = load_scan(path)
        ours = best_of(lambda: load_scan(path))
        o3d_t = plyfile_t = float("nan")
        if path.suffix in (".ply", ".pcd"):
            o3d_t = best_of(
                lambda: o3d.io.read_point_cloud(str(path), remove_nan_points=False, remove_infinite_points=False)
            )
        if path.suffix == ".ply":
            plyfile_t = best_of(lambda: plyfile.PlyData.read(io.BytesIO(path.read_bytes())), repeat=1)
        print(f"{name:<46} {len(scan):>9,} {ours:>10.3f} {o3d_t:>9.3f} {plyfile_t:>9.3f}")
    print("load_scan includes validation, merging, .conf placement and mesh sampling; open3d/plyfile only parse.")
    print("plyfile: one run, from memory (fully parsed), the general PLY reader load_scan falls back to.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
