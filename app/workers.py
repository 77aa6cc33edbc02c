"""Background jobs for the GUI: a core generator runs in a QThread, its events reach
the GUI thread through signals (plain NumPy arrays inside immutable events).

Only the GUI thread touches widgets and VTK (STYLE.md, pattern 3). The worker thread
never does: it forwards events, throttling the chatty ones (progress ~20/s, mesh
snapshots ~6/s, keeping the newest and dropping stale ones) so a fast job cannot
flood the GUI event queue. Cancellation is cooperative through a ``CancelToken``.
"""

from __future__ import annotations

import inspect
import os
import threading
import sys
import time
import traceback
import warnings
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal

from core.errors import Cancelled, LevelSetError
from core.events import CancelToken, Finished, MeshSnapshot, Progress

# A job is called with the cancel token and returns a result or a generator of events.
Job = Callable[[CancelToken], Any]

PROGRESS_INTERVAL_S = 0.05
SNAPSHOT_INTERVAL_S = 0.15


def user_message(exc: BaseException) -> str:
    """The one-line message a dialog shows for an exception raised by a job."""
    if isinstance(exc, LevelSetError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (try a smaller scan, resolution or batch)"
    return f"internal error: {type(exc).__name__}: {exc}"


# Workers run a few nice levels below the GUI thread so that, when CPU cores are
# scarce, the scheduler prefers the thread that draws the window (Linux: per-thread
# nice values; threads the job starts, such as torch's, inherit it).
WORKER_NICENESS = 5


def _lower_this_threads_priority(delta: int) -> None:
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + delta))
    except OSError:
        pass


class JobToken(CancelToken):
    """The cancel token a job receives, which can also report a completed fraction."""

    def __init__(self, thread: "JobThread") -> None:
        super().__init__()
        self._thread = thread
        self._last = 0.0

    def report(self, fraction: float) -> None:
        """Progress of a non-generator job (0..1); throttled; raises Cancelled when cancelled."""
        self.raise_if_cancelled()
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            self._last = now
            self._thread.fraction.emit(float(fraction))


class JobThread(QThread):
    """Runs one job; emits its events on the GUI thread's side.

    Signals (all queued to the receivers' thread):
      progress(Progress), snapshot(MeshSnapshot), event(object) for anything else,
      result(object) with ``Finished.result`` (or the job's return value),
      failed(str) with the one-line message, cancelled(), and ``finished`` (QThread's).
    """

    progress = Signal(object)
    snapshot = Signal(object)
    event = Signal(object)
    result = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    fraction = Signal(float)  # progress of jobs that report it through token.report()

    def __init__(self, job: Job, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.name = name
        self.token = JobToken(self)
        self.setObjectName(f"job:{name}")
        self.outcome: str = "running"  # "result", "failed", "cancelled"

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:  # runs in the worker thread
        _lower_this_threads_priority(WORKER_NICENESS)
        try:
            out = self.job(self.token)
            if inspect.isgenerator(out):
                out = self._drive(out)
            if self.token.cancelled and out is None:
                self.outcome = "cancelled"
                self.cancelled.emit()
                return
            self.outcome = "result"
            self.result.emit(out)
        except Cancelled:
            self.outcome = "cancelled"
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - everything must reach the user
            if not isinstance(exc, LevelSetError):
                traceback.print_exc(file=sys.stderr)
            self.outcome = "failed"
            self.failed.emit(user_message(exc))

    def _drive(self, events: Any) -> Any:
        last_progress = last_snapshot = 0.0
        pending_progress: Progress | None = None
        pending_snapshot: MeshSnapshot | None = None
        result = None
        try:
            for ev in events:
                now = time.monotonic()
                if isinstance(ev, Progress):
                    pending_progress = ev
                elif isinstance(ev, MeshSnapshot):
                    pending_snapshot = ev  # an older, unsent one is stale: dropped
                elif isinstance(ev, Finished):
                    result = ev.result
                    break
                else:
                    self.event.emit(ev)
                if pending_progress is not None and now - last_progress >= PROGRESS_INTERVAL_S:
                    self.progress.emit(pending_progress)
                    pending_progress, last_progress = None, now
                if pending_snapshot is not None and now - last_snapshot >= SNAPSHOT_INTERVAL_S:
                    self.snapshot.emit(pending_snapshot)
                    pending_snapshot, last_snapshot = None, now
                if self.token.cancelled:
                    break
        finally:
            if pending_progress is not None:
                self.progress.emit(pending_progress)
            if pending_snapshot is not None and result is None:
                self.snapshot.emit(pending_snapshot)
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return result


# Jobs that did not stop in time when their window closed: kept referenced (a QThread
# destroyed while running aborts the process) until they end; see wait_for_orphans.
_ORPHANS: list[JobThread] = []


def wait_for_orphans(timeout_s: float = 30.0) -> bool:
    """Wait for jobs abandoned by closed windows (call before the process exits)."""
    deadline = time.monotonic() + timeout_s
    for t in list(_ORPHANS):
        t.wait(max(0, int((deadline - time.monotonic()) * 1000)))
    _ORPHANS[:] = [t for t in _ORPHANS if t.isRunning()]
    return not _ORPHANS


class JobRunner(QObject):
    """Starts jobs and keeps them alive until their thread has finished."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[JobThread] = []

    def start(self, job: Job, name: str) -> JobThread:
        """Create the thread for ``job``; connect its signals, then call ``.start()``."""
        thread = JobThread(job, name, self)
        self._jobs.append(thread)
        thread.finished.connect(lambda t=thread: self._forget(t))
        return thread

    def _forget(self, thread: JobThread) -> None:
        if thread in self._jobs:
            self._jobs.remove(thread)
            thread.deleteLater()
        self.busy_changed.emit(bool(self._jobs))

    @property
    def running(self) -> list[JobThread]:
        return [t for t in self._jobs if t.isRunning()]

    def find(self, name: str) -> JobThread | None:
        for t in self._jobs:
            if t.name == name and t.isRunning():
                return t
        return None

    def cancel_all(self) -> None:
        for t in self._jobs:
            t.cancel()

    def stop_all(self, timeout_s: float = 2.0) -> bool:
        """Cancel every job and wait for their threads; True when all have stopped."""
        self.cancel_all()
        deadline = time.monotonic() + timeout_s
        ok = True
        for t in list(self._jobs):
            left = max(0, int((deadline - time.monotonic()) * 1000))
            ok = t.wait(left) and ok
        for t in list(self._jobs):
            if t.isRunning():  # still inside a step that cannot be interrupted
                with warnings.catch_warnings():  # PySide warns for signals without receivers
                    warnings.simplefilter("ignore", RuntimeWarning)
                    for sig in (t.progress, t.snapshot, t.event, t.result, t.failed, t.cancelled, t.fraction):
                        try:
                            sig.disconnect()
                        except (RuntimeError, TypeError):
                            pass
                t.setParent(None)
                _ORPHANS.append(t)
                self._jobs.remove(t)
        return ok
