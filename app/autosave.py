"""Autosave and recovery: a crash or a kill never costs more than a few minutes of work.

While the app runs, :class:`Autosaver` keeps a recovery copy of the Reconstruct tab's
session (the session format, network included) in the platform's app-data folder
(``QStandardPaths.AppDataLocation``; the environment variable
``LEVELSET_STUDIO_RECOVERY`` names another folder). It saves every few minutes while
training and after each finished job, atomically and in a background job, so the GUI
never waits for the disk. A clean exit removes the copy; the next start after a crash
finds it and :func:`offer_recovery` offers to restore it, saying what it holds and when
it was saved.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from levelset_studio.app.jobs import JobHandle, JobRunner

RECOVERY_ENV = "LEVELSET_STUDIO_RECOVERY"
INTERVAL_ENV = "LEVELSET_STUDIO_AUTOSAVE_SECONDS"
DEFAULT_INTERVAL_S = 180.0
RECOVERY_NAME = "recovery.lss"


def recovery_folder() -> Path:
    env = os.environ.get(RECOVERY_ENV)
    if env:
        return Path(env)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or tempfile.gettempdir()) / "recovery"


def recovery_file() -> Path:
    return recovery_folder() / RECOVERY_NAME


def autosave_interval() -> float:
    try:
        return max(0.5, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


class Autosaver(QObject):
    """Keeps the recovery copy of ``tab``'s work up to date (see the module docstring)."""

    saved = Signal(str)  # the recovery file
    failed = Signal(str)  # a one-line message (shown in the status bar, not as a dialog)

    def __init__(self, tab: Any, parent: QObject | None = None, interval_s: float | None = None) -> None:
        super().__init__(parent)
        self.tab = tab
        self.path = recovery_file()
        self.jobs = JobRunner(self)
        self.saves = 0
        self.last_saved: float | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 * (interval_s or autosave_interval())))
        self.timer.timeout.connect(self.save_now)
        self._was_busy = False
        tab.busy_changed.connect(self._busy_changed)  # may repeat a state; only changes count
        # A copy left by a crash is held until the user has answered the recovery offer:
        # saving now would overwrite the work it holds.
        self._enabled = not self.path.exists()

    @property
    def holding(self) -> bool:
        """True while an earlier run's recovery copy waits for the user's answer."""
        return not self._enabled

    def resume(self) -> None:
        """The user answered the recovery offer: from now on this run keeps the copy."""
        self._enabled = True

    def _busy_changed(self, busy: bool) -> None:
        was, self._was_busy = self._was_busy, busy
        if busy and self.tab.training:
            if not self.timer.isActive():
                self.timer.start()
        elif not busy and was:
            self.timer.stop()
            self.save_now()  # a job finished: its result is worth keeping

    def save_now(self) -> JobHandle | None:
        """Start writing the recovery copy in the background (skipped while one is written)."""
        from levelset_studio.app.reconstruct.session_io import session_from_tab
        from levelset_studio.core.errors import LevelSetError

        if not self._enabled or self.tab.active_scan_name is None or self.jobs.busy:
            return None
        try:
            data = session_from_tab(self.tab)  # references to the layers' arrays, no copies
        except LevelSetError:
            return None
        rec = self.tab.reconstructor
        path = self.path

        def job(_token: Any) -> Any:
            from levelset_studio.core.surface.session import write_session

            path.parent.mkdir(parents=True, exist_ok=True)
            out = write_session(path, data, None if rec is None else rec.save_checkpoint)
            if not self._enabled:  # the app closed cleanly while this copy was written
                with contextlib.suppress(OSError):
                    out.unlink()
            return str(out)

        handle = self.jobs.submit("autosave", job)
        handle.result.connect(self._saved)
        handle.failed.connect(lambda msg: self.failed.emit(f"recovery copy not saved: {msg}"))
        handle.start()
        return handle

    def _saved(self, path: str) -> None:
        self.saves += 1
        self.last_saved = time.time()
        self.saved.emit(path)

    def discard(self, timeout_s: float = 0.5) -> None:
        """A clean exit: stop saving and remove the recovery copy (one this run owns)."""
        owned = self._enabled
        self._enabled = False
        self.timer.stop()
        self.jobs.stop_all(timeout_s)
        if owned:
            with contextlib.suppress(OSError):
                self.path.unlink()


def recovery_summary(path: Path) -> str | None:
    """What a recovery copy holds and when it was saved, or None when it cannot be read."""
    from levelset_studio.core.errors import LevelSetError
    from levelset_studio.core.surface.session import describe_session, read_session

    with tempfile.TemporaryDirectory(prefix="levelset-recovery-") as tmp:
        try:
            data = read_session(path, tmp, load_meshes=False, check_checkpoint=False)
        except LevelSetError:
            return None
    saved = data.saved_at if data.saved_at is not None else path.stat().st_mtime
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(saved))
    return f"saved {when}: {describe_session(data)}"


def offer_recovery(window: Any) -> QMessageBox | None:
    """After a crash: ask whether to restore the recovery copy (a non-blocking box)."""
    path = recovery_file()
    if not path.is_file():
        return None
    summary = recovery_summary(path)
    parent: QWidget = window
    if summary is None:
        with contextlib.suppress(OSError):
            path.unlink()
        window.autosave.resume()
        window.error_handler(f"{path}: the recovery copy of the last session is damaged and was removed")
        return None
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Recover your work?",
        f"LevelSet Studio did not close properly last time. A recovery copy of your work was {summary}.\n\nRestore it?",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setObjectName("recovery_dialog")
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(restore)

    def answered(button: Any) -> None:
        if button is restore:
            window.open_session(path)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        window.autosave.resume()

    box.buttonClicked.connect(answered)
    box.open()
    return box
