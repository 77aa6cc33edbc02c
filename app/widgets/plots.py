"""Small plots drawn with QPainter: the live loss curves and the distance histogram.

QPainter keeps them cheap enough to repaint on every progress event without
stalling the GUI thread (matplotlib's canvas costs tens of milliseconds a draw).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

SERIES_COLORS = ("#e8a33d", "#4fa3e0", "#6cc070", "#d9534f", "#a37fd6", "#999999")


class LossPlot(QWidget):
    """Live loss terms against the step, log-scaled, with a legend.

    Keeps at most ``max_points`` per series by halving the resolution of old
    points, so long runs cost the same to draw as short ones.
    """

    def __init__(self, parent: QWidget | None = None, max_points: int = 600) -> None:
        super().__init__(parent)
        self.max_points = max_points
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        return QSize(260, 130)

    def clear(self) -> None:
        self.series.clear()
        self.update()

    def add(self, step: int, metrics: Mapping[str, float], keys: Sequence[str] | None = None) -> None:
        for key, value in metrics.items():
            if keys is not None and key not in keys:
                continue
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(v) or v <= 0:
                continue
            pts = self.series.setdefault(key, [])
            pts.append((float(step), v))
            if len(pts) > self.max_points:
                pts[:] = pts[::2]
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(36, 6, -6, -16)
        p.fillRect(self.rect(), self.palette().base())
        p.setPen(QPen(self.palette().mid().color()))
        p.drawRect(r)
        allpts = [pt for pts in self.series.values() for pt in pts]
        if not allpts:
            p.setPen(self.palette().text().color())
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "loss")
            return
        xs = [x for x, _ in allpts]
        ys = [math.log10(y) for _, y in allpts]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
        if y1 <= y0:
            y1 = y0 + 1

        def to_px(x: float, y: float) -> QPointF:
            return QPointF(
                r.left() + (x - x0) / (x1 - x0) * r.width(),
                r.bottom() - (math.log10(y) - y0) / (y1 - y0) * r.height(),
            )

        p.setPen(self.palette().text().color())
        font = p.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        p.setFont(font)
        p.drawText(QRectF(0, r.top() - 6, 34, 14), Qt.AlignmentFlag.AlignRight, f"1e{y1}")
        p.drawText(QRectF(0, r.bottom() - 8, 34, 14), Qt.AlignmentFlag.AlignRight, f"1e{y0}")
        p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 14), Qt.AlignmentFlag.AlignRight, f"step {int(x1)}")
        for i, (key, pts) in enumerate(self.series.items()):
            color = QColor(SERIES_COLORS[i % len(SERIES_COLORS)])
            path = QPainterPath(to_px(*pts[0]))
            for pt in pts[1:]:
                path.lineTo(to_px(*pt))
            p.setPen(QPen(color, 1.5))
            p.drawPath(path)
            p.drawText(QRectF(r.left() + 4, r.top() + 2 + 12 * i, r.width() - 8, 14), Qt.AlignmentFlag.AlignLeft, key)


class HistogramWidget(QWidget):
    """Bars of ``counts`` over ``edges`` with the unit on the x axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: np.ndarray | None = None
        self.edges: np.ndarray | None = None
        self.unit = ""
        self.marker: float | None = None
        self.setMinimumHeight(90)

    def sizeHint(self) -> QSize:
        return QSize(260, 110)

    def set_data(self, counts: np.ndarray, edges: np.ndarray, unit: str = "") -> None:
        self.counts, self.edges, self.unit = np.asarray(counts), np.asarray(edges), unit
        self.update()

    def set_marker(self, value: float | None) -> None:
        """A vertical line, e.g. at the trimming distance."""
        self.marker = value
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        r = QRectF(self.rect()).adjusted(6, 6, -6, -16)
        p.setPen(self.palette().text().color())
        if self.counts is None or self.edges is None or len(self.counts) == 0:
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "distance histogram")
            return
        cmax = max(1, int(self.counts.max()))
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        span = hi - lo if hi > lo else 1.0
        n = len(self.counts)
        w = r.width() / n
        for i, c in enumerate(self.counts):
            h = r.height() * float(c) / cmax
            p.fillRect(QRectF(r.left() + i * w, r.bottom() - h, max(1.0, w - 1), h), QColor("#4fa3e0"))
        if self.marker is not None and lo <= self.marker <= hi:
            x = r.left() + (self.marker - lo) / span * r.width()
            p.setPen(QPen(QColor("#d9534f"), 1.5))
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.setPen(self.palette().text().color())
        unit = f" {self.unit}" if self.unit else ""
        p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 14), Qt.AlignmentFlag.AlignLeft, f"{lo:.3g}")
        p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 14), Qt.AlignmentFlag.AlignRight, f"{hi:.3g}{unit}")
