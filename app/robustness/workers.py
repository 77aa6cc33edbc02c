"""Background jobs for the Robustness tab.

A job is a generator of small immutable events (core.events). ``JobRunner`` runs it
in a QThread and forwards each event to the GUI thread through a queued signal; the
cancel token is checked by the job between steps (STYLE.md, patterns 2-3). Only the
GUI thread touches widgets: the worker sends NumPy arrays and plain objects.
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Callable, Iterable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import Cancelled, LevelSetError
from core.events import CancelToken, Finished

JobFactory = Callable[[CancelToken], Iterable[Any]]


class _Thread(QThread):
    """Iterates a job's events; emits them, a one-line error, or nothing on cancel."""

    event = Signal(object)
    failed = Signal(str)

    def __init__(self, factory: JobFactory, token: CancelToken, parent: QObject | None = None):
        super().__init__(parent)
        self._factory = factory
        self._token = token

    def run(self) -> None:  # noqa: D102 - QThread entry point
        try:
            for ev in self._factory(self._token):
                if self._token.cancelled:
                    break
                self.event.emit(ev)
        except Cancelled:
            pass
        except LevelSetError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug: still a dialog, never a dead window
            traceback.print_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}")


class _Relay(QObject):
    """Receives one thread's signals in the GUI thread and tags them with the thread
    (``QObject.sender()`` is not reliable across threads in PySide)."""

    def __init__(self, runner: "JobRunner", thread: QThread):
        super().__init__()
        self.runner, self.thread_ = runner, thread

    @Slot(object)
    def on_event(self, ev: object) -> None:
        self.runner._forward(self.thread_, ev)

    @Slot(str)
    def on_failed(self, message: str) -> None:
        self.runner._failed(self.thread_, message)

    @Slot()
    def on_finished(self) -> None:
        self.runner._on_finished(self.thread_)


class JobRunner(QObject):
    """Runs one job at a time; a new ``start`` cancels the previous job first.

    Signals: ``event(obj)`` for each event, ``failed(message)``, ``done()`` when the
    thread has ended (after success, error or cancel).
    """

    event = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._thread: _Thread | None = None
        self._token: CancelToken | None = None
        self._relay: _Relay | None = None

    @property
    def running(self) -> bool:
        """True until the job's last event has been delivered (not only until its thread ended)."""
        return self._thread is not None

    def start(self, factory: JobFactory) -> None:
        self.stop()
        token = CancelToken()
        thread = _Thread(factory, token)
        relay = _Relay(self, thread)  # lives in the GUI thread: signals arrive queued
        thread.event.connect(relay.on_event)
        thread.failed.connect(relay.on_failed)
        thread.finished.connect(relay.on_finished)
        self._thread, self._token, self._relay = thread, token, relay
        thread.start()

    def _forward(self, thread: QThread, ev: object) -> None:
        if thread is self._thread:  # drop events of a job that was replaced or stopped
            self.event.emit(ev)

    def _failed(self, thread: QThread, message: str) -> None:
        if thread is self._thread:
            self.failed.emit(message)

    def _on_finished(self, thread: QThread) -> None:
        if thread is self._thread:
            thread.wait()  # finished is emitted just before the thread really ends
            self._thread = None
            self._token = None
            self._relay = None
            self.done.emit()

    def cancel(self) -> None:
        """Ask the job to stop at its next step (returns at once)."""
        if self._token is not None:
            self._token.cancel()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait for the thread to end. True when nothing is left running."""
        thread = self._thread
        if thread is None:
            return True
        if self._token is not None:
            self._token.cancel()
        ok = thread.wait(timeout_ms)
        if ok:
            self._thread = None
            self._token = None
            self._relay = None
            self.done.emit()
        return ok


def single_result(fn: Callable[[CancelToken], Any]) -> JobFactory:
    """A job that computes one value and yields it as ``Finished``."""

    def job(token: CancelToken):
        t0 = time.perf_counter()
        result = fn(token)
        token.raise_if_cancelled()
        yield Finished(result=result, elapsed=time.perf_counter() - t0)

    return job
