"""The Robustness tab: train classifiers, watch their decision boundaries move, attack
single inputs and compare models.

Left: dataset / model / training settings built from the engine's parameter
descriptions (the same as the CLI's flags), the seed, Train / Stop / Reset, progress
and live curves, the attack and its epsilon. Right: the decision-region map (2D
data) or the image gallery with the adversarial view (digits, MNIST), the analysis
figures (cross-section, loss surface, curvature, accuracy against epsilon) and
Compare. All computation happens in ``core`` through ``core.robust.lab``, in
worker threads (``app.robustness.workers``); widgets are touched only here.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.app.jobs import JobRunner
from levelset_studio.app.robustness.compare import CompareView
from levelset_studio.app.robustness.widgets.images import AdversarialView, Gallery
from levelset_studio.app.robustness.widgets.live_curves import LiveCurves
from levelset_studio.app.robustness.widgets.plots import CrossSectionPlot, CurvaturePlot, EpsCurvePlot
from levelset_studio.app.robustness.widgets.region_map import AttackPath, RegionMap
from levelset_studio.app.widgets.params_panel import ParamsPanel
from levelset_studio.core.errors import LevelSetError
from levelset_studio.core.events import CancelToken, Finished, Progress
from levelset_studio.core.robust.config import TrainConfig
from levelset_studio.core.robust.data import DatasetConfig
from levelset_studio.core.robust.lab import (
    ATTACK_NAMES,
    ComparedCurve,
    ComparedSection,
    EpsCurve,
    ImageAttack,
    Lab,
    LabSettings,
    PointAnalysis,
    PointAttack,
    RegionSnapshot,
)
from levelset_studio.core.robust.models import ModelConfig

GALLERY_SIZE = 60
# Starting values of the lab's training settings (the CLI's defaults suit long runs; here a
# 2D set should separate within seconds, as in TensorFlow Playground). Same descriptions,
# same validation: only the values the panel starts with differ.
INTERACTIVE_TRAINING = {"epochs": 10, "batch_size": 64, "lr": 0.02}
EPS_STEPS = 100  # slider positions
EPS_MAX = 0.5
PGD_COLOR = QColor("#d62728")
DEEPFOOL_COLOR = QColor("#111111")


class RobustnessTab(QWidget):
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
        }

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
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(4, 4, 4, 4)

        self.dataset_panel = ParamsPanel(DatasetConfig, exclude=("seed",))
        self.model_panel = ParamsPanel(ModelConfig)
        self.train_panel = ParamsPanel(TrainConfig, exclude=("seed",), values=INTERACTIVE_TRAINING)
        for title, panel in (
            ("Dataset", self.dataset_panel),
            ("Model", self.model_panel),
            ("Training", self.train_panel),
        ):
            box = QGroupBox(title)
            bl = QVBoxLayout(box)
            bl.setContentsMargins(6, 6, 6, 6)
            bl.addWidget(panel)
            if panel is self.model_panel:
                self.load_model_button = QPushButton("Load exported model…")
                self.load_model_button.setToolTip(
                    "Use your own classifier (torch.export .pt2, or TorchScript .pt) on the chosen dataset.\n"
                    "Both formats run code from the file: only load models you trust."
                )
                self.load_model_button.clicked.connect(self._ask_user_model)
                self.model_source_label = QLabel("")
                self.model_source_label.setWordWrap(True)
                bl.addWidget(self.load_model_button)
                bl.addWidget(self.model_source_label)
            lv.addWidget(box)
            panel.changed.connect(self._settings_changed)

        seed_row = QHBoxLayout()
        seed_row.addWidget(QLabel("Seed"))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip(
            "One seed for the data split, the initial weights, the training order and the attacks"
        )
        self.seed_spin.valueChanged.connect(self._settings_changed)
        seed_row.addWidget(self.seed_spin, 1)
        lv.addLayout(seed_row)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Train the model (again: continue training)")
        self.stop_button = QPushButton("Stop")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the model and start from fresh weights")
        self.train_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop_training)
        self.reset_button.clicked.connect(self.reset)
        for b in (self.train_button, self.stop_button, self.reset_button):
            buttons.addWidget(b)
        lv.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        lv.addWidget(self.progress)
        self.metrics_label = QLabel("not trained")
        self.metrics_label.setWordWrap(True)
        lv.addWidget(self.metrics_label)
        self.curves = LiveCurves()
        self.curves.setMinimumHeight(230)
        lv.addWidget(self.curves)

        attack_box = QGroupBox("Attack")
        af = QFormLayout(attack_box)
        self.attack_combo = QComboBox()
        for a in ATTACK_NAMES:
            self.attack_combo.addItem(a)
        self.attack_combo.setToolTip(
            "Attack used in the image view and for the accuracy-vs-eps curve; "
            "on 2D data pgd-l2 attacks clicked points in L2 (round eps-balls), "
            "the others in L-inf"
        )
        self.eps_slider = QSlider(Qt.Orientation.Horizontal)
        self.eps_slider.setRange(0, EPS_STEPS)
        self.eps_slider.setValue(10)
        self.eps_label = QLabel()
        self.eps_slider.setToolTip("L-inf radius of the attack, in input units (inputs live in [0, 1])")
        af.addRow("Attack", self.attack_combo)
        af.addRow(self.eps_label, self.eps_slider)
        self.attack_combo.currentIndexChanged.connect(self._attack_settings_changed)
        self.eps_slider.valueChanged.connect(self._attack_settings_changed)
        lv.addWidget(attack_box)

        lab_row = QHBoxLayout()
        self.save_button = QPushButton("Save lab…")
        self.load_button = QPushButton("Load lab…")
        self.save_button.setToolTip("Save the settings and seed (JSON) and the weights (checkpoint next to it)")
        self.save_button.clicked.connect(self._ask_save)
        self.load_button.clicked.connect(self._ask_load)
        lab_row.addWidget(self.save_button)
        lab_row.addWidget(self.load_button)
        lv.addLayout(lab_row)
        lv.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.setMinimumWidth(330)
        scroll.setMinimumWidth(350)

        # ---- right: views
        self.views = QTabWidget()
        # 2D map page
        self.map = RegionMap()
        self.map.pointClicked.connect(self.select_point)
        map_page = QWidget()
        mv = QVBoxLayout(map_page)
        ov = QHBoxLayout()
        checks = QGridLayout()  # two rows: the tab stays narrow enough for small windows
        self.overlay_checks: dict[str, QCheckBox] = {}
        for k, (key, text, on) in enumerate(
            (
                ("train", "training points", True),
                ("test", "test points", True),
                ("boundary", "boundary samples", True),
                ("eps", "eps-balls", False),
                ("regions", "linear regions", False),
            )
        ):
            cb = QCheckBox(text)
            cb.setChecked(on)
            cb.toggled.connect(self._overlays_changed)
            checks.addWidget(cb, k // 3, k % 3)
            self.overlay_checks[key] = cb
        ov.addLayout(checks)
        ov.addStretch(1)
        self.map_png = QPushButton("PNG…")
        self.map_csv = QPushButton("CSV…")
        self.map_png.clicked.connect(
            lambda: self._ask_export(self.export_map_png, "decision_regions.png", "PNG image (*.png)")
        )
        self.map_csv.clicked.connect(
            lambda: self._ask_export(self.export_map_csv, "decision_regions.csv", "CSV (*.csv)")
        )
        ov.addWidget(self.map_png)
        ov.addWidget(self.map_csv)
        mv.addLayout(ov)
        mv.addWidget(self.map, 1)
        self.map_info = QLabel("Click a point to attack it with PGD (red) and DeepFool (black).")
        self.map_info.setWordWrap(True)
        mv.addWidget(self.map_info)
        # image page
        image_page = QSplitter(Qt.Orientation.Horizontal)
        self.gallery = Gallery()
        self.gallery.imageSelected.connect(lambda i: self.select_point("test", i))
        self.adv_view = AdversarialView()
        image_page.addWidget(self.gallery)
        image_page.addWidget(self.adv_view)
        image_page.setSizes([380, 520])
        self.data_stack = QStackedWidget()
        self.data_stack.addWidget(map_page)
        self.data_stack.addWidget(image_page)
        self.views.addTab(self.data_stack, "Decision regions")

        # analysis page
        analysis_page = QWidget()
        ag = QGridLayout(analysis_page)
        self.section_plot = CrossSectionPlot()
        self.curvature_plot = CurvaturePlot()
        self.eps_plot = EpsCurvePlot()
        self.curve_button = QPushButton("Compute accuracy vs eps")
        self.curve_button.clicked.connect(self.compute_eps_curve)
        self.analysis_info = QLabel("Select an input (click a point or an image) to analyze it.")
        self.analysis_info.setWordWrap(True)
        ag.addWidget(self.analysis_info, 0, 0, 1, 2)
        ag.addWidget(self.section_plot, 1, 0, 1, 2)
        ag.addWidget(self.curvature_plot, 2, 0)
        eps_box = QWidget()
        eb = QVBoxLayout(eps_box)
        eb.setContentsMargins(0, 0, 0, 0)
        eb.addWidget(self.eps_plot, 1)
        eb.addWidget(self.curve_button)
        ag.addWidget(eps_box, 2, 1)
        self.views.addTab(analysis_page, "Analysis")

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
        return EPS_MAX * self.eps_slider.value() / EPS_STEPS

    def set_eps(self, eps: float) -> None:
        self.eps_slider.setValue(round(eps / EPS_MAX * EPS_STEPS))

    def _update_eps_label(self) -> None:
        self.eps_label.setText(f"eps {self.eps:.3f}")

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
        """Any parameter change resets cleanly: stop, drop the model, show the new data."""
        if not self._initialized:
            return  # shown later with the settings as they are then
        self._stop_all()
        try:
            settings = self._read_settings()
        except LevelSetError as exc:
            self._set_info(f"⚠ {exc}")
            return
        self.lab.settings = settings
        self.lab.reset()
        self._refresh_data_view()

    def _refresh_data_view(self) -> None:
        """Show the dataset of the current settings with no model."""
        self.selection = None
        self.last_point_attack = self.last_image_attack = self.last_analysis = None
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
        try:
            ds = self.lab.load_data()
        except LevelSetError as exc:
            self._set_info(f"⚠ {exc}")
            self._update_buttons()
            return
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
        self._set_info(ds.summary() if hasattr(ds, "summary") else ds.name)
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
        self.train_button.setText("Continue" if self.lab.trainer is not None and not training else "Train")
        self.stop_button.setEnabled(training)
        for w in (
            self.dataset_panel,
            self.model_panel,
            self.train_panel,
            self.seed_spin,
            self.load_model_button,
            self.load_button,
        ):
            w.setEnabled(not training)

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
            self.lab.settings = self._read_settings()
            self.lab.load_data()
        except LevelSetError as exc:
            self._error(str(exc))
            return
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
        c = self.overlay_checks
        self.map.show_train = c["train"].isChecked()
        self.map.show_test = c["test"].isChecked()
        self.map.show_boundary = c["boundary"].isChecked()
        self.map.show_eps_balls = c["eps"].isChecked()
        self.map.show_linear_regions = c["regions"].isChecked()
        self.map.update()

    # ============================================================== attacks
    def _attack_settings_changed(self) -> None:
        self._update_eps_label()
        self.map.set_eps(self.eps, self.attack_norm())
        if self.selection is not None and self.lab.model is not None:
            self._attack_timer.start()

    def attack_norm(self) -> str:
        """The threat model of the chosen attack: "l2" for pgd-l2, else "linf" (2D points
        are attacked, and their eps-balls drawn, in this norm)."""
        return "l2" if self.attack_combo.currentText() == "pgd-l2" else "linf"

    def select_point(self, set_name: str, index: int) -> None:
        """Attack one input (a 2D point or a test image) and analyze it."""
        self.ensure_initialized()
        self.selection = (set_name, int(index))
        if self.lab.model is None:
            self._set_info("Train a model (or load one) first.")
            return
        self._attack_selection()
        self._analyze_selection()

    def _attack_selection(self) -> None:
        if self.selection is None or self.lab.model is None or self.lab.dataset is None:
            return
        set_name, index = self.selection
        model = self.lab.snapshot_model()
        eps = self.eps
        if self.lab.dataset.is_2d:
            norm = self.attack_norm()
            self._run("attack", lambda tok: self.lab.attack_point(model, set_name, index, eps, norm))
        else:
            attack = self.attack_combo.currentText()
            self._run("attack", lambda tok: self.lab.attack_image(model, index, attack, eps))

    def _on_attack_event(self, ev: Any) -> None:
        if not isinstance(ev, Finished):
            return
        r = ev.result
        ds = self.lab.dataset
        if isinstance(r, PointAttack):
            self.last_point_attack = r
            names = ds.class_names if ds is not None else [str(k) for k in range(10)]
            pgd_txt = f"PGD (eps {r.eps:.3f}, {'L2' if r.norm == 'l2' else 'L-inf'}): {'fooled → ' + str(names[r.pgd_pred]) if r.pgd_fooled else 'not fooled'}"
            df_txt = f"DeepFool: minimal ||r||₂ = {r.deepfool_norm:.4f}" + (
                "" if r.deepfool_fooled else " (not fooled)"
            )
            self.map.set_paths(
                (r.set_name, r.index),
                [
                    AttackPath("pgd", r.pgd_path, PGD_COLOR, r.pgd_fooled, pgd_txt),
                    AttackPath("deepfool", r.deepfool_path, DEEPFOOL_COLOR, r.deepfool_fooled, df_txt),
                ],
                note=f"{r.set_name} point #{r.index}, label {names[r.label]}, predicted {names[r.clean_pred]}",
            )
            self._set_info(f"{pgd_txt};  {df_txt}")
        elif isinstance(r, ImageAttack):
            self.last_image_attack = r
            self.adv_view.set_result(
                r.x,
                r.x_adv,
                r.p_before,
                r.p_after,
                ds.class_names,
                r.label,
                r.attack,
                r.eps,
                norm_text=f", ||δ||₂ {r.l2:.3f}",
            )

    # ============================================================== analysis
    def _selected_input(self):
        ds = self.lab.dataset
        if ds is None:
            return None
        if self.selection is None:
            if len(ds.y_test) == 0:
                return None
            return ds.x_test[0], int(ds.y_test[0]), "test #0"
        set_name, idx = self.selection
        xs, ys = (ds.x_train, ds.y_train) if set_name == "train" else (ds.x_test, ds.y_test)
        return xs[idx], int(ys[idx]), f"{set_name} #{idx}"

    def _analyze_selection(self) -> None:
        sel = self._selected_input()
        if sel is None or self.lab.model is None:
            return
        x, y, name = sel
        model = self.lab.snapshot_model()
        self.analysis_info.setText(f"Analyzing {name}…")
        self._run("analysis", lambda tok: self.lab.analyze_point(model, "current", x, y, cancel=tok))

    def _on_analysis_event(self, ev: Any) -> None:
        if not isinstance(ev, Finished):
            return
        r: PointAnalysis = ev.result
        self.last_analysis = r
        self.section_plot.set_section(r.a, r.b, r.classes, r.loss, r.num_classes, r.label, r.boundary_distance)
        self.curvature_plot.clear_profiles()
        self.curvature_plot.set_profile(r.model_name, r.eigenvalues)
        self.analysis_info.setText(
            "Cross-section through the selected input along its adversarial direction (x) and a random orthogonal "
            f"direction (y); the loss of its label over the same plane; the top {len(r.eigenvalues)} eigenvalues of the "
            "input Hessian of the loss."
        )

    def compute_eps_curve(self) -> None:
        """Robust accuracy against eps for the current model, in the background."""
        if self.lab.model is None:
            return
        model = self.lab.snapshot_model()
        attack = self.attack_combo.currentText()
        if attack == "deepfool":
            attack = "pgd"  # DeepFool has no eps: the curve uses PGD
        self.curve_button.setEnabled(False)
        self._run("curve", lambda tok: self.lab.eps_curve(model, "current", attack, cancel=tok))

    def _on_curve_event(self, ev: Any) -> None:
        if isinstance(ev, Finished):
            c: EpsCurve = ev.result
            self.eps_plot.clear_curves()
            self.eps_plot.set_curve(f"{c.model_name} ({c.attack})", c.eps, c.accuracy, xlabel="eps (L-inf)")
            self.curve_button.setEnabled(True)

    # ============================================================== gallery
    def _on_gallery_event(self, ev: Any) -> None:
        if isinstance(ev, Finished):
            images, labels, preds = ev.result
            ds = self.lab.dataset
            sel = self.gallery.currentRow()
            self.gallery.set_images(images, labels, preds, ds.class_names)
            if sel >= 0:
                self.gallery.blockSignals(True)
                self.gallery.setCurrentRow(sel)
                self.gallery.blockSignals(False)

    # ============================================================== compare
    def _model_name(self) -> str:
        s = self.lab.settings
        if self.lab.model_source:
            return Path(self.lab.model_source).name
        method = getattr(s.train, "method", "")
        return f"{method} {s.model.arch} ({self.lab.dataset.name if self.lab.dataset else s.dataset.name}, {len(self.lab.history)} epochs)"

    def set_compare_slot(self, slot: str) -> None:
        if self.lab.model is None:
            self._error("Train or load a model first, then put it in slot " + slot + ".")
            return
        self.compare.set_slot(slot, self._model_name(), self.lab.snapshot_model())

    def _ask_compare_load(self, slot: str) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, f"Load model for {slot}", "", "Lab or checkpoint (*.json *.ckpt *.pt)"
        )
        if path:
            self.load_compare_slot(slot, path)

    def load_compare_slot(self, slot: str, path: str | Path) -> None:
        """Put a saved lab's (or checkpoint's) model into a compare slot; the dataset must match."""
        try:
            other = Lab()
            if str(path).endswith(".json"):
                other.load(path)
                model = other.model
            else:
                from levelset_studio.core.robust import checkpoint

                model = checkpoint.load_classifier(path).model
            if model is None:
                raise LevelSetError("the lab file holds no trained model", path)
        except LevelSetError as exc:
            self._error(str(exc))
            return
        self.compare.set_slot(slot, Path(path).name, model)

    def run_compare(self) -> None:
        if not self.compare.ready():
            self._error("Put a model in both A and B first.")
            return
        sel = self._selected_input()
        if sel is None:
            self._error("No dataset loaded.")
            return
        x, y, name = sel
        slots = {s: self.compare.model(s) for s in ("A", "B")}
        attack = "pgd" if self.attack_combo.currentText() == "deepfool" else self.attack_combo.currentText()
        self.compare.clear_results()
        self.compare.status.setText(f"Comparing at {name}…")

        def job(tok):
            return self.lab.compare_job(slots, x, y, attack, tok)

        self._run("compare", job)

    def _on_compare_event(self, ev: Any) -> None:
        if isinstance(ev, ComparedSection):
            r = ev.analysis
            self.compare.sections[ev.slot].set_section(
                r.a, r.b, r.classes, r.loss, r.num_classes, r.label, r.boundary_distance
            )
            self.compare.curvature.set_profile(r.model_name, r.eigenvalues)
        elif isinstance(ev, ComparedCurve):
            c = ev.curve
            self.compare.eps_curve.set_curve(c.model_name, c.eps, c.accuracy, xlabel="eps (L-inf)")
            if ev.slot == "B":
                self.compare.status.setText("Done.")

    # ============================================================== files
    def _ask_user_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load exported model", "", "Exported model (*.pt2 *.pt)")
        if path:
            self.load_user_model(path)

    def load_user_model(self, path: str | Path) -> bool:
        self.ensure_initialized()
        self._stop_all()
        try:
            self.lab.settings = self._read_settings()
            self._refresh_data_view()
            self.lab.load_user_model(path)
        except LevelSetError as exc:
            self._error(str(exc))
            return False
        self._update_buttons()
        self._model_changed()
        return True

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save lab", "robustness_lab.json", "Lab (*.json)")
        if path:
            self.save_lab(path)

    def _ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load lab", "", "Lab (*.json)")
        if path:
            self.load_lab(path)

    def save_lab(self, path: str | Path) -> bool:
        """Settings and seed as JSON, weights as a checkpoint beside it."""
        self.ensure_initialized()
        if self._running("train"):
            self._error("Stop training before saving the lab.")
            return False
        try:
            self.lab.settings = self._read_settings()
            self.lab.save(path)
        except LevelSetError as exc:
            self._error(str(exc))
            return False
        self._set_info(f"Saved lab to {path}")
        return True

    def load_lab(self, path: str | Path) -> bool:
        self.ensure_initialized()
        self._stop_all()
        new = Lab()
        try:
            new.load(path)
        except LevelSetError as exc:
            self._error(str(exc))
            return False
        self.lab = new
        self._show_settings(new.settings)
        model, source, trainer = new.model, new.model_source, new.trainer
        self._initialized = True
        self._refresh_data_view()  # clears the views (and the model it does not know yet)
        new.model, new.model_source, new.trainer = model, source, trainer
        for h in new.history:
            self.curves.add(h.get("epoch", 0), {k: v for k, v in h.items() if k not in ("epoch", "train_time")})
        self._update_buttons()
        self._model_changed()
        self._set_info(f"Loaded lab from {path}")
        return True

    def _ask_export(self, fn, default: str, filt: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export", default, filt)
        if path:
            try:
                fn(path)
            except OSError as exc:
                self._error(f"{path}: cannot write ({exc.strerror})")

    def export_map_png(self, path: str | Path) -> Path:
        self.map.grab().save(str(path), "PNG")
        return Path(path)

    def export_map_csv(self, path: str | Path) -> Path:
        """The region grid: x, y, predicted class, confidence (one row per grid cell)."""
        pred, conf = self.map.state.predicted, self.map.state.confidence
        if pred is None:
            raise OSError(0, "no decision regions computed yet")
        h, w = pred.shape
        x0, x1, y0, y1 = self.map.state.extent
        xs, ys = np.linspace(x0, x1, w), np.linspace(y0, y1, h)
        with Path(path).open("w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(["x", "y", "predicted_class", "confidence"])
            for i in range(h):
                for j in range(w):
                    wr.writerow([f"{xs[j]:.5f}", f"{ys[i]:.5f}", int(pred[i, j]), f"{conf[i, j]:.5f}"])
        return Path(path)

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
