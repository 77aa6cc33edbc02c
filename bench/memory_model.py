"""Calibrate the memory guard (core/memory.py): its estimates next to measured peaks.

Each row runs in a fresh process (peak resident memory, ``ru_maxrss``). A baseline
process that only imports the libraries is measured in the same run, so the table shows
both the whole peak and the part the work added. Estimates should be at or above the
measured peak (ratio >= 1): the guard errs on the safe side.

    .venv/bin/python bench/memory_model.py          # a few minutes on 2 cores
    .venv/bin/python bench/memory_model.py --quick  # two rows
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys
import numpy as np, torch
torch.set_num_threads(1)
from levelset_studio.core.surface.scans.scanio import load_scan
from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
from levelset_studio.core.surface.reconstruction.trainer import Reconstructor
job = json.loads(sys.argv[1])
if job["kind"] != "baseline":
    scan = load_scan(job["file"])
    if job["kind"] == "reconstruct":
        cfg = ReconstructionConfig(iterations=3, time_budget=None, resolution=job["resolution"],
                                   batch_size=job["batch"], snapshot_interval=0.0, threads=1)
        rec = Reconstructor(scan, cfg)
        rec.train()
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def peak(job: dict) -> int:
    r = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(job)], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return int(json.loads(r.stdout.strip().splitlines()[-1])["peak"])


def sphere_file(folder: Path, n: int) -> Path:
    import numpy as np

    from levelset_studio.core.surface.meshes.meshio import write_point_cloud

    rng = np.random.default_rng(0)
    p = rng.normal(size=(n, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    path = folder / f"sphere_{n}.ply"
    write_point_cloud(p, path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from levelset_studio.core.memory import estimate_load, estimate_reconstruction, fmt_bytes
    from levelset_studio.core.surface.reconstruction.networks import NETWORK_PRESETS, build_network

    grid_params = sum(p.numel() for p in build_network(NETWORK_PRESETS["grid"]).parameters())
    rows = (
        [(200_000, 128, 2048), (200_000, 256, 8192)]
        if args.quick
        else [
            (50_000, 128, 2048),
            (200_000, 256, 2048),
            (200_000, 256, 16384),
            (1_000_000, 256, 4096),
            (200_000, 384, 4096),
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = peak({"kind": "baseline"})
        print(f"baseline (imports only): peak {fmt_bytes(base)}")
        files = {n: sphere_file(Path(tmp), n) for n in sorted({r[0] for r in rows})}
        # the readers' own imports, measured by loading a 1000-point file
        load_base = peak({"kind": "load", "file": str(sphere_file(Path(tmp), 1000))})
        print(f"baseline of a load (imports and a 1000-point file): peak {fmt_bytes(load_base)}")
        print(f"{'work':42s} {'estimate':>10s} {'measured':>10s} {'added':>10s} {'est/meas':>9s}")
        for f in files.values():
            m = peak({"kind": "load", "file": str(f)})
            est = estimate_load([f]).total
            print(
                f"{'load ' + f.name + f' ({fmt_bytes(f.stat().st_size)})':42s} {fmt_bytes(est):>10s} "
                f"{fmt_bytes(m):>10s} {fmt_bytes(m - load_base):>10s} {est / max(m - load_base, 1):9.2f}"
            )
        for n, res, batch in rows:
            m = peak({"kind": "reconstruct", "file": str(files[n]), "resolution": res, "batch": batch})
            est = estimate_reconstruction(
                n, resolution=res, batch_size=batch, network="grid", network_params=grid_params
            ).total
            label = f"reconstruct {n:,} pts, {res}^3, batch {batch}"
            print(f"{label:42s} {fmt_bytes(est):>10s} {fmt_bytes(m):>10s} {fmt_bytes(m - base):>10s} {est / m:9.2f}")
    print(
        "added: over the baseline; est/meas: load rows against what the load added, reconstruct rows against the whole peak"
    )


if __name__ == "__main__":
    main()
