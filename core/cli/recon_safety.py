"""What `levelset reconstruct` adds so that no work is lost: periodic checkpoints, sessions,
the memory guard and the device-failure policy (registered next to its other flags)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import Finished, Message, Progress

HISTORY_POINTS = 4000  # the loss history keeps at most this many steps (thinned evenly)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of this module (on the `reconstruct` parser)."""
    g = p.add_argument_group("keeping work")
    g.add_argument(
        "--checkpoint-every",
        type=float,
        metavar="MINUTES",
        help="with --checkpoint: also write it every MINUTES of training, so --resume continues after a crash",
    )
    g.add_argument(
        "--save-session",
        metavar="WORK.lss",
        help="write a session (scan reference, settings, network, mesh, loss history) at the end",
    )
    g.add_argument(
        "--resume-session",
        metavar="WORK.lss",
        help="continue the reconstruction of a saved session (its scan, cleaning and network); give no SCAN",
    )
    g.add_argument(
        "--on-device-error",
        choices=("cpu", "stop"),
        default="cpu",
        help="when the GPU runs out of memory or fails mid-run: go on on the CPU (default) or stop; "
        "the network trained so far is kept either way",
    )
    g.add_argument(
        "--no-memory-check",
        action="store_true",
        help="start even when the estimated memory exceeds what is free",
    )


def check_arguments(args: argparse.Namespace) -> None:
    if args.resume_session and args.scans:
        raise ConfigError("--resume-session takes the scan from the session; give no SCAN")
    if not args.resume_session and not args.scans:
        raise ConfigError("give at least one SCAN (or --resume-session WORK.lss)")
    if args.resume_session and args.resume:
        raise ConfigError("--resume and --resume-session both name a network; give one")
    from pathlib import Path

    from levelset_studio.core.errors import WriteError

    for flag, dest in (("-o", args.output), ("--save-session", args.save_session), ("--checkpoint", args.checkpoint)):
        if dest and not Path(dest).parent.is_dir():
            raise WriteError(f"cannot write {flag}: the folder '{Path(dest).parent}' does not exist", dest)
    if args.checkpoint_every is not None:
        if not args.checkpoint:
            raise ConfigError("--checkpoint-every needs --checkpoint FILE")
        if not (math.isfinite(args.checkpoint_every) and args.checkpoint_every > 0):
            raise ConfigError(f"--checkpoint-every: {args.checkpoint_every} must be a positive number of minutes")


class LossHistory:
    """Loss terms by step, thinned evenly to at most ``limit`` entries (for sessions)."""

    def __init__(self, initial: dict[str, list[float]] | None = None, limit: int = HISTORY_POINTS) -> None:
        self.series: dict[str, list[float]] = {k: list(v) for k, v in (initial or {}).items()}
        self.limit = limit
        self.stride = 1

    def add(self, ev: Progress) -> None:
        if ev.step % self.stride:
            return
        row = {"step": float(ev.step), **{k: float(v) for k, v in ev.metrics.items()}}
        n = len(self.series.get("step", []))
        for k in set(self.series) | set(row):
            self.series.setdefault(k, [math.nan] * n).append(row.get(k, math.nan))
        if n + 1 > self.limit:
            self.series = {k: v[::2] for k, v in self.series.items()}
            self.stride *= 2


def with_checkpoints(
    events: Iterable[Any], rec: Any, path: str | None, every_minutes: float | None, history: LossHistory
) -> Iterator[Any]:
    """Pass ``events`` on; record the history; write ``rec``'s checkpoint every so often.

    The checkpoint is written between two steps (the engine is paused at its ``yield``),
    so it always holds a consistent state.
    """
    every = None if every_minutes is None or not path else every_minutes * 60.0
    last = time.monotonic()
    for ev in events:
        if isinstance(ev, Progress):
            history.add(ev)
        if isinstance(ev, Message):
            print(f"levelset: {ev.text}", file=sys.stderr)
        yield ev
        if isinstance(ev, Finished):
            return
        if every is not None and isinstance(ev, Progress) and time.monotonic() - last >= every:
            rec.save_checkpoint(path)
            last = time.monotonic()


def _budget(args: argparse.Namespace) -> str:
    """How this command takes a point budget (the flag where the reader offers one)."""
    return "a point budget: --max-points N" if "max_points" in vars(args) else "a point budget, or a smaller scan"


def check_load_memory(args: argparse.Namespace, files: list[str]) -> None:
    if args.no_memory_check:
        return
    from levelset_studio.core.memory import check_memory, estimate_load

    check_memory(estimate_load(files), advice=f"read fewer points ({_budget(args)}), or pass --no-memory-check")


def check_run_memory(args: argparse.Namespace, rec: Any, n_points: int) -> None:
    if args.no_memory_check:
        return
    from levelset_studio.core.memory import check_memory, estimate_reconstruction

    cfg = rec.config
    n_params = sum(p.numel() for p in rec.net.parameters())
    common = dict(
        resolution=cfg.resolution,
        batch_size=rec.batch_size,
        network=rec.network_name,
        network_params=n_params,
        field_resolution=cfg.field_resolution,
        distance=cfg.distance,
    )
    advice = (
        f"lower --resolution (now {cfg.resolution}) or --batch-size (now {rec.batch_size}), use fewer points "
        f"({_budget(args)}), or pass --no-memory-check"
    )
    check_memory(estimate_reconstruction(n_points, device="cpu", **common), advice=advice)
    if rec.device.type == "cuda":
        check_memory(estimate_reconstruction(n_points, device="cuda", **common), advice=advice)
