"""Screened Poisson baseline: time and quality on real scans, through the same metrics.

    python bench/poisson.py [SCAN ...] [--depth 9] [--samples 200000] [--estimate-normals]
                            [--reference MESH]

Default scans: ../shared/data/scans/srb/anchor.ply (or $LEVELSET_DATA/scans/srb/...).
For each scan, runs Poisson with the scan's own normals and (with --estimate-normals,
or when the scan has none) with normals estimated and oriented by core/poisson.py,
and prints wall time per stage and the one-sided distances (scan units and % of the
bounding-box diagonal), as core/metrics.py defines them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from levelset_studio.core.surface.evaluation import evaluate_reconstruction
from levelset_studio.core.surface.meshes.meshio import read_mesh
from levelset_studio.core.surface.reconstruction import poisson
from levelset_studio.core.surface.scans.scanio import load_scan


def default_scans() -> list[Path]:
    root = Path(os.environ.get("LEVELSET_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return [root / "scans" / "srb" / "anchor.ply"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scans", nargs="*", type=Path)
    ap.add_argument("--depth", type=int, default=9)
    ap.add_argument("--density-quantile", type=float, default=None)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--estimate-normals", action="store_true", help="also run with estimated normals")
    ap.add_argument("--reference", type=Path, help="reference mesh for Chamfer L1 (e.g. bun_zipper.ply)")
    args = ap.parse_args()
    reference = None if args.reference is None else read_mesh(args.reference)
    rows = []
    for path in args.scans or default_scans():
        scan = load_scan(path)
        variants = [False, True] if (scan.has_normals and args.estimate_normals) else [not scan.has_normals]
        for estimate in variants:
            kw = {"depth": args.depth, "reestimate_normals": estimate}
            if args.density_quantile is not None:
                kw["density_quantile"] = args.density_quantile
            cfg = poisson.PoissonConfig(**kw)
            t, c = time.perf_counter(), time.process_time()
            mesh = poisson.poisson_reconstruct(scan, cfg)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            timings = dict(poisson.last_timings)
            rep = evaluate_reconstruction(mesh, scan.points, reference, n_samples=args.samples)
            rows.append(
                (
                    path.name,
                    len(scan),
                    "estimated" if estimate else "scan",
                    (wall, cpu),
                    timings["normals"],
                    timings["poisson"],
                    mesh.n_faces,
                    rep,
                )
            )
            print(f"# {path.name} ({'estimated' if estimate else 'scan'} normals) done", flush=True)
    load = os.getloadavg()[0]
    print(f"\nScreened Poisson (open3d), depth {args.depth}; load average {load:.1f} on {os.cpu_count()} cores")
    print(
        "wall and stage times in seconds (cpu s: process CPU time, all threads);"
        " normals s / solve s: wall time of normal estimation+orientation / the Poisson solve"
    )
    if reference is not None:
        print(
            f"Chamfer L1 against {args.reference.name}: mean exact distance of {args.samples} area-weighted "
            "samples, both ways averaged"
        )
    print(
        "distances in scan units (and % of the scan's bounding-box diagonal); "
        "s->m: scan points to mesh (exact), m->s: mesh samples to nearest scan point"
    )
    head = (
        f"{'scan':<14} {'points':>7} {'normals':>9} {'wall s':>7} {'cpu s':>7} {'normals s':>9} {'solve s':>8} "
        f"{'faces':>8} {'s->m mean':>18} {'m->s p95':>18} {'far area':>9} {'Chamfer L1':>18}"
    )
    print(head)
    print("-" * len(head))
    for name, n, kind, wall, tn, tp, faces, rep in rows:
        d = rep.diagonal
        print(
            f"{name:<14} {n:>7} {kind:>9} {wall[0]:>7.2f} {wall[1]:>7.2f} {tn:>9.2f} {tp:>8.2f} {faces:>8} "
            f"{rep.scan_to_mesh.mean:>9.4g} ({100 * rep.scan_to_mesh.mean / d:.3f}%) "
            f"{rep.mesh_to_scan.p95:>9.4g} ({100 * rep.mesh_to_scan.p95 / d:.3f}%) "
            f"{100 * rep.far_area_fraction:>8.2f}% "
            + ("" if rep.chamfer_l1 is None else f"{rep.chamfer_l1:>9.4g} ({100 * rep.chamfer_l1 / d:.3f}%)")
        )


if __name__ == "__main__":
    main()
