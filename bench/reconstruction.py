"""Benchmark of the reconstruction engine (issue 3): levelset (default settings) vs Poisson.

    python bench/reconstruction.py            # full table (long: ~2.5 min per scan and method)
    python bench/reconstruction.py --quick    # smoke: two small scans, 15 s budget

Every (scan, method) runs in its own subprocess so that its peak memory (ru_maxrss) is
its own. Poisson and levelset run in the same invocation on the same inputs and are
evaluated with the same code (core.surface.evaluation.evaluate_reconstruction):

- Chamfer L1 (mean of both one-sided mean distances, sampled mesh surfaces) against the
  reference mesh where one exists (bunny: bun_zipper.ply; scanner shapes: exact mesh);
- scan->mesh mean and 95th percentile, mesh->scan 95th percentile (mesh sampled by
  area), the fraction of mesh area farther than 2% of the diagonal from every scan
  point ("far"), all in scan units;
- wall time (load + method + final mesh), peak resident memory of the process.
For levelset the mesh (final resolution, trimmed) is also evaluated at 15/30/60/120 s
of training; evaluation pauses the engine's clock (the budget counts engine work only).
Also printed: time to mesh the trained network at 128^3 (preview) and 256^3 (final).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_SAMPLES = 100_000  # mesh surface samples per evaluation
MARK_RESOLUTION = 128  # meshes evaluated mid-run (the final one uses the default, 256)


def data_dir() -> Path:
    env = os.environ.get("LEVELSET_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def datasets(quick: bool) -> list[str]:
    if quick:
        return ["scanner:torus", "srb:anchor"]
    return [
        "srb:anchor",
        "srb:daratech",
        "srb:dc",
        "bunny",
        "scanner:creature",
        "scanner:torus_knot",
        "scanner:rounded_box",
    ]


def load(name: str):
    """(scan, reference mesh or None) of a benchmark input."""
    from levelset_studio.core.surface.meshes.meshio import read_mesh
    from levelset_studio.core.surface.scans.scanio import load_scan

    d = data_dir() / "scans"
    if name.startswith("srb:"):
        return load_scan(d / "srb" / f"{name[4:]}.ply"), None
    if name == "bunny":
        return (
            load_scan(d / "stanford-bunny" / "data" / "bun.conf"),
            read_mesh(d / "stanford-bunny" / "reconstruction" / "bun_zipper.ply"),
        )
    if name.startswith("scanner:"):
        from levelset_studio.core.surface.scans.scanner import ScannerConfig, make_scan

        return make_scan(name[8:], ScannerConfig(seed=0))
    raise SystemExit(f"unknown dataset {name}")


def evaluate(mesh, scan, ref) -> dict:
    from levelset_studio.core.surface.evaluation import evaluate_reconstruction

    if mesh.is_empty:
        return {"empty": True}
    r = evaluate_reconstruction(mesh, scan.points, ref, n_samples=N_SAMPLES)
    out = {
        "s2m_mean": r.scan_to_mesh.mean,
        "s2m_p95": r.scan_to_mesh.p95,
        "m2s_p95": r.mesh_to_scan.p95,
        "far": r.far_area_fraction,
        "faces": mesh.n_faces,
        "diag": r.diagonal,
    }
    if ref is not None:
        out["chamfer"] = r.chamfer_l1
    return out


def run_one(name: str, method: str, budget: float, marks: list[float], threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    scan, ref = load(name)
    t_load = time.perf_counter() - t0
    out: dict = {"dataset": name, "method": method, "points": len(scan)}
    t0 = time.perf_counter()
    if method == "poisson":
        from levelset_studio.core.surface.reconstruction.poisson import poisson_reconstruct

        mesh = poisson_reconstruct(scan)
        out["wall"] = time.perf_counter() - t0
    else:
        from levelset_studio.core.events import Finished, Progress
        from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
        from levelset_studio.core.surface.reconstruction.trainer import Reconstructor

        rec = Reconstructor(scan, ReconstructionConfig(time_budget=budget, snapshot_interval=0.0))
        out["network"] = rec.network_name
        pending = sorted(m for m in marks if m < budget)
        out["marks"] = {}
        eval_time = 0.0
        for ev in rec.run():
            if isinstance(ev, Progress) and pending and ev.elapsed >= pending[0]:
                te = time.perf_counter()
                m = pending.pop(0)
                out["marks"][str(int(m))] = evaluate(rec.extract_mesh(MARK_RESOLUTION), scan, ref) | {"step": ev.step}
                eval_time += time.perf_counter() - te
            elif isinstance(ev, Finished):
                mesh = ev.result.mesh
                out["steps"] = ev.result.steps
                out["final256_s"] = ev.result.meshing_seconds  # includes trimming
        out["wall"] = time.perf_counter() - t0 - eval_time
        out["timings"] = dict(rec.timings)
        t = time.perf_counter()
        rec.extract_mesh(128, final=False)
        out["preview128_s"] = time.perf_counter() - t
    out["load_s"] = t_load
    out["final"] = evaluate(mesh, scan, ref)
    if method != "poisson":
        out["marks"][str(int(budget))] = out["final"] | {"step": out["steps"]}
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def fmt(v, digits=3) -> str:
    return "-" if v is None else f"{v:.{digits}g}"


def print_table(rows: list[dict], marks: list[float]) -> None:
    print()
    print(
        "Distances in scan units (far: fraction of mesh area > 2% of the diagonal from the scan). "
        "Chamfer L1 vs reference mesh."
    )
    head = (
        f"{'scan':22} {'method':9} {'chamfer':>8} {'s2m mean':>9} {'s2m p95':>8} {'m2s p95':>8} "
        f"{'far %':>6} {'wall s':>7} {'peak MB':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        f = r.get("final", {})
        print(
            f"{r['dataset']:22} {r['method']:9} {fmt(f.get('chamfer')):>8} {fmt(f.get('s2m_mean')):>9} "
            f"{fmt(f.get('s2m_p95')):>8} {fmt(f.get('m2s_p95')):>8} {fmt(100 * f['far'] if 'far' in f else None):>6} "
            f"{r['wall']:7.1f} {r['peak_mb']:8.0f}"
        )
    print()
    print("levelset quality over training time (chamfer where a reference exists, else s2m mean / m2s p95 / far %):")
    for r in rows:
        if r["method"] == "poisson":
            continue
        parts = []
        for m, v in sorted(r.get("marks", {}).items(), key=lambda kv: float(kv[0])):
            if v.get("empty"):
                parts.append(f"{m}s: empty")
            elif "chamfer" in v:
                parts.append(f"{m}s: {v['chamfer']:.3g}")
            else:
                parts.append(f"{m}s: {v['s2m_mean']:.3g}/{v['m2s_p95']:.3g}/{100 * v['far']:.2g}%")
        print(f"  {r['dataset']:22} steps {r.get('steps')}  " + "  ".join(parts))
        print(
            f"  {'':22} mesh 128^3 {r['preview128_s']:.2f} s, 256^3 {r['final256_s']:.2f} s (with trim); "
            f"time in: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["timings"].items())
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke mode: two small inputs, 15 s budget")
    ap.add_argument("--budget", type=float, default=None, help="levelset time budget in seconds (default 120)")
    ap.add_argument("--datasets", nargs="*", help="subset, e.g. srb:anchor bunny scanner:creature")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared, oversubscribed 2-core machine two OpenMP "
        "threads measured ~5x slower per step than one)",
    )
    ap.add_argument("--one", nargs=2, metavar=("DATASET", "METHOD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    budget = args.budget or (15.0 if args.quick else 120.0)
    marks = [15.0, 30.0, 60.0, 120.0]
    if args.one:
        print("RESULT " + json.dumps(run_one(args.one[0], args.one[1], budget, marks, args.threads)))
        return
    print(
        f"bench: levelset budget {budget:.0f} s, torch threads {args.threads}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows = []
    for name in args.datasets or datasets(args.quick):
        for method in ("poisson", "levelset"):
            cmd = [
                sys.executable,
                __file__,
                "--one",
                name,
                method,
                "--budget",
                str(budget),
                "--threads",
                str(args.threads),
            ]
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            line = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                print(f"{name} {method}: failed\n{proc.stderr[-2000:]}", flush=True)
                continue
            row = json.loads(line[0][7:])
            rows.append(row)
            print(f"{name} {method}: done in {time.perf_counter() - t:.0f} s: {json.dumps(row)}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print_table(rows, marks)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
