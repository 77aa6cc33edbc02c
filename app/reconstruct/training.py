"""The level-set reconstruction in the Reconstruct tab: settings, Reconstruct/Stop/Continue,
progress, the loss plot and the live preview.

``ReconstructPanel`` holds the widgets; ``TrainingController`` runs the trainer as a job,
throttles its preview snapshots onto the GUI thread and makes the finished surface the
layer's mesh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from levelset_studio.app.diagnostics import StallMeter
from levelset_studio.app.jobs import FOREGROUND_NICENESS
from levelset_studio.app.reconstruct.common import fmt_time, group
from levelset_studio.app.reconstruct.scene import samples_name
from levelset_studio.app.widgets.collapsible import CollapsibleSection
from levelset_studio.app.widgets.params_panel import ParamsPanel
from levelset_studio.app.widgets.plots import LossPlot
from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import Message
from levelset_studio.core.surface.layers import MeshLayer, PointsLayer
from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
from levelset_studio.core.surface.reconstruction.trainer import PointsIgnored, ReconstructionStarted, Reconstructor
from levelset_studio.core.surface.watch import SurfaceQuality, SurfaceWatch, watch_events

if TYPE_CHECKING:
    from levelset_studio.app.jobs import JobHandle
    from levelset_studio.app.reconstruct.tab import ReconstructTab

SNAPSHOT_APPLY_INTERVAL_MS = 150  # at most ~7 view updates a second while training
# Drawing a preview holds the GUI thread (and Python's lock) for its whole render: after
# one, wait this many times its cost, so drawing takes at most ~10% and the trainer runs.
SNAPSHOT_COST_FACTOR = 10.0
FIRST_STEP_HINT = "Next: press Reconstruct or F5 to grow a surface on this scan."
NOT_PLOTTED = {"converged", "lr", "learning_rate", "samples", "remaining"}


class ReconstructPanel(QWidget):
    """Reconstruct / Stop / Continue, progress, loss plot and the reconstruction settings."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(0, 0, 0, 0)
        self.recon_panel = ParamsPanel(ReconstructionConfig)
        box = group("Reconstruct (neural level set)")
        buttons = QHBoxLayout()
        self.reconstruct_button = QPushButton("Reconstruct")
        self.reconstruct_button.setToolTip("Train a new level-set network on the active scan (F5)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training (Esc); Continue resumes it")
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Train the current network further")
        for b in (self.reconstruct_button, self.stop_button, self.continue_button):
            buttons.addWidget(b)
        box.layout().addLayout(buttons)
        self.final_button = QPushButton("Final mesh")
        self.final_button.setToolTip(
            "After Stop the layer shows the low-resolution training preview: mesh the network "
            "at full resolution and trim it, as a finished run does"
        )
        self.final_button.setVisible(False)
        box.layout().addWidget(self.final_button)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        box.layout().addWidget(self.progress)
        self.progress_text = QLabel("")
        self.progress_text.setWordWrap(True)
        self.progress_text.setObjectName("progress_text")
        box.layout().addWidget(self.progress_text)
        self.loss_plot = LossPlot()
        box.layout().addWidget(self.loss_plot)
        self.show_samples = QCheckBox("Show level-set samples")
        self.show_samples.setToolTip("Draw the points the trainer projected onto the zero level set")
        box.layout().addWidget(self.show_samples)
        # folded: at 1280x800 the buttons of every panel stay above the fold
        box.layout().addWidget(CollapsibleSection("Settings", self.recon_panel, expanded=False))
        lv.addWidget(box)


class TrainingController:
    """One reconstruction at a time: its network, its layer, its preview snapshots."""

    def __init__(self, tab: ReconstructTab, panel: ReconstructPanel) -> None:
        self.tab = tab
        self.panel = panel
        self.reconstructor: Any = None  # the Reconstructor of the current run
        self.recon_layer: str | None = None
        self.recon_config: Any = None
        self.snapshots_applied = 0
        self.quality: SurfaceQuality | None = None  # what the surface watch saw last
        self._faint_done = False  # this run already stepped the scan back once
        self._pending_snapshot: Any = None
        self._last_snapshot_apply = 0.0
        self._last_apply_cost = 0.0  # seconds the last snapshot took on the GUI thread
        self._snapshot_timer = QTimer(tab)
        self._snapshot_timer.setSingleShot(True)
        self._snapshot_timer.timeout.connect(self._apply_snapshot)
        # How responsive the GUI thread stays while training (reported by --quit runs and tests).
        self.stall_meter = StallMeter(tab)
        panel.reconstruct_button.clicked.connect(lambda: self.start())
        panel.stop_button.clicked.connect(self.stop)
        panel.continue_button.clicked.connect(lambda: self.continue_())
        panel.show_samples.toggled.connect(self._samples_toggled)
        panel.final_button.clicked.connect(lambda: self.finalize())

    @property
    def training(self) -> bool:
        return self.tab.jobs.find("reconstruct") is not None

    def layer(self) -> MeshLayer | None:
        layer = self.tab.layers.get(self.recon_layer)
        return layer if isinstance(layer, MeshLayer) else None

    def forget_layer(self, name: str) -> None:
        """The layer ``name`` left the list: if it was the run's, the network goes with it."""
        if name == self.recon_layer:
            self.recon_layer = None
            self.reconstructor = None

    # ------------------------------------------------------------------ runs --
    def start(self, *, iterations: int | None = None, time_budget: float | None = None) -> JobHandle | None:
        """Train a new network on the active scan; the surface appears as a new layer."""
        tab = self.tab
        scan = tab.active_scan
        if scan is None or self.training:
            return None
        try:
            config = self.panel.recon_panel.config()
        except ConfigError as exc:
            tab.report_error(str(exc))
            return None
        self.reconstructor = None
        self.recon_config = config
        n = sum(1 for lay in tab.layers.meshes() if lay.method == "levelset") + 1
        layer = MeshLayer(
            tab.layers.new_name("levelset"),
            f"Level set #{n}",
            method="levelset",
            config=config,
            scan=tab.active_scan_name,
            color=tab.next_result_color(),
        )
        self.recon_layer = layer.name
        tab.layers.append(layer)
        tab.layers.select(layer)
        self.panel.loss_plot.clear()

        watch = SurfaceWatch(scan.points, seed=config.seed)
        self.watch = watch

        def job(token: Any) -> Any:
            rec = Reconstructor(scan, config)
            yield ReconstructionStarted(rec)
            yield from watch_events(rec.run(token, iterations=iterations, time_budget=time_budget), watch)

        return self._run(job)

    def continue_(self, *, iterations: int | None = None, time_budget: float | None = None) -> JobHandle | None:
        """Train the current network further (the same layer updates)."""
        rec = self.reconstructor
        if rec is None or self.training:
            return None
        if self.layer() is None:
            self.tab.report_error("the reconstruction layer was removed; start a new reconstruction")
            return None

        watch = getattr(self, "watch", None) or SurfaceWatch(rec.scan.points)
        self.watch = watch

        def job(token: Any) -> Any:
            yield from watch_events(rec.run(token, iterations=iterations, time_budget=time_budget), watch)

        return self._run(job)

    def _run(self, job: Callable) -> JobHandle:
        tab, p = self.tab, self.panel
        p.progress.setRange(0, 1000)
        p.progress.setValue(0)
        p.progress_text.setText("starting…")
        self._faint_done = False
        # the user watches this job's speed: it keeps the GUI's priority (app.jobs)
        t = tab.jobs.submit("reconstruct", job, niceness=FOREGROUND_NICENESS)
        t.event.connect(self._training_event)
        t.progress.connect(self._on_progress)
        t.snapshot.connect(self._on_snapshot)
        t.result.connect(self._finished)
        t.failed.connect(self._failed)
        t.cancelled.connect(self._stopped)
        t.finished.connect(tab.update_buttons)
        t.finished.connect(self.stall_meter.stop)
        self.stall_meter.start()
        t.start()
        tab.update_buttons()
        tab.status_message.emit("Reconstructing…")
        return t

    def needs_final(self) -> bool:
        """The run's layer shows a preview that the network can replace by its final mesh."""
        layer = self.layer()
        return layer is not None and layer.preview and self.reconstructor is not None and not self.training

    def finalize(self) -> JobHandle | None:
        """Mesh the stopped network at full resolution, trimmed; it replaces the preview (undoable)."""
        rec, layer = self.reconstructor, self.layer()
        if rec is None or layer is None or self.training:
            return None
        if self.tab.jobs.find("final") is not None:
            return None

        def job(token: Any) -> Any:
            token.raise_if_cancelled()
            return rec.extract_mesh()

        def done(mesh: Any) -> None:
            if layer in self.tab.layers and not self.training:
                self.tab.replace_preview(layer, mesh, steps=rec.step)
                self.panel.progress_text.setText(f"final mesh: {mesh.n_faces:,} triangles at step {rec.step}")
                self.tab.status_message.emit(f"Final mesh: {mesh.n_faces:,} triangles")
                self.tab.final_mesh_ready.emit(mesh)
            self.sync_final_button()

        self.panel.progress_text.setText("meshing at full resolution…")
        return self.tab.start_job("final", job, on_result=done)

    def sync_final_button(self) -> None:
        self.panel.final_button.setVisible(self.needs_final())
        self.panel.final_button.setEnabled(self.tab.jobs.find("final") is None)

    def stop(self) -> None:
        """Stop training (cooperatively, at the next step)."""
        t = self.tab.jobs.find("reconstruct")
        if t is not None:
            t.cancel()

    def shutdown(self) -> None:
        self._snapshot_timer.stop()

    # ---------------------------------------------------------------- events --
    def _training_event(self, ev: Any) -> None:
        if isinstance(ev, ReconstructionStarted):
            self.reconstructor = ev.reconstructor
            self.quality = None
            self.tab.status_message.emit(f"Reconstructing on {ev.reconstructor.device_name}")
        elif isinstance(ev, PointsIgnored) and ev.ignored is not None and len(ev.ignored):
            self.show_ignored(ev.ignored)
        elif isinstance(ev, SurfaceQuality):
            self.quality = ev
            self.panel.progress_text.setToolTip(ev.tooltip())
        elif isinstance(ev, Message):  # what the engine decided (a failing GPU: on to the CPU)
            self.tab.status_message.emit(ev.text)

    def show_ignored(self, ignored: Any) -> PointsLayer:
        """The scan points the engine did not learn from, as a layer of their own (nothing is deleted)."""
        tab = self.tab
        layer = PointsLayer(
            tab.layers.new_name("points"),
            f"Ignored outliers ({len(ignored):,})",
            points=ignored.points,
            role="ignored outliers",
            scan=tab.active_scan_name,
        )
        tab.layers.append(layer)  # a by-product of the run, like its preview: no undo step
        tab.status_message.emit(ignored.summary())
        return layer

    def _on_progress(self, p: Any) -> None:
        if p.total:
            frac = p.step / max(1, p.total)
        elif p.remaining is not None and p.elapsed + p.remaining > 0:
            frac = p.elapsed / (p.elapsed + p.remaining)
        else:
            frac = 0.0
        panel = self.panel
        panel.progress.setValue(int(1000 * min(1.0, frac)))
        panel.progress.setFormat(f"step {p.step}" + (f" / {p.total}" if p.total else ""))
        parts = [f"{fmt_time(p.remaining)} left"]
        if self.quality is not None:
            parts.append(self.quality.text())  # fit 93% · converged
        else:
            parts.append("fit: after the first preview")
        m = dict(p.metrics)
        panel.progress_text.setText(" · ".join(parts))
        panel.loss_plot.add(p.step, {k: v for k, v in m.items() if k not in NOT_PLOTTED})

    def _on_snapshot(self, snap: Any) -> None:
        # Keep only the newest; apply at most every SNAPSHOT_APPLY_INTERVAL_MS.
        self._pending_snapshot = snap
        if self._snapshot_timer.isActive():
            return
        # Adaptive: with a slow (software) renderer, leave the GUI thread free at least
        # 3/4 of the time for the user's own interaction with the view.
        interval = max(SNAPSHOT_APPLY_INTERVAL_MS, 1000 * SNAPSHOT_COST_FACTOR * self._last_apply_cost)
        wait = interval - 1000 * (time.monotonic() - self._last_snapshot_apply)
        self._snapshot_timer.start(max(0, int(wait)))

    def _apply_snapshot(self) -> None:
        snap, self._pending_snapshot = self._pending_snapshot, None
        layer = self.layer()
        if snap is None or layer is None:
            return
        started = self._last_snapshot_apply = time.monotonic()
        if len(snap.faces) == 0:
            return
        from levelset_studio.core.surface.meshes.mesh import Mesh

        # a preview is not an edit: it does not go on the undo stack
        mesh = Mesh(snap.vertices, snap.faces, getattr(snap, "normals", None), name=layer.title)
        if not self._faint_done:  # the scan steps back behind the first surface of a run
            self._faint_done = True
            self.tab.view.set_scans_faint(True)
        self.tab.layers.update(layer, data=mesh, step=snap.step, preview=True)
        if snap.samples is not None and self.panel.show_samples.isChecked():
            self.tab.view.set_points(samples_name(layer.name), snap.samples, color="#e0443e", point_size=4.0)
        self.snapshots_applied += 1
        self._last_apply_cost = time.monotonic() - started

    def _samples_toggled(self, on: bool) -> None:
        if self.recon_layer:
            self.tab.view.set_visible(samples_name(self.recon_layer), on)

    def _finished(self, result: Any) -> None:
        self._snapshot_timer.stop()
        self._pending_snapshot = None
        layer = self.layer()
        if result is None or layer is None:
            return
        mesh = result.mesh
        self.tab.replace_preview(
            layer, mesh, steps=getattr(result, "steps", None), elapsed=getattr(result, "elapsed", None)
        )
        self.panel.progress.setValue(1000)
        if not self._faint_done:
            self._faint_done = True
            self.tab.view.set_scans_faint(True)
        q = self.quality
        fit = f" · {q.text()}" if q is not None else ""
        self.panel.progress_text.setText(
            f"done: {getattr(result, 'steps', '?')} steps in {fmt_time(getattr(result, 'elapsed', None))}{fit}"
            f" · {mesh.n_faces:,} triangles"
        )
        self.tab.status_message.emit(f"Reconstruction finished: {mesh.n_faces:,} triangles")
        self.tab.reconstruction_finished.emit(mesh)

    def _failed(self, message: str) -> None:
        self._snapshot_timer.stop()
        layer = self.layer()
        if layer is not None and layer.data is None:
            self.tab.layers.remove(layer)  # an empty result layer is not work: no undo step
        self.panel.progress_text.setText("failed")
        self.tab.report_error(message)

    def _stopped(self) -> None:
        p = self.panel
        # Show the newest snapshot the worker sent before stopping.
        if self._pending_snapshot is not None:
            self._snapshot_timer.stop()
            self._apply_snapshot()
        layer = self.layer()
        if layer is not None and layer.preview and self.reconstructor is not None:
            p.progress_text.setText(
                "stopped: the layer shows the low-resolution preview; press Final mesh "
                "(full resolution, trimmed) before exporting, or Continue"
            )
            self.tab.status_message.emit("Reconstruction stopped: Final mesh makes the full-resolution surface")
        else:
            p.progress_text.setText("stopped: Continue resumes training" if self.reconstructor else "stopped")
            self.tab.status_message.emit("Reconstruction stopped")
