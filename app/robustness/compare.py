"""Compare: two trained models side by side in the cross-section, the curvature
profile and the accuracy-epsilon curve (the pictures of the robustness talks)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from levelset_studio.app.robustness.widgets.plots import CrossSectionPlot, CurvaturePlot, EpsCurvePlot
from levelset_studio.app.robustness.widgets.saliency_view import SaliencyView


class CompareView(QWidget):
    """Holds two model slots (A, B). The tab fills them and runs the comparison job;
    this widget only shows the slots and the results."""

    setSlotRequested = Signal(str)  # "A" / "B": put the current model there
    loadSlotRequested = Signal(str)  # "A" / "B": load a lab file or checkpoint there
    compareRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.slots: dict[str, tuple[str, Any] | None] = {"A": None, "B": None}
        self.slot_labels: dict[str, QLabel] = {}
        self.set_buttons: dict[str, QPushButton] = {}
        self.load_buttons: dict[str, QPushButton] = {}
        top = QGridLayout()
        for row, slot in enumerate(("A", "B")):
            lab = QLabel(f"{slot}: (empty)")
            lab.setWordWrap(True)
            set_b = QPushButton(f"{slot} ← current model")
            set_b.setToolTip(f"Copy the current model (as trained so far) into slot {slot}")
            load_b = QPushButton(f"Load {slot}…")
            load_b.setToolTip(f"Load a saved lab (.json) or checkpoint into slot {slot}")
            set_b.clicked.connect(lambda _=False, s=slot: self.setSlotRequested.emit(s))
            load_b.clicked.connect(lambda _=False, s=slot: self.loadSlotRequested.emit(s))
            top.addWidget(lab, row, 0)
            top.addWidget(set_b, row, 1)
            top.addWidget(load_b, row, 2)
            self.slot_labels[slot], self.set_buttons[slot], self.load_buttons[slot] = lab, set_b, load_b
        top.setColumnStretch(0, 1)
        self.compare_button = QPushButton("Compare at the selected input")
        self.compare_button.setToolTip("Cross-section, curvature profile and accuracy-vs-eps curve of both models")
        self.compare_button.clicked.connect(self.compareRequested)
        self.status = QLabel("Put two models in A and B (for example standard and level-set margin training).")
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(self.compare_button)
        bar.addWidget(self.status, 1)

        self.sections = {s: CrossSectionPlot(f"Cross-section {s}") for s in ("A", "B")}
        self.curvature = CurvaturePlot()
        self.curvature.title = "Curvature compare"
        self.eps_curve = EpsCurvePlot()
        self.eps_curve.title = "Accuracy vs eps compare"
        grid = QGridLayout()
        grid.addWidget(self.sections["A"], 0, 0)
        grid.addWidget(self.sections["B"], 0, 1)
        grid.addWidget(self.curvature, 1, 0)
        grid.addWidget(self.eps_curve, 1, 1)
        # image data: both models' saliency on the selected image, side by side
        self.saliency = SaliencyView(size=72, title="Saliency of A and B (images)")
        grid.addWidget(self.saliency, 0, 2, 2, 1)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 2)
        grid.setColumnStretch(2, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(bar)
        lay.addLayout(grid, 1)
        self._update_button()

    def set_slot(self, slot: str, name: str, model: Any) -> None:
        self.slots[slot] = (name, model)
        self.slot_labels[slot].setText(f"{slot}: {name}")
        self._update_button()

    def model(self, slot: str) -> tuple[str, Any] | None:
        return self.slots[slot]

    def ready(self) -> bool:
        return all(v is not None for v in self.slots.values())

    def _update_button(self) -> None:
        self.compare_button.setEnabled(self.ready())

    def clear_results(self) -> None:
        self.saliency.clear()
        self.curvature.clear_profiles()
        self.eps_curve.clear_curves()
