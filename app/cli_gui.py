"""``levelset gui``: open the desktop app (Qt is imported only inside the handler,
so core/ stays importable without Qt or a display)."""

from __future__ import annotations

import argparse
import os

from levelset_studio.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``gui`` subcommand to the `levelset` parser."""
    p = sub.add_parser(
        "gui",
        help="open the desktop app (the default when `levelset` has no arguments)",
        description=(
            "Open LevelSet Studio. With no SCAN the bundled sample scan is opened. "
            "For demos and smoke tests: --reconstruct trains on the scan, --screenshot saves a PNG "
            "of the whole window when done and --quit exits afterwards. A saved session (.lss) "
            "reopens its scans, settings and network; with --reconstruct, training continues."
        ),
    )
    p.add_argument(
        "scans",
        nargs="*",
        metavar="SCAN",
        help="scan file(s) to open (merged), a .conf scan set, or one saved session (.lss)",
    )
    p.add_argument("--reconstruct", action="store_true", help="start a reconstruction once the scan is loaded")
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window when done")
    p.add_argument("--quit", action="store_true", help="exit when done (exit code 0, or 2 on an error)")
    p.add_argument(
        "--record",
        metavar="FILM",
        help="with --reconstruct: film the live reconstruction (every preview, fixed camera) as a .gif or .mp4",
    )
    p.add_argument("--tab", choices=("reconstruct", "robustness"), default="reconstruct", help="tab shown first")
    p.add_argument("--dataset", metavar="D", help="Robustness tab: dataset to open")
    p.add_argument("--train", action="store_true", help="Robustness tab: start training")
    p.add_argument("--no-sample", action="store_true", help="do not open the sample scan when no SCAN is given")
    from levelset_studio.core.params import add_arguments
    from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig

    # The Reconstruct panel's settings, from the same descriptions as `levelset reconstruct`.
    add_arguments(
        p.add_argument_group("reconstruction settings (shown in the Reconstruct panel)"), ReconstructionConfig
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from levelset_studio.core.params import config_from_args, config_to_dict
    from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig

    recon = config_from_args(ReconstructionConfig, args)  # validated before any window opens
    if args.iterations is not None and args.time_budget is None:
        recon = recon.with_values(time_budget=None)  # --iterations alone: no time limit
    if args.screenshot and not args.screenshot.lower().endswith(".png"):
        raise ConfigError(f"--screenshot: {args.screenshot} must be a .png file")
    if (
        not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))
        and os.name == "posix"
        and not os.uname().sysname == "Darwin"
    ):
        raise ConfigError("no display: run on a desktop, or under `xvfb-run -a levelset gui ...`")
    record = getattr(args, "record", None)
    if record:
        from pathlib import Path

        film = Path(record)
        if film.suffix.lower() not in (".gif", ".mp4"):
            raise ConfigError(f"--record: {record} must be a .gif or .mp4 file")
        if not args.reconstruct:
            raise ConfigError("--record films a reconstruction: add --reconstruct")
        if str(film.parent) not in ("", ".") and not film.parent.is_dir():
            raise ConfigError(f"--record: the folder {film.parent} does not exist")
    scans, session = list(args.scans), None
    sessions = [s for s in scans if s.lower().endswith(".lss")]
    if sessions:
        if len(scans) > 1:
            raise ConfigError(f"{sessions[0]}: a session (.lss) opens on its own, without other files")
        session, scans = sessions[0], []
        if not os.path.isfile(session):
            raise ConfigError(f"{session}: no such session file")
    from levelset_studio.app.main import GuiOptions, run_gui  # Qt only from here on

    return run_gui(
        GuiOptions(
            scans=scans,
            session=session,
            iterations=recon.iterations if args.iterations is not None else None,
            time_budget=recon.time_budget if args.time_budget is not None else None,
            reconstruct=args.reconstruct,
            recon_settings=config_to_dict(recon),
            screenshot=args.screenshot,
            quit=args.quit,
            tab=args.tab,
            dataset=args.dataset,
            train=args.train,
            open_sample=not args.no_sample,
            record=record or None,
        )
    )
