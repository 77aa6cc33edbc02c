"""The layer model of a piece of surface work: scans, meshes and point sets, in order.

Qt-free, so the GUI, the session file and tests share one description of "what is on
screen". A :class:`LayerList` is an ordered list of typed layers with one active
(selected) layer; every change is announced by an event, and views follow the events
instead of keeping their own copy (docs/architecture.md, "Layers").

Events (each an :class:`Signal`; callbacks receive the arguments shown):

- ``inserted(index, layer)`` after a layer is added at ``index``;
- ``removed(index, layer)`` after a layer left ``index``;
- ``moved(old_index, new_index, layer)`` after a reorder;
- ``changed(layer, fields)`` after ``update`` set attributes; ``fields`` maps each
  changed attribute to its *old* value (enough to undo the change);
- ``selected(layer_or_None)`` when the active layer changes.

Large arrays (points, vertices, faces) are held by reference, never copied: a layer
removed and put back (undo) is the same object with the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from levelset_studio.core.errors import LevelSetError

MeshKind = Literal["levelset", "poisson", "trimmed", "cleaned"]
MESH_KINDS: tuple[str, ...] = ("levelset", "poisson", "trimmed", "cleaned")

# Default colours by kind (Okabe-Ito, safe for colour-blind readers).
DEFAULT_COLORS = {
    "scan": "#56b4e9",
    "points": "#d55e00",
    "levelset": "#e69f00",
    "poisson": "#009e73",
    "trimmed": "#cc79a7",
    "cleaned": "#0072b2",
}


class Signal:
    """A minimal Qt-free event: ``connect(callback)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for cb in list(self._callbacks):
            cb(*args)


@dataclass(eq=False)
class Layer:
    """What every layer has: a unique name (the view's key), a title, and looks."""

    name: str
    title: str
    visible: bool = True
    opacity: float = 1.0
    color: str = ""

    kind = "layer"

    def __post_init__(self) -> None:
        if not self.color:
            self.color = DEFAULT_COLORS.get(self.kind, "#cccccc")
        if not 0.0 <= float(self.opacity) <= 1.0:
            raise LevelSetError(f"layer opacity must be in [0, 1], got {self.opacity}")

    @property
    def is_scan(self) -> bool:
        return isinstance(self, ScanLayer)

    @property
    def is_mesh(self) -> bool:
        return isinstance(self, MeshLayer)

    @property
    def is_points(self) -> bool:
        return isinstance(self, PointsLayer)


@dataclass(eq=False)
class ScanLayer(Layer):
    """A loaded (or cleaned) scan. ``data`` is a core Scan."""

    data: Any = None
    files: list[str] = field(default_factory=list)
    cleaning: dict[str, Any] | None = None  # the cleaning settings that made it, if any
    report: str | None = None  # e.g. the cleaning summary

    kind = "scan"


@dataclass(eq=False)
class MeshLayer(Layer):
    """A surface. ``data`` is a core Mesh (None while a reconstruction has not drawn yet)."""

    data: Any = None
    method: MeshKind = "levelset"
    config: Any = None  # the settings that made it
    scan: str | None = None  # name of the scan layer it was made from
    source: str | None = None  # for trimmed/cleaned meshes: the layer it came from
    step: int | None = None  # training step of the shown surface (level sets)
    steps: int | None = None
    elapsed: float | None = None
    preview: bool = False  # a low-resolution, untrimmed training preview
    distances: np.ndarray | None = None  # per-vertex distance to the scan (Inspect)
    histogram: tuple[np.ndarray, np.ndarray] | None = None  # (counts, edges) of the distances
    report: Any = None  # evaluation report (Inspect)

    def __post_init__(self) -> None:
        if self.method not in MESH_KINDS:
            raise LevelSetError(f"unknown mesh kind {self.method!r} (one of {', '.join(MESH_KINDS)})")
        if not self.color:
            self.color = DEFAULT_COLORS[self.method]
        super().__post_init__()

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.method


@dataclass(eq=False)
class PointsLayer(Layer):
    """A set of points that is not a scan, e.g. the outliers a reconstruction ignored."""

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    role: str = "points"  # what the points are, e.g. "ignored outliers"
    scan: str | None = None
    point_size: float = 4.0

    kind = "points"


_LAYER_FIELDS: dict[type, set[str]] = {}


def _plain(value: Any) -> bool:
    """Values compared by ``==`` (others, such as meshes and arrays, by identity)."""
    return value is None or isinstance(value, (str, int, float, bool))


def _field_names(layer: Layer) -> set[str]:
    cls = type(layer)
    if cls not in _LAYER_FIELDS:
        _LAYER_FIELDS[cls] = {f.name for f in fields(cls)}
    return _LAYER_FIELDS[cls]


class LayerList:
    """An ordered list of layers with unique names, one active layer, and events.

    Indexing takes a position or a layer name; ``in`` takes a name or a layer.
    """

    def __init__(self) -> None:
        self._layers: list[Layer] = []
        self._active: Layer | None = None
        self._counter = 0
        self.inserted = Signal()
        self.removed = Signal()
        self.moved = Signal()
        self.changed = Signal()
        self.selected = Signal()

    # ------------------------------------------------------------ reading --
    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(list(self._layers))

    def __bool__(self) -> bool:
        return bool(self._layers)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Layer):
            return any(lay is item for lay in self._layers)
        return any(lay.name == item for lay in self._layers)

    def __getitem__(self, key: int | str) -> Layer:
        if isinstance(key, str):
            layer = self.get(key)
            if layer is None:
                raise KeyError(key)
            return layer
        return self._layers[key]

    def get(self, name: str | None) -> Layer | None:
        for lay in self._layers:
            if lay.name == name:
                return lay
        return None

    def index(self, layer: Layer | str) -> int:
        name = layer if isinstance(layer, str) else layer.name
        for i, lay in enumerate(self._layers):
            if lay.name == name:
                return i
        raise KeyError(name)

    def values(self) -> list[Layer]:
        """The layers in order (as a dict of layers by name would give them)."""
        return list(self._layers)

    def items(self) -> list[tuple[str, Layer]]:
        """(name, layer) pairs in order, e.g. for ``dict(layers.items())``."""
        return [(lay.name, lay) for lay in self._layers]

    def names(self) -> list[str]:
        return [lay.name for lay in self._layers]

    def of_type(self, cls: type) -> list[Any]:
        return [lay for lay in self._layers if isinstance(lay, cls)]

    def scans(self) -> list[ScanLayer]:
        return self.of_type(ScanLayer)

    def meshes(self) -> list[MeshLayer]:
        return self.of_type(MeshLayer)

    def new_name(self, kind: str) -> str:
        """A name no layer has had in this list: ``kind-N``."""
        while True:
            self._counter += 1
            name = f"{kind}-{self._counter}"
            if name not in self:
                return name

    # ------------------------------------------------------------ editing --
    def insert(self, index: int, layer: Layer) -> None:
        if layer.name in self:
            raise LevelSetError(f"a layer named {layer.name!r} exists already")
        index = max(0, min(len(self._layers), index if index >= 0 else len(self._layers) + 1 + index))
        self._layers.insert(index, layer)
        self.inserted.emit(index, layer)

    def append(self, layer: Layer) -> None:
        self.insert(len(self._layers), layer)

    def remove(self, layer: Layer | str) -> tuple[int, Layer]:
        """Remove a layer; returns where it was and the layer (for undo)."""
        i = self.index(layer)
        lay = self._layers.pop(i)
        if lay is self._active:
            self._active = None
            self.selected.emit(None)
        self.removed.emit(i, lay)
        return i, lay

    def move(self, layer: Layer | str, new_index: int) -> None:
        i = self.index(layer)
        new_index = max(0, min(len(self._layers) - 1, new_index))
        if i == new_index:
            return
        lay = self._layers.pop(i)
        self._layers.insert(new_index, lay)
        self.moved.emit(i, new_index, lay)

    def update(self, layer: Layer | str, **changes: Any) -> dict[str, Any]:
        """Set attributes of a layer; returns (and announces) the old values of those that changed."""
        lay = self[layer] if isinstance(layer, str) else layer
        allowed = _field_names(lay)
        old: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in allowed:
                raise LevelSetError(f"a {lay.kind} layer has no setting {key!r}")
            if key == "opacity" and not 0.0 <= float(value) <= 1.0:
                raise LevelSetError(f"layer opacity must be in [0, 1], got {value}")
            before = getattr(lay, key)
            if before is value or (_plain(before) and _plain(value) and before == value):
                continue
            old[key] = before
            setattr(lay, key, value)
        if old and lay in self:
            self.changed.emit(lay, old)
        return old

    def clear(self) -> None:
        for lay in reversed(list(self._layers)):
            self.remove(lay)

    # ---------------------------------------------------------- selection --
    @property
    def active(self) -> Layer | None:
        return self._active

    def select(self, layer: Layer | str | None) -> None:
        lay = None if layer is None else (self[layer] if isinstance(layer, str) else layer)
        if lay is self._active:
            return
        self._active = lay
        self.selected.emit(lay)
