"""Reading scans: speed on the shared real scans, and time and peak memory on big clouds.

Real scans (needs ../shared/data or $LEVELSET_DATA): load_scan against the readers a user
would otherwise call (open3d.io.read_point_cloud; plyfile for PLY), measured in the same run.

    python bench/scan_reading.py

Big clouds (files generated here, chunked, in a temporary folder or --workdir): each read
runs in its own process, so its peak RSS (from wait4) is its own. open3d's reader is the
baseline where it can read the file (PLY); it cannot read LAS/LAZ. Sizes are printed
against the scan's own size (N x 3 float64).

    python bench/scan_reading.py --big 1e6,2e7 [--laz-only 1e8] [--budget 5e6]
        [--reconstruct 2e7] [--iterations 200 --resolution 128]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 2_000_000
OFFSET = (512_000.0, 5_400_000.0, 250.0)


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# ----------------------------------------------------------------------------- real scans


def real_scans() -> int:
    import open3d as o3d
    import plyfile

    from levelset_studio.core.surface.scans.scanio import load_scan

    data = Path(os.environ.get("LEVELSET_DATA", ROOT.parent / "shared" / "data")) / "scans"
    if not data.is_dir():
        print(f"no real data at {data}: set LEVELSET_DATA (or use --big)")
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


# ----------------------------------------------------------------------------- big clouds


def _surface(start: int, m: int, n: int):
    """Points ``start..start+m`` of an n-point terrain scanned line by line (metres), with normals."""
    import numpy as np

    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(start, start + m)
    u = (i % side) / side * 200.0
    v = (i // side) / side * 200.0
    z = 5.0 * np.sin(u / 17.0) * np.cos(v / 23.0) + 0.5 * np.sin(u / 3.0 + v / 5.0)
    dzdu = 5.0 / 17.0 * np.cos(u / 17.0) * np.cos(v / 23.0) + 0.5 / 3.0 * np.cos(u / 3.0 + v / 5.0)
    dzdv = -5.0 / 23.0 * np.sin(u / 17.0) * np.sin(v / 23.0) + 0.5 / 5.0 * np.cos(u / 3.0 + v / 5.0)
    nrm = np.stack([-dzdu, -dzdv, np.ones_like(u)], axis=1)
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    return np.stack([u, v, z], axis=1), nrm


def make_ply(path: Path, n: int) -> None:
    """Binary little-endian PLY: x y z nx ny nz as float32 (a common scanner export)."""
    import numpy as np

    head = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {n}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property float nx\nproperty float ny\nproperty float nz\nend_header\n"
    )
    with open(path, "wb") as fh:
        fh.write(head.encode("ascii"))
        rng = np.random.default_rng(1)
        for s in range(0, n, CHUNK):
            p, nrm = _surface(s, min(CHUNK, n - s), n)
            p[:, 2] += rng.normal(0.0, 0.01, len(p))  # 1 cm of range noise
            fh.write(np.concatenate([p, nrm], axis=1).astype("<f4").tobytes())


def make_laz(path: Path, n: int) -> None:
    """LAS 1.4 point format 6 (LAZ when the name says so), georeferenced, 1 mm grid, chunked."""
    import laspy
    import numpy as np

    header = laspy.LasHeader(point_format=6, version="1.4")
    header.scales = np.full(3, 0.001)
    header.offsets = np.asarray(OFFSET)
    rng = np.random.default_rng(0)
    with laspy.open(str(path), mode="w", header=header) as w:
        for s in range(0, n, CHUNK):
            m = min(CHUNK, n - s)
            p, _ = _surface(s, m, n)
            p[:, 2] += rng.normal(0.0, 0.01, m)  # 1 cm of range noise
            rec = laspy.ScaleAwarePointRecord.zeros(m, header=header)
            rec.x, rec.y, rec.z = p[:, 0] + OFFSET[0], p[:, 1] + OFFSET[1], p[:, 2] + OFFSET[2]
            rec.intensity = rng.integers(0, 4000, m).astype(np.uint16)
            rec.classification = np.where(rng.random(m) < 0.001, 7, 2).astype(np.uint8)
            w.write_points(rec)


def child(kind: str, path: str, budget: int | None) -> int:
    """One measured read (run in its own process): prints 'seconds points'."""
    t0 = time.perf_counter()
    if kind == "open3d":
        import open3d as o3d

        pcd = o3d.io.read_point_cloud(path)
        n = len(pcd.points)
    else:
        from levelset_studio.core.surface.scans.scanio import ReadConfig, load_scan

        n = len(load_scan(path, config=ReadConfig(max_points=budget)))
    print(f"{time.perf_counter() - t0:.3f} {n}")
    return 0


def measure(cmd: list[str]) -> tuple[float, int, float, str]:
    """(seconds printed by the child, points, peak RSS in GB, tail of stdout) of one process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss / 1024**2  # KiB -> GiB
    if proc.returncode != 0:
        return float("nan"), 0, rss, (err.strip().splitlines() or ["failed"])[-1][:90]
    words = out.split()
    try:
        return float(words[-2]), int(words[-1]), rss, ""
    except (IndexError, ValueError):
        return wall, 0, rss, ""


def big(args: argparse.Namespace) -> int:
    sizes = [int(float(s)) for s in args.big.split(",") if s] if args.big else []
    laz_only = [int(float(s)) for s in args.laz_only.split(",") if s] if args.laz_only else []
    budget = int(float(args.budget))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="levelset-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    rows = []
    for n in sizes + laz_only:
        files = []
        if n in sizes:
            ply = work / f"terrain_{n}.ply"
            if not ply.exists():
                t0 = time.perf_counter()
                make_ply(ply, n)
                print(f"generated {ply.name} ({ply.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")
            files.append(ply)
        laz = work / f"terrain_{n}.laz"
        if not laz.exists():
            t0 = time.perf_counter()
            make_laz(laz, n)
            print(f"generated {laz.name} ({laz.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")
        files.append(laz)
        for f in files:
            plans = [("load_scan", None)]
            if n > budget:
                plans.append(("load_scan", budget))
            if f.suffix == ".ply":
                plans.insert(0, ("open3d", None))
            for kind, b in plans:
                cmd = [*me, "--child", kind, str(f)] + (["--max-points", str(b)] if b else [])
                sec, pts, rss, note = measure(cmd)
                label = kind + (f" --max-points {b:,}" if b else "")
                rows.append((f.name, n, label, sec, pts, rss, note))
                _print_row(rows[-1], header=len(rows) == 1)
            if f.suffix == ".laz":
                rows.append((f.name, n, "open3d", float("nan"), 0, float("nan"), "cannot read LAS/LAZ"))
                _print_row(rows[-1])
    for n in [int(float(s)) for s in args.reconstruct.split(",") if s] if args.reconstruct else []:
        f = work / f"terrain_{n}.ply" if (work / f"terrain_{n}.ply").exists() else work / f"terrain_{n}.laz"
        cmd = [
            sys.executable,
            "-m",
            "levelset_studio.core.cli",
            "reconstruct",
            str(f),
            "-o",
            str(work / f"mesh_{n}.ply"),
            "--iterations",
            str(args.iterations),
            "--resolution",
            str(args.resolution),
            "--threads",
            "1",
            "--quiet",
            "--no-memory-check",
        ]
        if args.reconstruct_budget:
            cmd += ["--max-points", str(int(float(args.reconstruct_budget)))]
        t0 = time.perf_counter()
        _, _, rss, note = measure(cmd)
        label = f"reconstruct --iterations {args.iterations} --resolution {args.resolution}"
        if args.reconstruct_budget:
            label += f" --max-points {int(float(args.reconstruct_budget)):,}"
        rows.append((f.name, n, label, time.perf_counter() - t0, 0, rss, note))
        _print_row(rows[-1], header=len(rows) == 1)
    print(f"files in {work}; RSS is each process's peak (wait4), python + libraries included.")
    return 0


def _print_row(row, header: bool = False) -> None:
    name, n, label, sec, pts, rss, note = row
    if header:
        print(
            f"{'file':<22} {'points':>12} {'reader':<58} {'seconds':>8} {'kept':>12} "
            f"{'peak RSS GB':>11} {'N*24 B GB':>9}  note"
        )
    size = n * 24 / 1024**3
    print(f"{name:<22} {n:>12,} {label:<58} {sec:>8.2f} {pts:>12,} {rss:>11.2f} {size:>9.2f}  {note}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--big", help="comma-separated point counts: PLY and LAZ files of that size")
    ap.add_argument("--laz-only", help="comma-separated point counts: only a LAZ file (e.g. 1e8)")
    ap.add_argument("--budget", default="5e6", help="the --max-points budget measured for bigger files (5e6)")
    ap.add_argument("--reconstruct", help="comma-separated point counts to reconstruct (their PLY, else LAZ)")
    ap.add_argument("--reconstruct-budget", help="--max-points for the reconstructions")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--workdir", help="where the generated files go (kept; reused when present)")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--max-points", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.max_points)
    if args.big or args.laz_only or args.reconstruct:
        return big(args)
    return real_scans()


if __name__ == "__main__":
    sys.exit(main())
