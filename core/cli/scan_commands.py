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
    from levelset_studio.core.surface.scans.formats import SCAN_EXTENSIONS, WRITABLE_SCAN_EXTENSIONS
    from levelset_studio.core.surface.scans.scanio import add_read_arguments
    from levelset_studio.core.surface.scans.scanner import SHAPES, ScannerConfig

    exts = ", ".join(SCAN_EXTENSIONS)
    writable = ", ".join(WRITABLE_SCAN_EXTENSIONS)
    p = sub.add_parser(
        "info",
        help="describe one or more scans (merged) or a .conf scan set; --formats lists the formats",
        description=f"Read scans and print what was read. Formats: {exts} (see --formats). "
        "Several files are merged into one cloud.",
    )
    p.add_argument("scans", nargs="*", metavar="SCAN", help="scan files or a .conf scan set")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--formats", action="store_true", help="list the formats that can be read and written, and exit")
    add_read_arguments(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "clean",
        help="downsample, remove outliers and estimate normals of a scan",
        description=f"Clean scans (merged) and write the result as a point cloud ({writable}). "
        "Sizes are fractions of the bounding-box diagonal. LAS/LAZ keep the input's integer grid, "
        "intensity, classes and CRS; E57 keeps intensity.",
    )
    p.add_argument("scans", nargs="+", metavar="SCAN", help="scan files or a .conf scan set")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help=f"output point cloud ({writable})")
    add_arguments(p.add_argument_group("cleaning"), CleaningConfig)
    add_read_arguments(p)
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


def _load(paths: list[str], args: argparse.Namespace | None = None):
    from levelset_studio.core.surface.scans.scanio import load_scan, read_config_from_args

    config = read_config_from_args(args if args is not None else argparse.Namespace())
    bar, update = _progress_bar("reading")
    try:
        return load_scan(paths, progress=update, config=config)
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
        "has_intensity": scan.intensity is not None,
        "has_classification": scan.classification is not None,
        "points_in_files": scan.points_in_files,
        "dropped_while_reading": dict(scan.read_counts),
        "stations": None if scan.stations is None else [[float(v) for v in s] for s in scan.stations],
        "crs": scan.crs,
        "bbox_min": [float(v) for v in scan.bbox_min],
        "bbox_max": [float(v) for v in scan.bbox_max],
        "diagonal": scan.diagonal,
        "files": list(scan.files),
    }


def cmd_info(args: argparse.Namespace) -> int:
    from levelset_studio.core.errors import ScanError
    from levelset_studio.core.surface.scans.formats import crs_name, formats_text

    if args.formats:
        print(formats_text())
        return 0
    if not args.scans:
        raise ScanError("no scan files given (or use --formats to list the formats)")
    t0 = time.perf_counter()
    scan = _load(args.scans, args)
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
    ]
    rows += [(f"dropped: {_REASONS.get(k, k)}", f"{v:,}") for k, v in info["dropped_while_reading"].items()]
    if info["points_in_files"] != info["points"]:
        rows.append(("points in the files", f"{info['points_in_files']:,}"))
    if info["has_intensity"] or info["has_classification"]:
        kept = [n for n, yes in (("intensity", info["has_intensity"]), ("classes", info["has_classification"])) if yes]
        rows.append(("attributes", ", ".join(kept)))
    if info["stations"]:
        rows.append(("stations", f"{len(info['stations'])} (scanner positions kept)"))
    if info["crs"]:
        rows.append(("CRS", crs_name(info["crs"]) or ""))
    rows += [
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


_REASONS = {
    "noise_class": "noise classes 7, 18 (--keep-noise keeps them)",
    "invalid_state": "invalid (structured scan)",
    "decimated": "decimated to --max-points",
}


def reading_notes(scan) -> list[str]:
    """Lines that say what reading left out (for the commands that read scans)."""
    notes = []
    for k, v in scan.read_counts.items():
        if v:
            notes.append(f"reading: {v:,} points left out: {_REASONS.get(k, k)}")
    return notes


def cmd_clean(args: argparse.Namespace) -> int:
    from levelset_studio.core.surface.meshes.meshio import write_point_cloud
    from levelset_studio.core.surface.scans.cleaning import CleaningConfig, clean_scan
    from levelset_studio.core.surface.scans.formats import WRITABLE_SCAN_EXTENSIONS
    from levelset_studio.core.surface.scans.scanio import transfer_attributes

    config = config_from_args(CleaningConfig, args)
    out = Path(args.output)
    _check_output(out, WRITABLE_SCAN_EXTENSIONS)
    scan = _load(args.scans, args)
    for line in reading_notes(scan):
        print(line)
    cleaned, report = clean_scan(scan, config)
    cleaned = transfer_attributes(scan, cleaned)
    write_point_cloud(
        cleaned.points,
        out,
        cleaned.normals,
        cleaned.colors,
        protect=list(scan.files),
        intensity=cleaned.intensity,
        classification=cleaned.classification,
        grid=scan.grid,
        crs=scan.crs,
    )
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
