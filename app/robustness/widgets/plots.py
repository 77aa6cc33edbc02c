"""Matplotlib figures of the Robustness tab, each exportable as PNG and CSV.

Every panel keeps the numbers it draws (``table()``: header and rows) so that
"Export data" writes exactly what the figure shows.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from levelset_studio.app.robustness.colors import CLASS_COLORS

MODEL_STYLES = ("-", "--", ":", "-.")


class FigurePanel(QWidget):
    """A matplotlib canvas with 'PNG' and 'CSV' export buttons."""

    def __init__(self, title: str, parent: QWidget | None = None, figsize=(4.0, 3.0), margins: dict | None = None):
        super().__init__(parent)
        self.title = title
        # Fixed margins, not constrained layout: a layout pass costs more than the drawing
        # itself, and these figures redraw while a model trains.
        self.figure = Figure(figsize=figsize)
        self.figure.subplots_adjust(**{"left": 0.16, "right": 0.97, "bottom": 0.17, "top": 0.95, **(margins or {})})
        self._dirty = False
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(200, 150)
        self._header: list[str] = []
        self._rows: list[Sequence[object]] = []
        bar = QHBoxLayout()
        self.caption = QLabel(title)
        self.caption.setStyleSheet("font-weight: bold")
        bar.addWidget(self.caption)
        bar.addStretch(1)
        self.png_button = QPushButton("PNG…")
        self.png_button.setToolTip(f"Export the {title.lower()} figure as a PNG image")
        self.csv_button = QPushButton("CSV…")
        self.csv_button.setToolTip(f"Export the numbers of the {title.lower()} figure as CSV")
        for b in (self.png_button, self.csv_button):
            b.setMaximumWidth(60)
            bar.addWidget(b)
        self.png_button.clicked.connect(self._ask_png)
        self.csv_button.clicked.connect(self._ask_csv)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.canvas, 1)

    # ---------------------------------------------------------------- export
    def set_table(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self._header, self._rows = list(header), [list(r) for r in rows]

    def table(self) -> tuple[list[str], list[list[object]]]:
        return self._header, [list(r) for r in self._rows]

    def export_png(self, path: str | Path) -> Path:
        path = Path(path)
        self.figure.savefig(path, dpi=150)
        return path

    def export_csv(self, path: str | Path) -> Path:
        path = Path(path)
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self._header)
            w.writerows(self._rows)
        return path

    def _slug(self) -> str:
        return self.title.lower().replace(" ", "_").replace("/", "-")

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Export {self.title}", f"{self._slug()}.png", "PNG image (*.png)")
        if path:
            self.export_png(path)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Export {self.title} data", f"{self._slug()}.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def redraw(self) -> None:
        """Draw now if shown; a hidden figure is drawn when it is shown (drawing is the
        expensive part, and hidden figures change often while a model trains)."""
        if self.canvas.isVisible():
            self.canvas.draw_idle()
        else:
            self._dirty = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self._dirty = False
            self.canvas.draw_idle()


class EpsCurvePlot(FigurePanel):
    """Robust accuracy against epsilon, one curve per (model, attack)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Accuracy vs eps", parent)
        self.ax = self.figure.add_subplot(111)
        self.curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.xlabel = "eps"
        self._draw()

    def set_curve(self, name: str, eps: Sequence[float], acc: Sequence[float], xlabel: str | None = None) -> None:
        self.curves[name] = (np.asarray(eps, float), np.asarray(acc, float))
        if xlabel:
            self.xlabel = xlabel
        self._draw()

    def clear_curves(self) -> None:
        self.curves = {}
        self._draw()

    def _draw(self) -> None:
        ax = self.ax
        ax.clear()
        for k, (name, (e, a)) in enumerate(self.curves.items()):
            ax.plot(e, a, MODEL_STYLES[k % 4], marker="o", ms=3, label=name)
        ax.set_xlabel(self.xlabel, fontsize=8)
        ax.set_ylabel("robust accuracy", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        if self.curves:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not computed yet", ha="center", va="center", transform=ax.transAxes, color="gray")
        rows = [[name, float(e), float(a)] for name, (es, acs) in self.curves.items() for e, a in zip(es, acs)]
        self.set_table(["model", "eps", "robust_accuracy"], rows)
        self.redraw()


class CurvaturePlot(FigurePanel):
    """Top eigenvalues of the input Hessian of the loss, one line per model."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Curvature profile", parent)
        self.ax = self.figure.add_subplot(111)
        self.profiles: dict[str, np.ndarray] = {}
        self._draw()

    def set_profile(self, name: str, eigenvalues: Sequence[float]) -> None:
        self.profiles[name] = np.asarray(eigenvalues, float)
        self._draw()

    def clear_profiles(self) -> None:
        self.profiles = {}
        self._draw()

    def _draw(self) -> None:
        ax = self.ax
        ax.clear()
        for k, (name, ev) in enumerate(self.profiles.items()):
            ax.plot(np.arange(1, len(ev) + 1), ev, MODEL_STYLES[k % 4], marker="o", ms=3, label=name)
        ax.axhline(0, color="gray", lw=0.6)
        # eigenvalues of two models differ by orders of magnitude (a robust model's are tiny):
        # a symmetric log scale keeps both readable, and negative ones too
        peak = max((float(np.abs(ev).max()) for ev in self.profiles.values() if len(ev)), default=0.0)
        if peak > 0:
            small = [float(np.abs(ev[ev != 0]).min()) for ev in self.profiles.values() if np.any(ev != 0)]
            ax.set_yscale("symlog", linthresh=max(min(small, default=peak), peak * 1e-6))
        ax.set_xlabel("eigenvalue rank", fontsize=8)
        ax.set_ylabel("input-Hessian eigenvalue (symlog)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if self.profiles:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not computed yet", ha="center", va="center", transform=ax.transAxes, color="gray")
        rows = [[name, i + 1, float(v)] for name, ev in self.profiles.items() for i, v in enumerate(ev)]
        self.set_table(["model", "rank", "eigenvalue"], rows)
        self.redraw()


class CrossSectionPlot(FigurePanel):
    """Predicted class over the plane through x spanned by the adversarial and a random
    direction, next to the loss surface over the same plane."""

    def __init__(self, title: str = "Cross-section", parent: QWidget | None = None, with_loss: bool = True):
        super().__init__(
            title,
            parent,
            figsize=(5.0, 2.6),
            margins={"left": 0.1, "right": 0.89, "bottom": 0.17, "top": 0.9, "wspace": 0.3},
        )
        self.with_loss = with_loss
        self.ax_cls = self.figure.add_subplot(121 if with_loss else 111)
        self.ax_loss = self.figure.add_subplot(122) if with_loss else None
        self.cax = self.figure.add_axes((0.91, 0.17, 0.015, 0.73)) if with_loss else None
        self.data: dict | None = None
        self._draw()

    def set_section(
        self,
        a: np.ndarray,
        b: np.ndarray,
        classes: np.ndarray,
        loss: np.ndarray | None,
        num_classes: int,
        label: int | None = None,
        adv_at: float | None = None,
    ) -> None:
        """``classes``/``loss`` are (len(b), len(a)) grids over offsets a (adversarial) x b (random)."""
        self.data = dict(
            a=np.asarray(a),
            b=np.asarray(b),
            classes=np.asarray(classes),
            loss=None if loss is None else np.asarray(loss),
            num_classes=int(num_classes),
            label=label,
            adv_at=adv_at,
        )
        self._draw()

    def _draw(self) -> None:
        self.ax_cls.clear()
        if self.ax_loss is not None:
            self.ax_loss.clear()
        d = self.data
        if d is None:
            self.ax_cls.text(
                0.5, 0.5, "select a point", ha="center", va="center", transform=self.ax_cls.transAxes, color="gray"
            )
            self.set_table([], [])
            self.redraw()
            return
        a, b, cls = d["a"], d["b"], d["classes"]
        ext = (a[0], a[-1], b[0], b[-1])
        cmap = ListedColormap([CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(d["num_classes"])])
        self.ax_cls.imshow(
            cls,
            origin="lower",
            extent=ext,
            aspect="auto",
            cmap=cmap,
            vmin=-0.5,
            vmax=d["num_classes"] - 0.5,
            interpolation="nearest",
        )
        self.ax_cls.plot([0], [0], "k*", ms=9)
        if d["adv_at"] is not None and np.isfinite(d["adv_at"]):
            self.ax_cls.axvline(d["adv_at"], color="k", ls="--", lw=0.8)  # DeepFool's boundary distance
        self.ax_cls.set_xlabel("adversarial direction", fontsize=8)
        self.ax_cls.set_ylabel("random direction", fontsize=8)
        self.ax_cls.set_title("predicted class", fontsize=8)
        self.ax_cls.tick_params(labelsize=7)
        self.ax_cls.locator_params(nbins=5)
        if self.ax_loss is not None and d["loss"] is not None:
            im = self.ax_loss.imshow(d["loss"], origin="lower", extent=ext, aspect="auto", cmap="viridis")
            self.ax_loss.contour(a, b, d["loss"], levels=8, colors="white", linewidths=0.5)
            self.ax_loss.plot([0], [0], "w*", ms=9)
            self.ax_loss.set_title("loss", fontsize=8)
            self.ax_loss.set_xlabel("adversarial direction", fontsize=8)
            self.ax_loss.tick_params(labelsize=7)
            self.ax_loss.locator_params(nbins=5)
            self.cax.clear()
            cbar = self.figure.colorbar(im, cax=self.cax)
            cbar.ax.tick_params(labelsize=6)
            cbar.set_label("cross-entropy loss of the label", fontsize=7)
        rows = []
        loss = d["loss"]
        for i, bv in enumerate(b):
            for j, av in enumerate(a):
                rows.append([float(av), float(bv), int(cls[i, j]), "" if loss is None else float(loss[i, j])])
        self.set_table(["adversarial_offset", "random_offset", "predicted_class", "loss"], rows)
        self.redraw()
