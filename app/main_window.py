"""The main window: two tabs (Reconstruct, Robustness), menus, shortcuts, status bar.

Window geometry and recent files live in QSettings (a test passes its own settings
object, or sets LEVELSET_STUDIO_SETTINGS to an .ini path, so nothing of the user's is
touched).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.app.autosave import Autosaver
from levelset_studio.app.dialogs import show_about, show_error
from levelset_studio.app.reconstruct import export as export_flow
from levelset_studio.app.reconstruct.tab import ReconstructTab
from levelset_studio.app.reconstruct.training import FIRST_STEP_HINT
from levelset_studio.app.view3d import grab_window
from levelset_studio.core.errors import LevelSetError

try:
    from levelset_studio.app.robustness.tab import RobustnessTab
except ImportError:  # the Robustness tab lands from its own branch
    RobustnessTab = None  # type: ignore[assignment,misc]

MAX_RECENT = 10
SETTINGS_ENV = "LEVELSET_STUDIO_SETTINGS"
ICON_PATH = Path(__file__).resolve().parents[1] / "resources" / "icons" / "levelset-studio.svg"


HINT_KEY = "hints/reconstructed"  # set once a reconstruction finished: no first-step hint
UP_AXIS_KEY = "view/up_axis"  # + "/" + the scan file's absolute path


def default_settings() -> QSettings:
    """The app's settings: $LEVELSET_STUDIO_SETTINGS (an .ini) if set, else the user's."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("LevelSet Studio", "LevelSet Studio")


def app_icon() -> QIcon:
    return QIcon(str(ICON_PATH)) if ICON_PATH.exists() else QIcon()


def scan_file_filter() -> str:
    """The Open dialog's filter, from the engine's list of formats."""
    from levelset_studio.core.surface.scans.formats import scan_file_filter as registry_filter

    return registry_filter()


class MainWindow(QMainWindow):
    """LevelSet Studio's window."""

    screenshot_saved = Signal(str)

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self.setWindowTitle("LevelSet Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        # Replaceable: the CLI's --quit mode prints errors instead of showing dialogs.
        self.error_handler: Callable[[str], None] = self.show_error
        self.error_boxes: list[QMessageBox] = []
        # Questions the user answers; replaceable so tests (and --quit runs) answer them.
        self.ask_replace_or_add: Callable[[], str | None] = lambda: export_flow.ask_replace_or_add(self)
        self.ask_overwrite: Callable[[Path], bool] = lambda p: export_flow.ask_overwrite(self, p)
        self.ask_export_preview: Callable[[str], str | None] = lambda t: export_flow.ask_export_preview(self, t)
        self.session_path: str | None = None
        self.recorder: Any = None  # app.recorder.FilmRecorder of File > Record Film / --record

        self.tabs = QTabWidget(self)
        self.reconstruct_tab = ReconstructTab(self)
        self.reconstruct_tab.error_handler = lambda msg: self.error_handler(msg)
        self.tabs.addTab(self.reconstruct_tab, "Reconstruct")
        self.robustness_tab = RobustnessTab(self) if RobustnessTab is not None else self._robustness_placeholder()
        self.tabs.addTab(self.robustness_tab, "Robustness")
        self.setCentralWidget(self.tabs)

        self._build_menus()
        self._build_status_bar()
        self.reconstruct_tab.status_message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.reconstruct_tab.busy_changed.connect(self._sync_actions)
        self.reconstruct_tab.scan_files_opened.connect(self.add_recent)  # only files that opened
        self.reconstruct_tab.scan_loaded.connect(lambda _s: self.update_title())
        self.reconstruct_tab.session_loaded.connect(self._session_opened)
        self.reconstruct_tab.layers.selected.connect(lambda _l: self.update_title())
        self.reconstruct_tab.layers.removed.connect(lambda _i, _l: self.update_title())
        self.reconstruct_tab.layers.changed.connect(lambda _l, _o: self.update_title())
        # a recovery copy of the work, kept while the app runs (app/autosave.py)
        self.autosave = Autosaver(self.reconstruct_tab, self)
        self.autosave.failed.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.reconstruct_tab.reconstruction_finished.connect(self._reconstruction_done_film)
        self.reconstruct_tab.reconstruction_finished.connect(lambda _m: self.settings.setValue(HINT_KEY, True))
        self.reconstruct_tab.scan_loaded.connect(self._scan_loaded)
        self.reconstruct_tab.view.up_axis_changed.connect(self._remember_up_axis)
        self._restore_geometry()
        self._sync_actions()
        self.tabs.currentChanged.connect(self._route_shortcuts)
        self._route_shortcuts()

    # ------------------------------------------------------------------ build --
    @staticmethod
    def _robustness_placeholder() -> QWidget:
        w = QWidget()
        w.setObjectName("robustness_placeholder")
        lay = QVBoxLayout(w)
        label = QLabel("The Robustness tab is not installed in this build.")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(label)
        return w

    def _action(self, menu: Any, text: str, slot: Callable, shortcut: Any = None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.open_action = self._action(
            file, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open, "Open one or more scans (merged)"
        )
        self.recent_menu = file.addMenu("Open &Recent")
        file.addSeparator()
        self.save_session_action = self._action(
            file,
            "&Save Session…",
            self.save_session_dialog,
            QKeySequence.StandardKey.Save,
            "Save scans, cleaning, settings and network weights",
        )
        self.load_session_action = self._action(
            file, "&Load Session…", self.load_session_dialog, None, "Reopen a saved session; Continue trains on"
        )
        file.addSeparator()
        self.export_action = self._action(
            file, "&Export Mesh…", self.export_dialog, "Ctrl+E", "Write the selected mesh in the scan's own coordinates"
        )
        self.screenshot_action = self._action(
            file, "Save Scree&nshot…", self.screenshot_dialog, None, "Save a PNG of the whole window"
        )
        self.record_action = self._action(
            file,
            "Record &Film…",
            self.record_dialog,
            None,
            "Film the next reconstruction's previews (GIF or MP4, fixed camera); stops when it finishes",
        )
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self._rebuild_recent_menu()

        edit = bar.addMenu("&Edit")
        stack = self.reconstruct_tab.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")  # its text names the action
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo])
        for act in (self.undo_action, self.redo_action):
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            edit.addAction(act)

        run = bar.addMenu("&Reconstruct")
        tab = self.reconstruct_tab
        self.reconstruct_action = self._action(
            run, "&Reconstruct", self._reconstruct, "F5", "Train a new network on the active scan"
        )
        self.stop_action = self._action(run, "&Stop", tab.stop, "Esc", "Stop training")
        self.continue_action = self._action(run, "&Continue", self._continue, None, "Train the current network further")
        run.addSeparator()
        self.poisson_action = self._action(run, "Screened &Poisson", tab.run_poisson, None, "Baseline reconstruction")
        self.clean_action = self._action(run, "C&lean Scan", tab.clean_active_scan, None, "Clean into a new layer")
        self.evaluate_action = self._action(
            run, "&Inspect Distances", tab.evaluate_selected, None, "Colour the selected mesh by distance to the scan"
        )
        self.compare_action = self._action(
            run,
            "C&ompare Layers…",
            tab.open_compare,
            "Ctrl+K",
            "Two layers side by side, one camera, one metrics table",
        )

        self.robust_menu = bar.addMenu("R&obustness")
        rob = self.robustness_tab
        self.train_action = self._action(
            self.robust_menu, "&Train", self._train_classifier, None, "Train (or continue training) the classifier"
        )
        self.stop_training_action = self._action(
            self.robust_menu, "&Stop Training", getattr(rob, "stop_training", lambda: None), None, "Stop training"
        )
        if not hasattr(rob, "start_training"):  # the placeholder of a build without the tab
            self.robust_menu.menuAction().setVisible(False)

        view = bar.addMenu("&View")
        self.reset_camera_action = self._action(view, "&Reset Camera", tab.view.reset_camera, "R")
        self._action(view, "&Isometric View", tab.view.view_isometric, None)
        view.addSeparator()
        for mode in ("height", "normals", "uniform"):
            self._action(view, f"Colour Scan by {mode.capitalize()}", lambda m=mode: tab.color_mode.setCurrentText(m))
        samples = QAction("Show Level-Set &Samples", self, checkable=True)
        samples.toggled.connect(tab.show_samples.setChecked)
        tab.show_samples.toggled.connect(samples.setChecked)
        view.addAction(samples)
        view.addSeparator()
        self._action(view, "Reconstruct Tab", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1")
        self._action(view, "Robustness Tab", lambda: self.tabs.setCurrentIndex(1), "Ctrl+2")

        help_menu = bar.addMenu("&Help")
        self.shortcuts_action = self._action(
            help_menu, "&Keyboard Shortcuts", self.show_shortcuts, "F1", "Every shortcut of the window"
        )
        self.docs_action = self._action(
            help_menu, "&Documentation", self.open_docs, None, "Open the project's documentation (docs/)"
        )
        help_menu.addSeparator()
        self._action(help_menu, "&About LevelSet Studio", self.show_about)

    def _build_status_bar(self) -> None:
        self.device_label = QLabel(self._device_text())
        self.memory_label = QLabel("")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().addPermanentWidget(self.memory_label)
        self._memory_timer = QTimer(self)
        self._memory_timer.timeout.connect(self._update_memory)
        self._memory_timer.start(2000)
        self._update_memory()

    def _device_text(self) -> str:
        rec = self.reconstruct_tab.reconstructor
        name = getattr(rec, "device_name", None)
        if not name:
            from levelset_studio.core.device import describe_device

            name = describe_device()
        return f"Device: {name}"

    def _update_memory(self) -> None:
        from levelset_studio.core.device import memory_text

        text = memory_text()
        self.memory_label.setText(text)
        self.device_label.setText(self._device_text())

    def _sync_actions(self, *_: Any) -> None:
        tab = self.reconstruct_tab
        self.reconstruct_action.setEnabled(tab.reconstruct_button.isEnabled())
        self.stop_action.setEnabled(tab.training)
        self.continue_action.setEnabled(tab.continue_button.isEnabled())

    # F5 runs and Esc stops the job of the tab on screen; R resets the 3D camera only
    # while the 3D view is shown. The keys move between the two menus' actions.
    def _route_shortcuts(self, *_: Any) -> None:
        on_reconstruct = self.tabs.currentWidget() is self.reconstruct_tab
        keys = {
            self.reconstruct_action: ("F5", on_reconstruct),
            self.stop_action: ("Esc", on_reconstruct),
            self.reset_camera_action: ("R", on_reconstruct),
            self.train_action: ("F5", not on_reconstruct),
            self.stop_training_action: ("Esc", not on_reconstruct),
        }
        for action, (key, active) in keys.items():
            action.setShortcut(QKeySequence(key) if active else QKeySequence())

    def _train_classifier(self) -> None:
        start = getattr(self.robustness_tab, "start_training", None)
        if start is None:
            return
        self.tabs.setCurrentWidget(self.robustness_tab)
        start()  # does nothing while training runs; reports why when it cannot train

    def _reconstruct(self) -> None:
        self.tabs.setCurrentWidget(self.reconstruct_tab)
        self.reconstruct_tab.start_reconstruction()

    def _continue(self) -> None:
        self.reconstruct_tab.continue_reconstruction()

    # ----------------------------------------------------------------- errors --
    def show_error(self, message: str) -> None:
        self.error_boxes = [b for b in self.error_boxes if b.isVisible()]
        self.error_boxes.append(show_error(self, message))

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every menu action with a shortcut, and the view's keys."""
        rows: list[tuple[str, str]] = []
        # F5/Esc move between the two tabs' actions: name both
        both = {"F5": "Reconstruct (Reconstruct tab) / Train (Robustness tab)", "Esc": "Stop the running job"}
        for menu in self.menuBar().findChildren(QMenu):
            for act in menu.actions():
                key = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if key and key not in both:
                    rows.append((key, act.text().replace("&", "").rstrip("…")))
        rows += list(both.items())
        rows += [
            ("R", "Back to the default view (3D view)"),
            ("Mouse: left drag / right drag / wheel", "Turn / zoom / zoom the 3D view"),
            ("Shift + left drag", "Move the 3D view sideways"),
        ]
        out: dict[str, str] = {}
        for key, text in rows:
            out.setdefault(key, text)
        return list(out.items())

    def show_shortcuts(self) -> QMessageBox:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in self.shortcut_rows())
        box = QMessageBox(self)
        box.setObjectName("shortcuts_dialog")
        box.setWindowTitle("Keyboard shortcuts")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(f"<table>{rows}</table>")
        box.open()
        return box

    def docs_path(self) -> Path | None:
        """The docs/ folder of a source checkout, when there is one."""
        docs = Path(__file__).resolve().parents[1] / "docs"
        return docs if (docs / "architecture.md").is_file() else None

    def open_docs(self) -> bool:
        docs = self.docs_path()
        if docs is None:
            self.error_handler("the documentation (docs/) is not installed with this build; see the project's README")
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(docs)))

    def show_about(self) -> QMessageBox:
        return show_about(self, self._device_text().removeprefix("Device: "))

    # ----------------------------------------------------------- files / menus --
    def open_scans(self, paths: Sequence[str | Path]) -> None:
        """Open scans; with scans already open, ask whether they are replaced or added to."""
        paths = [str(p) for p in paths]
        if not paths:
            return
        self.tabs.setCurrentWidget(self.reconstruct_tab)
        replace = False
        if self.reconstruct_tab.layers.scans():
            choice = self.ask_replace_or_add()
            if choice is None:
                return
            replace = choice == "replace"
        if replace:
            self.session_path = None
        self.reconstruct_tab.open_scans(paths, replace=replace)

    def update_title(self) -> None:
        """The window title names the session, else the active scan."""
        tab = self.reconstruct_tab
        name = Path(self.session_path).name if self.session_path else None
        if name is None:
            layer = tab.layers.get(tab.active_scan_name)
            name = layer.title if layer is not None else None
        self.setWindowTitle(f"{name} — LevelSet Studio" if name else "LevelSet Studio")

    def _session_opened(self, path: str) -> None:
        self.session_path = path
        self.update_title()

    def open_dialog(self) -> None:
        start = self.settings.value("last_dir", str(Path.home()))
        paths, _ = QFileDialog.getOpenFileNames(self, "Open scans", str(start), scan_file_filter())
        if paths:
            self.settings.setValue("last_dir", str(Path(paths[0]).parent))
            self.open_scans(paths)

    def recent_files(self) -> list[list[str]]:
        """Recently opened scan sets, newest first (each a list of paths)."""
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [entry.split("|") for entry in (value or []) if entry]

    def add_recent(self, paths: Sequence[str]) -> None:
        entry = "|".join(str(Path(p).resolve()) for p in paths)
        entries = ["|".join(e) for e in self.recent_files()]
        entries = [entry] + [e for e in entries if e != entry]
        self.settings.setValue("recent_files", entries[:MAX_RECENT])
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for paths in recent:
            title = Path(paths[0]).name + (f" (+{len(paths) - 1})" if len(paths) > 1 else "")
            act = self.recent_menu.addAction(title)
            act.setToolTip("\n".join(paths))
            act.triggered.connect(lambda _c=False, p=paths: self.open_scans(p))
        self.recent_menu.setEnabled(bool(recent))

    def _guard(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except LevelSetError as exc:
            self.error_handler(str(exc))
            return None

    def export_dialog(self) -> None:
        """File > Export Mesh: the selected mesh, never a preview unannounced (app/reconstruct/export.py)."""
        export_flow.export_dialog(self)

    def export_chosen(self, path: str | Path, chosen_filter: str = "", layer: Any = None) -> Path | None:
        """Write the mesh to ``path`` in the chosen file type: refuse first, then ask, then write."""
        return export_flow.export_chosen(self, path, chosen_filter, layer)

    def save_session_dialog(self) -> None:
        if self.reconstruct_tab.active_scan is None:  # said before any dialog
            self.error_handler("open a scan before saving a session")
            return
        if self.reconstruct_tab.training:
            self.error_handler("stop the reconstruction before saving the session")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session", str(self.settings.value("last_dir", "")), "LevelSet Studio session (*.lss)"
        )
        if path:
            self.statusBar().clearMessage()
            out = self._guard(lambda: self.reconstruct_tab.save_session(path))
            if out:
                self.statusBar().showMessage(f"Session saved to {out}", 8000)
                self._session_opened(str(out))

    def load_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Load session",
            str(self.settings.value("last_dir", "")),
            "LevelSet Studio session (*.lss);;All files (*)",
        )
        if path:
            self.open_session(path)

    def open_session(self, path: str | Path) -> None:
        """Reopen a saved session (.lss) in the Reconstruct tab."""
        self.tabs.setCurrentWidget(self.reconstruct_tab)
        self.reconstruct_tab.load_session(path)

    def screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save screenshot", str(self.settings.value("last_dir", "")), "PNG image (*.png)"
        )
        if path:
            self._guard(lambda: self.save_screenshot(path))

    # -------------------------------------------------------- scan, up axis --
    def _active_scan_file(self) -> str | None:
        tab = self.reconstruct_tab
        layer = tab.layers.get(tab.active_scan_name) if tab.active_scan_name else None
        files = list(getattr(layer, "files", None) or [])
        return str(Path(files[0]).resolve()) if files else None

    def _scan_loaded(self, scan: Any) -> None:
        """The view's up axis: remembered for this file, else guessed from the scan; a first-step hint."""
        from levelset_studio.core.surface.scans.orientation import guess_up_axis

        path = self._active_scan_file()
        remembered = self.settings.value(f"{UP_AXIS_KEY}/{path}") if path else None
        axis = str(remembered) if remembered in ("x", "y", "z") else guess_up_axis(scan.points, path)
        self.reconstruct_tab.view.set_up_axis(axis)
        tab = self.reconstruct_tab
        if not self.settings.value(HINT_KEY, False, type=bool) and tab.reconstructor is None and not tab.training:
            tab.progress_text.setText(FIRST_STEP_HINT)

    def _remember_up_axis(self, axis: str) -> None:
        path = self._active_scan_file()
        if path:
            self.settings.setValue(f"{UP_AXIS_KEY}/{path}", axis)

    # ----------------------------------------------------------------- film --
    def record_dialog(self) -> None:
        if self.recorder is not None and self.recorder.recording:
            film = self.stop_recording()
            if film is not None:
                self.statusBar().showMessage(f"Film saved: {film}", 8000)
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Record film", "levelset-film.gif", "Animated GIF (*.gif);;MP4 video (*.mp4)"
        )
        if path:
            self._guard(lambda: self.start_recording(path))

    def start_recording(self, path: str | Path) -> Any:
        """Film every mesh the 3D view shows from now on (camera fixed at the first frame)."""
        from levelset_studio.app.recorder import FilmRecorder

        self.stop_recording()
        rec = FilmRecorder(self.reconstruct_tab.view, path, fps=4.0, parent=self)
        rec.start()
        self.recorder = rec
        self.record_action.setText("Stop Recording &Film")
        self.statusBar().showMessage(f"Recording the film: {rec.path}", 8000)
        return rec

    def stop_recording(self) -> Path | None:
        """Finish the film (None when nothing was filmed)."""
        rec = self.recorder
        if rec is None:
            return None
        self.record_action.setText("Record &Film…")
        return rec.stop()

    def _reconstruction_done_film(self, _mesh: Any) -> None:
        if self.recorder is not None and self.recorder.recording:
            film = self.stop_recording()  # the final mesh is its last frame
            if film is not None:
                self.statusBar().showMessage(f"Film saved: {film}", 8000)

    def save_screenshot(self, path: str | Path) -> Path:
        """Save a PNG of the whole window (the 3D view's real frame included)."""
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        view = self.reconstruct_tab.view if self.tabs.currentWidget() is self.reconstruct_tab else None
        image = grab_window(self, view)
        if not image.save(str(path), "PNG"):
            raise LevelSetError("cannot write the screenshot (is the folder writable?)", path)
        self.screenshot_saved.emit(str(path))
        return path

    # ------------------------------------------------------------ drag & drop --
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        from levelset_studio.core.surface.scans.formats import accepts_drop

        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(
            u.isLocalFile() and (accepts_drop(u.toLocalFile()) or u.toLocalFile().lower().endswith(".lss"))
            for u in urls
        ):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls: list[QUrl] = event.mimeData().urls()
        paths = [u.toLocalFile() for u in urls if u.isLocalFile()]
        sessions = [p for p in paths if p.lower().endswith(".lss")]
        if sessions:
            self.open_session(sessions[0])
        elif paths:
            self.open_scans(paths)
        event.acceptProposedAction()

    # ------------------------------------------------------- geometry / close --
    def _restore_geometry(self) -> None:
        geom = self.settings.value("geometry")
        if geom is not None:
            self.restoreGeometry(geom)
        else:
            self.resize(1400, 860)
        state = self.settings.value("window_state")
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: Any) -> None:
        """Stop every worker (within 2 s), remember the geometry, then close."""
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.sync()
        self._memory_timer.stop()
        shutdown = getattr(self.robustness_tab, "shutdown", None)
        if callable(shutdown):
            shutdown()
        self.autosave.discard()  # a clean exit: no recovery copy is needed
        self.reconstruct_tab.shutdown(2.0)
        for box in self.error_boxes:
            box.close()
        super().closeEvent(event)
