"""Small plots drawn with QPainter: the live loss curves and the distance histogram.

QPainter keeps them cheap enough to repaint on every progress event without
stalling the GUI thread (matplotlib's canvas costs tens of milliseconds a draw).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QMenu, QSizePolicy, QToolTip, QWidget

SERIES_COLORS = ("#e69f00", "#56b4e9", "#009e73", "#cc79a7", "#f0e442", "#999999")  # colour-blind safe
TOTAL = "loss"
# Plain names and one-line meanings of the loss terms the engines report.
TERM_NAMES = {
    "loss": "Total loss",
    "mean_abs_f": "Scan distance",
    "surface": "Scan fit",
    "zero_level": "Surface samples",
    "general_level": "Off-surface samples",
    "zero_eikonal": "Gradient length",
    "eikonal": "Gradient length",
    "normal": "Normals",
}
TERM_HELP = {
    "loss": "the weighted sum the optimizer lowers",
    "mean_abs_f": "mean |F| at scan points: how far the level set is from the scan (unit space)",
    "surface": "the scan-fit term: |F| at scan points, before its weight",
    "zero_level": "level-set samples pulled onto the nearest scan points",
    "general_level": "level-set samples at other levels kept at their distance to the scan",
    "zero_eikonal": "(|grad F| - 1)^2 at the surface samples: keeps F a distance",
    "eikonal": "(|grad F| - 1)^2: keeps F a distance",
    "normal": "|grad F - n|: agreement with the scan's normals",
}
PREFERRED_TERMS = ("mean_abs_f", "zero_level", "surface", "general_level", "eikonal", "normal", "zero_eikonal")
MAX_TERMS = 2  # beside the total


def term_name(key: str) -> str:
    return TERM_NAMES.get(key, key.replace("_", " ").capitalize())


def _nice_log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values (not logs) between 10**lo and 10**hi: 1-2-5 steps, at most ~4 ticks."""
    out: list[float] = []
    for e in range(math.floor(lo) - 1, math.ceil(hi) + 1):
        for m in (1.0, 2.0, 5.0):
            v = m * 10.0**e
            if lo <= math.log10(v) <= hi:
                out.append(v)
    while len(out) > 4:
        out = out[::2]
    return out


class LossPlot(QWidget):
    """The total loss and at most two chosen terms against the step (log scale).

    Plain names, a legend below the plot (never over the lines), a y range fitted to the
    data, a tooltip with the values under the cursor, and a right-click menu to choose
    the terms. Keeps at most ``max_points`` per series by halving the resolution of old
    points, so long runs cost the same to draw as short ones.
    """

    HINT = "Loss curves appear here while training."

    def __init__(self, parent: QWidget | None = None, max_points: int = 600) -> None:
        super().__init__(parent)
        self.max_points = max_points
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.chosen: list[str] | None = None  # None: the first available PREFERRED_TERMS
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.setToolTip("Right-click to choose which loss terms are shown beside the total.")

    def sizeHint(self) -> QSize:
        return QSize(260, 140)

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

    # -- what is shown ---------------------------------------------------------------
    def terms(self) -> list[str]:
        """The terms besides the total that could be shown (those with data)."""
        return [k for k in self.series if k != TOTAL]

    def set_terms(self, keys: Sequence[str]) -> None:
        """Show these terms beside the total (at most two; unknown ones wait for data)."""
        self.chosen = [k for k in keys if k != TOTAL][:MAX_TERMS]
        self.update()

    def shown(self) -> list[str]:
        """The series drawn now: the total first, then at most two terms."""
        out = [TOTAL] if TOTAL in self.series else []
        if self.chosen is not None:
            extra = [k for k in self.chosen if k in self.series]
        else:
            avail = self.terms()
            extra = [k for k in PREFERRED_TERMS if k in avail] + [k for k in avail if k not in PREFERRED_TERMS]
        return out + extra[:MAX_TERMS]

    def _menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        shown = set(self.shown())
        for key in self.terms():
            act = menu.addAction(term_name(key))
            act.setCheckable(True)
            act.setChecked(key in shown)
            act.setToolTip(TERM_HELP.get(key, ""))
            act.toggled.connect(lambda on, k=key: self._toggle(k, on))
        if not menu.isEmpty():
            menu.exec(self.mapToGlobal(pos))

    def _toggle(self, key: str, on: bool) -> None:
        current = [k for k in self.shown() if k != TOTAL]
        if on and key not in current:
            current = [*current, key][-MAX_TERMS:]
        elif not on:
            current = [k for k in current if k != key]
        self.set_terms(current)

    # -- geometry ------------------------------------------------------------------------
    def _legend_rows(self) -> list[list[str]]:
        """The legend's entries, wrapped into rows that fit the width."""
        metrics = self.fontMetrics()
        rows: list[list[str]] = [[]]
        x, right = 42.0, self.width() - 8.0
        for key in self.shown():
            w = metrics.horizontalAdvance(term_name(key)) * 0.9 + 26
            if rows[-1] and x + w > right:
                rows.append([])
                x = 42.0
            rows[-1].append(key)
            x += w
        return rows

    def _plot_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(42, 6, -8, -20 - 14 * len(self._legend_rows()))

    def _ranges(self) -> tuple[float, float, float, float] | None:
        pts = [pt for k in self.shown() for pt in self.series[k]]
        if not pts:
            return None
        xs = [x for x, _ in pts]
        ys = [math.log10(y) for _, y in pts]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = min(ys), max(ys)
        pad = max(0.05, 0.08 * (y1 - y0))  # the data fill the box, with a little air
        return x0, x1, y0 - pad, y1 + pad

    def values_at(self, x_px: float) -> tuple[int, dict[str, float]] | None:
        """The step under pixel column ``x_px`` and the shown series' values there."""
        rng = self._ranges()
        if rng is None:
            return None
        r = self._plot_rect()
        x0, x1 = rng[0], rng[1]
        step = x0 + (min(max(x_px, r.left()), r.right()) - r.left()) / max(1.0, r.width()) * (x1 - x0)
        out = {}
        for key in self.shown():
            pts = self.series[key]
            nearest = min(pts, key=lambda pt: abs(pt[0] - step))
            out[key] = nearest[1]
        return round(step), out

    def mouseMoveEvent(self, event) -> None:
        hit = self.values_at(event.position().x())
        if hit is not None:
            step, vals = hit
            lines = [f"step {step}"] + [f"{term_name(k)}: {v:.3g}" for k, v in vals.items()]
            QToolTip.showText(event.globalPosition().toPoint(), "\n".join(lines), self)
        super().mouseMoveEvent(event)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        r = self._plot_rect()
        rng = self._ranges()
        font = p.font()
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.85))
        p.setFont(font)
        if rng is None:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, self.HINT)
            return
        x0, x1, y0, y1 = rng
        p.setPen(QPen(self.palette().mid().color()))
        p.drawRect(r)

        def to_px(x: float, y: float) -> QPointF:
            return QPointF(
                r.left() + (x - x0) / (x1 - x0) * r.width(),
                r.bottom() - (math.log10(y) - y0) / (y1 - y0) * r.height(),
            )

        text = self.palette().text().color()
        for v in _nice_log_ticks(y0, y1):
            y = to_px(x0, v).y()
            p.setPen(QPen(self.palette().midlight().color(), 0.5, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            p.setPen(text)
            p.drawText(
                QRectF(0, y - 7, 39, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{v:.2g}"
            )
        p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 14), Qt.AlignmentFlag.AlignLeft, f"step {int(x0)}")
        p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 14), Qt.AlignmentFlag.AlignRight, f"{int(x1)}")
        legend_y = r.bottom() + 16
        p.setClipRect(r.adjusted(-1, -1, 1, 1))
        for i, key in enumerate(self.shown()):
            color = QColor(SERIES_COLORS[i % len(SERIES_COLORS)])
            pts = self.series[key]
            path = QPainterPath(to_px(*pts[0]))
            for pt in pts[1:]:
                path.lineTo(to_px(*pt))
            p.setPen(QPen(color, 2.0 if key == TOTAL else 1.4))
            p.drawPath(path)
        p.setClipping(False)
        metrics = p.fontMetrics()
        index = {key: i for i, key in enumerate(self.shown())}
        for row in self._legend_rows():  # the legend, below the plot, wrapped to the width
            legend_x = r.left()
            for key in row:
                color = QColor(SERIES_COLORS[index[key] % len(SERIES_COLORS)])
                name = term_name(key)
                p.fillRect(QRectF(legend_x, legend_y + 5, 10, 3), color)
                p.setPen(text)
                w = metrics.horizontalAdvance(name)
                p.drawText(QRectF(legend_x + 13, legend_y, w + 4, 14), Qt.AlignmentFlag.AlignLeft, name)
                legend_x += w + 26
            legend_y += 14


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
            p.setPen(self.palette().placeholderText().color())
            p.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, "no distances yet")
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
