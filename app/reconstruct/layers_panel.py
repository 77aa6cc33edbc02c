"""The Layers panel: a checkable list that mirrors a core LayerList.

The list shows the model; it never changes a layer itself. What the user does (tick a
box, move the opacity slider, pick a colour, rename, reorder, remove) is emitted as a
request, and the tab turns each request into an undoable edit of the model. The list
then follows the model's events, so undo and redo need no code here.
"""

from __future__ import annotations

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

from levelset_studio.core.surface.layers import Layer, LayerList, MeshLayer


def _swatch(color: str) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


class LayersPanel(QWidget):
    """Checkable list of layers, with opacity, colour, order and remove for the current one."""

    visibility_changed = Signal(str, bool)  # requests: the tab applies them (undoably)
    opacity_changed = Signal(str, float)
    color_changed = Signal(str, str)
    rename_requested = Signal(str, str)
    move_requested = Signal(str, int)
    remove_requested = Signal(str)
    current_changed = Signal(str)

    def __init__(self, layers: LayerList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layers = layers
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget(self)
        self.list.setMinimumHeight(90)
        self.list.setToolTip("Tick to show, double-click to rename")
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
        self.up_button = QPushButton("▲", self)
        self.up_button.setToolTip("Move the selected layer up")
        self.down_button = QPushButton("▼", self)
        self.down_button.setToolTip("Move the selected layer down")
        for b in (self.up_button, self.down_button):
            b.setMaximumWidth(32)
            row.addWidget(b)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Remove the selected layer (Ctrl+Z brings it back; files are not touched)")
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        self.compare_button = QPushButton("Compare…", self)
        self.compare_button.setToolTip("Two layers side by side with one camera, and their metrics (Ctrl+K)")
        layout.addWidget(self.compare_button)
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentItemChanged.connect(self._current_changed)
        self.opacity.valueChanged.connect(self._opacity_moved)
        self.color_button.clicked.connect(self._pick_color)
        self.remove_button.clicked.connect(self._remove)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(+1))
        layers.inserted.connect(self._on_inserted)
        layers.removed.connect(self._on_removed)
        layers.moved.connect(self._on_moved)
        layers.changed.connect(lambda layer, _old: self.refresh(layer))
        layers.selected.connect(self._on_selected)
        for i, layer in enumerate(layers):
            self._on_inserted(i, layer)
        self._sync_controls()

    # --------------------------------------------------------- the model's events --
    def _new_item(self, layer: Layer) -> QListWidgetItem:
        it = QListWidgetItem(layer.title)
        it.setData(Qt.ItemDataRole.UserRole, layer.name)
        it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable)
        return it

    def _on_inserted(self, index: int, layer: Layer) -> None:
        self.list.blockSignals(True)
        self.list.insertItem(index, self._new_item(layer))
        self.list.blockSignals(False)
        self.refresh(layer)

    def _on_removed(self, index: int, layer: Layer) -> None:
        it = self._item(layer.name)
        if it is not None:
            self.list.takeItem(self.list.row(it))
        self._sync_controls()

    def _on_moved(self, old: int, new: int, layer: Layer) -> None:
        current = self.current_name()
        self.list.blockSignals(True)
        it = self.list.takeItem(old)
        self.list.insertItem(new, it)
        if current is not None:
            cur = self._item(current)
            if cur is not None:
                self.list.setCurrentItem(cur)
        self.list.blockSignals(False)
        self._sync_controls()

    def _on_selected(self, layer: Layer | None) -> None:
        it = self._item(layer.name) if layer is not None else None
        if it is not None and it is not self.list.currentItem():
            self.list.setCurrentItem(it)
        self._sync_controls()

    # ------------------------------------------------------------------ reading --
    def _item(self, name: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            it = self.list.item(i)
            if it.data(Qt.ItemDataRole.UserRole) == name:
                return it
        return None

    def refresh(self, layer: Layer) -> None:
        it = self._item(layer.name)
        if it is None:
            return
        self.list.blockSignals(True)
        it.setText(layer.title)
        it.setIcon(_swatch(layer.color))
        tip = [layer.title]
        report = getattr(layer, "report", None)
        if report:
            tip.append(str(report))
        if isinstance(layer, MeshLayer) and layer.preview:
            tip.append("training preview (Stop offers the final mesh)")
        it.setToolTip("\n".join(tip))
        it.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        if layer.name == self.current_name():
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
        layer = self.layers.get(name)
        for w in (self.opacity, self.color_button, self.remove_button, self.up_button, self.down_button):
            w.setEnabled(layer is not None)
        if layer is not None:
            row = self.layers.index(layer)
            self.up_button.setEnabled(row > 0)
            self.down_button.setEnabled(row < len(self.layers) - 1)
            self.opacity.blockSignals(True)
            self.opacity.setValue(round(layer.opacity * 100))
            self.opacity.blockSignals(False)

    # ------------------------------------------------------------ user requests --
    def _item_changed(self, it: QListWidgetItem) -> None:
        name = it.data(Qt.ItemDataRole.UserRole)
        layer = self.layers.get(name)
        if layer is None:
            return
        visible = it.checkState() == Qt.CheckState.Checked
        if visible != layer.visible:
            self.visibility_changed.emit(name, visible)
        title = it.text().strip()
        if title != layer.title:
            if title:
                self.rename_requested.emit(name, title)
            else:
                self.refresh(layer)  # an empty name is not a name: keep the old one

    def _current_changed(self, *_: Any) -> None:
        name = self.current_name()
        self._sync_controls()
        if name:
            self.layers.select(name)
            self.current_changed.emit(name)

    def _opacity_moved(self, value: int) -> None:
        name = self.current_name()
        if name in self.layers:
            self.opacity_changed.emit(name, value / 100.0)

    def _pick_color(self) -> None:
        name = self.current_name()
        layer = self.layers.get(name)
        if layer is None:
            return
        color = QColorDialog.getColor(QColor(layer.color), self, f"Colour of {layer.title}")
        if color.isValid():
            self.set_color(layer.name, color.name())

    def set_color(self, name: str, color: str) -> None:
        """Ask for a new colour of layer ``name`` (as the colour dialog does)."""
        if name in self.layers:
            self.color_changed.emit(name, color)

    def _move(self, step: int) -> None:
        name = self.current_name()
        if name in self.layers:
            self.move_requested.emit(name, self.layers.index(name) + step)

    def _remove(self) -> None:
        name = self.current_name()
        if name:
            self.remove_requested.emit(name)
