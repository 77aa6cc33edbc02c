"""Start the desktop app: ``levelset-studio`` (gui-script) and ``levelset gui``.

``run_gui`` also serves demos and smoke tests: with ``reconstruct`` it trains on the
opened scan, with ``screenshot`` it saves a PNG of the whole window when done, with
``quit`` it exits (0 on success, 2 with the one-line message on stderr on an error).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

EXIT_OK = 0
EXIT_ERROR = 2


@dataclass
class GuiOptions:
    """What ``levelset gui`` was asked to do."""

    scans: list[str] = field(default_factory=list)
    session: str | None = None  # a saved .lss session to reopen (instead of scans)
    # --iterations / --time-budget as given (None: not given); they bound a session's continuation
    iterations: int | None = None
    time_budget: float | None = None
    reconstruct: bool = False
    recon_settings: dict[str, Any] = field(default_factory=dict)  # ReconstructionConfig fields
    screenshot: str | None = None
    quit: bool = False
    tab: str = "reconstruct"
    dataset: str | None = None
    train: bool = False
    open_sample: bool = True  # no scans given: open the bundled sample
    record: str | None = None  # a .gif/.mp4 film of the live reconstruction (with reconstruct)


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("LevelSet Studio")
    app.setOrganizationName("LevelSet Studio")
    from levelset_studio.app.main_window import app_icon

    app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


class _Automation:
    """Drives the --reconstruct / --screenshot / --quit path once the window is up."""

    def __init__(self, window: MainWindow, options: GuiOptions, app: QApplication) -> None:  # noqa: F821
        self.window, self.options, self.app = window, options, app
        self.exit_code = EXIT_OK
        self.recorder: Any = None
        tab = window.reconstruct_tab
        if options.quit:
            window.error_handler = self.fail
        tab.scan_loaded.connect(self.scan_loaded)
        tab.session_loaded.connect(self.session_loaded)
        tab.reconstruction_finished.connect(lambda _m: self.finish())
        # --tab robustness --train: the screenshot waits for the Robustness tab's training
        rtab = window.robustness_tab
        self.wait_for_robustness = options.tab == "robustness" and options.train and hasattr(rtab, "trainingFinished")
        if self.wait_for_robustness:
            rtab.trainingFinished.connect(self.robustness_trained)

    def robustness_trained(self) -> None:
        rtab = self.window.robustness_tab
        if getattr(rtab, "busy", False):  # the pictures that follow training (overlays, curves)
            rtab.idle.connect(self.finish, Qt.ConnectionType.SingleShotConnection)
        else:
            self.finish()

    def fail(self, message: str) -> None:
        print(f"levelset: error: {message}", file=sys.stderr)
        self.exit_code = EXIT_ERROR
        self.app.exit(EXIT_ERROR)

    def session_loaded(self, _path: str) -> None:
        tab = self.window.reconstruct_tab
        if self.options.reconstruct:
            if not self.start_film():
                return
            # a session with a network trains on; one without starts a new reconstruction
            if tab.reconstructor is not None:
                t = tab.continue_reconstruction(
                    iterations=self.options.iterations, time_budget=self.options.time_budget
                )
            else:
                t = tab.start_reconstruction()
            if t is None:
                self.fail("cannot continue the session's reconstruction")
        else:
            self.finish()

    def start_film(self) -> bool:
        """--record: film the reconstruction about to start (the fixed camera: the view now)."""
        if not self.options.record:
            return True
        try:
            self.recorder = self.window.start_recording(self.options.record)
        except Exception as exc:  # noqa: BLE001 (a typed ConfigError from the recorder, or an imageio failure)
            self.fail(str(exc))
            return False
        return True

    def scan_loaded(self, _scan: object) -> None:
        if self.options.session:
            return  # the session's own scan: session_loaded decides what follows
        if self.options.reconstruct:
            if not self.start_film():
                return
            t = self.window.reconstruct_tab.start_reconstruction()
            if t is None:
                self.fail("cannot start the reconstruction (is the engine installed?)")
        elif not self.wait_for_robustness:
            self.finish()

    def finish(self) -> None:
        if not (self.options.screenshot or self.options.quit):
            return
        # Let the layout settle and the view render the final mesh before grabbing.
        QTimer.singleShot(500, self._finish_now)

    def _finish_now(self) -> None:
        meter = self.window.reconstruct_tab.stall_meter
        if self.options.reconstruct and meter.ticks:
            print(f"training: {meter.summary()}")
        rec = self.window.reconstruct_tab.reconstructor
        if self.options.reconstruct and rec is not None:
            print(f"reconstruction: {rec.step} steps in all")
        if self.recorder is not None:
            frames = self.recorder.frames
            film = self.window.stop_recording()
            if film is None:
                self.fail(f"{self.options.record}: no preview was shown, so the film is empty")
                return
            print(f"film: {film} ({frames} frames)")
        if self.options.screenshot:
            try:
                path = self.window.save_screenshot(self.options.screenshot)
                print(f"screenshot: {path}")
            except Exception as exc:  # noqa: BLE001
                self.fail(str(exc))
                return
        if self.options.quit:
            self.window.close()
            self.app.exit(self.exit_code)


def run_gui(options: GuiOptions) -> int:
    """Open the window (and run the automation options); returns the exit code."""
    app = application()
    from levelset_studio.app.main_window import MainWindow

    window = MainWindow()
    auto = _Automation(window, options, app)
    panel = window.reconstruct_tab.recon_panel
    if panel is not None and options.recon_settings:
        panel.set_values(options.recon_settings)
    if options.tab == "robustness":
        window.tabs.setCurrentIndex(1)
    apply = getattr(window.robustness_tab, "apply_cli_options", None)
    if callable(apply) and (options.dataset is not None or options.train):
        apply(options.dataset, options.train)
    window.show()
    if not options.quit:  # after a crash: offer the recovery copy (app/autosave.py)
        from levelset_studio.app.autosave import offer_recovery

        QTimer.singleShot(0, lambda: offer_recovery(window))
    scans = list(options.scans)
    if options.session:
        session = options.session
        QTimer.singleShot(0, lambda: window.open_session(session))
    elif not scans and options.open_sample:
        from levelset_studio.resources import SAMPLE_SCAN

        if Path(SAMPLE_SCAN).exists():
            scans = [str(SAMPLE_SCAN)]
    if scans:
        QTimer.singleShot(
            0, lambda: window.open_scans(scans) if not options.quit else window.reconstruct_tab.open_scans(scans)
        )
    elif options.quit and not auto.wait_for_robustness and not options.session:
        auto.finish()
    rc = app.exec()
    if window.isVisible():
        window.close()  # stops its jobs, remembers the geometry
    window.deleteLater()
    from levelset_studio.app.jobs import wait_for_orphans

    wait_for_orphans()
    return auto.exit_code if auto.exit_code else int(rc)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``levelset-studio`` gui-script (same options as ``levelset gui``)."""
    from levelset_studio.core.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main(["gui", *args])


if __name__ == "__main__":
    sys.exit(main())
