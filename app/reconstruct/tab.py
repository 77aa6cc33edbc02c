"""The Reconstruct tab: open a scan, clean it, reconstruct, watch it converge, inspect, export.

Every computation is the engine's (core); this module only wires widgets to jobs.
Long work runs as jobs (``app.jobs``); results come back as signals and become layers.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.app.diagnostics import StallMeter
from levelset_studio.app.jobs import JobHandle, JobRunner
from levelset_studio.app.reconstruct.inspect_panel import InspectPanel
from levelset_studio.app.reconstruct.layers import Layer, LayersPanel
from levelset_studio.app.view3d import View3D
from levelset_studio.app.widgets.collapsible import CollapsibleSection
from levelset_studio.app.widgets.params_panel import ParamsPanel
from levelset_studio.app.widgets.plots import LossPlot
from levelset_studio.core.errors import ConfigError, LevelSetError
from levelset_studio.core.events import Message
from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
from levelset_studio.core.surface.reconstruction.poisson import PoissonConfig
from levelset_studio.core.surface.reconstruction.trainer import ReconstructionStarted, Reconstructor
from levelset_studio.core.surface.scans.cleaning import CleaningConfig

SNAPSHOT_APPLY_INTERVAL_MS = 150  # at most ~7 view updates a second while training
NOT_PLOTTED = {"converged", "lr", "learning_rate", "samples", "remaining"}


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def scan_summary(scan: Any) -> str:
    """Points, bounding box, normals and dropped points of a Scan, for the info panel."""
    lo, hi = scan.bbox_min, scan.bbox_max
    diag = float(np.linalg.norm(hi - lo))
    files = ", ".join(Path(f).name for f in scan.files) or "(generated)"
    return (
        f"Files: {files}\n"
        f"Points: {len(scan):,}\n"
        f"Bounding box: [{lo[0]:.4g}, {lo[1]:.4g}, {lo[2]:.4g}] – [{hi[0]:.4g}, {hi[1]:.4g}, {hi[2]:.4g}]"
        f" (diagonal {diag:.4g} scan units)\n"
        f"Normals: {'yes' if scan.has_normals else 'no'}\n"
        f"Dropped non-finite points: {scan.dropped_nonfinite:,}"
    )


def _group(title: str, widget: QWidget | None = None) -> QGroupBox:
    box = QGroupBox(title)
    lay = QVBoxLayout(box)
    lay.setContentsMargins(6, 6, 6, 6)
    if widget is not None:
        lay.addWidget(widget)
    return box


class ReconstructTab(QWidget):
    """Scan layers, the level-set reconstruction, Poisson, inspection and export."""

    scan_loaded = Signal(object)  # Scan
    reconstruction_finished = Signal(object)  # Mesh
    poisson_finished = Signal(object)  # Mesh
    session_loaded = Signal(str)
    job_failed = Signal(str)  # the one-line message (also passed to error_handler)
    busy_changed = Signal(bool)
    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_handler: Callable[[str], None] | None = None
        self.jobs = JobRunner(self)
        self.layers: dict[str, Layer] = {}
        self.active_scan_name: str | None = None
        self.reconstructor: Any = None  # core.surface.reconstruction.trainer.Reconstructor of the current run
        self.recon_layer: str | None = None
        self.recon_config: Any = None
        self._counter = 0
        self._pending_snapshot: Any = None
        self._last_snapshot_apply = 0.0
        self._last_apply_cost = 0.0  # seconds the last snapshot took on the GUI thread
        self._snapshot_timer = QTimer(self)
        self._snapshot_timer.setSingleShot(True)
        self._snapshot_timer.timeout.connect(self._apply_snapshot)
        self.snapshots_applied = 0
        # How responsive the GUI thread stays while training (reported by --quit runs and tests).
        self.stall_meter = StallMeter(self)
        self._tmpdir = tempfile.TemporaryDirectory(prefix="levelset-gui-")
        self._build()
        self.jobs.busy_changed.connect(self._update_buttons)
        self._update_buttons()

    # ------------------------------------------------------------------ layout --
    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal, self)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)

        # Left: scan, cleaning, reconstruction settings and controls.
        left = QWidget()
        lv = QVBoxLayout(left)
        scan_box = _group("Scan")
        row = QHBoxLayout()
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open one or more scans (Ctrl+O); drop files on the window works too")
        row.addWidget(self.open_button)
        row.addWidget(QLabel("Colour"))
        self.color_mode = QComboBox()
        self.color_mode.addItems(["height", "normals", "uniform"])
        self.color_mode.setToolTip("How the scan points are coloured")
        row.addWidget(self.color_mode, 1)
        scan_box.layout().addLayout(row)
        self.load_progress = QProgressBar()
        self.load_progress.setVisible(False)
        scan_box.layout().addWidget(self.load_progress)
        self.info = QLabel("No scan loaded.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scan_box.layout().addWidget(self.info)
        lv.addWidget(scan_box)

        cleaning_cls = CleaningConfig
        self.cleaning_panel = ParamsPanel(cleaning_cls) if cleaning_cls else None
        clean_box = _group("Cleaning (makes a new layer)")
        if self.cleaning_panel is not None:
            clean_box.layout().addWidget(CollapsibleSection("Settings", self.cleaning_panel))
        self.clean_button = QPushButton("Clean")
        self.clean_button.setToolTip("Downsample, remove outliers and estimate normals into a new scan layer")
        clean_box.layout().addWidget(self.clean_button)
        lv.addWidget(clean_box)

        recon_cls = ReconstructionConfig
        self.recon_panel = ParamsPanel(recon_cls) if recon_cls else None
        recon_box = _group("Reconstruct (neural level set)")
        buttons = QHBoxLayout()
        self.reconstruct_button = QPushButton("Reconstruct")
        self.reconstruct_button.setToolTip("Train a new level-set network on the active scan (F5)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training (Esc); Continue resumes it")
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Train the current network further")
        for b in (self.reconstruct_button, self.stop_button, self.continue_button):
            buttons.addWidget(b)
        recon_box.layout().addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        recon_box.layout().addWidget(self.progress)
        self.progress_text = QLabel("")
        self.progress_text.setWordWrap(True)
        recon_box.layout().addWidget(self.progress_text)
        self.loss_plot = LossPlot()
        recon_box.layout().addWidget(self.loss_plot)
        self.show_samples = QCheckBox("Show level-set samples")
        self.show_samples.setToolTip("Draw the points the trainer projected onto the zero level set")
        recon_box.layout().addWidget(self.show_samples)
        if self.recon_panel is not None:
            recon_box.layout().addWidget(CollapsibleSection("Settings", self.recon_panel, expanded=True))
        else:
            recon_box.layout().addWidget(QLabel("The reconstruction engine is not installed."))
        lv.addWidget(recon_box)

        poisson_cls = PoissonConfig
        self.poisson_panel = ParamsPanel(poisson_cls) if poisson_cls else None
        poisson_box = _group("Baseline: screened Poisson")
        if self.poisson_panel is not None:
            poisson_box.layout().addWidget(CollapsibleSection("Settings", self.poisson_panel))
        self.poisson_button = QPushButton("Poisson")
        self.poisson_button.setToolTip("Run screened Poisson on the same scan, as a layer to compare with")
        poisson_box.layout().addWidget(self.poisson_button)
        lv.addWidget(poisson_box)
        lv.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setMinimumWidth(330)
        split.addWidget(scroll)

        # Centre: the 3D view.
        self.view = View3D(self)
        split.addWidget(self.view)

        # Right: layers and inspection.
        right = QWidget()
        rv = QVBoxLayout(right)
        self.layers_panel = LayersPanel()
        rv.addWidget(_group("Layers", self.layers_panel))
        self.inspect = InspectPanel()
        rv.addWidget(_group("Inspect", self.inspect))
        rv.addStretch(1)
        right.setMinimumWidth(260)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([340, 700, 280])

        self.reconstruct_button.clicked.connect(lambda: self.start_reconstruction())
        self.stop_button.clicked.connect(self.stop)
        self.continue_button.clicked.connect(lambda: self.continue_reconstruction())
        self.poisson_button.clicked.connect(self.run_poisson)
        self.clean_button.clicked.connect(self.clean_active_scan)
        self.color_mode.currentTextChanged.connect(lambda _t: self._redraw_scans())
        self.layers_panel.visibility_changed.connect(self._layer_visibility)
        self.layers_panel.opacity_changed.connect(self.view.set_opacity)
        self.layers_panel.color_changed.connect(self._layer_color)
        self.layers_panel.current_changed.connect(self._layer_selected)
        self.layers_panel.remove_requested.connect(self.remove_layer)
        self.inspect.evaluate_requested.connect(self.evaluate_selected)
        self.inspect.trim_preview_requested.connect(self._trim_preview)
        self.inspect.trim_apply_requested.connect(self._trim_apply)
        self.show_samples.toggled.connect(self._samples_toggled)

    # ------------------------------------------------------------- state/help --
    @property
    def busy(self) -> bool:
        return self.jobs.busy

    @property
    def training(self) -> bool:
        return self.jobs.find("reconstruct") is not None

    @property
    def active_scan(self) -> Any:
        layer = self.layers.get(self.active_scan_name or "")
        return None if layer is None else layer.data

    def selected_layer(self) -> Layer | None:
        name = self.layers_panel.current_name()
        return self.layers.get(name) if name else None

    def selected_mesh_layer(self) -> Layer | None:
        """The selected mesh layer, else the newest mesh layer that has a mesh."""
        layer = self.selected_layer()
        if layer is not None and layer.is_mesh and layer.data is not None:
            return layer
        meshes = [lay for lay in self.layers.values() if lay.is_mesh and lay.data is not None]
        return meshes[-1] if meshes else None

    def _update_buttons(self, *_: Any) -> None:
        training = self.training
        has_scan = self.active_scan is not None
        loading = self.jobs.find("load") is not None
        self.reconstruct_button.setEnabled(has_scan and not training and not loading and self.recon_panel is not None)
        self.stop_button.setEnabled(training)
        self.continue_button.setEnabled(self.reconstructor is not None and not training and has_scan)
        self.poisson_button.setEnabled(
            has_scan and self.jobs.find("poisson") is None and self.poisson_panel is not None
        )
        self.clean_button.setEnabled(has_scan and self.jobs.find("clean") is None and self.cleaning_panel is not None)
        self.open_button.setEnabled(not loading)
        self.busy_changed.emit(self.busy)

    def report_error(self, message: str) -> None:
        """Show a one-line error from core; the tab stays usable."""
        self.status_message.emit(f"Error: {message}")
        self.job_failed.emit(message)
        if self.error_handler is not None:
            self.error_handler(message)

    def _start(
        self,
        name: str,
        job: Callable,
        *,
        on_result: Callable[[Any], None],
        on_failed: Callable[[str], None] | None = None,
        replace: bool = False,
    ) -> JobHandle:
        t = self.jobs.submit(name, job, replace=replace)
        t.result.connect(on_result)
        t.failed.connect(on_failed or self.report_error)
        t.finished.connect(self._update_buttons)
        t.start()
        self._update_buttons()
        return t

    def _new_name(self, kind: str) -> str:
        self._counter += 1
        return f"{kind}-{self._counter}"

    # ------------------------------------------------------------------ layers --
    def add_layer(self, layer: Layer) -> None:
        self.layers[layer.name] = layer
        self._draw_layer(layer)
        self.layers_panel.add(layer)

    def remove_layer(self, name: str) -> None:
        if name == self.recon_layer and self.training:
            self.report_error("stop the reconstruction before removing its layer")
            return
        self.layers.pop(name, None)
        self.view.remove(name)
        self.view.remove(f"{name}:samples")
        self.layers_panel.remove(name)
        if name == self.recon_layer:
            self.recon_layer = None
            self.reconstructor = None
        if name == self.active_scan_name:
            scans = [lay for lay in self.layers.values() if lay.is_scan]
            self.active_scan_name = scans[-1].name if scans else None
            if scans and not scans[-1].visible:  # undoing a cleaning shows its source again
                scans[-1].visible = True
                self.view.set_visible(scans[-1].name, True)
                self.layers_panel.refresh(scans[-1])
            self._show_scan_info()
        self._update_buttons()

    def _scan_colors(self, scan: Any) -> dict[str, Any]:
        mode = self.color_mode.currentText()
        if mode == "normals" and scan.normals is not None:
            return {"rgb": (np.asarray(scan.normals, dtype=np.float32) + 1.0) / 2.0}
        if mode == "height":
            return {"scalars": scan.points[:, 2]}
        return {}

    def _draw_layer(self, layer: Layer) -> None:
        if layer.data is None:
            return
        if layer.is_scan:
            # dense scans as 1-pixel points, so a surface under them stays visible
            size = 1.0 if len(layer.data) > 20_000 else 2.0
            self.view.set_points(
                layer.name,
                layer.data.points,
                color=layer.color,
                visible=layer.visible,
                opacity=layer.opacity,
                point_size=size,
                **self._scan_colors(layer.data),
            )
        else:
            self.view.set_mesh(
                layer.name,
                layer.data.vertices,
                layer.data.faces,
                color=layer.color,
                visible=layer.visible,
                opacity=layer.opacity,
            )

    def _redraw_scans(self) -> None:
        for layer in self.layers.values():
            if layer.is_scan:
                self._draw_layer(layer)

    def _layer_visibility(self, name: str, visible: bool) -> None:
        self.view.set_visible(name, visible)
        self.view.set_visible(f"{name}:samples", visible and self.show_samples.isChecked())

    def _layer_color(self, name: str, color: str) -> None:
        layer = self.layers.get(name)
        if layer is not None and layer.is_scan:
            self.color_mode.setCurrentText("uniform")
        self.view.set_color(name, color)

    def _layer_selected(self, name: str) -> None:
        layer = self.layers.get(name)
        if layer is not None and layer.is_scan and not self.training:
            self.active_scan_name = name
            self._show_scan_info()
            self._update_buttons()
        self.inspect.reset()

    def _show_scan_info(self) -> None:
        scan = self.active_scan
        if scan is None:
            self.info.setText("No scan loaded.")
            return
        title = self.layers[self.active_scan_name].title
        self.info.setText(f"Active scan: {title}\n" + scan_summary(scan))

    # ----------------------------------------------------------------- loading --
    def open_scans(self, paths: Sequence[str | Path]) -> JobHandle | None:
        """Load (and merge) ``paths`` in the background into a new scan layer."""
        paths = [str(p) for p in paths]
        if not paths:
            return None
        if self.jobs.find("load") is not None:
            self.report_error("a scan is already being loaded")
            return None
        self.load_progress.setVisible(True)
        self.load_progress.setRange(0, 0)
        self.status_message.emit(f"Loading {', '.join(Path(p).name for p in paths)} …")

        def job(token: Any) -> Any:
            from levelset_studio.core.surface.scans.scanio import load_scan

            return load_scan(paths, progress=token.report)

        t = self._start("load", job, on_result=lambda scan: self._scan_ready(scan, paths))
        t.fraction.connect(self._load_fraction)
        t.finished.connect(lambda: self.load_progress.setVisible(False))
        return t

    def _load_fraction(self, fraction: float) -> None:
        self.load_progress.setRange(0, 1000)
        self.load_progress.setValue(int(1000 * fraction))

    def _scan_ready(self, scan: Any, paths: list[str], title: str | None = None, info: dict | None = None) -> None:
        name = self._new_name("scan")
        title = title or (Path(paths[0]).name + (f" (+{len(paths) - 1})" if len(paths) > 1 else ""))
        layer = Layer(name, title, "scan", scan, info={"files": list(paths), "cleaning": None, **(info or {})})
        self.add_layer(layer)
        self.active_scan_name = name
        self._show_scan_info()
        self.view.reset_camera()
        self.status_message.emit(f"Loaded {len(scan):,} points")
        self._update_buttons()
        self.scan_loaded.emit(scan)

    def clean_active_scan(self) -> JobHandle | None:
        scan = self.active_scan
        if scan is None or self.cleaning_panel is None:
            return None
        try:
            config = self.cleaning_panel.config()
        except ConfigError as exc:
            self.report_error(str(exc))
            return None
        source = self.layers[self.active_scan_name]

        def job(token: Any) -> Any:
            from levelset_studio.core.surface.scans.cleaning import clean_scan

            return clean_scan(scan, config)

        def done(out: Any) -> None:
            cleaned, report = out
            from levelset_studio.core.params import config_to_dict

            self._scan_ready(
                cleaned,
                source.info.get("files", []),
                title=f"{source.title} (cleaned)",
                info={"cleaning": config_to_dict(config)},
            )
            # the cleaned layer replaces the source on screen; the source stays (undo = show it again)
            source.visible = False
            self.view.set_visible(source.name, False)
            self.layers_panel.refresh(source)
            cleaned_layer = self.layers[self.active_scan_name]
            cleaned_layer.info["report"] = "Cleaning:\n" + report.summary()
            self.layers_panel.refresh(cleaned_layer)
            self.status_message.emit(f"Cleaned: {report.input_points:,} -> {report.output_points:,} points")

        return self._start("clean", job, on_result=done)

    # ----------------------------------------------------------- reconstruction --
    def start_reconstruction(
        self, *, iterations: int | None = None, time_budget: float | None = None
    ) -> JobHandle | None:
        """Train a new network on the active scan; the surface appears as a new layer."""
        scan = self.active_scan
        if scan is None or self.recon_panel is None or self.training:
            return None
        try:
            config = self.recon_panel.config()
        except ConfigError as exc:
            self.report_error(str(exc))
            return None
        self.reconstructor = None
        self.recon_config = config
        name = self._new_name("levelset")
        self.recon_layer = name
        n = sum(1 for lay in self.layers.values() if lay.kind == "levelset") + 1
        layer = Layer(name, f"Level set #{n}", "levelset", None, info={"config": config, "scan": self.active_scan_name})
        self.layers[name] = layer
        self.layers_panel.add(layer)
        self.loss_plot.clear()

        def job(token: Any) -> Any:
            rec = Reconstructor(scan, config)
            yield ReconstructionStarted(rec)
            yield from rec.run(token, iterations=iterations, time_budget=time_budget)

        return self._run_training(job)

    def continue_reconstruction(
        self, *, iterations: int | None = None, time_budget: float | None = None
    ) -> JobHandle | None:
        """Train the current network further (the same layer updates)."""
        rec = self.reconstructor
        if rec is None or self.training:
            return None
        if self.recon_layer is None or self.recon_layer not in self.layers:
            self.report_error("the reconstruction layer was removed; start a new reconstruction")
            return None

        def job(token: Any) -> Any:
            yield from rec.run(token, iterations=iterations, time_budget=time_budget)

        return self._run_training(job)

    def _run_training(self, job: Callable) -> JobHandle:
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress_text.setText("starting…")
        self._train_started = time.monotonic()
        t = self.jobs.submit("reconstruct", job)
        t.event.connect(self._training_event)
        t.progress.connect(self._on_progress)
        t.snapshot.connect(self._on_snapshot)
        t.result.connect(self._training_finished)
        t.failed.connect(self._training_failed)
        t.cancelled.connect(self._training_stopped)
        t.finished.connect(self._update_buttons)
        t.finished.connect(self.stall_meter.stop)
        self.stall_meter.start()
        t.start()
        self._update_buttons()
        self.status_message.emit("Reconstructing…")
        return t

    def _training_event(self, ev: Any) -> None:
        if isinstance(ev, ReconstructionStarted):
            self.reconstructor = ev.reconstructor
            self.status_message.emit(f"Reconstructing on {ev.reconstructor.device_name}")
        elif isinstance(ev, Message):  # what the engine decided (a failing GPU: on to the CPU)
            self.status_message.emit(ev.text)

    def _on_progress(self, p: Any) -> None:
        if p.total:
            frac = p.step / max(1, p.total)
        elif p.remaining is not None and p.elapsed + p.remaining > 0:
            frac = p.elapsed / (p.elapsed + p.remaining)
        else:
            frac = 0.0
        self.progress.setValue(int(1000 * min(1.0, frac)))
        self.progress.setFormat(f"step {p.step}" + (f" / {p.total}" if p.total else ""))
        parts = [f"elapsed {_fmt_time(p.elapsed)}", f"remaining {_fmt_time(p.remaining)}"]
        m = dict(p.metrics)
        if "loss" in m:
            parts.append(f"loss {m['loss']:.3g}")
        if "converged" in m:
            parts.append(f"samples converged {100 * float(m['converged']):.0f}%")
        self.progress_text.setText(" · ".join(parts))
        self.loss_plot.add(p.step, {k: v for k, v in m.items() if k not in NOT_PLOTTED})

    def _on_snapshot(self, snap: Any) -> None:
        # Keep only the newest; apply at most every SNAPSHOT_APPLY_INTERVAL_MS.
        self._pending_snapshot = snap
        if self._snapshot_timer.isActive():
            return
        # Adaptive: with a slow (software) renderer, leave the GUI thread free at least
        # 3/4 of the time for the user's own interaction with the view.
        interval = max(SNAPSHOT_APPLY_INTERVAL_MS, 4000 * self._last_apply_cost)
        wait = interval - 1000 * (time.monotonic() - self._last_snapshot_apply)
        self._snapshot_timer.start(max(0, int(wait)))

    def _apply_snapshot(self) -> None:
        snap, self._pending_snapshot = self._pending_snapshot, None
        name = self.recon_layer
        if snap is None or name is None or name not in self.layers:
            return
        started = self._last_snapshot_apply = time.monotonic()
        layer = self.layers[name]
        if len(snap.faces) == 0:
            return
        if not self.view.update_mesh(name, snap.vertices, snap.faces):
            self.view.set_mesh(
                name, snap.vertices, snap.faces, color=layer.color, visible=layer.visible, opacity=layer.opacity
            )
        from levelset_studio.core.surface.meshes.mesh import Mesh

        layer.data = Mesh(snap.vertices, snap.faces, name=layer.title)
        layer.info["step"] = snap.step
        if snap.samples is not None and self.show_samples.isChecked():
            self.view.set_points(f"{name}:samples", snap.samples, color="#e0443e", point_size=4.0)
        self.snapshots_applied += 1
        self._last_apply_cost = time.monotonic() - started

    def _samples_toggled(self, on: bool) -> None:
        if self.recon_layer:
            self.view.set_visible(f"{self.recon_layer}:samples", on)

    def _training_finished(self, result: Any) -> None:
        self._snapshot_timer.stop()
        self._pending_snapshot = None
        name = self.recon_layer
        if result is None or name is None or name not in self.layers:
            return
        mesh = result.mesh
        layer = self.layers[name]
        layer.data = mesh
        layer.info.update(steps=getattr(result, "steps", None), elapsed=getattr(result, "elapsed", None))
        if not self.view.update_mesh(name, mesh.vertices, mesh.faces):
            self._draw_layer(layer)
        self.progress.setValue(1000)
        self.progress_text.setText(
            f"done: {getattr(result, 'steps', '?')} steps in {_fmt_time(getattr(result, 'elapsed', None))}"
            f" on {getattr(result, 'device', '?')} · {mesh.n_faces:,} triangles"
        )
        self.status_message.emit(f"Reconstruction finished: {mesh.n_faces:,} triangles")
        self.reconstruction_finished.emit(mesh)

    def _training_failed(self, message: str) -> None:
        self._snapshot_timer.stop()
        if self.recon_layer in self.layers and self.layers[self.recon_layer].data is None:
            self.remove_layer(self.recon_layer)
        self.progress_text.setText("failed")
        self.report_error(message)

    def _training_stopped(self) -> None:
        self.progress_text.setText("stopped: Continue resumes training" if self.reconstructor else "stopped")
        self.status_message.emit("Reconstruction stopped")
        # Show the newest snapshot the worker sent before stopping.
        if self._pending_snapshot is not None:
            self._snapshot_timer.stop()
            self._apply_snapshot()

    def stop(self) -> None:
        """Stop training (cooperatively, at the next step)."""
        t = self.jobs.find("reconstruct")
        if t is not None:
            t.cancel()

    def shutdown(self, timeout_s: float = 2.0) -> bool:
        """Cancel every job and wait for them (window closing); True when all stopped."""
        self._snapshot_timer.stop()
        ok = self.jobs.stop_all(timeout_s)
        self.view.close_view()
        return ok

    # ------------------------------------------------------------------ poisson --
    def run_poisson(self) -> JobHandle | None:
        scan = self.active_scan
        if scan is None or self.poisson_panel is None:
            return None
        try:
            config = self.poisson_panel.config()
        except ConfigError as exc:
            self.report_error(str(exc))
            return None

        def job(token: Any) -> Any:
            from levelset_studio.core.surface.reconstruction.poisson import poisson_reconstruct

            return poisson_reconstruct(scan, config, token)

        def done(mesh: Any) -> None:
            n = sum(1 for lay in self.layers.values() if lay.kind == "poisson") + 1
            self.add_layer(Layer(self._new_name("poisson"), f"Poisson #{n}", "poisson", mesh, info={"config": config}))
            self.status_message.emit(f"Poisson finished: {mesh.n_faces:,} triangles")
            self.poisson_finished.emit(mesh)

        self.status_message.emit("Running screened Poisson…")
        return self._start("poisson", job, on_result=done)

    # ------------------------------------------------------------------ inspect --
    def _inspect_target(self) -> tuple[Layer, Any] | None:
        layer = self.selected_mesh_layer()
        scan = self.active_scan
        if layer is None or scan is None:
            self.report_error("select a reconstructed mesh to inspect (and load its scan)")
            return None
        if layer.name == self.recon_layer and self.training:
            self.report_error("stop the reconstruction before inspecting its mesh")
            return None
        return layer, scan

    def evaluate_selected(self) -> JobHandle | None:
        """Colour the mesh by distance to the scan; histogram and metrics (in core, in a worker)."""
        target = self._inspect_target()
        if target is None:
            return None
        layer, scan = target
        mesh = layer.data

        def job(token: Any) -> Any:
            from levelset_studio.core.surface.evaluation import (
                distance_histogram,
                evaluate_reconstruction,
                vertex_distances,
            )

            d = vertex_distances(mesh, scan.points)
            token.raise_if_cancelled()
            counts, edges = distance_histogram(d, 40)
            # 200k surface samples: ~0.7 s instead of ~5 s for the default 1M, same digits shown
            report = evaluate_reconstruction(mesh, scan.points, n_samples=200_000, scan_normals=scan.normals)
            return d, counts, edges, report

        def done(out: Any) -> None:
            d, counts, edges, report = out
            if layer.name not in self.layers:
                return
            layer.info["distances"] = d
            hi = float(np.percentile(d, 99)) if len(d) else 1.0
            self.view.set_mesh(
                layer.name,
                mesh.vertices,
                mesh.faces,
                scalars=d,
                clim=(0.0, max(hi, 1e-12)),
                scalar_title="distance to scan",
                opacity=layer.opacity,
                visible=layer.visible,
            )
            self.inspect.histogram.set_data(counts, edges, "scan units")
            self.inspect.metrics.setPlainText(report.format())
            layer.info["report"] = report

        return self._start("evaluate", job, on_result=done)

    def _diagonal(self) -> float:
        scan = self.active_scan
        return float(np.linalg.norm(scan.bbox_max - scan.bbox_min)) if scan is not None else 1.0

    def _trim_preview(self, fraction: float) -> None:
        layer = self.selected_mesh_layer()
        scan = self.active_scan
        if layer is None or scan is None or (layer.name == self.recon_layer and self.training):
            return
        mesh = layer.data
        if fraction < 0:
            self.inspect.histogram.set_marker(None)
            self.view.update_mesh(layer.name, mesh.vertices, mesh.faces, same_vertices=True)
            layer.info.pop("trimmed", None)
            return
        distance = fraction * self._diagonal()
        self.inspect.histogram.set_marker(distance)
        self.inspect.set_trim_text(f"{100 * fraction:.1f}% ({distance:.3g})")

        def job(token: Any) -> Any:
            from levelset_studio.core.surface.meshes.meshing import near_faces_mask

            keep = near_faces_mask(mesh, scan.points, distance)
            return keep, mesh.with_faces(keep)

        def done(out: Any) -> None:
            keep, trimmed = out
            if layer.name in self.layers and self.inspect.trim_fraction() == fraction:
                layer.info["trimmed"] = (fraction, trimmed)
                # the preview keeps every vertex, so distance colours stay on the kept faces
                self.view.update_mesh(layer.name, mesh.vertices, mesh.faces[keep], same_vertices=True)

        self._start("trim", job, on_result=done, replace=True)  # only the newest preview matters

    def _trim_apply(self, fraction: float) -> None:
        layer = self.selected_mesh_layer()
        if layer is None or fraction < 0:
            return
        trimmed = layer.info.get("trimmed")
        if not trimmed or trimmed[0] != fraction:
            self.report_error("the trimming preview is not ready yet")
            return
        mesh = trimmed[1]
        self.view.update_mesh(layer.name, layer.data.vertices, layer.data.faces, same_vertices=True)
        self.inspect.reset()
        self.add_layer(
            Layer(self._new_name("trimmed"), f"{layer.title} trimmed {100 * fraction:.1f}%", "trimmed", mesh)
        )

    # ------------------------------------------------------------------- export --
    def export_mesh(self, path: str | Path, layer: Layer | None = None) -> Path:
        """Write the selected (or newest) mesh in the scan's own coordinates."""
        from levelset_studio.core.surface.meshes.meshio import write_mesh

        layer = layer or self.selected_mesh_layer()
        if layer is None or layer.data is None:
            raise LevelSetError("no reconstructed mesh to export yet")
        protect = []
        for lay in self.layers.values():
            protect += list(lay.info.get("files", []))
        return write_mesh(layer.data, path, protect=tuple(protect))

    # ------------------------------------------------------------------ session --
    # (what a session holds and how it comes back: app/reconstruct/session_io.py)
    def session_data(self) -> Any:
        from levelset_studio.app.reconstruct.session_io import session_from_tab

        return session_from_tab(self)

    def save_session(self, path: str | Path) -> Path:
        from levelset_studio.core.surface.session import write_session

        if self.training:
            raise LevelSetError("stop the reconstruction before saving the session")
        data = self.session_data()
        rec = self.reconstructor
        writer = None if rec is None else rec.save_checkpoint
        return write_session(path, data, writer)

    def ask_for_file(self, missing: str) -> str | None:
        """Where a session's moved scan is now (a file dialog; tests replace it)."""
        from levelset_studio.app.reconstruct.session_io import ask_for_scan

        return ask_for_scan(self, missing)

    def load_session(self, path: str | Path, replacements: dict[str, str] | None = None) -> JobHandle | None:
        """Reopen a session: every layer, settings, loss history and the network (Continue trains on)."""
        from levelset_studio.app.reconstruct import session_io
        from levelset_studio.core.errors import ScanMovedError

        if self.busy:
            self.report_error("wait for the running job to finish (or stop it) before loading a session")
            return None
        repl = dict(replacements or {})

        def done(out: Any) -> None:
            if isinstance(out, ScanMovedError):  # ask where the scan is now, then try again
                found = self.ask_for_file(out.missing)
                if not found:
                    self.report_error(str(out))
                    return
                repl[out.missing] = found
                handle.finished.connect(lambda: self.load_session(path, repl), Qt.ConnectionType.SingleShotConnection)
                return
            session_io.apply_restored(self, out)
            self._update_buttons()
            self.session_loaded.emit(str(path))

        self.status_message.emit(f"Loading session {Path(path).name} …")
        handle = self._start("load", session_io.restore_job(path, repl), on_result=done)
        return handle
