"""The 2D decision-region map: class colours with confidence as lightness, the data
points on top, overlays (boundary samples, eps-balls, linear regions) and attack paths.

Drawn with QPainter from arrays the engine produced in a worker; converting the
probability grid to a QImage is cheap (NumPy), so the map redraws every time the
worker sends a new grid. ``frame_rate()`` reports how many new region images per
second were actually painted.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from levelset_studio.app.robustness.colors import class_color, pattern_rgb, region_rgb, rgb_to_qimage


@dataclass
class AttackPath:
    """An attack's iterates from the clean point to its adversarial point (data coords)."""

    name: str
    path: np.ndarray  # (K, 2), first row the clean point, last row the adversarial point
    color: QColor
    fooled: bool = True
    label: str = ""


@dataclass
class MapState:
    extent: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)  # x0, x1, y0, y1
    predicted: np.ndarray | None = None  # (H, W) class; row i at the i-th lowest y
    confidence: np.ndarray | None = None  # (H, W) probability of the predicted class
    num_classes: int = 2
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    boundary: np.ndarray | None = None  # (M, 2) samples on the decision boundary
    patterns: np.ndarray | None = None  # (H, W) activation-pattern ids
    eps: float = 0.05
    eps_norm: str = "linf"
    paths: list[AttackPath] = field(default_factory=list)
    selected: tuple[str, int] | None = None
    note: str = ""
    noise_origin: np.ndarray | None = None  # (2,) the point the random lines go through
    noise_hits: np.ndarray | None = None  # (K, 2) where each random line first meets the boundary


class RegionMap(QWidget):
    """Decision regions of a 2D classifier. Emits ``pointClicked(set_name, index)``."""

    pointClicked = Signal(str, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self.state = MapState()
        self.show_train = True
        self.show_test = True
        self.show_boundary = True
        self.show_eps_balls = False
        self.show_linear_regions = False
        self._region_img: QImage | None = None
        self._layer: QImage | None = None  # cached points and overlays
        self._layer_key: tuple | None = None
        self._pattern_img: QImage | None = None
        self._new_region = False
        self._frames: deque[float] = deque(maxlen=400)
        self.region_updates = 0
        self.setToolTip("Click a training or test point to attack it")

    # ----------------------------------------------------------------- data in
    def set_data(self, x_train, y_train, x_test, y_test, extent) -> None:
        s = self.state
        s.x_train, s.y_train = np.asarray(x_train), np.asarray(y_train)
        s.x_test, s.y_test = np.asarray(x_test), np.asarray(y_test)
        s.extent = tuple(float(v) for v in extent)  # type: ignore[assignment]
        s.paths, s.selected, s.note = [], None, ""
        self.update()

    def set_region(
        self,
        predicted: np.ndarray,
        confidence: np.ndarray,
        num_classes: int,
        extent: tuple[float, float, float, float] | None = None,
    ) -> None:
        """A new region grid: predicted class and its probability (H, W); row 0 is the lowest y."""
        self.state.predicted, self.state.confidence, self.state.num_classes = predicted, confidence, int(num_classes)
        if extent is not None:
            self.state.extent = tuple(float(v) for v in extent)  # type: ignore[assignment]
        self._region_img = rgb_to_qimage(region_rgb(predicted, confidence, num_classes)[::-1])
        self._new_region = True
        self.region_updates += 1
        self.update()

    def set_boundary(self, points: np.ndarray | None) -> None:
        self.state.boundary = None if points is None else np.asarray(points)
        self.update()

    def set_patterns(self, patterns: np.ndarray | None) -> None:
        self.state.patterns = patterns
        self._pattern_img = None if patterns is None else rgb_to_qimage(pattern_rgb(patterns)[::-1])
        self.update()

    def set_eps(self, eps: float, norm: str) -> None:
        self.state.eps, self.state.eps_norm = float(eps), norm
        self.update()

    def set_paths(self, selected: tuple[str, int] | None, paths: list[AttackPath], note: str = "") -> None:
        self.state.selected, self.state.paths, self.state.note = selected, list(paths), note
        self.update()

    def set_noise(self, origin: np.ndarray | None, hits: np.ndarray | None) -> None:
        """Random lines through ``origin`` drawn to where each first crosses the boundary."""
        self.state.noise_origin = None if origin is None else np.asarray(origin, dtype=float)
        self.state.noise_hits = None if hits is None else np.asarray(hits, dtype=float)
        self.update()

    def clear(self) -> None:
        self.state = MapState()
        self._region_img = self._pattern_img = None
        self.update()

    # -------------------------------------------------------------- queries
    def predicted_class_at(self, points: np.ndarray) -> np.ndarray:
        """The class the map shows at each data-space point (nearest grid cell)."""
        pred = self.state.predicted
        if pred is None:
            raise RuntimeError("no region computed yet")
        h, w = pred.shape
        x0, x1, y0, y1 = self.state.extent
        pts = np.asarray(points, dtype=np.float64)
        j = np.clip(np.round((pts[:, 0] - x0) / (x1 - x0) * (w - 1)).astype(int), 0, w - 1)
        i = np.clip(np.round((pts[:, 1] - y0) / (y1 - y0) * (h - 1)).astype(int), 0, h - 1)
        return pred[i, j]

    def frame_rate(self, window_s: float = 2.0) -> float:
        """New region images painted per second over the last ``window_s`` seconds."""
        now = time.perf_counter()
        recent = [t for t in self._frames if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)

    def frame_times(self) -> list[float]:
        return list(self._frames)

    # -------------------------------------------------------------- geometry
    def _plot_rect(self) -> QRectF:
        side = min(self.width(), self.height()) - 16
        x0, x1, y0, y1 = self.state.extent
        aspect = (x1 - x0) / max(y1 - y0, 1e-12)
        w, h = (side, side / aspect) if aspect >= 1 else (side * aspect, side)
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_pixel(self, pts: np.ndarray) -> np.ndarray:
        r = self._plot_rect()
        x0, x1, y0, y1 = self.state.extent
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        px = r.left() + (pts[:, 0] - x0) / (x1 - x0) * r.width()
        py = r.bottom() - (pts[:, 1] - y0) / (y1 - y0) * r.height()
        return np.stack([px, py], axis=1)

    def to_data(self, px: float, py: float) -> tuple[float, float]:
        r = self._plot_rect()
        x0, x1, y0, y1 = self.state.extent
        return (x0 + (px - r.left()) / r.width() * (x1 - x0), y0 + (r.bottom() - py) / r.height() * (y1 - y0))

    def pixel_of(self, set_name: str, index: int) -> QPointF:
        """Where a data point is drawn (used by tests to click it)."""
        pts = self.state.x_train if set_name == "train" else self.state.x_test
        p = self.to_pixel(pts[index])[0]
        return QPointF(float(p[0]), float(p[1]))

    # ----------------------------------------------------------------- mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        best: tuple[float, str, int] | None = None
        for name, pts, shown in (
            ("train", self.state.x_train, self.show_train),
            ("test", self.state.x_test, self.show_test),
        ):
            if pts is None or not shown or len(pts) == 0:
                continue
            pix = self.to_pixel(pts)
            d = np.hypot(pix[:, 0] - pos.x(), pix[:, 1] - pos.y())
            k = int(d.argmin())
            if d[k] <= 12 and (best is None or d[k] < best[0]):
                best = (float(d[k]), name, k)
        if best is not None:
            self.pointClicked.emit(best[1], best[2])
        super().mousePressEvent(event)

    # ----------------------------------------------------------------- paint
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.fillRect(self.rect(), QColor("#fafafa"))
        r = self._plot_rect()
        s = self.state
        if self._region_img is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(r, self._region_img)
            if self._new_region:
                self._frames.append(time.perf_counter())
                self._new_region = False
        else:
            p.fillRect(r, QColor("#eeeeee"))
        if self.show_linear_regions and self._pattern_img is not None:
            p.setOpacity(0.55)
            p.drawImage(r, self._pattern_img)
            p.setOpacity(1.0)
        p.setPen(QPen(QColor("#444444"), 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(r)

        # The points and overlays do not change while the model trains: they are drawn
        # once into a cached layer and only blitted with each new region image.
        key = (
            self.width(),
            self.height(),
            id(s.x_train),
            id(s.x_test),
            id(s.boundary),
            s.eps,
            s.eps_norm,
            s.extent,
            self.show_train,
            self.show_test,
            self.show_boundary,
            self.show_eps_balls,
        )
        if self._layer is None or self._layer_key != key:
            self._layer = self._render_layer()
            self._layer_key = key
        p.drawImage(0, 0, self._layer)
        if self._region_img is None:  # the placeholder goes over the points, on its own card
            self._draw_placeholder(p, r, "Train a model to see its decision regions")
        self._draw_noise(p)
        self._draw_paths(p)
        p.end()

    def _draw_placeholder(self, p: QPainter, r: QRectF, text: str) -> None:
        p.setFont(QFont(self.font().family(), 11))
        fm = p.fontMetrics()
        w, h = fm.horizontalAdvance(text) + 28, fm.height() + 16
        card = QRectF(r.center().x() - w / 2, r.center().y() - h / 2, w, h)
        p.setPen(QPen(QColor("#999999"), 1))
        p.setBrush(QColor(255, 255, 255, 235))
        p.drawRoundedRect(card, 6, 6)
        p.setPen(QColor("#333333"))
        p.drawText(card, Qt.AlignmentFlag.AlignCenter, text)

    def _draw_noise(self, p: QPainter) -> None:
        s = self.state
        if s.noise_origin is None or s.noise_hits is None:
            return
        o = self.to_pixel(s.noise_origin[None])[0]
        hits = s.noise_hits[np.isfinite(s.noise_hits).all(axis=1)]
        pen = QPen(QColor(40, 40, 160, 200), 1.3, Qt.PenStyle.DashLine)
        for hx, hy in self.to_pixel(hits) if len(hits) else []:
            p.setPen(pen)
            p.drawLine(QPointF(o[0], o[1]), QPointF(hx, hy))
            p.setPen(QPen(QColor("#202080"), 1))
            p.setBrush(QColor("#ffd23f"))
            p.drawEllipse(QPointF(hx, hy), 3.2, 3.2)

    def _render_layer(self) -> QImage:
        """Eps-balls, training and test points and boundary samples on a transparent image."""
        dpr = self.devicePixelRatioF()
        img = QImage(round(self.width() * dpr), round(self.height() * dpr), QImage.Format.Format_ARGB32_Premultiplied)
        img.setDevicePixelRatio(dpr)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        r = self._plot_rect()
        s = self.state
        if self.show_eps_balls and s.x_train is not None and s.eps > 0:
            x0, x1, _, _ = s.extent
            rad = s.eps / (x1 - x0) * r.width()
            p.setPen(QPen(QColor(0, 0, 0, 90), 1))
            for (px, py), y in zip(self.to_pixel(s.x_train), s.y_train):
                c = class_color(int(y))
                c.setAlpha(40)
                p.setBrush(c)
                if s.eps_norm == "l2":
                    p.drawEllipse(QPointF(px, py), rad, rad)
                else:
                    p.drawRect(QRectF(px - rad, py - rad, 2 * rad, 2 * rad))
        if self.show_train and s.x_train is not None:
            self._draw_points(p, s.x_train, s.y_train, radius=4.0, hollow=False)
        if self.show_test and s.x_test is not None:
            self._draw_points(p, s.x_test, s.y_test, radius=3.5, hollow=True)
        if self.show_boundary and s.boundary is not None and len(s.boundary):
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(20, 20, 20, 200))
            for px, py in self.to_pixel(s.boundary):
                p.drawEllipse(QPointF(px, py), 1.6, 1.6)
        p.end()
        return img

    def _draw_points(self, p: QPainter, pts, labels, radius: float, hollow: bool) -> None:
        pix = self.to_pixel(pts)
        for (px, py), y in zip(pix, labels):
            c = class_color(int(y))
            if hollow:
                p.setPen(QPen(c.darker(130), 1.6))
                p.setBrush(QColor(255, 255, 255, 200))
            else:
                p.setPen(QPen(QColor("#222222"), 0.8))
                p.setBrush(c)
            p.drawEllipse(QPointF(px, py), radius, radius)

    def _draw_paths(self, p: QPainter) -> None:
        s = self.state
        if s.selected is not None:
            name, idx = s.selected
            pts = s.x_train if name == "train" else s.x_test
            if pts is not None and idx < len(pts):
                c = self.to_pixel(pts[idx])[0]
                p.setPen(QPen(QColor("black"), 2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawEllipse(QPointF(c[0], c[1]), 8, 8)
        for ap in s.paths:
            pix = self.to_pixel(ap.path)
            path = QPainterPath(QPointF(pix[0, 0], pix[0, 1]))
            for px, py in pix[1:]:
                path.lineTo(QPointF(px, py))
            p.setPen(QPen(ap.color, 2.2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            p.setBrush(ap.color)
            for px, py in pix[1:-1]:
                p.drawEllipse(QPointF(px, py), 1.8, 1.8)
            end = QPointF(pix[-1, 0], pix[-1, 1])
            p.setPen(QPen(QColor("black"), 1.2))
            size = 6
            p.drawRect(QRectF(end.x() - size / 2, end.y() - size / 2, size, size))
        lines = [ap.label for ap in s.paths if ap.label]
        if s.note:
            lines.append(s.note)
        if lines:
            p.setFont(QFont(self.font().family(), 9))
            fm = p.fontMetrics()
            w = max(fm.horizontalAdvance(t) for t in lines) + 12
            h = fm.height() * len(lines) + 8
            box = QRectF(10, 10, w, h)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 255, 255, 225))
            p.drawRect(box)
            for k, t in enumerate(lines):
                color = s.paths[k].color if k < len(s.paths) and s.paths[k].label else QColor("black")
                p.setPen(color.darker(120))
                p.drawText(QPointF(16, 10 + 4 + fm.ascent() + k * fm.height()), t)
