"""Scans as Ray tasks: on a local Ray instance or an existing cluster.

One task per scan, with ``num_cpus`` = threads per job and ``num_gpus`` when the device
is CUDA; Ray's scheduler places them (no scheduling of our own). A task gets a
:class:`~levelset_studio.core.surface.batch.job.ScanJob` (file paths and settings) and
returns a :class:`~levelset_studio.core.surface.batch.job.ScanOutcome` (the report row
and the mesh arrays), so the scans must be readable at the same paths on every node
(shared storage) and the driver writes every output file.

Ray is an optional dependency (the ``cluster`` extra); without it :func:`ray_module`
raises a ConfigError that names the extra.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Generator, Sequence
from typing import Any

from levelset_studio.core.errors import Cancelled, ConfigError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.surface.batch.job import ScanJob, ScanOutcome, failed_outcome, run_scan_job

LOCAL = "local"
_ADDRESS = re.compile(r"^(auto|local|ray://[^\s]+|[\w.-]+:\d+)$")
MISSING = "--ray needs Ray, an optional extra: pip install 'levelset-studio[cluster]'"


def ray_module() -> Any:
    """The ``ray`` package, or a ConfigError naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(MISSING) from None
    return ray


def check_address(address: str) -> str:
    """``local``, ``auto``, ``ray://HOST:PORT`` or ``HOST:PORT``; anything else is refused."""
    if not _ADDRESS.match(address):
        raise ConfigError(
            f"--ray: '{address}' is not a Ray address (auto, ray://HOST:PORT or HOST:PORT); "
            "give the scans before --ray, or --ray alone for a local instance"
        )
    return address


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (one line) when a HOST:PORT address does not answer: Ray itself retries
    for minutes before it gives up on an address where nothing listens."""
    if address in (LOCAL, "auto"):
        return
    hostport = address.removeprefix("ray://").split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError(f"--ray {address}: no Ray head answers there ({reason})") from None


def _ray_job(job: ScanJob) -> ScanOutcome:
    """The task: one scan, on whatever node Ray chose."""
    import ray

    node_id = ray.get_runtime_context().get_node_id() or ""
    where = f"ray node {ray.util.get_node_ip_address()} ({node_id[:8]}, pid {os.getpid()})"
    return run_scan_job(job, None, node=where)


class RayRunner:
    """Jobs as Ray tasks. ``address``: ``local`` starts a Ray instance here (``workers``
    jobs at a time when given, else one per core); ``auto`` or ``ray://...`` joins a
    cluster. Reuses Ray when this process has already initialized it."""

    def __init__(
        self, address: str = LOCAL, *, threads_per_job: int = 1, gpus_per_job: float = 0.0, workers: int | None = None
    ) -> None:
        self.ray = ray_module()
        self.address = check_address(address)
        self.threads_per_job = max(1, threads_per_job)
        self.gpus_per_job = gpus_per_job
        self.workers = workers
        self._owned = False
        self._where = ""

    def start(self) -> None:
        ray = self.ray
        check_reachable(self.address)  # before anything: a wrong address is a one-line error at once
        if ray.is_initialized():
            self._where = "the Ray instance of this process"
        else:
            kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            try:
                if self.address == LOCAL:
                    if self.workers:
                        kw["num_cpus"] = self.workers * self.threads_per_job
                    ray.init(**kw)
                    self._where = "a local Ray instance"
                else:
                    kw.pop("include_dashboard")
                    ray.init(address=self.address, **kw)
                    self._where = f"the Ray cluster at {self.address}"
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConfigError(f"--ray {self.address}: cannot start or join Ray ({first})") from None
            self._owned = True
        res = ray.cluster_resources()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        self._where += f" ({len(nodes)} node(s), {res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs)"
        if self.gpus_per_job > res.get("GPU", 0):
            self.stop()
            raise ConfigError(
                f"--device cuda: each job asks for {self.gpus_per_job:g} GPU, the Ray cluster has {res.get('GPU', 0):g}"
            )

    def stop(self) -> None:
        if self._owned and self.ray.is_initialized():
            self.ray.shutdown()
        self._owned = False

    def describe(self) -> str:
        return f"as Ray tasks on {self._where or self.address}, {self.threads_per_job} CPU(s) per job" + (
            f", {self.gpus_per_job:g} GPU per job" if self.gpus_per_job else ""
        )

    def run(
        self, jobs: Sequence[ScanJob], cancel: CancelToken | None = None
    ) -> Generator[tuple[ScanJob, ScanOutcome], None, None]:
        ray = self.ray
        if not ray.is_initialized():
            self.start()
        remote = ray.remote(num_cpus=self.threads_per_job, num_gpus=self.gpus_per_job, max_retries=0)(_ray_job)
        queue = list(jobs)
        window = self.workers or len(queue)
        pending: dict[Any, ScanJob] = {}
        finished = False
        try:
            while queue or pending:
                while queue and len(pending) < window:
                    job = queue.pop(0)
                    pending[remote.remote(job)] = job
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                for ref in ready:
                    job = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        outcome = failed_outcome(job, f"Ray task failed: {first}")
                    yield job, outcome
            finished = True
        finally:
            if not finished:
                for ref in pending:
                    ray.cancel(ref)
            self.stop()
