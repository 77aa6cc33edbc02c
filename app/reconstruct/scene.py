"""The 3D view follows the layer model: one named actor per layer.

``Scene`` listens to a core LayerList and draws, updates or removes actors; nothing
else in the tab adds a layer's actor. Transient pictures that are not layers (the
trimming preview, the level-set samples) are drawn by their owners under names of
their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from levelset_studio.app.view3d import View3D
from levelset_studio.core.surface.layers import Layer, LayerList, MeshLayer, PointsLayer, ScanLayer

LOOK_FIELDS = {"visible", "opacity", "color"}


def samples_name(name: str) -> str:
    return f"{name}:samples"


class Scene:
    """Keeps ``view`` in step with ``layers``."""

    def __init__(self, layers: LayerList, view: View3D, scan_colors: Callable[[Any], dict[str, Any]]) -> None:
        self.layers = layers
        self.view = view
        self.scan_colors = scan_colors  # a scan -> the colouring keywords for set_points
        self.distance_clim: Callable[[MeshLayer], tuple[float, float]] = _default_clim
        layers.inserted.connect(lambda _i, layer: self.draw(layer))
        layers.removed.connect(lambda _i, layer: self._removed(layer))
        layers.changed.connect(self._changed)

    def draw(self, layer: Layer) -> None:
        """(Re)draw a layer's actor from the model."""
        v = self.view
        if isinstance(layer, ScanLayer):
            if layer.data is None:
                return
            # dense scans as 1-pixel points, so a surface under them stays visible
            size = 1.0 if len(layer.data) > 20_000 else 2.0
            v.set_points(
                layer.name,
                layer.data.points,
                color=layer.color,
                visible=layer.visible,
                opacity=layer.opacity,
                point_size=size,
                scan=True,  # steps back (faint) when a surface is shown
                **self.scan_colors(layer.data),
            )
        elif isinstance(layer, PointsLayer):
            v.set_points(
                layer.name,
                layer.points,
                color=layer.color,
                visible=layer.visible,
                opacity=layer.opacity,
                point_size=layer.point_size,
            )
        elif isinstance(layer, MeshLayer):
            if layer.data is None:
                v.remove(layer.name)
                return
            mesh = layer.data
            kw: dict[str, Any] = {}
            if layer.distances is not None and len(layer.distances) == mesh.n_vertices:
                kw = dict(
                    scalars=layer.distances,
                    clim=self.distance_clim(layer),
                    scalar_title=self.bar_title(layer),
                )
            v.set_mesh(
                layer.name,
                mesh.vertices,
                mesh.faces,
                color=layer.color,
                visible=layer.visible,
                opacity=layer.opacity,
                normals=mesh.vertex_normals,
                **kw,
            )
            if kw:
                self.show_scalar_bar_of(self.layers.active)

    def _removed(self, layer: Layer) -> None:
        self.view.remove(layer.name)
        self.view.remove(samples_name(layer.name))

    def _changed(self, layer: Layer, old: dict[str, Any]) -> None:
        keys = set(old)
        if keys - LOOK_FIELDS - {"title", "report", "histogram", "step", "steps", "elapsed", "preview", "config"}:
            if (
                isinstance(layer, MeshLayer)
                and keys <= {"data", "step", "preview", "steps", "elapsed"}
                and layer.data is not None
                and layer.distances is None
                and self.view.update_mesh(
                    layer.name, layer.data.vertices, layer.data.faces, normals=layer.data.vertex_normals
                )
            ):
                return  # a new surface of the same layer: geometry replaced in place
            self.draw(layer)
            return
        if "title" in keys and isinstance(layer, MeshLayer) and layer.distances is not None:
            self.draw(layer)  # the colour bar names its layer
            return
        if "visible" in keys:
            self.view.set_visible(layer.name, layer.visible)
        if "opacity" in keys:
            self.view.set_opacity(layer.name, layer.opacity)
        if "color" in keys:
            self.view.set_color(layer.name, layer.color)

    def bar_title(self, layer: MeshLayer) -> str:
        return f"{layer.title}: distance to scan (scan units)"

    def show_scalar_bar_of(self, layer: Layer | None) -> None:
        """Only the selected layer's colour bar is shown (each coloured layer has its own)."""
        bars = self.view.plotter.scalar_bars
        mine = self.bar_title(layer) if isinstance(layer, MeshLayer) and layer.distances is not None else None
        for title in list(bars.keys()):
            bars[title].SetVisibility(title == mine)
        self.view.render()

    def redraw_scans(self) -> None:
        for layer in self.layers.scans():
            self.draw(layer)


def _default_clim(layer: MeshLayer) -> tuple[float, float]:
    d = layer.distances
    hi = float(np.percentile(d, 99)) if d is not None and len(d) else 1.0
    return 0.0, max(hi, 1e-12)
