"""The layers of the Reconstruct tab: the scan, cleaned scans and every reconstruction.

Results are new layers (docs/architecture.md): cleaning or trimming never overwrites
what was there, so undoing is hiding or removing a layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

LAYER_COLORS = {
    "scan": "#6fa8dc",
    "levelset": "#e8c26a",
    "poisson": "#93c47d",
    "trimmed": "#e69138",
}


@dataclass
class Layer:
    """One thing shown in the 3D view. ``data`` is a core Scan or Mesh."""

    name: str  # unique key, also the actor's name in the view
    title: str
    kind: str  # "scan", "levelset", "poisson", "trimmed"
    data: Any = None
    visible: bool = True
    opacity: float = 1.0
    color: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.color:
            self.color = LAYER_COLORS.get(self.kind, "#cccccc")

    @property
    def is_scan(self) -> bool:
        return self.kind == "scan"

    @property
    def is_mesh(self) -> bool:
        return not self.is_scan


def _swatch(color: str) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


class LayersPanel(QWidget):
    """Checkable list of layers, with opacity, colour and remove for the current one."""

    visibility_changed = Signal(str, bool)
    opacity_changed = Signal(str, float)
    color_changed = Signal(str, str)
    current_changed = Signal(str)
    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget(self)
        self.list.setMinimumHeight(90)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(100)
        row.addWidget(self.opacity, 1)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.color_button = QPushButton("Colour…", self)
        row.addWidget(self.color_button)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Remove the selected layer (the loaded files are not touched)")
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        self._layers: dict[str, Layer] = {}
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentItemChanged.connect(self._current_changed)
        self.opacity.valueChanged.connect(self._opacity_moved)
        self.color_button.clicked.connect(self._pick_color)
        self.remove_button.clicked.connect(self._remove)
        self._sync_controls()

    def _item(self, name: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            it = self.list.item(i)
            if it.data(Qt.ItemDataRole.UserRole) == name:
                return it
        return None

    def add(self, layer: Layer, *, select: bool = True) -> None:
        self._layers[layer.name] = layer
        it = self._item(layer.name)
        if it is None:
            it = QListWidgetItem(layer.title)
            it.setData(Qt.ItemDataRole.UserRole, layer.name)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.list.blockSignals(True)
            self.list.addItem(it)
            self.list.blockSignals(False)
        self.refresh(layer)
        if select:
            self.list.setCurrentItem(it)

    def refresh(self, layer: Layer) -> None:
        it = self._item(layer.name)
        if it is None:
            return
        self.list.blockSignals(True)
        it.setText(layer.title)
        it.setIcon(_swatch(layer.color))
        tip = [layer.title] + [str(layer.info[k]) for k in ("report",) if layer.info.get(k)]
        it.setToolTip("\n".join(tip))
        it.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        if layer.name == self.current_name():
            self._sync_controls()

    def remove(self, name: str) -> None:
        it = self._item(name)
        if it is not None:
            self.list.takeItem(self.list.row(it))
        self._layers.pop(name, None)
        self._sync_controls()

    def current_name(self) -> str | None:
        it = self.list.currentItem()
        return None if it is None else it.data(Qt.ItemDataRole.UserRole)

    def select(self, name: str) -> None:
        it = self._item(name)
        if it is not None:
            self.list.setCurrentItem(it)

    def _sync_controls(self) -> None:
        name = self.current_name()
        layer = self._layers.get(name) if name else None
        for w in (self.opacity, self.color_button, self.remove_button):
            w.setEnabled(layer is not None)
        if layer is not None:
            self.opacity.blockSignals(True)
            self.opacity.setValue(round(layer.opacity * 100))
            self.opacity.blockSignals(False)

    def _item_changed(self, it: QListWidgetItem) -> None:
        name = it.data(Qt.ItemDataRole.UserRole)
        if name in self._layers:
            visible = it.checkState() == Qt.CheckState.Checked
            self._layers[name].visible = visible
            self.visibility_changed.emit(name, visible)

    def _current_changed(self, *_: Any) -> None:
        self._sync_controls()
        name = self.current_name()
        if name:
            self.current_changed.emit(name)

    def _opacity_moved(self, value: int) -> None:
        name = self.current_name()
        if name in self._layers:
            self._layers[name].opacity = value / 100.0
            self.opacity_changed.emit(name, value / 100.0)

    def _pick_color(self) -> None:
        name = self.current_name()
        if name not in self._layers:
            return
        layer = self._layers[name]
        color = QColorDialog.getColor(QColor(layer.color), self, f"Colour of {layer.title}")
        if color.isValid():
            self.set_color(name, color.name())

    def set_color(self, name: str, color: str) -> None:
        layer = self._layers[name]
        layer.color = color
        self.refresh(layer)
        self.color_changed.emit(name, color)

    def _remove(self) -> None:
        name = self.current_name()
        if name:
            self.remove_requested.emit(name)
