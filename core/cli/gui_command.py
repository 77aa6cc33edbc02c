"""``levelset gui``: open the desktop app (Qt is imported only inside the handler,
so core/ stays importable without Qt or a display)."""

from __future__ import annotations

import argparse
import os

from core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``gui`` subcommand to the `levelset` parser."""
    p = sub.add_parser(
        "gui",
        help="open the desktop app (the default when `levelset` has no arguments)",
        description=(
            "Open LevelSet Studio. With no SCAN the bundled sample scan is opened. "
            "For demos and smoke tests: --reconstruct trains on the scan, --screenshot saves a PNG "
            "of the whole window when done and --quit exits afterwards."
        ),
    )
    p.add_argument("scans", nargs="*", metavar="SCAN", help="scan file(s) to open (merged), or a .conf scan set")
    p.add_argument("--reconstruct", action="store_true", help="start a reconstruction once the scan is loaded")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--iterations", type=int, metavar="N", help="with --reconstruct: train N iterations")
    budget.add_argument("--time-budget", type=float, metavar="S", help="with --reconstruct: train for S seconds")
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window when done")
    p.add_argument("--quit", action="store_true", help="exit when done (exit code 0, or 2 on an error)")
    p.add_argument("--tab", choices=("reconstruct", "robustness"), default="reconstruct", help="tab shown first")
    p.add_argument("--dataset", metavar="D", help="Robustness tab: dataset to open")
    p.add_argument("--train", action="store_true", help="Robustness tab: start training")
    p.add_argument("--no-sample", action="store_true", help="do not open the sample scan when no SCAN is given")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.iterations is not None and args.iterations < 1:
        raise ConfigError(f"iterations: {args.iterations} is outside [1, inf]")
    if args.time_budget is not None and not args.time_budget > 0:
        raise ConfigError(f"time_budget: {args.time_budget} is outside (0, inf]")
    if args.screenshot and not args.screenshot.lower().endswith(".png"):
        raise ConfigError(f"--screenshot: {args.screenshot} must be a .png file")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")) \
            and os.name == "posix" and not os.uname().sysname == "Darwin":
        raise ConfigError("no display: run on a desktop, or under `xvfb-run -a levelset gui ...`")
    from app.main import GuiOptions, run_gui  # Qt only from here on

    return run_gui(
        GuiOptions(
            scans=list(args.scans),
            reconstruct=args.reconstruct,
            iterations=args.iterations,
            time_budget=args.time_budget,
            screenshot=args.screenshot,
            quit=args.quit,
            tab=args.tab,
            dataset=args.dataset,
            train=args.train,
            open_sample=not args.no_sample,
        )
    )
