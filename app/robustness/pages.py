"""The Robustness tab's view pages: the 2D decision-region map, the image gallery with the
adversarial, transformation and saliency views, and the analysis figures."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.app.robustness.widgets.images import AdversarialView, Gallery
from levelset_studio.app.robustness.widgets.plots import CrossSectionPlot, CurvaturePlot, EpsCurvePlot
from levelset_studio.app.robustness.widgets.region_map import RegionMap
from levelset_studio.app.robustness.widgets.saliency_view import SaliencyView

MAP_HINT = "Click a point to attack it with PGD (red) and DeepFool (black); dashed blue lines: random directions."


class MapPage(QWidget):
    """The region map with its overlay switches and exports. Two lines under it: the
    dataset summary (``summary``) and the hint or the last attack (``map_info``), so the
    hint is never overwritten by the summary."""

    exportPngRequested = Signal()
    exportCsvRequested = Signal()
    overlaysChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.map = RegionMap()
        mv = QVBoxLayout(self)
        ov = QHBoxLayout()
        checks = QGridLayout()  # two rows: the tab stays narrow enough for small windows
        self.overlay_checks: dict[str, QCheckBox] = {}
        for k, (key, text, on) in enumerate(
            (
                ("train", "training points", True),
                ("test", "test points", True),
                ("boundary", "boundary samples", True),
                ("eps", "eps-balls", False),
                ("regions", "linear regions", False),
            )
        ):
            cb = QCheckBox(text)
            cb.setChecked(on)
            cb.toggled.connect(self.overlaysChanged)
            checks.addWidget(cb, k // 3, k % 3)
            self.overlay_checks[key] = cb
        ov.addLayout(checks)
        ov.addStretch(1)
        self.map_png = QPushButton("PNG…")
        self.map_csv = QPushButton("CSV…")
        self.map_png.clicked.connect(self.exportPngRequested)
        self.map_csv.clicked.connect(self.exportCsvRequested)
        ov.addWidget(self.map_png)
        ov.addWidget(self.map_csv)
        mv.addLayout(ov)
        mv.addWidget(self.map, 1)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: #555555")
        self.map_info = QLabel(MAP_HINT)
        self.map_info.setWordWrap(True)
        mv.addWidget(self.summary)
        mv.addWidget(self.map_info)

    def apply_overlays(self) -> None:
        c, m = self.overlay_checks, self.map
        m.show_train = c["train"].isChecked()
        m.show_test = c["test"].isChecked()
        m.show_boundary = c["boundary"].isChecked()
        m.show_eps_balls = c["eps"].isChecked()
        m.show_linear_regions = c["regions"].isChecked()
        m.update()


class ImagePage(QSplitter):
    """Gallery (test images, or each under its worst transformation) on the left; on the
    right the adversarial view and the saliency of the selected image."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Show"))
        self.show_combo = QComboBox()
        self.show_combo.addItem("test images", "clean")
        self.show_combo.addItem("worst rotation / shift", "worst")
        self.show_combo.setToolTip("The worst transformation is searched on the Noise page")
        self.show_combo.model().item(1).setEnabled(False)  # type: ignore[attr-defined]
        row.addWidget(self.show_combo, 1)
        ll.addLayout(row)
        self.gallery = Gallery()
        ll.addWidget(self.gallery, 1)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        ll.addWidget(self.summary)
        self.adv_view = AdversarialView()
        self.saliency = SaliencyView(title="Saliency of the current model")
        right = QTabWidget()
        right.addTab(self.adv_view, "Attack")
        right.addTab(self.saliency, "Saliency")
        self.right = right
        self.addWidget(left)
        self.addWidget(right)
        self.setSizes([380, 520])

    def enable_worst(self, on: bool) -> None:
        self.show_combo.model().item(1).setEnabled(on)  # type: ignore[attr-defined]
        if not on:
            self.show_combo.setCurrentIndex(0)


class AnalysisPage(QWidget):
    """Cross-section and loss surface, curvature profile, accuracy against eps."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        ag = QGridLayout(self)
        self.section_plot = CrossSectionPlot()
        self.curvature_plot = CurvaturePlot()
        self.eps_plot = EpsCurvePlot()
        self.curve_button = QPushButton("Compute accuracy vs eps")
        self.analysis_info = QLabel("Select an input (click a point or an image) to analyze it.")
        self.analysis_info.setWordWrap(True)
        ag.addWidget(self.analysis_info, 0, 0, 1, 2)
        ag.addWidget(self.section_plot, 1, 0, 1, 2)
        ag.addWidget(self.curvature_plot, 2, 0)
        eps_box = QWidget()
        eb = QVBoxLayout(eps_box)
        eb.setContentsMargins(0, 0, 0, 0)
        eb.addWidget(self.eps_plot, 1)
        eb.addWidget(self.curve_button)
        ag.addWidget(eps_box, 2, 1)
