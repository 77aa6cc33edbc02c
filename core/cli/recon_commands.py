"""``levelset reconstruct``: scan(s) -> mesh by neural level sets (levelset, igr) or Poisson."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from levelset_studio.core.cli import recon_safety
from levelset_studio.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add `reconstruct` to the `levelset` parser."""
    p = sub.add_parser(
        "reconstruct",
        help="reconstruct a surface mesh from scans",
        description="Train an implicit network on the scan (merged if several files or a .conf set) and "
        "write its zero level set as a mesh in the scan's coordinates. --method poisson runs the "
        "screened Poisson baseline instead. Stop early with Ctrl-C (a --checkpoint is still "
        "written).",
    )
    p.add_argument("scans", nargs="*", metavar="SCAN", help="scan files or a .conf scan set")
    p.add_argument("-o", "--output", required=True, metavar="MESH", help="output mesh (.ply, .obj, .stl, .off, .glb)")
    p.add_argument("--checkpoint", metavar="CKPT", help="write the training state here at the end (or on Ctrl-C)")
    p.add_argument("--resume", metavar="CKPT", help="continue training from a checkpoint of the same scan")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_reconstruct_arguments(p)
    recon_safety.add_arguments(p)
    p.set_defaults(func=cmd_reconstruct)


def add_reconstruct_arguments(p: argparse.ArgumentParser) -> None:
    """--method and every reconstruction setting (shared by `reconstruct` and `batch`)."""
    from levelset_studio.core.params import add_arguments
    from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig

    p.add_argument(
        "--method",
        default="levelset",
        choices=("levelset", "igr", "poisson"),
        help="levelset (CNLS, default), igr (eikonal) or poisson (screened Poisson baseline)",
    )
    add_arguments(p.add_argument_group("reconstruction"), ReconstructionConfig, exclude=("method",))
    from levelset_studio.core.surface.scans.scanio import add_read_arguments

    add_read_arguments(p)  # --max-points, --scan-index, --keep-noise (read_config_from_args)


def reconstruct_config(args: argparse.Namespace):
    """The validated ReconstructionConfig of parsed `add_reconstruct_arguments` flags."""
    from levelset_studio.core.params import config_from_args
    from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig

    ns = argparse.Namespace(**vars(args))
    if ns.method == "poisson":
        ns.method = None  # Poisson has no neural settings; validate the rest anyway
    cfg = config_from_args(ReconstructionConfig, ns)
    if args.iterations is not None and args.time_budget is None:
        cfg = cfg.with_values(time_budget=None)  # --iterations alone: no time limit
    if args.snapshot_interval is None:
        cfg = cfg.with_values(snapshot_interval=0.0)  # nobody sees previews on a terminal
    return cfg


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from levelset_studio.core.cli.scan_commands import reading_notes
    from levelset_studio.core.surface.meshes.meshio import write_mesh
    from levelset_studio.core.surface.scans.scanio import load_scan, read_config_from_args

    cfg = reconstruct_config(args)  # validate settings before reading anything
    recon_safety.check_arguments(args)
    out = Path(args.output)
    if args.method == "poisson" and (args.resume or args.checkpoint):
        raise ConfigError("--checkpoint/--resume apply to neural methods, not poisson")
    restored = None
    if args.resume_session:
        from levelset_studio.core.surface.restore import restore_session

        restored = restore_session(args.resume_session, device=args.device)
        scan = restored.scan
    else:
        if args.max_points is None:  # with a budget, reading holds about the budget, not the file
            recon_safety.check_load_memory(args, list(args.scans))
        scan = load_scan(args.scans, config=read_config_from_args(args))
    protect = list(scan.files) + [p for p in (args.resume, args.checkpoint, args.resume_session) if p]
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    for line in reading_notes(scan):
        say(line)
    t0 = time.perf_counter()
    if args.method == "poisson":
        from levelset_studio.core.surface.reconstruction.poisson import PoissonConfig, poisson_reconstruct

        if args.save_session:
            raise ConfigError("--save-session applies to neural methods, not poisson")

        chosen = getattr(args, "ignore_outliers", None)  # Poisson's own default unless the flag was given
        mesh = poisson_reconstruct(scan, PoissonConfig() if chosen is None else PoissonConfig(ignore_outliers=chosen))
        write_mesh(mesh, out, protect=protect)
        say(f"poisson: {mesh.n_faces} faces in {time.perf_counter() - t0:.1f} s -> {out}")
        return 0

    from levelset_studio.core.cli.progress import run_with_progress
    from levelset_studio.core.surface.reconstruction.trainer import Reconstructor

    if args.resume:
        rec = Reconstructor.load_checkpoint(args.resume, scan, device=args.device)
    elif restored is not None and restored.reconstructor is not None:
        rec = restored.reconstructor
    else:
        rec = Reconstructor(scan, cfg)
    rec.on_device_error = args.on_device_error
    recon_safety.check_run_memory(args, rec, len(scan))
    resumed = bool(args.resume) or (restored is not None and restored.reconstructor is not None)
    history = recon_safety.LossHistory(restored.history if restored is not None else None)
    say(f"{cfg.method}: {len(scan)} points, network {rec.network_name}, {rec.device_name}")
    if resumed:
        budget = (
            dict(iterations=cfg.iterations, time_budget=cfg.time_budget)
            if (args.iterations is not None or args.time_budget is not None)
            else {}
        )
    else:
        budget = dict(iterations=cfg.iterations, time_budget=cfg.time_budget)

    def fmt(ev) -> dict[str, str]:
        m = ev.metrics
        return {
            "loss": f"{m.get('loss', float('nan')):.4f}",
            "converged": f"{100 * m.get('converged', 0):.0f}%",
            "t": f"{ev.elapsed:.0f}s",
        }

    try:
        events = recon_safety.with_checkpoints(
            rec.run(None, **budget), rec, args.checkpoint, args.checkpoint_every, history
        )
        result = run_with_progress(events, desc="reconstruct", format_metrics=None if args.quiet else fmt)
    except KeyboardInterrupt:
        if args.checkpoint:
            rec.save_checkpoint(args.checkpoint)
            print(f"levelset: checkpoint written to {args.checkpoint} at step {rec.step}", file=sys.stderr)
        if args.save_session:
            _save_session(args, scan, rec, None, history, restored)
        raise
    if args.checkpoint:
        rec.save_checkpoint(args.checkpoint)
    mesh = result.mesh
    if result.ignored is not None:
        say(f"{cfg.method}: {result.ignored.summary()}; --no-ignore-outliers keeps them")
    write_mesh(mesh, out, protect=protect)
    if args.save_session:
        saved = _save_session(args, scan, rec, mesh, history, restored)
        say(f"session -> {saved}")
    say(
        f"{cfg.method}: {result.steps} steps, {result.elapsed:.1f} s training, {result.meshing_seconds:.1f} s "
        f"meshing at {cfg.resolution}^3, {mesh.n_faces} faces -> {out}"
    )
    return 0


def _save_session(args, scan, rec, mesh, history, restored) -> Path:
    from levelset_studio.core.surface.restore import session_of_run
    from levelset_studio.core.surface.session import write_session

    cleaning = restored.data.cleaning if restored is not None else None
    data = session_of_run(list(scan.files), reconstructor=rec, mesh=mesh, cleaning=cleaning, history=history.series)
    return write_session(args.save_session, data, rec.save_checkpoint)
