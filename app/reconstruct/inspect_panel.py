"""Inspect a mesh layer: distance to the scan as colours, histogram and metrics;
a trimming slider that removes surface farther than a distance from the scan."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.app.widgets.plots import HistogramWidget

# The slider works in per mille of the scan's bounding-box diagonal, so it means the
# same at any scale; its right end (TRIM_OFF) means "no trimming".
TRIM_MAX_PERMILLE = 100
TRIM_OFF = TRIM_MAX_PERMILLE


class InspectPanel(QWidget):
    """Buttons and read-outs; the tab runs the computations (in core, in a worker)."""

    evaluate_requested = Signal()
    trim_preview_requested = Signal(float)  # fraction of the diagonal, or -1 for "off"
    trim_apply_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.evaluate_button = QPushButton("Colour by distance to scan", self)
        self.evaluate_button.setToolTip(
            "Colour the selected mesh by each vertex's distance to the nearest scan point, "
            "with a histogram and the metrics (scan units)"
        )
        layout.addWidget(self.evaluate_button)
        self.histogram = HistogramWidget(self)
        layout.addWidget(self.histogram)
        self.metrics = QPlainTextEdit(self)
        self.metrics.setReadOnly(True)
        self.metrics.setPlaceholderText("metrics of the selected mesh")
        self.metrics.setMaximumHeight(170)
        self.metrics.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.metrics.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.metrics)
        row = QHBoxLayout()
        row.addWidget(QLabel("Trim farther than"))
        self.trim_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.trim_slider.setRange(1, TRIM_MAX_PERMILLE)
        self.trim_slider.setValue(TRIM_OFF)
        self.trim_slider.setToolTip(
            "Preview: remove surface farther than this distance from every scan point "
            "(in % of the scan's bounding-box diagonal; right end = off)"
        )
        row.addWidget(self.trim_slider, 1)
        self.trim_label = QLabel("off")
        self.trim_label.setMinimumWidth(64)
        row.addWidget(self.trim_label)
        layout.addLayout(row)
        self.trim_apply = QPushButton("Apply trim as new layer", self)
        layout.addWidget(self.trim_apply)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(lambda: self.trim_preview_requested.emit(self.trim_fraction()))
        self.trim_slider.valueChanged.connect(self._trim_moved)
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        self.trim_apply.clicked.connect(lambda: self.trim_apply_requested.emit(self.trim_fraction()))

    def trim_fraction(self) -> float:
        """The trimming distance as a fraction of the bbox diagonal; -1 when off."""
        v = self.trim_slider.value()
        return -1.0 if v >= TRIM_OFF else v / 1000.0

    def set_trim_text(self, text: str) -> None:
        self.trim_label.setText(text)

    def _trim_moved(self, _value: int) -> None:
        f = self.trim_fraction()
        self.trim_label.setText("off" if f < 0 else f"{100 * f:.1f}% diag")
        self._debounce.start()

    def reset(self) -> None:
        self.trim_slider.blockSignals(True)
        self.trim_slider.setValue(TRIM_OFF)
        self.trim_slider.blockSignals(False)
        self.trim_label.setText("off")
        self.metrics.clear()
        self.histogram.set_marker(None)
