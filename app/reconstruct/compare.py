"""Compare two layers side by side: two linked views with one camera, and one metrics table.

The views are the two halves of one VTK render window (one GL context) whose renderers
share a single camera, so turning or zooming one turns the other. The table lists the
metrics of both layers with their units and definitions, and copies as tab-separated text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from pyvistaqt import QtInteractor

from levelset_studio.app.view3d import BACKGROUND
from levelset_studio.core.surface.layers import Layer, MeshLayer, ScanLayer
from levelset_studio.core.surface.metrics_table import as_tsv, comparison_rows

if TYPE_CHECKING:
    from levelset_studio.app.reconstruct.tab import ReconstructTab


def _poly(layer: Layer) -> pv.PolyData | None:
    if isinstance(layer, MeshLayer) and layer.data is not None and layer.data.n_faces:
        v = np.ascontiguousarray(layer.data.vertices, dtype=np.float64)
        return pv.PolyData.from_regular_faces(v, np.ascontiguousarray(layer.data.faces, dtype=np.int64))
    if isinstance(layer, ScanLayer) and layer.data is not None:
        return pv.PolyData(np.ascontiguousarray(layer.data.points, dtype=np.float64))
    return None


class CompareWindow(QDialog):
    """Two layers side by side with one camera, and their metrics in one table."""

    def __init__(self, tab: ReconstructTab, parent: QWidget | None = None) -> None:
        super().__init__(parent or tab)
        self.tab = tab
        self.setWindowTitle("Compare layers")
        self.resize(1100, 700)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.left_combo, self.right_combo = QComboBox(self), QComboBox(self)
        row.addWidget(QLabel("Left"))
        row.addWidget(self.left_combo, 1)
        row.addWidget(QLabel("Right"))
        row.addWidget(self.right_combo, 1)
        self.evaluate_button = QPushButton("Compute metrics", self)
        self.evaluate_button.setToolTip("Evaluate each shown mesh against the scan (distances in scan units)")
        row.addWidget(self.evaluate_button)
        layout.addLayout(row)
        split = QSplitter(Qt.Orientation.Vertical, self)
        self.plotter = QtInteractor(split, shape=(1, 2), auto_update=False)
        self.plotter.set_background(BACKGROUND)
        self.plotter.link_views()  # one camera for both halves
        split.addWidget(self.plotter)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, 0, bottom)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        bl.addWidget(self.table)
        self.copy_button = QPushButton("Copy table", bottom)
        self.copy_button.setToolTip("Copy the metrics (with units and definitions) as tab-separated text")
        bl.addWidget(self.copy_button)
        split.addWidget(bottom)
        split.setSizes([480, 220])
        layout.addWidget(split)
        self._tsv = ""
        self._names: list[str] = []
        self.closed = False
        self.left_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.right_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.copy_button.clicked.connect(self.copy_table)
        self.evaluate_button.clicked.connect(self.evaluate_shown)
        tab.layers.inserted.connect(self._layers_changed)
        tab.layers.removed.connect(self._layers_changed)
        tab.layers.changed.connect(self._layer_changed)
        self._fill_combos()

    # ------------------------------------------------------------- choosing --
    def _fill_combos(self) -> None:
        layers = [lay for lay in self.tab.layers if _poly(lay) is not None]
        names = [lay.name for lay in layers]
        if names == self._names:
            return
        keep = (self.left_name(), self.right_name())
        meshes = [lay.name for lay in layers if isinstance(lay, MeshLayer)]
        default = (meshes[-2:] if len(meshes) >= 2 else names[-2:]) or [None, None]
        for combo, old, fallback in zip(
            (self.left_combo, self.right_combo), keep, (default[0], default[-1]), strict=True
        ):
            combo.blockSignals(True)
            combo.clear()
            for lay in layers:
                combo.addItem(lay.title, lay.name)
            want = old if old in names else fallback
            if want in names:
                combo.setCurrentIndex(names.index(want))
            combo.blockSignals(False)
        self._names = names
        self.refresh()

    def left_name(self) -> str | None:
        return self.left_combo.currentData()

    def right_name(self) -> str | None:
        return self.right_combo.currentData()

    def show_layers(self, left: str, right: str) -> None:
        """Show layer ``left`` on the left and ``right`` on the right."""
        for combo, name in ((self.left_combo, left), (self.right_combo, right)):
            combo.setCurrentIndex(combo.findData(name))

    def _layers_changed(self, *_: Any) -> None:
        if not self.closed:
            self._fill_combos()

    def _layer_changed(self, layer: Layer, old: dict[str, Any]) -> None:
        shown = layer.name in (self.left_name(), self.right_name())
        if not self.closed and shown and set(old) & {"data", "report", "title", "color"}:
            self._names = []
            self._fill_combos()

    # -------------------------------------------------------------- showing --
    def refresh(self) -> None:
        if self.closed:
            return
        shown: list[Layer] = []
        for col, name in enumerate((self.left_name(), self.right_name())):
            self.plotter.subplot(0, col)
            self.plotter.renderers[col].clear_actors()
            layer = self.tab.layers.get(name)
            poly = _poly(layer) if layer is not None else None
            if layer is None or poly is None:
                continue
            shown.append(layer)
            if isinstance(layer, MeshLayer):
                self.plotter.add_mesh(poly, color=layer.color, smooth_shading=True, reset_camera=False, render=False)
            else:
                self.plotter.add_mesh(poly, color=layer.color, point_size=2.0, reset_camera=False, render=False)
            self.plotter.add_text(layer.title, font_size=10, name="title")
        self.plotter.subplot(0, 0)
        self.plotter.reset_camera(render=False)
        self.plotter.render()
        self._fill_table([lay for lay in shown if isinstance(lay, MeshLayer) and lay.report is not None])

    def _fill_table(self, layers: list[MeshLayer]) -> None:
        reports = [lay.report for lay in layers]
        if not reports:
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self._tsv = ""
            self.copy_button.setEnabled(False)
            return
        header, rows = comparison_rows(reports)
        header = [*header[:2], *[lay.title for lay in layers], header[-1]]
        self.table.setColumnCount(len(header))
        self.table.setHorizontalHeaderLabels(header)
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for j, cell in enumerate(r):
                item = QTableWidgetItem(str(cell))
                item.setToolTip(str(r[-1]))
                self.table.setItem(i, j, item)
        self.table.horizontalHeader().setSectionResizeMode(len(header) - 1, QHeaderView.ResizeMode.Stretch)
        self._tsv = as_tsv(header, rows)
        self.copy_button.setEnabled(True)

    def table_tsv(self) -> str:
        return self._tsv

    def copy_table(self) -> None:
        if self._tsv:
            QApplication.clipboard().setText(self._tsv)

    def evaluate_shown(self) -> None:
        """Compute the metrics of each shown mesh that has none yet (in workers)."""
        for name in dict.fromkeys((self.left_name(), self.right_name())):
            layer = self.tab.layers.get(name)
            if isinstance(layer, MeshLayer) and layer.report is None:
                self.tab.inspect_controller.evaluate(layer)

    def camera_shared(self) -> bool:
        r = self.plotter.renderers
        return r[0].GetActiveCamera() is r[1].GetActiveCamera()

    def close_view(self) -> None:
        if not self.closed:
            self.closed = True
            layers = self.tab.layers
            layers.inserted.disconnect(self._layers_changed)
            layers.removed.disconnect(self._layers_changed)
            layers.changed.disconnect(self._layer_changed)
            self.plotter.close()

    def closeEvent(self, event: Any) -> None:
        self.close_view()
        super().closeEvent(event)
