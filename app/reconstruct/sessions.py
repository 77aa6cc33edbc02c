"""Session save and load in the Reconstruct tab (the file format and the restore are core's;
app/reconstruct/session_io.py maps them onto layers)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

from levelset_studio.app.reconstruct import session_io
from levelset_studio.core.errors import LevelSetError, ScanMovedError

if TYPE_CHECKING:
    from levelset_studio.app.jobs import JobHandle
    from levelset_studio.app.reconstruct.tab import ReconstructTab


class SessionController:
    def __init__(self, tab: ReconstructTab) -> None:
        self.tab = tab

    def session_data(self) -> Any:
        return session_io.session_from_tab(self.tab)

    def save_session(self, path: str | Path) -> Path:
        from levelset_studio.core.surface.session import write_session

        if self.tab.training:
            raise LevelSetError("stop the reconstruction before saving the session")
        data = self.session_data()
        rec = self.tab.training_controller.reconstructor
        writer = None if rec is None else rec.save_checkpoint
        return write_session(path, data, writer)

    def load_session(self, path: str | Path, replacements: dict[str, str] | None = None) -> JobHandle | None:
        """Reopen a session: every layer, settings, loss history and the network (Continue trains on).

        A scan that moved is asked for (``tab.ask_for_file``), then the restore runs again."""
        tab = self.tab
        if tab.busy:
            tab.report_error("wait for the running job to finish (or stop it) before loading a session")
            return None
        repl = dict(replacements or {})

        def done(out: Any) -> None:
            if isinstance(out, ScanMovedError):
                found = tab.ask_for_file(out.missing)
                if not found:
                    tab.report_error(str(out))
                    return
                repl[out.missing] = found
                handle.finished.connect(lambda: self.load_session(path, repl), Qt.ConnectionType.SingleShotConnection)
                return
            session_io.apply_restored(tab, out)
            tab.undo_stack.clear()  # a reopened session starts a new history
            tab.update_buttons()
            tab.session_loaded.emit(str(path))

        tab.status_message.emit(f"Loading session {Path(path).name} …")
        handle = tab.start_job("load", session_io.restore_job(path, repl), on_result=done)
        return handle
