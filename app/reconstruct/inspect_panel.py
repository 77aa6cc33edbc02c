"""Inspect a mesh layer: distance to the scan as colours, histogram and metrics;
a trimming slider that removes surface farther than a distance from the scan.

The panel always shows the selected layer: ``show_layer`` fills it from that layer's
own distances and report (or empties it), so nothing of another layer stays on screen.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.app.widgets.plots import HistogramWidget
from levelset_studio.core.surface.layers import Layer, MeshLayer
from levelset_studio.core.surface.metrics_table import as_tsv, report_rows

# The slider works in 1/10000 of the scan's bounding-box diagonal, so it means the same
# at any scale. Its range ends where trimming stops having an effect (the farthest
# vertex of the selected mesh); the right end means "no trimming".
TRIM_UNITS = 10_000
TRIM_DEFAULT_MAX = 0.10  # before the mesh's distances are known: 10% of the diagonal


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
        self.layer_label = QLabel("", self)
        self.layer_label.setWordWrap(True)
        layout.addWidget(self.layer_label)
        self.histogram = HistogramWidget(self)
        layout.addWidget(self.histogram)
        self.metrics = QTableWidget(0, 4, self)
        self.metrics.setHorizontalHeaderLabels(["metric", "value", "unit", "% diag"])
        self.metrics.verticalHeader().setVisible(False)
        self.metrics.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.metrics.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            self.metrics.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.metrics.setMinimumHeight(120)
        self.metrics.setToolTip("Hover a row for its definition")
        layout.addWidget(self.metrics)
        self.copy_button = QPushButton("Copy metrics", self)
        self.copy_button.setToolTip("Copy the table (with definitions) as tab-separated text")
        self.copy_button.clicked.connect(self.copy_metrics)
        layout.addWidget(self.copy_button)
        row = QHBoxLayout()
        row.addWidget(QLabel("Trim farther than"))
        self.trim_slider = QSlider(Qt.Orientation.Horizontal, self)
        self._trim_max = TRIM_DEFAULT_MAX
        self._set_slider_range(TRIM_DEFAULT_MAX)
        self.trim_slider.setToolTip(
            "Preview: remove surface farther than this distance from every scan point "
            "(in % of the scan's bounding-box diagonal; right end = off). The range ends "
            "where trimming stops changing the selected mesh."
        )
        row.addWidget(self.trim_slider, 1)
        self.trim_label = QLabel("off")
        self.trim_label.setMinimumWidth(64)
        row.addWidget(self.trim_label)
        layout.addLayout(row)
        self.trim_apply = QPushButton("Apply trim as new layer", self)
        layout.addWidget(self.trim_apply)
        self._rows_tsv = ""
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(lambda: self.trim_preview_requested.emit(self.trim_fraction()))
        self.trim_slider.valueChanged.connect(self._trim_moved)
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        self.trim_apply.clicked.connect(lambda: self.trim_apply_requested.emit(self.trim_fraction()))
        self.show_layer(None)

    # -------------------------------------------------------------- the layer --
    def show_layer(self, layer: Layer | None, diagonal: float = 1.0) -> None:
        """Show ``layer``'s own histogram, metrics and trim range (or nothing)."""
        mesh = layer if isinstance(layer, MeshLayer) and layer.data is not None else None
        for w in (self.evaluate_button, self.trim_slider, self.trim_apply):
            w.setEnabled(mesh is not None)
        if mesh is None:
            self.layer_label.setText("Select a mesh layer to inspect it.")
        elif mesh.distances is None:
            self.layer_label.setText(f"{mesh.title}: press “Colour by distance” for its histogram and metrics.")
        else:
            self.layer_label.setText(f"{mesh.title}: distance of each vertex to the nearest scan point")
        if mesh is not None and mesh.histogram is not None:
            counts, edges = mesh.histogram
            self.histogram.set_data(counts, edges, "scan units")
        else:
            self.histogram.counts = self.histogram.edges = None
            self.histogram.update()
        self.set_metrics(mesh.report if mesh is not None else None)
        far = None
        if mesh is not None and mesh.distances is not None and len(mesh.distances) and diagonal > 0:
            far = float(np.max(mesh.distances)) / diagonal
        self.set_trim_range(far if far is not None else TRIM_DEFAULT_MAX)

    def set_metrics(self, report: object | None) -> None:
        rows = report_rows(report) if report is not None else []  # type: ignore[arg-type]
        self.metrics.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = [r.name, r.value_text(), r.unit, r.diagonal_text()]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(r.definition)
                if j in (1, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.metrics.setItem(i, j, item)
        header = ["metric", "value", "unit", "% diag", "definition"]
        lines = [[r.name, r.value_text(), r.unit, r.diagonal_text(), r.definition] for r in rows]
        self._rows_tsv = as_tsv(header, lines) if rows else ""
        self.copy_button.setEnabled(bool(rows))

    def metrics_tsv(self) -> str:
        return self._rows_tsv

    def copy_metrics(self) -> None:
        if self._rows_tsv:
            QApplication.clipboard().setText(self._rows_tsv)

    # ------------------------------------------------------------------ trim --
    def _set_slider_range(self, max_fraction: float) -> None:
        top = max(2, math.ceil(max_fraction * TRIM_UNITS) + 1)  # + 1: the right end is "off"
        self.trim_slider.blockSignals(True)
        self.trim_slider.setRange(1, top)
        self.trim_slider.setValue(top)
        self.trim_slider.blockSignals(False)

    def set_trim_range(self, max_fraction: float) -> None:
        """Let the slider run to ``max_fraction`` of the diagonal (its right end is off)."""
        self._trim_max = max(float(max_fraction), 1.0 / TRIM_UNITS)
        self._set_slider_range(self._trim_max)
        self.trim_label.setText("off")
        self.histogram.set_marker(None)

    def trim_fraction(self) -> float:
        """The trimming distance as a fraction of the bbox diagonal; -1 when off."""
        v = self.trim_slider.value()
        return -1.0 if v >= self.trim_slider.maximum() else v / TRIM_UNITS

    def set_trim_fraction(self, fraction: float) -> None:
        """Move the slider to ``fraction`` of the diagonal (clipped to its range)."""
        self.trim_slider.setValue(max(1, min(self.trim_slider.maximum() - 1, round(fraction * TRIM_UNITS))))

    def set_trim_text(self, text: str) -> None:
        self.trim_label.setText(text)

    def _trim_moved(self, _value: int) -> None:
        f = self.trim_fraction()
        self.trim_label.setText("off" if f < 0 else f"{100 * f:.2f}% diag")
        self._debounce.start()

    def reset(self) -> None:
        """Trimming off (the metrics and histogram stay: they belong to the layer)."""
        self._debounce.stop()
        self.trim_slider.blockSignals(True)
        self.trim_slider.setValue(self.trim_slider.maximum())
        self.trim_slider.blockSignals(False)
        self.trim_label.setText("off")
        self.histogram.set_marker(None)
