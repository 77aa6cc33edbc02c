"""Image datasets: a gallery of test images with predictions, and the adversarial view
(clean input, amplified perturbation, adversarial input, class probabilities)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from levelset_studio.app.robustness.colors import gray_to_qimage
from levelset_studio.app.robustness.widgets.plots import FigurePanel


def _as_2d(img: np.ndarray) -> np.ndarray:
    """(1, H, W), (H, W) or (H, W, 1) -> (H, W); colour images become their mean."""
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a.mean(axis=0)
    elif a.ndim == 3:
        a = a.mean(axis=2)
    return a


def image_pixmap(img: np.ndarray, size: int, signed: bool = False, frame: QColor | None = None) -> QPixmap:
    pix = QPixmap.fromImage(gray_to_qimage(_as_2d(img), signed=signed)).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )
    if frame is not None:
        p = QPainter(pix)
        p.setPen(QPen(frame, 4))
        p.drawRect(1, 1, pix.width() - 3, pix.height() - 3)
        p.end()
    return pix


class Gallery(QListWidget):
    """Test images with the model's prediction; misclassified ones framed in red.
    Emits ``imageSelected(index)`` with the index into the test set."""

    imageSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None, thumb: int = 56):
        super().__init__(parent)
        self.thumb = thumb
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(thumb, thumb))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSpacing(4)
        self.setUniformItemSizes(True)
        # room for two caption lines under each thumbnail: captions are never cut
        self.setWordWrap(True)
        fm = self.fontMetrics()
        self.setGridSize(
            QSize(max(thumb + 48, fm.horizontalAdvance("#00 → 0 · true 0") + 12), thumb + 3 * fm.height() + 10)
        )
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.misclassified: list[int] = []
        self.currentRowChanged.connect(self._row_changed)

    def set_images(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        preds: np.ndarray | None,
        class_names,
        notes: list[str] | None = None,
    ) -> None:
        """Thumbnails with "#i → prediction" (and the true class under a wrong one);
        ``notes`` adds a line per image (e.g. the transformation applied)."""
        self.blockSignals(True)
        self.clear()
        self.misclassified = []
        for i, img in enumerate(images):
            y = int(labels[i])
            if preds is None:
                text, frame = f"#{i} true {class_names[y]}", None
            else:
                p = int(preds[i])
                wrong = p != y
                if wrong:
                    self.misclassified.append(i)
                text = f"#{i} → {class_names[p]}" + (f"\ntrue {class_names[y]}" if wrong else "")
                frame = QColor("#d62728") if wrong else None
            if notes is not None and i < len(notes):
                text = text.replace("\n", " · ") + "\n" + notes[i]
            item = QListWidgetItem(QIcon(image_pixmap(img, self.thumb, frame=frame)), text)
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(
                text.replace("\n", ", ") + ("  MISCLASSIFIED" if preds is not None and int(preds[i]) != y else "")
            )
            self.addItem(item)
        self.blockSignals(False)

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.imageSelected.emit(int(self.item(row).data(Qt.ItemDataRole.UserRole)))


class AdversarialView(QWidget):
    """Clean input, amplified perturbation and adversarial input, with the class
    probabilities before and after the attack."""

    def __init__(self, parent: QWidget | None = None, size: int = 150):
        super().__init__(parent)
        self.size = size
        grid = QGridLayout()
        self.labels: dict[str, QLabel] = {}
        self.captions: dict[str, QLabel] = {}
        for col, key in enumerate(("clean", "perturbation", "adversarial")):
            img = QLabel()
            img.setFixedSize(size, size)
            img.setAlignment(Qt.AlignmentFlag.AlignCenter)
            img.setStyleSheet("background: #eeeeee; border: 1px solid #bbbbbb")
            cap = QLabel(key)
            cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cap.setWordWrap(True)
            grid.addWidget(img, 0, col, Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(cap, 1, col)
            self.labels[key], self.captions[key] = img, cap
        self.probs = FigurePanel("Class probabilities", figsize=(4.5, 1.9), margins={"left": 0.08, "bottom": 0.15})
        self.ax = self.probs.figure.add_subplot(111)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self.probs, 1)
        self.result: dict | None = None

    def clear(self) -> None:
        self.result = None
        for key, lab in self.labels.items():
            lab.clear()
            self.captions[key].setText(key)
        self.ax.clear()
        self.probs.redraw()

    def set_result(
        self,
        x: np.ndarray,
        x_adv: np.ndarray,
        p_before: np.ndarray,
        p_after: np.ndarray,
        class_names,
        label: int,
        attack: str,
        eps: float,
        norm_text: str = "",
    ) -> None:
        x2, xa2 = _as_2d(x), _as_2d(x_adv)
        pert = xa2 - x2
        peak = float(np.abs(pert).max())
        self.result = dict(
            x=x2, x_adv=xa2, perturbation=pert, p_before=np.asarray(p_before), p_after=np.asarray(p_after)
        )
        amp = 1.0 / peak if peak > 0 else 1.0
        self.labels["clean"].setPixmap(image_pixmap(x2, self.size))
        self.labels["perturbation"].setPixmap(image_pixmap(pert * amp, self.size, signed=True))
        self.labels["adversarial"].setPixmap(image_pixmap(xa2, self.size))
        pb, pa = int(np.argmax(p_before)), int(np.argmax(p_after))
        self.captions["clean"].setText(f"clean: {class_names[pb]} ({p_before[pb]:.0%}), true {class_names[label]}")
        self.captions["perturbation"].setText(f"{attack} perturbation ×{amp:.1f}\nmax |δ| {peak:.3f}{norm_text}")
        self.captions["adversarial"].setText(
            f"adversarial: {class_names[pa]} ({p_after[pa]:.0%})" + ("  ✗ fooled" if pa != label else "")
        )
        ax = self.ax
        ax.clear()
        k = np.arange(len(p_before))
        ax.bar(k - 0.2, p_before, 0.4, label="before", color="#1f77b4")
        ax.bar(k + 0.2, p_after, 0.4, label="after", color="#d62728")
        ax.set_xticks(k, [str(c) for c in class_names], fontsize=7)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        self.probs.set_table(
            ["class", "p_before", "p_after"], [[str(class_names[i]), float(p_before[i]), float(p_after[i])] for i in k]
        )
        self.probs.redraw()
