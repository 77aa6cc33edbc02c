"""The 3D view: a pyvistaqt interactor holding named actors, updated in place.

Each layer is one named actor. A training snapshot replaces the points and faces of
that actor's dataset (no new actor, no new mapper), so live updates cost one upload
and one render. Everything here runs on the GUI thread only.

Surfaces are shaded smoothly from the vertex normals core gives (the network's
gradient); scan clouds can *step back* (small faint points) so a surface over them
reads as a surface; dense clouds are drawn from a subsample; the camera's default
view follows the chosen up axis, and ``reset_camera`` (R) restores it.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np
import pyvista as pv
from PySide6.QtCore import QPoint, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

BACKGROUND = (0.15, 0.16, 0.19)  # a solid colour, so screenshots can be checked
MULTI_SAMPLES = int(os.environ.get("LEVELSET_MSAA", "0"))
MESH_COLOR = "#e8c26a"
SCAN_COLOR = "#6fa8dc"
# One colour per result layer, safe for the common colour-vision deficiencies (the
# Okabe-Ito set, in the order that keeps neighbours apart on the dark background).
RESULT_PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#cc79a7", "#0072b2", "#d55e00")
MAX_DRAWN_POINTS = 1_500_000  # denser clouds are drawn from an even subsample
FAINT_POINT_SIZE = 1.0
FAINT_OPACITY = 0.18
UP_AXES = ("z", "y", "x")
_UP_VECTORS = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
# where the default camera looks from, in (right, front, up) terms: above, in front, to the right
_VIEW_DIRECTIONS = {"z": (1.0, -1.6, 0.9), "y": (1.0, 0.9, 1.6), "x": (0.9, 1.0, -1.6)}


def result_color(index: int) -> str:
    """The palette colour of the ``index``-th result layer (0-based, cycling)."""
    return RESULT_PALETTE[index % len(RESULT_PALETTE)]


def subsample_stride(n: int, limit: int | None = None) -> int:
    """Every how many points to draw so that at most ``limit`` (MAX_DRAWN_POINTS) are drawn."""
    limit = MAX_DRAWN_POINTS if limit is None else limit
    return max(1, -(-int(n) // max(1, int(limit))))


def _polydata(vertices: np.ndarray, faces: np.ndarray | None = None) -> pv.PolyData:
    v = np.ascontiguousarray(vertices, dtype=np.float64).reshape(-1, 3)
    if faces is None:
        return pv.PolyData(v)
    f = np.ascontiguousarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(f) == 0:
        return pv.PolyData(v)
    return pv.PolyData.from_regular_faces(v, f)


class View3D(QWidget):
    """A 3D view with named point-cloud and mesh actors, and a small tool row above it.

    Point layers added with ``scan=True`` are scan clouds: :meth:`set_scans_faint` (the
    "Faint scan" button) draws them as small faint points, so that a surface in front of
    or around them is seen as a surface. ``up_axis_changed`` tells the owner the user
    picked another up axis (to remember it for the file).
    """

    up_axis_changed = Signal(str)
    scans_faint_changed = Signal(bool)
    mesh_changed = Signal(str)  # a mesh layer was drawn or updated and rendered (the film records it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        tools = QHBoxLayout()
        tools.setContentsMargins(4, 2, 4, 0)
        self.faint_button = QToolButton(self)
        self.faint_button.setText("Faint scan")
        self.faint_button.setCheckable(True)
        self.faint_button.setToolTip(
            "Draw the scan points small and faint, so the surface reads as a surface "
            "(on by itself when a surface appears; click to toggle)"
        )
        tools.addWidget(self.faint_button)
        tools.addStretch(1)
        tools.addWidget(QLabel("Up"))
        self.up_combo = QComboBox(self)
        for axis in UP_AXES:
            self.up_combo.addItem(axis.upper(), axis)
        self.up_combo.setToolTip("Which axis of the scan points up (guessed from the scan, remembered per file)")
        tools.addWidget(self.up_combo)
        self.reset_button = QToolButton(self)
        self.reset_button.setText("Reset view")
        self.reset_button.setToolTip("Back to the default view (R)")
        tools.addWidget(self.reset_button)
        layout.addLayout(tools)
        self.plotter = QtInteractor(self, auto_update=False, multi_samples=MULTI_SAMPLES)
        self.plotter.setAcceptDrops(False)  # drops go to the main window (open scans)
        layout.addWidget(self.plotter)
        self.plotter.set_background(BACKGROUND)
        self.plotter.add_axes()
        self._data: dict[str, pv.PolyData] = {}
        self._actors: dict[str, Any] = {}
        self._scalar_bars: dict[str, str] = {}
        self._point_style: dict[str, tuple[float, float]] = {}  # scan layers: (size, opacity) as asked
        self._camera_set = False
        self.closed = False
        self.up_axis = "z"
        self.scans_faint = False
        self.faint_button.toggled.connect(self.set_scans_faint)
        self.up_combo.currentIndexChanged.connect(self._up_picked)
        self.reset_button.clicked.connect(self.reset_camera)

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
        scan: bool = False,
    ) -> None:
        """Show (or replace) a point cloud layer; ``scan``: a scan cloud (can step back).

        Clouds over ``MAX_DRAWN_POINTS`` are drawn from an even subsample (the data
        stays whole in core; only the picture is thinned).
        """
        self.remove(name, render=False)
        step = subsample_stride(len(points))
        poly = _polydata(np.asarray(points)[::step])
        kw: dict[str, Any] = {}
        if rgb is not None:
            poly["rgb"] = np.asarray(rgb, dtype=np.float32)[::step]
            kw = dict(scalars="rgb", rgb=True)
        elif scalars is not None:
            poly["value"] = np.asarray(scalars, dtype=np.float32)[::step]
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
        if scan:
            self._point_style[name] = (float(point_size), float(opacity))
            self._apply_point_style(name)
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
        normals: np.ndarray | None = None,
    ) -> None:
        """Show (or replace) a mesh layer; with ``scalars``, coloured with a scalar bar.

        Shaded smoothly: from ``normals`` (per vertex, e.g. the network's gradient) when
        given, else from normals VTK averages over the faces.
        """
        self.remove(name, render=False)
        poly = _polydata(vertices, faces)
        _set_normals(poly, normals)
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
            smooth_shading=False,  # pyvista's would shade a copy; ours shades the dataset we update
            reset_camera=False,
            render=False,
            specular=0.25,
            specular_power=20.0,
            **kw,
        )
        actor.GetProperty().SetInterpolationToPhong()
        actor.SetVisibility(visible)
        self._data[name], self._actors[name] = poly, actor
        self._after_add()
        self.mesh_changed.emit(name)

    def update_mesh(
        self,
        name: str,
        vertices: np.ndarray,
        faces: np.ndarray,
        *,
        same_vertices: bool = False,
        normals: np.ndarray | None = None,
    ) -> bool:
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
        new = _polydata(vertices, faces)
        if not same_vertices:
            _set_normals(new, normals)
        poly.copy_from(new, deep=False)
        for key, values in kept.items():
            if len(values) == poly.n_points:
                poly.point_data[key] = values
        if "Normals" in kept and len(kept["Normals"]) == poly.n_points:
            poly.point_data.active_normals_name = "Normals"
        if "distance" in kept:
            poly.set_active_scalars("distance")
        poly.Modified()
        self.render()
        self.mesh_changed.emit(name)
        return True

    # -- scans stepping back ----------------------------------------------------
    def _apply_point_style(self, name: str) -> None:
        actor = self._actors.get(name)
        if actor is None or name not in self._point_style:
            return
        size, opacity = self._point_style[name]
        prop = actor.GetProperty()
        if self.scans_faint:
            prop.SetPointSize(min(size, FAINT_POINT_SIZE))
            prop.SetOpacity(min(opacity, FAINT_OPACITY))
        else:
            prop.SetPointSize(size)
            prop.SetOpacity(opacity)

    def set_scans_faint(self, on: bool) -> None:
        """Scan clouds as small faint points (True) or as added (False)."""
        on = bool(on)
        changed = on != self.scans_faint
        self.scans_faint = on
        if self.faint_button.isChecked() != on:
            self.faint_button.setChecked(on)  # re-enters with the same value: nothing more to do
        for name in self._point_style:
            self._apply_point_style(name)
        self.render()
        if changed:
            self.scans_faint_changed.emit(on)

    def is_faint(self, name: str) -> bool:
        """Whether point layer ``name`` is drawn faint now."""
        return self.scans_faint and name in self._point_style

    # -- up axis and the default view ----------------------------------------------
    def _up_picked(self, _index: int) -> None:
        axis = self.up_combo.currentData()
        if axis and axis != self.up_axis:
            self.set_up_axis(axis)
            self.up_axis_changed.emit(axis)

    def set_up_axis(self, axis: str, *, reset: bool = True) -> None:
        """Point ``axis`` ("x", "y" or "z") up; with ``reset``, go to the default view."""
        axis = str(axis).lower()
        if axis not in _UP_VECTORS:
            raise ValueError(f"up axis: {axis!r} is not one of x, y, z")
        self.up_axis = axis
        idx = self.up_combo.findData(axis)
        if idx >= 0 and self.up_combo.currentIndex() != idx:
            self.up_combo.blockSignals(True)
            self.up_combo.setCurrentIndex(idx)
            self.up_combo.blockSignals(False)
        if reset:
            self.reset_camera()

    def remove(self, name: str, *, render: bool = True) -> None:
        if name in self._scalar_bars:
            title = self._scalar_bars.pop(name)
            with contextlib.suppress(KeyError, ValueError, AttributeError, StopIteration):
                self.plotter.remove_scalar_bar(title, render=False)
        self._point_style.pop(name, None)
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
        """The default view: from above, in front and to the right, ``up_axis`` up, all in frame."""
        cam = self.plotter.camera
        focal = np.array(cam.focal_point, dtype=float)
        direction = np.array(_VIEW_DIRECTIONS[self.up_axis], dtype=float)
        cam.position = tuple(focal + direction)
        cam.up = _UP_VECTORS[self.up_axis]
        self.plotter.reset_camera()
        self.render()

    def view_isometric(self) -> None:
        self.reset_camera()

    def render(self) -> None:
        if not self.closed:
            self.plotter.render()

    def image(self) -> np.ndarray:
        """The current frame as an (H, W, 3) uint8 array, rendered now.

        ``grabFramebuffer`` paints the GL widget (VTK renders the scene as it is at
        this call, camera included) and reads its framebuffer back; reading VTK's
        buffers directly can return the frame Qt last painted, one change behind.
        """
        qimg = self.plotter.grabFramebuffer().convertToFormat(QImage.Format.Format_RGB888)
        w, h = qimg.width(), qimg.height()
        if w == 0 or h == 0:
            return np.asarray(self.plotter.screenshot(return_img=True))[:, :, :3]
        buf = np.frombuffer(qimg.constBits(), dtype=np.uint8, count=qimg.sizeInBytes())
        return buf.reshape(h, qimg.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()

    def close_view(self) -> None:
        if not self.closed:
            self.closed = True
            self.plotter.close()  # releases the GL resources with this view's context
            # Drop our references now, so the VTK objects go while nothing else is
            # drawing, not whenever the garbage collector finds them later.
            self._data.clear()
            self._actors.clear()
            self._scalar_bars.clear()


def _set_normals(poly: pv.PolyData, normals: np.ndarray | None) -> None:
    """Give ``poly`` per-vertex normals for smooth shading (given, else averaged by VTK)."""
    if poly.n_cells == 0:
        return
    n = None if normals is None else np.asarray(normals, dtype=np.float32).reshape(-1, 3)
    if n is None or len(n) != poly.n_points or not np.all(np.isfinite(n)):
        # VTK's averaged vertex normals, computed in place (no copy of the dataset)
        n = np.asarray(
            poly.compute_normals(
                cell_normals=False, point_normals=True, split_vertices=False, consistent_normals=False
            ).point_data["Normals"],
            dtype=np.float32,
        )
    poly.point_data["Normals"] = n
    poly.point_data.active_normals_name = "Normals"


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
