"""The 3D view: a pyvistaqt interactor holding named actors, updated in place.

Each layer is one named actor. A training snapshot replaces the points and faces of
that actor's dataset (no new actor, no new mapper), so live updates cost one upload
and one render. Everything here runs on the GUI thread only.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np
import pyvista as pv
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

BACKGROUND = (0.15, 0.16, 0.19)  # a solid colour, so screenshots can be checked
MULTI_SAMPLES = int(os.environ.get("LEVELSET_MSAA", "0"))
MESH_COLOR = "#e8c26a"
SCAN_COLOR = "#6fa8dc"


def _polydata(vertices: np.ndarray, faces: np.ndarray | None = None) -> pv.PolyData:
    v = np.ascontiguousarray(vertices, dtype=np.float64).reshape(-1, 3)
    if faces is None:
        return pv.PolyData(v)
    f = np.ascontiguousarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(f) == 0:
        return pv.PolyData(v)
    return pv.PolyData.from_regular_faces(v, f)


class View3D(QWidget):
    """A 3D view with named point-cloud and mesh actors."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plotter = QtInteractor(self, auto_update=False, multi_samples=MULTI_SAMPLES)
        self.plotter.setAcceptDrops(False)  # drops go to the main window (open scans)
        layout.addWidget(self.plotter)
        self.plotter.set_background(BACKGROUND)
        self.plotter.add_axes()
        self._data: dict[str, pv.PolyData] = {}
        self._actors: dict[str, Any] = {}
        self._scalar_bars: dict[str, str] = {}
        self._camera_set = False
        self.closed = False

    # -- layers ------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._actors)

    def dataset(self, name: str) -> pv.PolyData | None:
        return self._data.get(name)

    def actor(self, name: str) -> Any:
        return self._actors.get(name)

    def set_points(
        self,
        name: str,
        points: np.ndarray,
        *,
        scalars: np.ndarray | None = None,
        rgb: np.ndarray | None = None,
        color: str = SCAN_COLOR,
        point_size: float = 2.0,
        visible: bool = True,
        opacity: float = 1.0,
    ) -> None:
        """Show (or replace) a point cloud layer."""
        self.remove(name, render=False)
        poly = _polydata(points)
        kw: dict[str, Any] = {}
        if rgb is not None:
            poly["rgb"] = np.asarray(rgb, dtype=np.float32)
            kw = dict(scalars="rgb", rgb=True)
        elif scalars is not None:
            poly["value"] = np.asarray(scalars, dtype=np.float32)
            kw = dict(scalars="value", cmap="viridis", show_scalar_bar=False)
        else:
            kw = dict(color=color)
        actor = self.plotter.add_mesh(
            poly,
            name=name,
            point_size=point_size,
            render_points_as_spheres=False,
            opacity=opacity,
            reset_camera=False,
            render=False,
            **kw,
        )
        actor.SetVisibility(visible)
        self._data[name], self._actors[name] = poly, actor
        self._after_add()

    def set_mesh(
        self,
        name: str,
        vertices: np.ndarray,
        faces: np.ndarray,
        *,
        color: str = MESH_COLOR,
        opacity: float = 1.0,
        visible: bool = True,
        scalars: np.ndarray | None = None,
        clim: tuple[float, float] | None = None,
        scalar_title: str = "",
        cmap: str = "plasma",
    ) -> None:
        """Show (or replace) a mesh layer; with ``scalars``, coloured with a scalar bar."""
        self.remove(name, render=False)
        poly = _polydata(vertices, faces)
        kw: dict[str, Any] = dict(color=color)
        if scalars is not None:
            poly["distance"] = np.asarray(scalars, dtype=np.float32)
            title = scalar_title or "distance"
            kw = dict(
                scalars="distance",
                cmap=cmap,
                clim=clim,
                show_scalar_bar=True,
                scalar_bar_args=dict(
                    title=title,
                    vertical=True,
                    position_x=0.84,
                    position_y=0.15,
                    width=0.06,
                    height=0.7,
                    n_labels=5,
                    title_font_size=14,
                    label_font_size=12,
                    fmt="%.3g",
                ),
            )
            self._scalar_bars[name] = title
        actor = self.plotter.add_mesh(
            poly,
            name=name,
            opacity=opacity,
            smooth_shading=False,
            reset_camera=False,
            render=False,
            specular=0.2,
            **kw,
        )
        actor.SetVisibility(visible)
        self._data[name], self._actors[name] = poly, actor
        self._after_add()

    def update_mesh(self, name: str, vertices: np.ndarray, faces: np.ndarray, *, same_vertices: bool = False) -> bool:
        """Replace the geometry of mesh layer ``name`` in place (same actor and mapper).

        ``same_vertices``: the vertices are those shown now (only faces change, as in a
        trimming preview), so per-vertex values such as distance colours are kept.
        Returns False when no such layer exists yet (the caller then adds it).
        """
        poly = self._data.get(name)
        if poly is None:
            return False
        # per-vertex colours (distance) survive when the vertices stay the same
        kept = {k: np.asarray(poly.point_data[k]) for k in poly.point_data} if same_vertices else {}
        poly.copy_from(_polydata(vertices, faces), deep=False)
        for key, values in kept.items():
            if len(values) == poly.n_points:
                poly.point_data[key] = values
        if "distance" in kept:
            poly.set_active_scalars("distance")
        poly.Modified()
        self.render()
        return True

    def remove(self, name: str, *, render: bool = True) -> None:
        if name in self._scalar_bars:
            title = self._scalar_bars.pop(name)
            with contextlib.suppress(KeyError, ValueError, AttributeError, StopIteration):
                self.plotter.remove_scalar_bar(title, render=False)
        if name in self._actors:
            self.plotter.remove_actor(self._actors.pop(name), render=False)
            self._data.pop(name, None)
            if render:
                self.render()

    def set_visible(self, name: str, visible: bool) -> None:
        if name in self._actors:
            self._actors[name].SetVisibility(bool(visible))
            self.render()

    def set_opacity(self, name: str, opacity: float) -> None:
        if name in self._actors:
            self._actors[name].GetProperty().SetOpacity(float(opacity))
            self.render()

    def set_color(self, name: str, color: str) -> None:
        if name in self._actors:
            c = QColor(color)
            self._actors[name].GetProperty().SetColor(c.redF(), c.greenF(), c.blueF())
            self.render()

    def _after_add(self) -> None:
        if not self._camera_set:
            self.reset_camera()
            self._camera_set = True
        else:
            self.render()

    # -- view --------------------------------------------------------------------
    def reset_camera(self) -> None:
        self.plotter.reset_camera()
        self.render()

    def view_isometric(self) -> None:
        self.plotter.view_isometric()
        self.render()

    def render(self) -> None:
        if not self.closed:
            self.plotter.render()

    def image(self) -> np.ndarray:
        """The current frame as an (H, W, 3) uint8 array."""
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))

    def close_view(self) -> None:
        if not self.closed:
            self.closed = True
            self.plotter.close()  # releases the GL resources with this view's context
            # Drop our references now, so the VTK objects go while nothing else is
            # drawing, not whenever the garbage collector finds them later.
            self._data.clear()
            self._actors.clear()
            self._scalar_bars.clear()


def grab_window(window: QWidget, view: View3D | None) -> QImage:
    """A picture of the whole window with the 3D view's real frame painted in.

    Widgets are grabbed by Qt; the OpenGL view is read back from VTK, since grabbing
    a native GL surface through Qt gives an empty rectangle on many platforms.
    """
    pix: QPixmap = window.grab()
    image = pix.toImage().convertToFormat(QImage.Format.Format_RGB888)
    if view is not None and view.isVisible() and not view.closed:
        frame = np.ascontiguousarray(view.image()[:, :, :3])
        h, w = frame.shape[:2]
        qframe = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        top_left: QPoint = view.plotter.mapTo(window, QPoint(0, 0))
        dpr = pix.devicePixelRatio()
        target = qframe.scaled(int(view.plotter.width() * dpr), int(view.plotter.height() * dpr))
        painter = QPainter(image)
        painter.drawImage(int(top_left.x() * dpr), int(top_left.y() * dpr), target)
        painter.end()
    return image
