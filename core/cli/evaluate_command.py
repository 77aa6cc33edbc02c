"""`levelset evaluate MESH --scan SCAN... [--reference MESH] [--json] [--samples N]`.

Prints how far a reconstructed mesh lies from its scan (and from a reference mesh),
with the definitions and units of every number (core/metrics.py).
"""

from __future__ import annotations

import argparse
import json
import math

from levelset_studio.core.errors import ConfigError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add `evaluate` to the `levelset` parser."""
    p = sub.add_parser(
        "evaluate",
        help="distances between a mesh, its scan and a reference mesh",
        description="Evaluate a reconstructed mesh against its scan (one-sided distances, far-area "
        "fraction) and, with --reference, a reference mesh (Chamfer L1/L2, Hausdorff). "
        "Numbers are in the scan's units and as a fraction of its bounding-box diagonal.",
    )
    p.add_argument("mesh", metavar="MESH", help="the mesh to evaluate (PLY, OBJ, STL, OFF, GLB)")
    p.add_argument(
        "--scan",
        nargs="+",
        required=True,
        metavar="SCAN",
        help="the scan file(s) or .conf scan set the mesh was made from",
    )
    p.add_argument("--reference", metavar="MESH", help="a reference (ground-truth) mesh")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--samples",
        type=_positive_int,
        default=1_000_000,
        metavar="N",
        help="points sampled on each mesh surface (default 1000000)",
    )
    p.add_argument(
        "--far-threshold",
        type=float,
        default=0.02,
        metavar="FRACTION",
        help="mesh area farther than this fraction of the diagonal from the scan counts as invented (default 0.02)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the surface sampling (default 0)")
    from levelset_studio.core.surface.scans.scanio import add_read_arguments

    add_read_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from levelset_studio.core.surface.evaluation import evaluate_reconstruction
    from levelset_studio.core.surface.meshes.meshio import read_mesh
    from levelset_studio.core.surface.scans.scanio import load_scan, read_config_from_args

    if not (math.isfinite(args.far_threshold) and 0 < args.far_threshold < 1):
        raise ConfigError(f"far-threshold: {args.far_threshold!r} is outside (0, 1)")
    mesh = read_mesh(args.mesh)
    scan = load_scan(args.scan, config=read_config_from_args(args))
    reference = None if args.reference is None else read_mesh(args.reference)
    report = evaluate_reconstruction(
        mesh,
        scan.points,
        reference,
        n_samples=args.samples,
        far_threshold=args.far_threshold,
        seed=args.seed,
        scan_normals=scan.normals,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False, default=_json_default))
    else:
        print(report.format())
    return 0


def _json_default(value: object) -> object:
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
