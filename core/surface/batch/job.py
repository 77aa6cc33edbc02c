"""The job of one scan, as it runs in a worker: file paths in, arrays and numbers out.

:class:`ScanJob` and :class:`ScanOutcome` hold only strings, numbers, dicts and NumPy
arrays, so they pickle to a process pool or a Ray worker on another machine (open3d
objects do not pickle and never cross). The worker reads the scan, reconstructs it,
measures the mesh against the scan and returns the mesh's arrays; the driver writes
the mesh file (atomically) and the report row, so a worker never leaves a file behind.

Every error of the scan is caught here and becomes a failed row with its one-line
message (:func:`~levelset_studio.core.jobs.user_message`); only a cancel
(:class:`~levelset_studio.core.errors.Cancelled`, ``KeyboardInterrupt``) escapes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from levelset_studio.core.errors import Cancelled
from levelset_studio.core.events import CancelToken
from levelset_studio.core.jobs import drain, user_message

EVAL_SAMPLES = 100_000
"""Mesh surface samples of the report's mesh -> scan distances (the evaluate command uses 1e6)."""


@dataclass(frozen=True)
class ScanJob:
    """Everything a worker needs to reconstruct one scan (picklable)."""

    name: str
    files: tuple[str, ...]
    method: str = "levelset"  # levelset | igr | poisson
    config: dict[str, Any] = field(default_factory=dict)  # ReconstructionConfig.to_dict() (neural methods)
    threads: int = 1  # torch threads of this job
    eval_samples: int = EVAL_SAMPLES
    error: str | None = None  # known before running (a missing input): the row fails at once
    read: dict[str, Any] = field(default_factory=dict)  # ReadConfig fields (--max-points, ...)


@dataclass
class ScanOutcome:
    """What a worker sends back: the report row and, when it succeeded, the mesh arrays."""

    row: dict[str, Any]
    vertices: np.ndarray | None = None  # (V, 3) float64, scan coordinates
    faces: np.ndarray | None = None  # (F, 3) int64

    @property
    def ok(self) -> bool:
        return self.row.get("status") == "ok"


class _PeakMemory:
    """Resident memory of this process, sampled at each event (the peak is the report's)."""

    def __init__(self) -> None:
        try:
            import psutil

            self._proc: Any = psutil.Process()
        except (ImportError, OSError):
            self._proc = None
        self.peak = 0
        self.sample()

    def sample(self, _event: Any = None) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, int(self._proc.memory_info().rss))

    @property
    def megabytes(self) -> float | None:
        return round(self.peak / 2**20, 1) if self.peak else None


def where_local() -> str:
    """The node text of a job run on this machine."""
    return f"local {socket.gethostname()} (pid {os.getpid()})"


def base_row(job: ScanJob) -> dict[str, Any]:
    return {"name": job.name, "scan": " ".join(job.files), "method": job.method}


def failed_outcome(job: ScanJob, message: str, node: str = "") -> ScanOutcome:
    row = base_row(job)
    row.update(status="failed", message=message, node=node)
    return ScanOutcome(row=row)


def run_scan_job(job: ScanJob, cancel: CancelToken | None = None, node: str | None = None) -> ScanOutcome:
    """Read, reconstruct and evaluate one scan; never raises but for a cancel."""
    node = where_local() if node is None else node
    if job.error is not None:
        return failed_outcome(job, job.error, node)
    memory = _PeakMemory()
    t0 = time.perf_counter()
    try:
        outcome = _reconstruct(job, cancel, memory)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - one scan's failure, whatever it is, fails only its row
        return failed_outcome(job, user_message(exc), node)
    memory.sample()
    outcome.row.update(node=node, seconds=round(time.perf_counter() - t0, 3), peak_rss_mb=memory.megabytes)
    return outcome


def _reconstruct(job: ScanJob, cancel: CancelToken | None, memory: _PeakMemory) -> ScanOutcome:
    import torch

    from levelset_studio.core.surface.evaluation import evaluate_reconstruction
    from levelset_studio.core.surface.scans.scanio import ReadConfig, load_scan

    if job.threads > 0:
        torch.set_num_threads(job.threads)

    scan = load_scan(list(job.files), config=ReadConfig(**job.read), cancel=cancel)
    memory.sample()
    if cancel is not None:
        cancel.raise_if_cancelled()
    row = base_row(job)
    row["points"] = len(scan)
    if job.method == "poisson":
        from levelset_studio.core.surface.reconstruction.poisson import poisson_reconstruct

        t = time.perf_counter()
        mesh = poisson_reconstruct(scan, cancel=cancel)
        row.update(steps=0, train_seconds=0.0, mesh_seconds=round(time.perf_counter() - t, 3), device="cpu")
    else:
        from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
        from levelset_studio.core.surface.reconstruction.trainer import Reconstructor

        cfg = ReconstructionConfig.from_dict({**job.config, "method": job.method, "threads": job.threads})
        rec = Reconstructor(scan, cfg)
        result = drain(rec.run(cancel), on_event=memory.sample, cancel=cancel)
        if result is None:  # pragma: no cover - run() always ends with Finished or raises
            raise Cancelled()
        mesh = result.mesh
        row.update(
            steps=result.steps,
            train_seconds=round(result.elapsed, 3),
            mesh_seconds=round(result.meshing_seconds, 3),
            device=result.device,
        )
    memory.sample()
    if cancel is not None:
        cancel.raise_if_cancelled()
    report = evaluate_reconstruction(mesh, scan.points, n_samples=job.eval_samples, scan_normals=scan.normals)
    row.update(status="ok", message="", faces=mesh.n_faces, **metrics_columns(report.to_dict()))
    return ScanOutcome(row=row, vertices=mesh.vertices, faces=mesh.faces)


def metrics_columns(report: dict[str, Any]) -> dict[str, Any]:
    """The report's distance columns: scan units and fractions of the scan's diagonal."""
    out: dict[str, Any] = {"units": "scan units", "diagonal": report["diagonal"]}
    for side in ("scan_to_mesh", "mesh_to_scan"):
        stats = report[side]
        for key in ("mean", "p95", "max"):
            out[f"{side}_{key}"] = stats[key]
            out[f"{side}_{key}_diag"] = stats.get("fraction_of_diagonal", {}).get(key)
    out["far_area_fraction"] = report["far_area_fraction"]
    return out
