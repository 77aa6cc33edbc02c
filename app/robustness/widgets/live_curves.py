"""Live train/test loss and accuracy while a model trains, drawn with QPainter.

Matplotlib redraws cost far more than a training epoch of a small 2D model, so the
curves that update during training are painted directly; PNG and CSV export as for
the other figures.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

SERIES = (  # (metric, panel, colour, dashed)
    ("train_loss", 0, "#ff7f0e", False),
    ("test_loss", 0, "#1f77b4", True),
    ("train_acc", 1, "#ff7f0e", False),
    ("test_acc", 1, "#1f77b4", True),
)


class _Canvas(QWidget):
    def __init__(self, owner: LiveCurves):
        super().__init__(owner)
        self.owner = owner
        self.setMinimumSize(220, 170)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.fillRect(self.rect(), QColor("white"))
        p.setFont(QFont(self.font().family(), 8))
        fm = p.fontMetrics()
        o = self.owner
        left, right, top, gap, bottom = 44, 8, 6, 14, fm.height() + 6
        h = (self.height() - top - bottom - gap) / 2
        panels = [
            QRectF(left, top, self.width() - left - right, h),
            QRectF(left, top + h + gap, self.width() - left - right, h),
        ]
        xs = o.steps
        x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        if x1 <= x0:
            x1 = x0 + 1.0
        for k, rect in enumerate(panels):
            vals = [
                v for name, panel, _, _ in SERIES if panel == k for v in o.history.get(name, []) if math.isfinite(v)
            ]
            lo, hi = (0.0, 1.0) if k == 1 else ((min(vals), max(vals)) if vals else (0.0, 1.0))
            if k == 0:
                lo = min(lo, 0.0)
                hi = hi if hi > lo else lo + 1.0
            p.setPen(QPen(QColor("#999999"), 1))
            p.drawRect(rect)
            p.setPen(QColor("#444444"))
            p.drawText(QRectF(0, rect.top() - 2, left - 4, fm.height()), Qt.AlignmentFlag.AlignRight, f"{hi:.2g}")
            p.drawText(
                QRectF(0, rect.bottom() - fm.height() + 2, left - 4, fm.height()),
                Qt.AlignmentFlag.AlignRight,
                f"{lo:.2g}",
            )
            p.save()
            p.translate(10, rect.center().y())
            p.rotate(-90)
            p.drawText(
                QRectF(-rect.height() / 2, -6, rect.height(), fm.height()),
                Qt.AlignmentFlag.AlignCenter,
                "loss" if k == 0 else "accuracy",
            )
            p.restore()
            # loss falls and accuracy rises: legends where the curves are not
            legend_y = rect.top() + fm.ascent() + 2 if k == 0 else rect.bottom() - 2 * fm.height() + fm.ascent() - 2
            for name, panel, color, dashed in SERIES:
                if panel != k or name not in o.history:
                    continue
                pen = QPen(QColor(color), 1.8, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
                path = QPainterPath()
                started = False
                for x, v in zip(xs, o.history[name]):
                    if not math.isfinite(v):
                        continue
                    pt = QPointF(
                        rect.left() + (x - x0) / (x1 - x0) * rect.width(),
                        rect.bottom() - (v - lo) / (hi - lo) * rect.height(),
                    )
                    if started:
                        path.lineTo(pt)
                    else:
                        path.moveTo(pt)
                        started = True
                p.setPen(pen)
                p.drawPath(path)
                p.drawLine(QPointF(rect.right() - 78, legend_y - 3), QPointF(rect.right() - 62, legend_y - 3))
                p.setPen(QColor("#333333"))
                p.drawText(QPointF(rect.right() - 58, legend_y), name.split("_")[0])
                legend_y += fm.height()
        p.setPen(QColor("#444444"))
        p.drawText(
            QRectF(left, self.height() - bottom + 2, self.width() - left - right, fm.height()),
            Qt.AlignmentFlag.AlignCenter,
            f"epoch {x0:g} … {x1:g}" if xs else "epoch",
        )
        p.end()


class LiveCurves(QWidget):
    """Train/test loss and accuracy per epoch ('PNG…' and 'CSV…' export)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = "Training curves"
        self.canvas = _Canvas(self)
        bar = QHBoxLayout()
        cap = QLabel(self.title)
        cap.setStyleSheet("font-weight: bold")
        bar.addWidget(cap)
        bar.addStretch(1)
        self.png_button = QPushButton("PNG…")
        self.csv_button = QPushButton("CSV…")
        for b in (self.png_button, self.csv_button):
            b.setMaximumWidth(60)
            bar.addWidget(b)
        self.png_button.clicked.connect(lambda: self._ask(self.export_png, "training_curves.png", "PNG image (*.png)"))
        self.csv_button.clicked.connect(lambda: self._ask(self.export_csv, "training_curves.csv", "CSV (*.csv)"))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.canvas, 1)
        self.reset()

    def reset(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.steps: list[float] = []
        self.canvas.update()

    def add(self, step: float, metrics: dict[str, float]) -> None:
        self.steps.append(float(step))
        for k in set(self.history) | set(metrics):
            self.history.setdefault(k, [float("nan")] * (len(self.steps) - 1))
            self.history[k].append(float(metrics.get(k, float("nan"))))
        self.canvas.update()

    def table(self) -> tuple[list[str], list[list[object]]]:
        keys = sorted(self.history)
        return ["epoch", *keys], [[s, *[self.history[k][i] for k in keys]] for i, s in enumerate(self.steps)]

    def export_png(self, path: str | Path) -> Path:
        self.canvas.grab().save(str(path), "PNG")
        return Path(path)

    def export_csv(self, path: str | Path) -> Path:
        header, rows = self.table()
        with Path(path).open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        return Path(path)

    def _ask(self, fn, default: str, filt: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Export {self.title}", default, filt)
        if path:
            fn(path)
