"""The Robustness tab's left column: settings, Train / Stop / Reset, progress, the attack.

Only widgets: the tab connects their signals to its handlers. The settings panels are
built from the engine's parameter descriptions (the CLI's flags); a setting that does not
apply to the chosen dataset, model or method is hidden by the panel (``when``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.app.robustness.widgets.live_curves import LiveCurves
from levelset_studio.app.widgets.params_panel import ParamsPanel
from levelset_studio.core.robust.attacks import attack_spec
from levelset_studio.core.robust.config import TrainConfig
from levelset_studio.core.robust.data import DatasetConfig
from levelset_studio.core.robust.lab import ATTACK_NAMES
from levelset_studio.core.robust.models import ModelConfig

# Starting values of the lab's training settings (the CLI's defaults suit long runs; here a
# 2D set should separate within seconds, as in TensorFlow Playground). Same descriptions,
# same validation: only the values the panel starts with differ.
INTERACTIVE_TRAINING = {"epochs": 10, "batch_size": 64, "lr": 0.02}
EPS_STEPS = 100  # slider positions
EPS_MAX = 0.5


class ControlsPanel(QWidget):
    """Dataset / model / training settings, the seed, the run buttons, progress and live
    curves, the attack with its radius, and Save / Load lab."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(4, 4, 4, 4)
        lv.setSpacing(4)

        self.dataset_panel = ParamsPanel(DatasetConfig, exclude=("seed",))
        self.model_panel = ParamsPanel(ModelConfig)
        self.train_panel = ParamsPanel(TrainConfig, exclude=("seed",), values=INTERACTIVE_TRAINING)
        self.load_model_button = QPushButton("Load model…")
        self.load_model_button.setToolTip(
            "Use your own classifier (torch.export .pt2, or TorchScript .pt) on the chosen dataset.\n"
            "Both formats run code from the file: only load models you trust."
        )
        self.model_source_label = QLabel("")
        self.model_source_label.setWordWrap(True)
        for title, panel in (
            ("Dataset", self.dataset_panel),
            ("Model", self.model_panel),
            ("Training", self.train_panel),
        ):
            box = QGroupBox(title)
            bl = QVBoxLayout(box)
            bl.setContentsMargins(6, 4, 6, 4)
            bl.addWidget(panel)
            if panel is self.model_panel:
                bl.addWidget(self.model_source_label)
                self.model_source_label.setVisible(False)  # shown with a user model's name
            lv.addWidget(box)

        seed_row = QHBoxLayout()
        seed_row.addWidget(QLabel("Seed"))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip(
            "One seed for the data split, the initial weights, the training order and the attacks"
        )
        seed_row.addWidget(self.seed_spin, 1)
        lv.addLayout(seed_row)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Train the model (again: continue training)")
        self.stop_button = QPushButton("Stop")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the model and start from fresh weights")
        for b in (self.train_button, self.stop_button, self.reset_button):
            buttons.addWidget(b)
        lv.addLayout(buttons)
        self.stale_label = QLabel("")  # "settings changed: the model shown was trained with the old ones"
        self.stale_label.setWordWrap(True)
        self.stale_label.setStyleSheet("color: #8a5a00")
        self.stale_label.setVisible(False)
        lv.addWidget(self.stale_label)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        lv.addWidget(self.progress)
        self.metrics_label = QLabel("not trained")
        self.metrics_label.setWordWrap(True)
        lv.addWidget(self.metrics_label)

        attack_box = QGroupBox("Attack")
        af = QFormLayout(attack_box)
        af.setContentsMargins(6, 4, 6, 4)
        self.attack_combo = QComboBox()
        for a in ATTACK_NAMES:
            self.attack_combo.addItem(a)
            self.attack_combo.setItemData(
                self.attack_combo.count() - 1, attack_spec(a).description, Qt.ItemDataRole.ToolTipRole
            )
        self.attack_combo.setToolTip(
            "Attack used in the image view and for the accuracy-vs-eps curve; "
            "on 2D data pgd-l2 attacks clicked points in L2 (round eps-balls), "
            "the others in L-inf"
        )
        self.eps_slider = QSlider(Qt.Orientation.Horizontal)
        self.eps_slider.setRange(0, EPS_STEPS)
        self.eps_slider.setValue(10)
        self.eps_label = QLabel()
        self.eps_slider.setToolTip("Radius of the attack, in input units (inputs live in [0, 1])")
        af.addRow("Attack", self.attack_combo)
        af.addRow(self.eps_label, self.eps_slider)
        # the attack sits above the curves so that it is visible without scrolling at 1280x800
        lv.addWidget(attack_box)

        self.curves = LiveCurves()
        self.curves.setMinimumHeight(200)
        lv.addWidget(self.curves)

        lab_row = QHBoxLayout()
        # below the curves: files are a second step, the attack must stay above the fold
        self.save_button = QPushButton("Save lab…")
        self.load_button = QPushButton("Load lab…")
        self.save_button.setToolTip("Save the settings and seed (JSON) and the weights (checkpoint next to it)")
        lab_row.addWidget(self.save_button)
        lab_row.addWidget(self.load_button)
        lab_row.addWidget(self.load_model_button)
        lv.addLayout(lab_row)
        lv.addStretch(1)
        self.update_eps_label()
        self.dataset_panel.changed.connect(self.update_context)
        self.model_panel.changed.connect(self.update_context)
        self.update_context()

    # ------------------------------------------------------------------ eps
    @property
    def eps(self) -> float:
        return EPS_MAX * self.eps_slider.value() / EPS_STEPS

    def set_eps(self, eps: float) -> None:
        self.eps_slider.setValue(round(eps / EPS_MAX * EPS_STEPS))

    def attack_norm(self) -> str:
        """The threat model of the chosen attack ("l2" or "linf"): 2D points are attacked, and
        their eps-balls drawn, in it. DeepFool has no radius: its clicks use L-inf PGD."""
        spec = attack_spec(self.attack_combo.currentText())
        return "l2" if spec.norm == "l2" and spec.has_radius else "linf"

    def update_eps_label(self) -> None:
        self.eps_label.setText(f"eps {self.eps:.3f} ({'L2' if self.attack_norm() == 'l2' else 'L-inf'})")

    def update_context(self) -> None:
        """The model panel hides what does not apply to the dataset (and the reverse)."""
        self.model_panel.set_context(self.dataset_panel.values())
        self.train_panel.set_context({**self.dataset_panel.values(), **self.model_panel.values()})

    def set_running(self, training: bool) -> None:
        for w in (
            self.dataset_panel,
            self.model_panel,
            self.train_panel,
            self.seed_spin,
            self.load_model_button,
            self.load_button,
        ):
            w.setEnabled(not training)
        self.stop_button.setEnabled(training)

    def set_stale(self, text: str) -> None:
        self.stale_label.setText(text)
        self.stale_label.setVisible(bool(text))
