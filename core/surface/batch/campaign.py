"""A batch as one job: plan, skip what is done, run the rest, write meshes and report.

:func:`run_batch` follows the job protocol (:mod:`levelset_studio.core.jobs`): it is a
generator of ``Message`` (one line per scan: ok/failed/skipped, and where it ran),
``Progress`` (scans done of the total, with ``ok``/``failed``/``skipped`` counts and an
estimate of the time left) and, at the end, ``Finished`` with a :class:`BatchSummary`.

- **Resume.** A scan whose mesh exists and whose row in the earlier report is ``ok``
  (for the same scan files) is skipped ("done already"); ``force`` redoes it. Failed
  scans always run again. Rows of scans not in this run stay in the report.
- **Outputs.** Each mesh is written by the driver (atomically) as ``OUTDIR/NAME.EXT``;
  the report is rewritten after every scan, so an interrupted batch keeps every row
  that finished and never leaves a partial mesh.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levelset_studio.core.errors import ConfigError, LevelSetError
from levelset_studio.core.events import CancelToken, Finished, Message, Progress
from levelset_studio.core.surface.batch.job import EVAL_SAMPLES, ScanJob, ScanOutcome
from levelset_studio.core.surface.batch.plan import BatchItem
from levelset_studio.core.surface.batch.report import read_report, write_report
from levelset_studio.core.surface.batch.runners import Runner

MESH_FORMATS = ("ply", "obj", "stl", "off", "glb")


@dataclass(frozen=True)
class BatchSettings:
    """How every scan of the batch is reconstructed and where it goes."""

    method: str = "levelset"
    config: dict[str, Any] = field(default_factory=dict)  # ReconstructionConfig.to_dict()
    threads_per_job: int = 1
    mesh_format: str = "ply"
    force: bool = False
    eval_samples: int = EVAL_SAMPLES
    read: dict[str, Any] = field(default_factory=dict)  # ReadConfig fields: how every scan is read

    def __post_init__(self) -> None:
        if self.mesh_format not in MESH_FORMATS:
            raise ConfigError(f"format: '{self.mesh_format}' is not one of {', '.join(MESH_FORMATS)}")
        if self.threads_per_job < 1:
            raise ConfigError(f"threads-per-job: {self.threads_per_job} must be at least 1")


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did. ``rows`` is the whole report (this run's scans first)."""

    ok: int
    failed: int
    skipped: int
    report: Path
    rows: tuple[dict[str, Any], ...]
    elapsed: float


def mesh_path(outdir: Path, name: str, settings: BatchSettings) -> Path:
    return outdir / f"{name}.{settings.mesh_format}"


def _is_done(row: dict[str, Any] | None, item: BatchItem, path: Path) -> bool:
    return bool(row and row.get("status") == "ok" and row.get("scan") == " ".join(item.files) and path.is_file())


def run_batch(
    items: Sequence[BatchItem],
    outdir: str | Path,
    settings: BatchSettings,
    runner: Runner,
    cancel: CancelToken | None = None,
) -> Iterator[Message | Progress | Finished]:
    """The batch job (see the module docstring)."""
    t0 = time.perf_counter()
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: the output is a file; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LevelSetError(f"cannot create the output folder ({exc.strerror or exc})", out) from None
    earlier, warning = read_report(out)
    if warning:
        yield Message(warning)
    # the report keeps its rows' order: earlier rows where they were, new scans after them
    old = {r["name"]: r for r in earlier}
    rows: dict[str, dict[str, Any]] = dict(old)
    jobs: list[ScanJob] = []
    skipped = 0
    for item in items:
        path = mesh_path(out, item.name, settings)
        if not settings.force and _is_done(old.get(item.name), item, path):
            skipped += 1
            yield Message(f"skip {item.name}: done already ({path.name})")
            continue
        rows.setdefault(item.name, {})  # a place in the report, filled when the scan ends
        jobs.append(
            ScanJob(
                name=item.name,
                files=item.files,
                method=settings.method,
                config=settings.config,
                threads=settings.threads_per_job,
                eval_samples=settings.eval_samples,
                error=item.error,
                read=settings.read,
            )
        )

    def report_rows() -> list[dict[str, Any]]:
        return [r for r in rows.values() if r]

    report, _ = write_report(out, report_rows())
    total = len(items)
    counts = {"ok": 0, "failed": 0, "skipped": skipped}
    t_run = time.perf_counter()

    def progress() -> Progress:
        done = counts["ok"] + counts["failed"]
        left = len(jobs) - done
        rate = done / max(time.perf_counter() - t_run, 1e-9)
        return Progress(
            step=done + skipped,
            total=total,
            elapsed=time.perf_counter() - t0,
            metrics={k: float(v) for k, v in counts.items()},
            remaining=left / rate if done else None,
            message=f"{done + skipped} of {total} ({counts['failed']} failed, {left} left)",
        )

    if jobs:
        yield Message(
            f"{len(jobs)} scan(s) to run {runner.describe()}" + (f", {skipped} done already" if skipped else "")
        )
    yield progress()
    runs = runner.run(jobs, cancel)
    try:
        for job, outcome in runs:
            row = _finish(out, job, outcome, settings)
            rows[job.name] = row
            write_report(out, report_rows())
            counts["ok" if row["status"] == "ok" else "failed"] += 1
            yield Message(_line(row))
            yield progress()
    finally:
        runs.close()  # stops the runner's jobs when the batch ends early
        write_report(out, report_rows())  # also when interrupted: every row that finished
    summary = BatchSummary(
        ok=counts["ok"],
        failed=counts["failed"],
        skipped=skipped,
        report=report,
        rows=tuple(report_rows()),
        elapsed=time.perf_counter() - t0,
    )
    yield Finished(result=summary, elapsed=summary.elapsed)


def _finish(out: Path, job: ScanJob, outcome: ScanOutcome, settings: BatchSettings) -> dict[str, Any]:
    """Write an outcome's mesh; its row, failed if the mesh cannot be written."""
    from levelset_studio.core.jobs import user_message
    from levelset_studio.core.surface.meshes.mesh import Mesh
    from levelset_studio.core.surface.meshes.meshio import write_mesh

    row = dict(outcome.row)
    if not outcome.ok or outcome.vertices is None or outcome.faces is None:
        row["status"] = "failed"
        return row
    path = mesh_path(out, job.name, settings)
    try:
        write_mesh(Mesh(outcome.vertices, outcome.faces, name=job.name), path, protect=job.files)
    except LevelSetError as exc:
        row.update(status="failed", message=user_message(exc))
        return row
    row["mesh"] = str(path)
    return row


def _line(row: dict[str, Any]) -> str:
    where = row.get("node") or "?"
    if row["status"] != "ok":
        return f"failed {row['name']} on {where}: {row.get('message', '')}"
    frac = row.get("scan_to_mesh_mean_diag")
    dist = f", scan->mesh mean {100 * frac:.3g}% of diagonal" if isinstance(frac, float) else ""
    return (
        f"ok {row['name']} on {where}: {row.get('points')} points, {row.get('steps')} steps, "
        f"{row.get('train_seconds', 0):.1f} s training, {row.get('mesh_seconds', 0):.1f} s meshing{dist}"
    )
