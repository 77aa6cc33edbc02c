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

from PySide6.QtCore import QObject, QThread, Signal

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

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def start(self, factory: JobFactory) -> None:
        self.stop()
        token = CancelToken()
        thread = _Thread(factory, token)
        thread.event.connect(self._forward)
        thread.failed.connect(self.failed)
        thread.finished.connect(self._on_finished)
        self._thread, self._token = thread, token
        thread.start()

    def _forward(self, ev: object) -> None:
        if self.sender() is self._thread:  # drop events of a job that was replaced
            self.event.emit(ev)

    def _on_finished(self) -> None:
        if self.sender() is self._thread:
            self._thread.wait()  # finished is emitted just before the thread really ends
            self._thread = None
            self._token = None
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
            thread.event.disconnect()
            self._thread = None
            self._token = None
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
