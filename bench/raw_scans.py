"""Raw-scan benchmark (issue 11): the level-set engine on scans as people have them.

    python bench/raw_scans.py --quick                  # smoke: one raw SRB row and one scanner row, 10 s
    python bench/raw_scans.py                          # full table: every row x 10/30/60/120 s x 3 seeds
    python bench/raw_scans.py --rows anchor:n0.2:o0.5 bunny --budgets 30 60 --seeds 1

Rows (``--rows``):
- ``SRB:nX:oY[:m]`` a shared SRB scan (anchor, daratech, dc) made raw: normals dropped,
  Gaussian noise of X% of the bounding-box diagonal on every coordinate, Y% extra outliers
  uniform in the box, ``m``: eight regions (octants about the centre) each moved by a small
  rigid motion (0.1% of the diagonal), as between range views. Scored against the clean scan.
- ``bunny``: the bunny's ten raw range scans (bun.conf, no normals), scored by Chamfer L1
  against bun_zipper.ply (exact point-to-triangle, both ways).
- ``scanner:SHAPE``: our virtual scanner (noise, outliers, misalignment), scored against
  its exact mesh.

Methods: ``poisson`` (the project's Poisson path, normals estimated and oriented, that
work counted in its time), ``o3d`` (open3d screened Poisson used plainly: 30-NN normals,
orient_normals_consistent_tangent_plane(30) on the whole cloud, depth 9, no trim) and
``levelset`` at each budget (default settings, no cleaning). Ratios are levelset over the
better of the two Poissons, per metric (lower is better). Every run is its own
subprocess, so the peak memory (ru_maxrss) printed is its own.

Metrics (scan units): s2m mean = clean scan points to the mesh (exact); m2s p95 = 95th
percentile of area-weighted mesh samples to the nearest clean scan point; far = % of mesh
area farther than 2% of the diagonal from the clean scan; chamfer (reference rows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_SAMPLES = 200_000
MISALIGN = 0.001  # of the diagonal
FULL_ROWS = [
    f"{s}:{v}" for s in ("anchor", "daratech", "dc") for v in ("n0.1:o0.5", "n0.2:o0.5", "n0.5:o2", "n0.2:o0.5:m")
] + ["bunny", "scanner:creature", "scanner:torus_knot"]
QUICK_ROWS = ["anchor:n0.2:o0.5", "scanner:torus"]


def data_dir() -> Path:
    env = os.environ.get("LEVELSET_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def make_raw(points, noise: float, outliers: float, misalign: bool, seed: int):
    """Raw points from clean ones: rigid region motions, Gaussian noise, uniform outliers."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pts = np.asarray(points, dtype=np.float64).copy()
    lo, hi = pts.min(0), pts.max(0)
    diag = float(np.linalg.norm(hi - lo))
    center = 0.5 * (lo + hi)
    if misalign:
        region = ((pts - center) > 0).astype(int) @ np.array([1, 2, 4])
        for r in range(8):
            sel = region == r
            axis = rng.normal(size=3)
            axis /= np.linalg.norm(axis)
            angle = MISALIGN * diag / (0.5 * diag)  # moves the bounding sphere by MISALIGN x diag
            k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
            rot = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)
            shift = rng.normal(size=3)
            shift *= MISALIGN * diag / np.linalg.norm(shift)
            pts[sel] = (pts[sel] - center) @ rot.T + center + shift
    pts += rng.normal(scale=noise * diag, size=pts.shape)
    n_out = round(outliers * len(pts))
    out = lo + rng.random((n_out, 3)) * (hi - lo)
    allp = np.concatenate([pts, out])
    return allp[rng.permutation(len(allp))]


def load(row: str, seed: int):
    """(raw scan, clean points to score against, reference mesh or None)."""
    from levelset_studio.core.surface.meshes.meshio import read_mesh
    from levelset_studio.core.surface.scans.scan import Scan
    from levelset_studio.core.surface.scans.scanio import load_scan

    d = data_dir() / "scans"
    if row == "bunny":
        scan = load_scan(d / "stanford-bunny" / "data" / "bun.conf")
        ref = read_mesh(d / "stanford-bunny" / "reconstruction" / "bun_zipper.ply")
        return Scan(points=scan.points), scan.points, ref
    if row.startswith("scanner:"):
        from levelset_studio.core.surface.scans.scanner import ScannerConfig, make_scan

        scan, gt = make_scan(row[8:], ScannerConfig(seed=seed))
        return scan, gt.sample_surface(200_000, seed=seed), gt
    parts = row.split(":")
    clean = load_scan(d / "srb" / f"{parts[0]}.ply").points
    noise = float(parts[1][1:]) / 100
    outl = float(parts[2][1:]) / 100
    raw = make_raw(clean, noise, outl, len(parts) > 3 and parts[3] == "m", seed)
    return Scan(points=raw), clean, None


def score(mesh, clean, ref) -> dict:
    from levelset_studio.core.surface.evaluation import evaluate_reconstruction

    if mesh.is_empty:
        return {"empty": True}
    r = evaluate_reconstruction(mesh, clean, ref, n_samples=N_SAMPLES)
    out = {
        "s2m": r.scan_to_mesh.mean,
        "m2s95": r.mesh_to_scan.p95,
        "far": 100 * r.far_area_fraction,
        "diag": r.diagonal,
    }
    if ref is not None:
        out["chamfer"] = r.chamfer_l1
    return out


def o3d_plain(scan):
    """open3d screened Poisson used plainly (what a user would try first)."""
    import numpy as np
    import open3d as o3d

    from levelset_studio.core.surface.meshes.mesh import Mesh

    pts = scan.transform.to_unit(scan.points, dtype=np.float64)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=30))
    pcd.orient_normals_consistent_tangent_plane(30)
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        tri, _ = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(pcd, depth=9)
    return Mesh(scan.transform.to_scan(np.asarray(tri.vertices)), np.asarray(tri.triangles, dtype=np.int64))


def run_one(
    row: str, method: str, budget: float, seed: int, threads: int, device: str = "auto", amp: bool = False
) -> dict:
    import contextlib

    import torch

    torch.set_num_threads(threads)
    scan, clean, ref = load(row, seed)
    out: dict = {"row": row, "method": method, "seed": seed, "budget": budget, "points": len(scan)}
    t0 = time.perf_counter()
    if method == "poisson":
        from levelset_studio.core.surface.reconstruction.poisson import poisson_reconstruct

        mesh = poisson_reconstruct(scan)
    elif method == "o3d":
        mesh = o3d_plain(scan)
    else:
        from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
        from levelset_studio.core.surface.reconstruction.trainer import Reconstructor

        cfg = ReconstructionConfig(time_budget=budget, snapshot_interval=0.0, seed=seed, device=device)
        rec = Reconstructor(scan, cfg)
        ctx = torch.autocast(rec.device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
        with ctx:
            res = rec.train()
        mesh = res.mesh
        out["steps"] = res.steps
        out["ignored"] = 0 if res.ignored is None else len(res.ignored.indices)
    out["wall"] = time.perf_counter() - t0
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out |= score(mesh, clean, ref)
    return out


def spawn(row: str, method: str, budget: float, seed: int, threads: int, extra: list[str]) -> dict | None:
    cmd = [sys.executable, __file__, "--one", row, method, str(budget), str(seed), "--threads", str(threads), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        print(f"{row} {method} {budget} seed {seed}: failed\n{proc.stderr[-2000:]}", flush=True)
        return None
    r = json.loads(line[0][7:])
    print(f"  {row} {method} {budget:g}s seed {seed}: {json.dumps(r)}", flush=True)
    return r


def _med(vals: list[float]) -> str:
    if not vals:
        return "-"
    m = statistics.median(vals)
    spread = (max(vals) - min(vals)) / 2
    return f"{m:.3g}" + (f"±{spread:.2g}" if len(vals) > 1 else "")


METRICS = ("s2m", "m2s95", "far", "chamfer")


def print_table(rows: list[dict], budgets: list[float]) -> None:
    by: dict = {}
    for r in rows:
        by.setdefault((r["row"], r["method"], r["budget"] if r["method"] == "levelset" else 0), []).append(r)
    print()
    print("Absolute values (median±half-range over seeds); far in % of mesh area; wall s; peak MB")
    head = f"{'row':24} {'method':14} {'s2m':>14} {'m2s95':>14} {'far %':>12} {'chamfer':>14} {'wall':>6} {'MB':>6}"
    print(head)
    print("-" * len(head))
    names = list(dict.fromkeys(r["row"] for r in rows))
    for name in names:
        for key in [("poisson", 0), ("o3d", 0)] + [("levelset", b) for b in budgets]:
            rs = by.get((name, *key))
            if not rs:
                continue
            label = key[0] if key[0] != "levelset" else f"levelset {key[1]:g}s"
            vals = {m: [r[m] for r in rs if m in r] for m in METRICS}
            print(
                f"{name:24} {label:14} {_med(vals['s2m']):>14} {_med(vals['m2s95']):>14} {_med(vals['far']):>12} "
                f"{_med(vals['chamfer']):>14} {statistics.median(r['wall'] for r in rs):6.1f} "
                f"{max(r['peak_mb'] for r in rs):6.0f}"
            )
    print()
    print("Ratios levelset / better Poisson (median over seeds; far: levelset % - best Poisson %):")
    head = f"{'row':24} {'budget':>6} {'s2m':>7} {'m2s95':>7} {'far pts':>8} {'chamfer':>8} {'steps':>6} {'ignored':>8}"
    print(head)
    print("-" * len(head))
    for name in names:
        base = {}
        for m in METRICS:
            cands = [
                statistics.median(r[m] for r in by[(name, meth, 0)] if m in r)
                for meth in ("poisson", "o3d")
                if (name, meth, 0) in by and all(m in r for r in by[(name, meth, 0)])
            ]
            if cands:
                base[m] = min(cands)
        for b in budgets:
            rs = by.get((name, "levelset", b))
            if not rs:
                continue
            cells = []
            for m in METRICS:
                vals = [r[m] for r in rs if m in r]
                if not vals or m not in base:
                    cells.append("-")
                elif m == "far":
                    cells.append(f"{statistics.median(vals) - base[m]:+.2f}")
                else:
                    cells.append(f"{statistics.median(vals) / max(base[m], 1e-300):.2f}x")
            steps = statistics.median(r.get("steps", 0) for r in rs)
            ign = statistics.median(r.get("ignored", 0) for r in rs)
            print(f"{name:24} {b:6g} {cells[0]:>7} {cells[1]:>7} {cells[2]:>8} {cells[3]:>8} {steps:6.0f} {ign:8.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke: two rows, one seed, 10 s")
    ap.add_argument("--rows", nargs="*", help="rows (see the module docstring)")
    ap.add_argument("--budgets", nargs="*", type=float, help="levelset budgets in seconds (default 10 30 60 120)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per row (default 3; --quick: 1)")
    ap.add_argument("--methods", nargs="*", default=["poisson", "o3d", "levelset"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto", help="levelset device (auto, cpu, cuda, mps)")
    ap.add_argument("--amp", action="store_true", help="levelset under bfloat16 autocast (mixed precision)")
    ap.add_argument("--json", metavar="FILE", help="also write all runs as JSON")
    ap.add_argument("--one", nargs=4, metavar=("ROW", "METHOD", "BUDGET", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        row, method, budget, seed = args.one
        result = run_one(row, method, float(budget), int(seed), args.threads, args.device, args.amp)
        print("RESULT " + json.dumps(result))
        return
    rows_in = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    budgets = args.budgets or ([10.0] if args.quick else [10.0, 30.0, 60.0, 120.0])
    seeds = args.seeds or (1 if args.quick else 3)
    print(
        f"raw_scans: rows {rows_in}, budgets {budgets}, {seeds} seed(s), torch threads {args.threads}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = []
    for row in rows_in:
        for seed in range(seeds):
            for method in args.methods:
                for b in budgets if method == "levelset" else [0.0]:
                    extra = ["--device", args.device] + (["--amp"] if args.amp else [])
                    r = spawn(row, method, b, seed, args.threads, extra)
                    if r is not None:
                        results.append(r)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print_table(results, budgets)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
