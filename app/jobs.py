"""The one way the GUI runs a job (``levelset_studio.core.jobs``) off the GUI thread.

``JobRunner.submit(name, job)`` returns a :class:`JobHandle`; connect its signals, then
``start()`` it. The job runs in a ``QThread``; its events reach the GUI thread through
queued signals (plain NumPy arrays inside frozen events), and only the GUI thread
touches widgets and VTK. The signals follow superqt's worker vocabulary:

- ``progress(Progress)`` and ``snapshot(Snapshot)``: coalesced in the worker (progress at
  most ~20/s, snapshots ~20/s; a newer one replaces an unsent older one), so a fast job
  cannot flood the event queue; a ``Milestone`` (a Progress that must not be skipped)
  is always delivered;
- ``event(Event)``: every other event, in order;
- ``fraction(float)``: progress that a plain (non-generator) job reports with
  ``token.report(f)``;
- ``result(object)``: the job's result (``Finished.result`` or its return value);
- ``failed(str)``: the one-line message of :func:`~levelset_studio.core.jobs.user_message`;
- ``cancelled()``: the job stopped on request (it raised ``Cancelled``);
- ``finished()``: always last, after one of the three above.

Why not superqt's ``thread_worker`` itself: its abort is checked only between yields,
while our jobs also stop inside a step (marching cubes, Poisson, an attack) through the
cancel token; we coalesce stale snapshots in the worker thread; and a window that
closes while a step cannot be interrupted must hand its thread to a keeper
(:func:`wait_for_orphans`) instead of destroying it. The protocol is the same.

``submit(..., replace=True)`` cancels a running job of the same name first and drops
whatever it still sends: a view that shows "the latest" never shows a stale answer.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
import time
import traceback
import warnings
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from levelset_studio.core.errors import Cancelled, LevelSetError
from levelset_studio.core.events import CancelToken, Finished, Progress, Snapshot
from levelset_studio.core.jobs import Job, user_message

PROGRESS_INTERVAL_S = 0.05
SNAPSHOT_INTERVAL_S = 0.05

# Workers run a few nice levels below the GUI thread so that, when CPU cores are scarce,
# the scheduler prefers the thread that draws the window (Linux: per-thread nice values;
# threads the job starts, such as torch's, inherit it).
WORKER_NICENESS = 5
# Jobs whose speed the user watches (training) keep the GUI's priority: below it, they
# lose most of their CPU share to every other process on a busy machine (measured: half
# the CLI's steps in the same budget). They keep the GUI fluid by sending little to draw
# (throttled previews) instead.
FOREGROUND_NICENESS = 0


def _lower_this_threads_priority(delta: int) -> None:
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + delta))
    except OSError:
        pass


class _WorkerToken(CancelToken):
    """The token a GUI job receives: cancel, plus a throttled completed fraction."""

    def __init__(self, thread: _JobThread) -> None:
        super().__init__()
        self._thread = thread
        self._last = 0.0

    def report(self, fraction: float) -> None:
        self.raise_if_cancelled()
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            self._last = now
            self._thread.fraction.emit(float(fraction))


class _JobThread(QThread):
    """Runs one job in its own thread and emits what happens (received by a JobHandle)."""

    progress = Signal(object)
    snapshot = Signal(object)
    event = Signal(object)
    fraction = Signal(float)
    result = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, job: Job, name: str, niceness: int = WORKER_NICENESS) -> None:
        super().__init__()
        self.job = job
        self.niceness = niceness
        self.token = _WorkerToken(self)
        self.setObjectName(f"job:{name}")

    def run(self) -> None:  # the worker thread
        if self.niceness > 0:
            _lower_this_threads_priority(self.niceness)
        try:
            out = self.job(self.token)
            if inspect.isgenerator(out):
                out = self._drive(out)
            self.token.raise_if_cancelled()  # a job that ignored its token still counts as stopped
            self.result.emit(out)
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - everything must reach the user as a message
            if not isinstance(exc, LevelSetError):
                traceback.print_exc(file=sys.stderr)
            self.failed.emit(user_message(exc))

    def _drive(self, events: Any) -> Any:
        last_progress = last_snapshot = 0.0
        pending_progress: Progress | None = None
        pending_snapshot: Snapshot | None = None
        result = None
        try:
            for ev in events:
                now = time.monotonic()
                if isinstance(ev, Finished):
                    result = ev.result
                    break
                if not ev.coalesce:  # delivered as it comes, after what is pending
                    if isinstance(ev, Progress):
                        if pending_progress is not None:
                            self.progress.emit(pending_progress)
                            pending_progress = None
                        self.progress.emit(ev)
                    else:
                        self.event.emit(ev)
                elif isinstance(ev, Progress):
                    pending_progress = ev
                elif isinstance(ev, Snapshot):
                    pending_snapshot = ev  # an older, unsent one is stale: dropped
                else:
                    self.event.emit(ev)
                if pending_progress is not None and now - last_progress >= PROGRESS_INTERVAL_S:
                    self.progress.emit(pending_progress)
                    pending_progress, last_progress = None, now
                if pending_snapshot is not None and now - last_snapshot >= SNAPSHOT_INTERVAL_S:
                    self.snapshot.emit(pending_snapshot)
                    pending_snapshot, last_snapshot = None, now
                self.token.raise_if_cancelled()
        finally:
            if pending_progress is not None:
                self.progress.emit(pending_progress)
            if pending_snapshot is not None and result is None:
                self.snapshot.emit(pending_snapshot)
            events.close()
        return result


class JobHandle(QObject):
    """One submitted job, on the GUI thread: connect its signals, then ``start()``."""

    progress = Signal(object)
    snapshot = Signal(object)
    event = Signal(object)
    fraction = Signal(float)
    result = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, runner: JobRunner, name: str, job: Job, niceness: int = WORKER_NICENESS) -> None:
        super().__init__(runner)
        self.name = name
        self.outcome = "pending"  # then "running", and "result", "failed" or "cancelled"
        self.superseded = False  # replaced by a newer job of the same name: nothing more is delivered
        self._thread = _JobThread(job, name, niceness)
        # queued into this (GUI-thread) object: the slots run on the GUI thread
        self._thread.progress.connect(self._on_progress)
        self._thread.snapshot.connect(self._on_snapshot)
        self._thread.event.connect(self._on_event)
        self._thread.fraction.connect(self._on_fraction)
        self._thread.result.connect(self._on_result)
        self._thread.failed.connect(self._on_failed)
        self._thread.cancelled.connect(self._on_cancelled)
        self._thread.finished.connect(self._on_thread_finished)

    @property
    def token(self) -> CancelToken:
        return self._thread.token

    def start(self) -> JobHandle:
        self.outcome = "running"
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop at its next check (returns at once)."""
        self._thread.token.cancel()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int) -> bool:
        return self._thread.wait(max(0, int(timeout_ms)))

    # relays (GUI thread) --------------------------------------------------------------
    @Slot(object)
    def _on_progress(self, ev: Any) -> None:
        if not self.superseded:
            self.progress.emit(ev)

    @Slot(object)
    def _on_snapshot(self, ev: Any) -> None:
        if not self.superseded:
            self.snapshot.emit(ev)

    @Slot(object)
    def _on_event(self, ev: Any) -> None:
        if not self.superseded:
            self.event.emit(ev)

    @Slot(float)
    def _on_fraction(self, f: float) -> None:
        if not self.superseded:
            self.fraction.emit(f)

    @Slot(object)
    def _on_result(self, value: Any) -> None:
        self.outcome = "result"
        if not self.superseded:
            self.result.emit(value)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.outcome = "failed"
        if not self.superseded:
            self.failed.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.outcome = "cancelled"
        if not self.superseded:
            self.cancelled.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        self._thread.wait()  # QThread.finished comes just before the thread really ends
        runner = self.parent()
        if isinstance(runner, JobRunner):
            runner._forget(self)
        if not self.superseded:
            self.finished.emit()
        self.deleteLater()

    def _orphan(self) -> None:
        """Detach a thread that did not stop in time (its window is closing)."""
        self.superseded = True
        with warnings.catch_warnings():  # PySide warns for signals without receivers
            warnings.simplefilter("ignore", RuntimeWarning)
            with contextlib.suppress(RuntimeError, TypeError):
                self._thread.finished.disconnect(self._on_thread_finished)
        _ORPHANS.append(self._thread)


# Jobs that did not stop in time when their window closed: kept referenced (a QThread
# destroyed while running aborts the process) until they end; see wait_for_orphans.
_ORPHANS: list[QThread] = []


def wait_for_orphans(timeout_s: float = 30.0) -> bool:
    """Wait for jobs abandoned by closed windows (call before the process exits)."""
    deadline = time.monotonic() + timeout_s
    for t in list(_ORPHANS):
        t.wait(max(0, int((deadline - time.monotonic()) * 1000)))
    _ORPHANS[:] = [t for t in _ORPHANS if t.isRunning()]
    return not _ORPHANS


class JobRunner(QObject):
    """Submits jobs by name and keeps them alive until their threads have ended."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[JobHandle] = []

    def submit(self, name: str, job: Job, *, replace: bool = False, niceness: int = WORKER_NICENESS) -> JobHandle:
        """A handle for ``job`` (not started: connect its signals, then ``start()``).

        With ``replace`` a running job of the same name is cancelled and silenced first.
        ``niceness``: how far below the GUI thread the worker runs (FOREGROUND_NICENESS: level).
        """
        if replace:
            for old in self._jobs:
                if old.name == name and not old.superseded:
                    old.superseded = True
                    old.cancel()
        handle = JobHandle(self, name, job, niceness)
        self._jobs.append(handle)
        self.busy_changed.emit(True)
        return handle

    def _forget(self, handle: JobHandle) -> None:
        if handle in self._jobs:
            self._jobs.remove(handle)
        self.busy_changed.emit(self.busy)

    @property
    def busy(self) -> bool:
        """True while any job has not delivered its end (superseded ones included)."""
        return bool(self._jobs)

    def running(self, name: str | None = None) -> list[JobHandle]:
        """The jobs (of ``name``) that have not delivered their end yet, superseded ones aside."""
        return [
            h
            for h in self._jobs
            if not h.superseded and h.outcome in ("pending", "running") and (name is None or h.name == name)
        ]

    def find(self, name: str) -> JobHandle | None:
        jobs = self.running(name)
        return jobs[-1] if jobs else None

    def cancel(self, name: str | None = None) -> None:
        for h in self.running(name):
            h.cancel()

    def stop_all(self, timeout_s: float = 2.0) -> bool:
        """Cancel every job and wait for their threads; True when all have stopped.

        A thread still inside a step it cannot leave is handed to :func:`wait_for_orphans`.
        """
        for h in self._jobs:
            h.cancel()
        deadline = time.monotonic() + timeout_s
        ok = True
        for h in list(self._jobs):
            ok = h.wait(int((deadline - time.monotonic()) * 1000)) and ok
        for h in list(self._jobs):
            if h.is_running():
                h._orphan()
            self._jobs.remove(h)  # ended or orphaned: not this runner's any more
        self.busy_changed.emit(False)
        return ok
