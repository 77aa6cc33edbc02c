"""Undo and redo for the Reconstruct tab's layers (Qt's QUndoStack).

Each command edits the core LayerList and nothing else; the list, the 3D view and the
Inspect panel follow the list's events, so undoing needs no code of theirs. Commands
hold the layer objects themselves, so the large arrays (points, vertices, faces) are
shared between the list and every step of the stack, never copied.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from levelset_studio.core.surface.layers import Layer, LayerList

# Command ids for merging: consecutive moves of one slider become one step.
_MERGE_IDS = {"opacity": 1}


class AddLayer(QUndoCommand):
    """Put a layer on top of the list (a result: Poisson, trimmed, cleaned)."""

    def __init__(self, layers: LayerList, layer: Layer, text: str) -> None:
        super().__init__(text)
        self.layers, self.layer = layers, layer
        self.index = len(layers)

    def redo(self) -> None:
        self.layers.insert(self.index, self.layer)
        self.layers.select(self.layer)

    def undo(self) -> None:
        if self.layer in self.layers:
            self.layers.remove(self.layer)


class RemoveLayer(QUndoCommand):
    def __init__(self, layers: LayerList, layer: Layer) -> None:
        super().__init__(f"Remove {layer.title}")
        self.layers, self.layer = layers, layer
        self.index = layers.index(layer)

    def redo(self) -> None:
        if self.layer in self.layers:
            self.index, _ = self.layers.remove(self.layer)

    def undo(self) -> None:
        self.layers.insert(self.index, self.layer)
        self.layers.select(self.layer)


class EditLayer(QUndoCommand):
    """Set attributes of one layer (title, looks, or its mesh); undo restores the old values."""

    def __init__(self, layers: LayerList, layer: Layer, text: str, **changes: Any) -> None:
        super().__init__(text)
        self.layers, self.layer = layers, layer
        self.new = dict(changes)
        self.old = {k: getattr(layer, k) for k in changes}

    def redo(self) -> None:
        self.layers.update(self.layer, **self.new)

    def undo(self) -> None:
        self.layers.update(self.layer, **self.old)

    def id(self) -> int:
        if len(self.new) == 1:
            return _MERGE_IDS.get(next(iter(self.new)), -1)
        return -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditLayer) or other.layer is not self.layer or set(other.new) != set(self.new):
            return False
        self.new = dict(other.new)
        return True


class MoveLayer(QUndoCommand):
    def __init__(self, layers: LayerList, layer: Layer, index: int) -> None:
        super().__init__(f"Move {layer.title}")
        self.layers, self.layer = layers, layer
        self.old = layers.index(layer)
        self.new = max(0, min(len(layers) - 1, index))

    def redo(self) -> None:
        self.layers.move(self.layer, self.new)

    def undo(self) -> None:
        self.layers.move(self.layer, self.old)


class Macro(QUndoCommand):
    """Several edits as one step. The parts are kept as Python objects and run in order
    (redo) or in reverse (undo); they are not given a Qt parent, whose C++ side would
    call back into Python objects it does not keep alive."""

    def __init__(self, text: str, parts: list[QUndoCommand]) -> None:
        super().__init__(text)
        self.parts = list(parts)

    def redo(self) -> None:
        for part in self.parts:
            part.redo()

    def undo(self) -> None:
        for part in reversed(self.parts):
            part.undo()


def edit_text(layer: Layer, changes: dict[str, Any]) -> str:
    """The Edit menu's name of an edit, e.g. "Undo Colour of Poisson #1"."""
    keys = set(changes)
    if keys == {"title"}:
        return f"Rename {layer.title}"
    if keys == {"color"}:
        return f"Colour of {layer.title}"
    if keys == {"opacity"}:
        return f"Opacity of {layer.title}"
    if keys == {"visible"}:
        return f"{'Show' if changes['visible'] else 'Hide'} {layer.title}"
    return f"Change {layer.title}"
