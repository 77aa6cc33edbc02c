"""The "Noise" page: random noise against adversarial perturbations, and small transformations."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from levelset_studio.core.robust.noise import NoiseReport
from levelset_studio.core.robust.transforms import TransformReport


def _fmt(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}g}" if math.isfinite(v) else "∞"


class NoisePanel(QWidget):
    """Buttons that start the two measurements (the tab runs them) and their results as tables."""

    noiseRequested = Signal()
    transformRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.noise_report: NoiseReport | None = None
        self.transform_report: TransformReport | None = None
        intro = QLabel(
            "How far is the boundary along a random direction, compared with the worst direction? "
            "For a flat boundary in d dimensions the ratio is about √d; a curved boundary brings random "
            "directions closer. On 2D data, clicking a point also draws random lines through it to the boundary."
        )
        intro.setWordWrap(True)
        self.noise_button = QPushButton("Measure random-noise robustness")
        self.noise_button.clicked.connect(self.noiseRequested)
        self.noise_table = QLabel("Train a model, then measure.")
        self.noise_table.setWordWrap(True)
        nb = QGroupBox("Random noise (test inputs)")
        nl = QVBoxLayout(nb)
        nl.addWidget(self.noise_button)
        nl.addWidget(self.noise_table)

        self.transform_button = QPushButton("Find the worst rotation and shift")
        self.transform_button.setToolTip(
            "Grid search within ±15° and ±2 pixels per gallery image; the gallery then shows each "
            "image under its worst transformation"
        )
        self.transform_button.clicked.connect(self.transformRequested)
        self.transform_table = QLabel("Images only.")
        self.transform_table.setWordWrap(True)
        self.transform_box = QGroupBox("Small transformations (images)")
        tl = QVBoxLayout(self.transform_box)
        tl.addWidget(self.transform_button)
        tl.addWidget(self.transform_table)

        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(nb, 1)
        row.addWidget(self.transform_box, 1)
        lay.addLayout(row)
        lay.addStretch(1)

    def clear(self, images: bool) -> None:
        self.noise_report = self.transform_report = None
        self.noise_table.setText("Train a model, then measure.")
        self.transform_table.setText("Train a model, then search." if images else "Images only.")
        self.transform_box.setEnabled(images)

    def set_busy(self, what: str, busy: bool) -> None:
        button = self.noise_button if what == "noise" else self.transform_button
        button.setEnabled(not busy)
        if busy:
            (self.noise_table if what == "noise" else self.transform_table).setText("Measuring…")

    def set_noise(self, r: NoiseReport, model_name: str) -> None:
        self.noise_report = r
        rows = [
            ("model", model_name),
            ("inputs × directions", f"{r.n} × {r.directions}"),
            ("median random-direction L2", _fmt(r.median_random_l2)),
            ("median DeepFool L2", _fmt(r.median_adversarial_l2)),
            ("ratio random / adversarial", _fmt(r.ratio, 3)),
            ("√d for reference", f"{r.sqrt_d:.3g}  (d = {r.d})"),
            ("median per-input ratio", _fmt(r.median_ratio, 3)),
        ]
        rows += [(f"accuracy, Gaussian σ = {s:g}", f"{100 * a:.1f}%") for s, a in r.gaussian.items()]
        if r.not_crossed > 0:
            rows.append(("directions never crossing", f"{100 * r.not_crossed:.1f}%"))
        self.noise_table.setText(_table(rows))

    def set_transform(self, r: TransformReport) -> None:
        self.transform_report = r
        rows = [
            ("images", str(r.n)),
            ("grid", f"±{r.max_rotation:g}°, ±{r.max_shift} px ({r.grid_size} transformations)"),
            ("clean accuracy", f"{100 * r.clean_accuracy:.1f}%"),
            ("random transformation", f"{100 * r.random_accuracy:.1f}%"),
            ("worst transformation", f"{100 * r.worst_accuracy:.1f}%"),
        ]
        self.transform_table.setText(_table(rows))


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td>{k}</td><td style='padding-left:12px'><b>{v}</b></td></tr>" for k, v in rows)
    return f"<table>{body}</table>"
