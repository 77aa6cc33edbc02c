"""``levelset info``, ``levelset clean`` and ``levelset make-scan``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from levelset_studio.core.params import add_arguments, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `levelset` parser."""
    from levelset_studio.core.surface.scans.cleaning import CleaningConfig
    from levelset_studio.core.surface.scans.scanio import SCAN_EXTENSIONS
    from levelset_studio.core.surface.scans.scanner import SHAPES, ScannerConfig

    exts = ", ".join(SCAN_EXTENSIONS)
    p = sub.add_parser(
        "info",
        help="describe one or more scans (merged) or a .conf scan set",
        description=f"Read scans and print what was read. Formats: {exts}. Several files are merged into one cloud.",
    )
    p.add_argument("scans", nargs="+", metavar="SCAN", help="scan files or a .conf scan set")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "clean",
        help="downsample, remove outliers and estimate normals of a scan",
        description="Clean scans (merged) and write the result as a point cloud "
        "(.ply, .pcd or .xyz). Sizes are fractions of the bounding-box diagonal.",
    )
    p.add_argument("scans", nargs="+", metavar="SCAN", help="scan files or a .conf scan set")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output point cloud (.ply, .pcd, .xyz)")
    add_arguments(p.add_argument_group("cleaning"), CleaningConfig)
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser(
        "make-scan",
        help="scan a known shape with a virtual range scanner",
        description="Cast rays from several viewpoints at a shape with an exact surface and "
        "keep the first hits, with depth noise, holes (occlusion, grazing angles, "
        "unseen underside), outliers and per-view misalignment. Writes the scan and, "
        "with --ground-truth, the exact mesh.",
    )
    p.add_argument("shape", choices=SHAPES, metavar="SHAPE", help="one of: " + ", ".join(SHAPES))
    p.add_argument("-o", "--output", required=True, metavar="SCAN", help="output scan (.ply, .pcd, .xyz)")
    p.add_argument(
        "--ground-truth", metavar="GT", help="also write the exact ground-truth mesh (.ply, .obj, .stl, .off, .glb)"
    )
    add_arguments(p.add_argument_group("scanner"), ScannerConfig)
    p.set_defaults(func=cmd_make_scan)


def _progress_bar(desc: str):
    from tqdm import tqdm

    bar = tqdm(
        total=100,
        desc=desc,
        unit="%",
        file=sys.stderr,
        disable=None,
        leave=False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}|",
    )

    def update(fraction: float) -> None:
        bar.n = round(100 * fraction)
        bar.refresh()

    return bar, update


def _load(paths: list[str]):
    from levelset_studio.core.surface.scans.scanio import load_scan

    bar, update = _progress_bar("reading")
    try:
        return load_scan(paths, progress=update)
    finally:
        bar.close()


def scan_summary(scan) -> dict:
    """The facts ``levelset info --json`` prints (scan coordinates, float64)."""
    return {
        "points": len(scan),
        "has_normals": scan.has_normals,
        "has_colors": scan.colors is not None,
        "from_mesh": scan.from_mesh,
        "dropped_nonfinite": scan.dropped_nonfinite,
        "bbox_min": [float(v) for v in scan.bbox_min],
        "bbox_max": [float(v) for v in scan.bbox_max],
        "diagonal": scan.diagonal,
        "files": list(scan.files),
    }


def cmd_info(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    scan = _load(args.scans)
    info = scan_summary(scan)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    seconds = time.perf_counter() - t0

    def vec(v) -> str:
        return "(" + ", ".join(f"{x:.10g}" for x in v) + ")"

    rows = [
        ("points", f"{info['points']:,}"),
        ("normals", "yes" if info["has_normals"] else "no"),
        ("colours", "yes" if info["has_colors"] else "no"),
        ("sampled from a mesh", "yes" if info["from_mesh"] else "no"),
        ("dropped non-finite", f"{info['dropped_nonfinite']:,}"),
        ("bbox min", vec(info["bbox_min"])),
        ("bbox max", vec(info["bbox_max"])),
        ("bbox diagonal", f"{info['diagonal']:.6g} (scan units)"),
        ("read in", f"{seconds:.2f} s"),
    ]
    files = info["files"]
    rows.append(("files", files[0] if len(files) == 1 else f"{len(files)}"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if len(files) > 1:
        for f in files:
            print(f"{'':<{width}}  {f}")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    from levelset_studio.core.surface.meshes.meshio import write_point_cloud
    from levelset_studio.core.surface.scans.cleaning import CleaningConfig, clean_scan

    config = config_from_args(CleaningConfig, args)
    out = Path(args.output)
    _check_output(out, (".ply", ".pcd", ".xyz"))
    scan = _load(args.scans)
    cleaned, report = clean_scan(scan, config)
    write_point_cloud(cleaned.points, out, cleaned.normals, cleaned.colors, protect=list(scan.files))
    print(report.summary())
    print(f"wrote {out}")
    return 0


def cmd_make_scan(args: argparse.Namespace) -> int:
    from levelset_studio.core.surface.meshes.meshio import write_mesh, write_point_cloud
    from levelset_studio.core.surface.scans.scanner import ScannerConfig, make_scan

    config = config_from_args(ScannerConfig, args)
    out = Path(args.output)
    _check_output(out, (".ply", ".pcd", ".xyz"))
    if args.ground_truth:
        _check_output(Path(args.ground_truth), (".ply", ".obj", ".stl", ".off", ".glb"))
    scan, gt = make_scan(args.shape, config)
    write_point_cloud(scan.points, out, scan.normals)
    gt_diag = float(np.linalg.norm(gt.vertices.max(axis=0) - gt.vertices.min(axis=0)))
    print(
        f"wrote {out}: {len(scan):,} points from {config.views} views; noise {config.noise:g}, "
        f"misalign {config.misalign:g} (fractions of the shape's diagonal {gt_diag:.4g}), "
        f"outliers {config.outliers:g} of the points, seed {config.seed}"
    )
    if args.ground_truth:
        write_mesh(gt, args.ground_truth, protect=[out])
        print(f"wrote {args.ground_truth}: exact {args.shape} mesh, {gt.n_vertices:,} vertices, {gt.n_faces:,} faces")
    return 0


def _check_output(path: Path, allowed: tuple[str, ...]) -> None:
    """Fail before any work when the output name cannot be written."""
    from levelset_studio.core.errors import MeshWriteError

    if path.suffix.lower() not in allowed:
        raise MeshWriteError(
            f"unsupported output format '{path.suffix or path.name}' (supported: {', '.join(allowed)})", path
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise MeshWriteError(f"the folder '{parent}' does not exist", path)
    if path.is_dir():
        raise MeshWriteError("is a directory; give a file name", path)
