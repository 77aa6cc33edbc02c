"""The Robustness tab: train classifiers, watch their decision boundaries move, attack
single inputs, measure noise, transformation and saliency, and compare models.

An assembly of panels: ``ControlsPanel`` (settings, Train / Stop / Reset, progress, the
attack) on the left; on the right the pages ``MapPage`` (2D data) or ``ImagePage``
(digits, MNIST), ``AnalysisPage``, ``NoisePanel`` and ``CompareView``. All computation
happens in ``core`` (``core.robust.lab`` and ``core.robust.probes``) in jobs of the one
``JobRunner``; this module routes the jobs' events to the panels. Files (save / load,
exports) are in ``lab_files``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.app.jobs import JobRunner
from levelset_studio.app.robustness.attack_actions import AttackActionsMixin
from levelset_studio.app.robustness.compare import CompareView
from levelset_studio.app.robustness.controls import EPS_MAX, EPS_STEPS, INTERACTIVE_TRAINING, ControlsPanel
from levelset_studio.app.robustness.lab_files import LabFilesMixin
from levelset_studio.app.robustness.noise_panel import NoisePanel
from levelset_studio.app.robustness.pages import MAP_HINT, AnalysisPage, ImagePage, MapPage
from levelset_studio.app.robustness.probe_actions import GALLERY_SIZE, ProbeActionsMixin
from levelset_studio.core.errors import LevelSetError
from levelset_studio.core.events import CancelToken, Finished, Progress
from levelset_studio.core.params import config_to_dict
from levelset_studio.core.robust import probes
from levelset_studio.core.robust.lab import (
    ImageAttack,
    Lab,
    LabSettings,
    PointAnalysis,
    PointAttack,
    RegionSnapshot,
)

__all__ = ["EPS_MAX", "EPS_STEPS", "GALLERY_SIZE", "INTERACTIVE_TRAINING", "RobustnessTab"]


class RobustnessTab(AttackActionsMixin, ProbeActionsMixin, LabFilesMixin, QWidget):
    """The Robustness tab (a plain QWidget the main window puts in its tab bar)."""

    statusMessage = Signal(str)
    trainingFinished = Signal()  # after a training run ended (finished, stopped or failed)
    idle = Signal()  # no background job left running

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.lab = Lab()
        self.selection: tuple[str, int] | None = None  # ("train"|"test", index)
        self.last_point_attack: PointAttack | None = None
        self.last_image_attack: ImageAttack | None = None
        self.last_analysis: PointAnalysis | None = None
        self.last_point_noise: probes.PointNoise | None = None
        self._shutting_down = False
        self._stopping = False
        self.errors: list[str] = []  # every message shown to the user (tests read them)
        self.error_boxes: list[QMessageBox] = []
        # Inside the main window errors go through its handler (dialog, or exit 2 with --quit).
        parent_handler = getattr(parent, "error_handler", None)
        self.error_handler = (lambda m: parent.error_handler(m)) if callable(parent_handler) else self.show_error
        status_bar = getattr(parent, "statusBar", None)
        if callable(status_bar):  # inside the main window: short messages go to its status bar
            self.statusMessage.connect(lambda m: status_bar().showMessage(m, 8000))
        # One runner; each kind of job has one handler of its events (Finished carries the
        # result) and only the newest job of a kind is shown (submit(..., replace=True)).
        self.jobs = JobRunner(self)
        self._handlers: dict[str, Callable[[Any], None]] = {
            "train": self._on_train_event,
            "attack": self._on_attack_event,
            "overlay": self._on_overlay_event,
            "analysis": self._on_analysis_event,
            "curve": self._on_curve_event,
            "compare": self._on_compare_event,
            "gallery": self._on_gallery_event,
            "point_noise": self._on_point_noise_event,
            "noise": self._on_noise_event,
            "transform": self._on_transform_event,
            "saliency": self._on_saliency_event,
            "compare_saliency": self._on_compare_saliency_event,
        }
        self._trained_with: dict | None = None  # training settings of the model shown
        self._worst: probes.TransformSummary | None = None
        self._gallery_data: tuple | None = None

        self._build_ui()
        self._attack_timer = QTimer(self)
        self._attack_timer.setSingleShot(True)
        self._attack_timer.setInterval(150)
        self._attack_timer.timeout.connect(self._attack_selection)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        # The data is loaded when the tab is first shown (or used): building the main
        # window stays fast, and nothing is imported for users of the Reconstruct tab.
        self._initialized = False

    def ensure_initialized(self) -> None:
        if not self._initialized:
            self._initialized = True
            self._settings_changed()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._initialized:
            QTimer.singleShot(0, self.ensure_initialized)

    # ================================================================== UI
    def _build_ui(self) -> None:
        """Assemble the panels: controls on the left, the view pages on the right."""
        self.controls = c = ControlsPanel()
        for name in (
            "dataset_panel",
            "model_panel",
            "train_panel",
            "load_model_button",
            "model_source_label",
            "seed_spin",
            "train_button",
            "stop_button",
            "reset_button",
            "progress",
            "metrics_label",
            "curves",
            "attack_combo",
            "eps_slider",
            "eps_label",
            "save_button",
            "load_button",
        ):
            setattr(self, name, getattr(c, name))
        for panel in (c.dataset_panel, c.model_panel, c.train_panel):
            panel.changed.connect(self._settings_changed)
        c.seed_spin.valueChanged.connect(self._settings_changed)
        c.load_model_button.clicked.connect(self._ask_user_model)
        c.train_button.clicked.connect(self.start_training)
        c.stop_button.clicked.connect(self.stop_training)
        c.reset_button.clicked.connect(self.reset)
        c.attack_combo.currentIndexChanged.connect(self._attack_settings_changed)
        c.eps_slider.valueChanged.connect(self._attack_settings_changed)
        c.save_button.clicked.connect(self._ask_save)
        c.load_button.clicked.connect(self._ask_load)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(c)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        c.setMinimumWidth(330)
        scroll.setMinimumWidth(350)

        self.views = QTabWidget()
        self.map_page = MapPage()
        self.map, self.map_info, self.overlay_checks = (
            self.map_page.map,
            self.map_page.map_info,
            self.map_page.overlay_checks,
        )
        self.map.pointClicked.connect(self.select_point)
        self.map_page.overlaysChanged.connect(self._overlays_changed)
        self.map_page.exportPngRequested.connect(
            lambda: self._ask_export(self.export_map_png, "decision_regions.png", "PNG image (*.png)")
        )
        self.map_page.exportCsvRequested.connect(
            lambda: self._ask_export(self.export_map_csv, "decision_regions.csv", "CSV (*.csv)")
        )
        self.image_page = ImagePage()
        self.gallery, self.adv_view, self.saliency_view = (
            self.image_page.gallery,
            self.image_page.adv_view,
            self.image_page.saliency,
        )
        self.gallery.imageSelected.connect(lambda i: self.select_point("test", i))
        self.image_page.show_combo.currentIndexChanged.connect(self._show_gallery)
        self.data_stack = QStackedWidget()
        self.data_stack.addWidget(self.map_page)
        self.data_stack.addWidget(self.image_page)
        self.views.addTab(self.data_stack, "Decision regions")

        self.analysis_page = AnalysisPage()
        a = self.analysis_page
        self.section_plot, self.curvature_plot, self.eps_plot = a.section_plot, a.curvature_plot, a.eps_plot
        self.curve_button, self.analysis_info = a.curve_button, a.analysis_info
        self.curve_button.clicked.connect(self.compute_eps_curve)
        self.views.addTab(a, "Analysis")

        self.noise_panel = NoisePanel()
        self.noise_panel.noiseRequested.connect(self.measure_noise)
        self.noise_panel.transformRequested.connect(self.search_transformations)
        self.views.addTab(self.noise_panel, "Noise")

        self.compare = CompareView()
        self.compare.setSlotRequested.connect(self.set_compare_slot)
        self.compare.loadSlotRequested.connect(self._ask_compare_load)
        self.compare.compareRequested.connect(self.run_compare)
        self.views.addTab(self.compare, "Compare")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(self.views)
        split.setStretchFactor(1, 1)
        split.setSizes([395, 900])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self._update_eps_label()
        self._update_buttons()

    # ============================================================== settings
    @property
    def eps(self) -> float:
        return self.controls.eps

    def set_eps(self, eps: float) -> None:
        self.controls.set_eps(eps)

    def _update_eps_label(self) -> None:
        self.controls.update_eps_label()

    def _read_settings(self) -> LabSettings:
        return LabSettings(
            dataset=self.dataset_panel.config(seed=self.seed_spin.value()),
            model=self.model_panel.config(),
            train=self.train_panel.config(),
            seed=self.seed_spin.value(),
        )

    def _show_settings(self, settings: LabSettings) -> None:
        for panel in (self.dataset_panel, self.model_panel, self.train_panel, self.seed_spin):
            panel.blockSignals(True)
        try:
            self.dataset_panel.set_config(settings.dataset)
            self.model_panel.set_config(settings.model)
            self.train_panel.set_config(settings.train)
            self.seed_spin.setValue(settings.seed)
        finally:
            for panel in (self.dataset_panel, self.model_panel, self.train_panel, self.seed_spin):
                panel.blockSignals(False)

    def _settings_changed(self) -> None:
        """A dataset, model or seed change resets cleanly (stop, drop the model, show the
        new data). A training-setting change keeps the trained model until the user
        retrains, and says so."""
        self.controls.update_context()
        if not self._initialized:
            return  # shown later with the settings as they are then
        try:
            settings = self._read_settings()
        except LevelSetError as exc:
            self._set_info(f"⚠ {exc}")
            return
        old = self.lab.settings
        only_training = (
            self.lab.model is not None
            and not self.lab.model_source
            and config_to_dict(settings.dataset) == config_to_dict(old.dataset)
            and config_to_dict(settings.model) == config_to_dict(old.model)
            and settings.seed == old.seed
        )
        if only_training:
            if self._running("train"):
                return  # the panels are disabled while training; nothing to do
            stale = config_to_dict(settings.train) != (self._trained_with or config_to_dict(old.train))
            self.controls.set_stale(
                "Training settings changed: the model shown was trained with the previous ones. "
                "Press Retrain to train a new model with these settings."
                if stale
                else ""
            )
            self._update_buttons()
            return
        self._stop_all()
        self.lab.settings = settings
        self.lab.reset()
        self._refresh_data_view()

    @property
    def settings_stale(self) -> bool:
        """True while the training settings shown differ from those of the trained model."""
        return self.controls.stale_label.isVisible()

    def _refresh_data_view(self) -> None:
        """Show the dataset of the current settings with no model."""
        self.selection = None
        self.last_point_attack = self.last_image_attack = self.last_analysis = self.last_point_noise = None
        self.curves.reset()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.metrics_label.setText("not trained")
        self.map.clear()
        self.gallery.clear()
        self.adv_view.clear()
        self.section_plot.data = None
        self.section_plot._draw()
        self.curvature_plot.clear_profiles()
        self.eps_plot.clear_curves()
        self.model_source_label.setText("")
        self.model_source_label.setVisible(False)
        self.controls.set_stale("")
        self._trained_with = None
        self._worst = None
        self._gallery_data = None
        self.saliency_view.clear()
        self.image_page.enable_worst(False)
        self.map_info.setText(MAP_HINT)
        try:
            ds = self.lab.load_data()
        except LevelSetError as exc:
            self._set_info(f"⚠ {exc}")
            self._update_buttons()
            return
        self.noise_panel.clear(images=not ds.is_2d)
        if ds.is_2d:
            self.data_stack.setCurrentIndex(0)
            self.views.setTabText(0, "Decision regions")
            from levelset_studio.core.robust.lab import TOY_EXTENT

            self.map.set_data(ds.x_train.numpy(), ds.y_train.numpy(), ds.x_test.numpy(), ds.y_test.numpy(), TOY_EXTENT)
            self.map.set_eps(self.eps, self.attack_norm())
            self._overlays_changed()
        else:
            self.data_stack.setCurrentIndex(1)
            self.views.setTabText(0, "Images")
            n = min(GALLERY_SIZE, len(ds.y_test))
            self.gallery.set_images(ds.x_test[:n].numpy(), ds.y_test[:n].numpy(), None, ds.class_names)
        self.map_page.summary.setText(ds.summary())
        self.image_page.summary.setText(ds.summary())
        self.statusMessage.emit(ds.summary())
        self._update_buttons()

    def _run(self, name: str, job: Callable[[CancelToken], Any]) -> None:
        """Run ``job`` as the newest job of its kind; its events go to the kind's handler."""
        handler = self._handlers[name]
        h = self.jobs.submit(name, job, replace=True)
        started = time.monotonic()
        for signal in (h.event, h.progress, h.snapshot):
            signal.connect(handler)
        h.result.connect(lambda r: handler(Finished(result=r, elapsed=time.monotonic() - started)))
        h.failed.connect(lambda msg: self._job_failed(name, msg))
        if name == "train":
            h.finished.connect(self._on_train_done)
        h.finished.connect(self._check_idle)
        h.start()

    def _running(self, name: str) -> bool:
        return self.jobs.find(name) is not None

    def _set_info(self, text: str) -> None:
        self.map_info.setText(text)
        self.statusMessage.emit(text)

    def _update_buttons(self) -> None:
        training = self._running("train")
        self.train_button.setEnabled(not training and self.lab.trainable)
        if self.settings_stale and not training:
            self.train_button.setText("Retrain")
        else:
            self.train_button.setText("Continue" if self.lab.trainer is not None and not training else "Train")
        self.controls.set_running(training)

    # ============================================================== training
    def start_training(self) -> None:
        """Train (or continue) in the background; the map redraws as the model changes."""
        self.ensure_initialized()
        if self._running("train"):
            return
        if self.lab.model_source:
            self._error("A loaded user model cannot be trained here; press Reset to build a new model.")
            return
        try:
            settings = self._read_settings()
            if self.settings_stale:  # Retrain: a new model with the new training settings
                self.lab.reset()
                self._refresh_data_view()
            self.lab.settings = settings
            self.lab.load_data()
        except LevelSetError as exc:
            self._error(str(exc))
            return
        self._trained_with = config_to_dict(settings.train)
        self._run("train", self.lab.train_job)
        self.metrics_label.setText("training…")
        self._update_buttons()

    def stop_training(self) -> None:
        self.jobs.cancel("train")

    def reset(self) -> None:
        self._stop_all()
        self.lab.reset()
        self._refresh_data_view()

    def _on_train_event(self, ev: Any) -> None:
        if isinstance(ev, RegionSnapshot):
            self.map.set_region(ev.predicted, ev.confidence, ev.num_classes, ev.extent)
        elif isinstance(ev, Progress):
            if ev.total:
                self.progress.setRange(0, int(ev.total))
                self.progress.setValue(int(ev.step))
            m = ev.metrics
            if m and "test_acc" in m:  # end of an epoch: the live train/test loss and accuracy
                self.metrics_label.setText(
                    f"{ev.message}\ntrain: loss {m.get('train_loss', float('nan')):.3f}, accuracy {m.get('train_acc', float('nan')):.1%}"
                    f"\ntest: loss {m.get('test_loss', float('nan')):.3f}, accuracy {m['test_acc']:.1%}"
                )
                self.curves.add(
                    m.get("epoch", ev.step), {k: v for k, v in m.items() if k not in ("epoch", "train_time")}
                )
            elif m:
                rem = f", ~{ev.remaining:.0f} s left" if ev.remaining else ""
                lines = self.metrics_label.text().split("\n")
                head = f"epoch {m.get('epoch', 0):.2f}: batch loss {m.get('batch_loss', float('nan')):.3f}{rem}"
                self.metrics_label.setText("\n".join([head, *lines[1:3]]))
        elif isinstance(ev, Finished):
            self.progress.setValue(self.progress.maximum())
            lines = self.metrics_label.text().split("\n")
            self.metrics_label.setText(
                "\n".join([f"trained {self.lab.epochs_done} epochs (this run {ev.elapsed:.1f} s)", *lines[1:3]])
            )

    def _on_train_done(self) -> None:
        self._update_buttons()
        if self._shutting_down or self._stopping:
            return
        if self.lab.model is not None:
            self._model_changed()
        self.trainingFinished.emit()

    def _model_changed(self) -> None:
        """After training or loading: refresh everything that shows the model."""
        ds = self.lab.dataset
        if ds is None or self.lab.model is None:
            return
        self.model_source_label.setText(
            f"user model: {Path(self.lab.model_source).name}" if self.lab.model_source else ""
        )
        self.model_source_label.setVisible(bool(self.lab.model_source))
        model = self.lab.snapshot_model()
        if ds.is_2d:
            self._run("overlay", lambda tok: self._overlay_job(model, tok))
        else:
            n = min(GALLERY_SIZE, len(ds.y_test))
            self._run("gallery", lambda tok: self.lab.predictions(model, n))
        if self.selection is not None:
            self._attack_selection()
        self.compute_eps_curve()

    # ============================================================== 2D overlays
    def _overlay_job(self, model: Any, tok) -> dict:
        out: dict[str, Any] = {"region": self.lab.region_snapshot(model, -1, 0.0)}
        # search radius of the boundary sampler: wide enough to reach the boundary from most points
        radius = max(self.eps, getattr(self.lab.settings.train, "eps", 0.0), 0.1)
        out["boundary"] = self.lab.boundary_samples(model, radius)
        tok.raise_if_cancelled()
        out["patterns"] = self.lab.activation_patterns(model)
        return out

    def _on_overlay_event(self, ev: Any) -> None:
        if isinstance(ev, Finished):
            r = ev.result
            g = r["region"]
            self.map.set_region(g.predicted, g.confidence, g.num_classes, g.extent)
            self.map.set_boundary(r["boundary"])
            self.map.set_patterns(r["patterns"])
            self.overlay_checks["regions"].setEnabled(r["patterns"] is not None)
            self.overlay_checks["regions"].setToolTip(
                "Linear regions of the ReLU network, coloured by activation pattern"
                if r["patterns"] is not None
                else "Only for ReLU networks"
            )

    def _overlays_changed(self) -> None:
        self.map_page.apply_overlays()

    # ============================================================== CLI hooks
    def apply_cli_options(self, dataset: str | None = None, train: bool = False) -> None:
        """`levelset gui --tab robustness [--dataset D] [--train]`: pick the dataset and
        optionally start training (``trainingFinished`` is emitted when it ends)."""
        self.ensure_initialized()
        if dataset:
            editor = self.dataset_panel.editor("name")
            idx = editor.findData(dataset)
            if idx < 0:
                self._error(f"unknown dataset {dataset!r}")
                return
            editor.setCurrentIndex(idx)  # -> _settings_changed
        if train:
            self.start_training()

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    # ============================================================== errors / shutdown
    def _error(self, message: str) -> None:
        self.errors.append(message)
        self.statusMessage.emit(message)
        if self._shutting_down:
            return
        self.error_handler(message)

    def show_error(self, message: str) -> QMessageBox:
        """A non-blocking dialog with core's one-line message (the tab stays usable)."""
        self.error_boxes = [b for b in self.error_boxes if b.isVisible()]
        box = QMessageBox(QMessageBox.Icon.Warning, "Robustness", message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("error_dialog")
        box.open()  # not exec(): never block the event loop (and tests can close it)
        self.error_boxes.append(box)
        return box

    def _job_failed(self, name: str, message: str) -> None:
        if name == "curve":
            self.curve_button.setEnabled(True)
        if name in ("noise", "transform"):
            self.noise_panel.set_busy(name, False)
        self._error(message)

    def _check_idle(self) -> None:
        if not self.busy:
            self.idle.emit()

    def _stop_all(self) -> None:
        """Cancel and wait for every job (a reset); no follow-up job is started."""
        if hasattr(self, "_attack_timer"):
            self._attack_timer.stop()
        self._stopping = True
        try:
            self.jobs.stop_all(5.0)
        finally:
            self._stopping = False
        if hasattr(self, "train_button"):
            self._update_buttons()

    def shutdown(self) -> None:
        """Stop every background job (closing the window): cancel, then wait for the threads."""
        self._shutting_down = True
        self.jobs.stop_all(5.0)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
