"""``levelset batch SCAN|FOLDER|LIST.txt ... -o OUTDIR``: many scans, here or on Ray."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from levelset_studio.core.errors import ConfigError

DEFAULT_THREADS_PER_JOB = 1
"""Measured with bench/batch.py on a loaded 2-core machine (6 scans, 100 steps): 356 s one after
another with 1 thread, 200 s with 2 single-thread jobs at a time; with 2 threads a job trained
~10x slower (OpenMP threads fighting over the cores). One torch thread per job, one job per core."""

EXIT_SOME_FAILED = 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add `batch` to the `levelset` parser."""
    from levelset_studio.core.cli.recon_commands import add_reconstruct_arguments
    from levelset_studio.core.surface.batch.campaign import MESH_FORMATS
    from levelset_studio.core.surface.batch.job import EVAL_SAMPLES

    p = sub.add_parser(
        "batch",
        help="reconstruct many scans, locally or as Ray tasks",
        description="Reconstruct every scan named (files, folders, .conf scan sets, or text files listing "
        "them) into OUTDIR/NAME.ply, with OUTDIR/report.csv and report.json (one row per scan: status, "
        "timings, memory, distances in scan units). Scans done in an earlier run are skipped (--force "
        "redoes them); a scan that fails fails only its row (exit status 1 when any failed). Ctrl-C "
        "stops the running jobs and keeps the rows finished so far. --ray runs each scan as a Ray task.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="scan files, folders, .conf scan sets or lists (.txt)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder of the meshes and the report")
    run = p.add_argument_group("where the jobs run")
    run.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run each scan as a Ray task: alone, on a new local Ray instance; 'auto' or ray://HOST:PORT "
        "joins a running cluster (needs the 'cluster' extra)",
    )
    run.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="jobs at a time: N local processes (default: one job after another); with --ray, at most N tasks "
        "in flight (a local Ray instance gets N x threads-per-job CPUs)",
    )
    run.add_argument(
        "--threads-per-job",
        type=_positive_int,
        default=None,
        metavar="T",
        help=f"torch threads of each job, and a Ray task's num_cpus (default {DEFAULT_THREADS_PER_JOB})",
    )
    run.add_argument(
        "--gpus-per-job",
        type=float,
        default=1.0,
        metavar="G",
        help="with --ray and --device cuda: a task's num_gpus (fractions share a GPU; default 1)",
    )
    out = p.add_argument_group("outputs")
    out.add_argument("--format", default="ply", choices=MESH_FORMATS, help="mesh file format (default ply)")
    out.add_argument("--force", action="store_true", help="redo scans that an earlier run finished")
    out.add_argument(
        "--eval-samples",
        type=_positive_int,
        default=EVAL_SAMPLES,
        metavar="N",
        help=f"mesh surface samples of the report's mesh->scan distances (default {EVAL_SAMPLES})",
    )
    out.add_argument("--quiet", action="store_true", help="no progress bar or per-scan lines, only the summary")
    add_reconstruct_arguments(p)
    p.set_defaults(func=cmd_batch)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _clock(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _runner(args: argparse.Namespace, threads: int, device: str):
    if args.ray is not None:
        from levelset_studio.core.surface.batch.ray_runner import RayRunner

        gpus = args.gpus_per_job if device == "cuda" else 0.0
        if not (0 < args.gpus_per_job <= 64):
            raise ConfigError(f"gpus-per-job: {args.gpus_per_job} is outside (0, 64]")
        runner = RayRunner(args.ray, threads_per_job=threads, gpus_per_job=gpus, workers=args.workers)
        runner.start()
        return runner
    from levelset_studio.core.surface.batch.runners import LocalRunner, PoolRunner

    if args.workers and args.workers > 1:
        return PoolRunner(args.workers)
    return LocalRunner()


def cmd_batch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from levelset_studio.core.cli import EXIT_CANCELLED
    from levelset_studio.core.cli.recon_commands import reconstruct_config
    from levelset_studio.core.events import Message, Progress
    from levelset_studio.core.jobs import drain
    from levelset_studio.core.surface.batch.campaign import BatchSettings, run_batch
    from levelset_studio.core.surface.batch.plan import plan_inputs
    from levelset_studio.core.surface.batch.ray_runner import check_address
    from levelset_studio.core.surface.batch.report import REPORT_CSV
    from levelset_studio.core.surface.scans.scanio import read_config_from_args

    cfg = reconstruct_config(args)  # validate every setting before anything runs
    if args.ray is not None:
        check_address(args.ray)
    threads = args.threads_per_job or cfg.threads or DEFAULT_THREADS_PER_JOB
    settings = BatchSettings(
        method=args.method,
        config=cfg.to_dict(),
        threads_per_job=threads,
        mesh_format=args.format,
        force=args.force,
        eval_samples=args.eval_samples,
        read=dataclasses.asdict(read_config_from_args(args)),  # validated here, before any job
    )
    items = plan_inputs(args.inputs)
    out = Path(args.output)
    runner = _runner(args, threads, cfg.device)
    bar = tqdm(
        total=len(items),
        desc="batch",
        unit="scan",
        file=sys.stderr,
        disable=True if args.quiet else None,
        bar_format="{desc}: {n}/{total} scans |{bar}| {elapsed}{postfix}",
    )
    seen = {"done": 0, "total": len(items)}

    def on_event(ev) -> None:
        if isinstance(ev, Message) and not args.quiet:
            bar.write(f"levelset: {ev.text}", file=sys.stderr)
        elif isinstance(ev, Progress):
            seen["done"] = ev.step
            bar.n = ev.step
            m = ev.metrics
            post = {k: int(m.get(k, 0)) for k in ("ok", "failed", "skipped")}
            post["left"] = int(ev.total or 0) - ev.step
            bar.set_postfix(post, refresh=False)
            if ev.remaining is not None:  # the batch's own estimate (tqdm's would count skipped scans)
                bar.set_description(f"batch, ETA {_clock(ev.remaining)}", refresh=False)
            bar.refresh()

    try:
        summary = drain(run_batch(items, out, settings, runner), on_event)
    except KeyboardInterrupt:
        bar.close()
        print(
            f"levelset: interrupted: {seen['done']} of {seen['total']} scan(s) done; "
            f"their rows are in {out / REPORT_CSV}",
            file=sys.stderr,
        )
        return EXIT_CANCELLED
    finally:
        bar.close()
        stop = getattr(runner, "stop", None)
        if stop is not None:
            stop()
    print(
        f"batch: {summary.ok} ok, {summary.failed} failed, {summary.skipped} skipped in {summary.elapsed:.1f} s; "
        f"report: {summary.report} and {summary.report.with_suffix('.json').name}",
        file=sys.stderr,
    )
    return EXIT_SOME_FAILED if summary.failed else 0
