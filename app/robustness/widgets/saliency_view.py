"""Saliency maps of one or more models on one image: input gradient and SmoothGrad."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from levelset_studio.app.robustness.widgets.images import image_pixmap
from levelset_studio.core.robust.probes import SaliencyPair
from levelset_studio.core.robust.saliency import signed_map


class SaliencyView(QWidget):
    """One row per model: its prediction, the input gradient of the predicted class's
    logit and SmoothGrad, each scaled to its own largest magnitude (red raises the
    logit, blue lowers it)."""

    def __init__(self, parent: QWidget | None = None, size: int = 96, title: str = "Saliency"):
        super().__init__(parent)
        self.size = size
        self.pair: SaliencyPair | None = None
        self.title = QLabel(f"<b>{title}</b>")
        self.hint = QLabel("Select an image to see what the model's gradient looks at.")
        self.hint.setWordWrap(True)
        self.legend = QLabel("red: raises the predicted class's logit · blue: lowers it · each map scaled to its peak")
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("color: #555555; font-size: 9pt")
        self.grid = QGridLayout()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.title)
        lay.addWidget(self.hint)
        lay.addLayout(self.grid)
        lay.addWidget(self.legend)
        lay.addStretch(1)
        self.cells: list[list[QLabel]] = []

    def clear(self) -> None:
        self.pair = None
        self._clear_grid()
        self.hint.setVisible(True)

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            w = item.widget()
            if w is not None:
                w.deleteLater()
        self.cells = []

    def _image(self, arr: np.ndarray, signed: bool) -> QLabel:
        lab = QLabel()
        lab.setFixedSize(self.size, self.size)
        lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lab.setPixmap(image_pixmap(arr, self.size, signed=signed))
        return lab

    def set_pair(self, pair: SaliencyPair, class_names: Sequence[str]) -> None:
        self.pair = pair
        self._clear_grid()
        self.hint.setVisible(False)
        for col, head in enumerate(("input", "input gradient", "SmoothGrad")):
            h = QLabel(head)
            h.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(h, 0, col)
        for row, m in enumerate(pair.maps, start=1):
            pred = int(m.predicted[0])
            cap = QLabel(f"{m.name}: predicts {class_names[pred]} (true {class_names[pair.label]})")
            cap.setWordWrap(True)
            self.grid.addWidget(cap, 2 * row - 1, 0, 1, 3)
            cells = [
                self._image(pair.x, signed=False),
                self._image(signed_map(m.gradient[0]), signed=True),
                self._image(signed_map(m.smooth[0]), signed=True),
            ]
            for col, c in enumerate(cells):
                self.grid.addWidget(c, 2 * row, col)
            self.cells.append(cells)
