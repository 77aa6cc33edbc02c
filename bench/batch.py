"""Benchmark of `levelset batch` (issue 13): the same scans one after another vs as Ray tasks.

    python bench/batch.py                  # 6 scanner scans, 200 steps each, the modes below
    python bench/batch.py --quick          # 3 scans, 50 steps, local vs Ray 2 workers only
    python bench/batch.py --iterations 500 --scans 6 --modes local ray2

Each mode is one `levelset batch` command, run as a subprocess into a fresh output folder
and timed from start to exit (what a user waits for: start-up, Ray start and shutdown
included). The baseline is the first mode (one job after another, one thread per job),
measured in the same run. Modes:

- ``local``    one scan after another, --threads-per-job 1
- ``local-t2`` one scan after another, --threads-per-job 2
- ``pool2``    --workers 2 (two local processes), 1 thread per job
- ``ray2``     --ray --workers 2 (a local Ray instance with 2 CPUs), 1 thread per job
- ``ray1-t2``  --ray --workers 1 --threads-per-job 2 (one 2-CPU task at a time)

The table prints each mode's wall time, its ratio to the baseline, the sum of the
jobs' training seconds from the report and the scans that ended ok.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = ("sphere", "torus", "rounded_box", "torus_knot", "creature", "sphere")
MODES = {
    "local": ["--threads-per-job", "1"],
    "local-t2": ["--threads-per-job", "2"],
    "pool2": ["--workers", "2", "--threads-per-job", "1"],
    "ray2": ["--ray", "--workers", "2", "--threads-per-job", "1"],
    "ray1-t2": ["--ray", "--workers", "1", "--threads-per-job", "2"],
}


def make_scans(folder: Path, n: int, resolution: int) -> list[Path]:
    from levelset_studio.core.surface.meshes.meshio import write_point_cloud
    from levelset_studio.core.surface.scans.scanner import ScannerConfig, make_scan

    paths = []
    for i in range(n):
        shape = SHAPES[i % len(SHAPES)]
        scan, _ = make_scan(shape, ScannerConfig(resolution=resolution, views=6, seed=i))
        paths.append(write_point_cloud(scan.points, folder / f"{i:02d}_{shape}.ply"))
    return paths


def run_mode(name: str, scans: list[Path], out: Path, settings: list[str]) -> dict:
    levelset = Path(sys.executable).with_name("levelset")
    folder = scans[0].parent  # the batch reads every scan of the folder
    cmd = [str(levelset), "batch", str(folder), "-o", str(out), *MODES[name], *settings, "--quiet"]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    wall = time.perf_counter() - t0
    rows = json.loads((out / "report.json").read_text())["rows"] if (out / "report.json").exists() else []
    return {
        "mode": name,
        "command": shlex.join(["levelset", *cmd[1:]]),
        "rc": res.returncode,
        "wall": wall,
        "train": sum(r.get("train_seconds") or 0.0 for r in rows),
        "ok": sum(r.get("status") == "ok" for r in rows),
        "n": len(scans),
        "stderr": res.stderr.strip().splitlines()[-1:] if res.stderr else [],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 scans, 50 steps, local vs ray2")
    ap.add_argument("--scans", type=int, default=6)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--scan-resolution", type=int, default=48, help="virtual scanner rays per side")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    args = ap.parse_args()
    if args.quick:
        args.scans, args.iterations, args.modes = 3, 50, ["local", "ray2"]
    settings = ["--iterations", str(args.iterations), "--resolution", "64", "--eval-samples", "20000"]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        scans = make_scans(folder, args.scans, args.scan_resolution)
        print(f"{len(scans)} scans, {args.iterations} steps each, os.cpu_count() = {os.cpu_count()}")
        results = [run_mode(m, scans, folder / f"out-{m}", settings) for m in args.modes]
    base = results[0]["wall"]
    print()
    print(f"{'mode':<10} {'wall s':>8} {'x baseline':>10} {'train s (sum)':>14} {'ok':>6}  rc")
    for r in results:
        print(
            f"{r['mode']:<10} {r['wall']:>8.1f} {r['wall'] / base:>10.2f} {r['train']:>14.1f} "
            f"{r['ok']:>3}/{r['n']:<2}  {r['rc']}"
        )
    print()
    for r in results:
        print(f"{r['mode']}: {r['command']}")
        if r["rc"] not in (0,):
            print(f"    {r['stderr']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
