"""Where the scans of a batch run: here one after another, or in a pool of processes.

A runner's ``run(jobs, cancel)`` is a generator of ``(job, outcome)`` pairs in the order
the jobs finish. However it ends early (Ctrl-C, a cancel, the consumer closing it), the
runner stops its jobs before it returns: running jobs are cancelled at their next
training step, queued jobs never start. The Ray runner (``ray_runner``) has the same
shape.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from levelset_studio.core.errors import Cancelled, ConfigError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.surface.batch.job import ScanJob, ScanOutcome, failed_outcome, run_scan_job

STOP_GRACE_SECONDS = 60.0
"""How long a cancelled pool waits for its running jobs to reach their next step."""


class Runner(Protocol):
    """What the batch needs of a place to run jobs."""

    def describe(self) -> str: ...

    def run(
        self, jobs: Sequence[ScanJob], cancel: CancelToken | None = None
    ) -> Generator[tuple[ScanJob, ScanOutcome], None, None]: ...


class LocalRunner:
    """Every job in this process, one after another."""

    def describe(self) -> str:
        return "locally, one scan after another"

    def run(
        self, jobs: Sequence[ScanJob], cancel: CancelToken | None = None
    ) -> Generator[tuple[ScanJob, ScanOutcome], None, None]:
        import torch

        threads = torch.get_num_threads()
        try:
            for job in jobs:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                yield job, run_scan_job(job, cancel)
        finally:
            torch.set_num_threads(threads)


class _EventToken(CancelToken):
    """A cancel token backed by a multiprocessing event shared with the parent."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self._event = event


_worker_stop: Any = None


def _init_worker(stop: Any) -> None:
    # Ctrl-C in a terminal reaches every process of the group: the parent decides, and
    # tells the workers through ``stop`` (they then raise Cancelled at their next step).
    global _worker_stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_stop = stop


def _pool_job(job: ScanJob) -> ScanOutcome:
    token = _EventToken(_worker_stop) if _worker_stop is not None else None
    return run_scan_job(job, token, node=f"local worker (pid {os.getpid()})")


class PoolRunner:
    """Jobs in ``workers`` processes of this machine (spawned: torch does not survive fork)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"workers: {workers} must be at least 1")
        self.workers = workers

    def describe(self) -> str:
        return f"locally in {self.workers} worker processes"

    def run(
        self, jobs: Sequence[ScanJob], cancel: CancelToken | None = None
    ) -> Generator[tuple[ScanJob, ScanOutcome], None, None]:
        if not jobs:
            return
        ctx = mp.get_context("spawn")
        stop = ctx.Event()
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)), mp_context=ctx, initializer=_init_worker, initargs=(stop,)
        )
        futures: dict[Future, ScanJob] = {pool.submit(_pool_job, job): job for job in jobs}
        pending = set(futures)
        finished = False
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                for fut in done:
                    job = futures[fut]
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool:
                        outcome = failed_outcome(job, "the worker process died (out of memory, or killed)")
                    yield job, outcome
            finished = True
        finally:
            if not finished:
                stop.set()
                for fut in pending:
                    fut.cancel()
                wait(pending, timeout=STOP_GRACE_SECONDS)
            pool.shutdown(wait=finished, cancel_futures=True)
