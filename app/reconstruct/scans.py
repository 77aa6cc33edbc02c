"""Scans in the Reconstruct tab: open (replace or add), colour, info, cleaning.

``ScanPanel`` holds the widgets; ``ScanController`` runs loading and cleaning as jobs
and turns their results into scan layers of the tab's LayerList.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from levelset_studio.app.reconstruct.common import group
from levelset_studio.app.widgets.collapsible import CollapsibleSection
from levelset_studio.app.widgets.params_panel import ParamsPanel
from levelset_studio.core.errors import ConfigError
from levelset_studio.core.surface.layers import ScanLayer
from levelset_studio.core.surface.scans.cleaning import CleaningConfig

if TYPE_CHECKING:
    from levelset_studio.app.jobs import JobHandle
    from levelset_studio.app.reconstruct.tab import ReconstructTab


def scan_summary(scan: Any) -> str:
    """Points, bounding box, normals and dropped points of a Scan, for the info panel."""
    lo, hi = scan.bbox_min, scan.bbox_max
    diag = float(np.linalg.norm(hi - lo))
    files = ", ".join(Path(f).name for f in scan.files) or "(generated)"
    return (
        f"Files: {files}\n"
        f"Points: {len(scan):,}\n"
        f"Bounding box: [{lo[0]:.4g}, {lo[1]:.4g}, {lo[2]:.4g}] – [{hi[0]:.4g}, {hi[1]:.4g}, {hi[2]:.4g}]"
        f" (diagonal {diag:.4g} scan units)\n"
        f"Normals: {'yes' if scan.has_normals else 'no'}\n"
        f"Dropped non-finite points: {scan.dropped_nonfinite:,}"
    )


def scan_title(paths: Sequence[str]) -> str:
    return Path(paths[0]).name + (f" (+{len(paths) - 1})" if len(paths) > 1 else "")


class ScanPanel(QWidget):
    """The Scan box (open, colour, progress, info) and the Cleaning box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(0, 0, 0, 0)
        scan_box = group("Scan")
        row = QHBoxLayout()
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open one or more scans (Ctrl+O); drop files on the window works too")
        row.addWidget(self.open_button)
        row.addWidget(QLabel("Colour"))
        self.color_mode = QComboBox()
        self.color_mode.addItems(["height", "normals", "uniform"])
        self.color_mode.setToolTip("How the scan points are coloured")
        row.addWidget(self.color_mode, 1)
        scan_box.layout().addLayout(row)
        self.load_progress = QProgressBar()
        self.load_progress.setVisible(False)
        scan_box.layout().addWidget(self.load_progress)
        self.info = QLabel("No scan loaded.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scan_box.layout().addWidget(self.info)
        lv.addWidget(scan_box)

        self.cleaning_panel = ParamsPanel(CleaningConfig)
        clean_box = group("Cleaning (makes a new layer)")
        clean_box.layout().addWidget(CollapsibleSection("Settings", self.cleaning_panel))
        self.clean_button = QPushButton("Clean")
        self.clean_button.setToolTip("Downsample, remove outliers and estimate normals into a new scan layer")
        clean_box.layout().addWidget(self.clean_button)
        lv.addWidget(clean_box)

    def load_fraction(self, fraction: float) -> None:
        self.load_progress.setRange(0, 1000)
        self.load_progress.setValue(int(1000 * fraction))


class ScanController:
    """Loading and cleaning scans into layers."""

    def __init__(self, tab: ReconstructTab, panel: ScanPanel) -> None:
        self.tab = tab
        self.panel = panel

    def scan_colors(self, scan: Any) -> dict[str, Any]:
        mode = self.panel.color_mode.currentText()
        if mode == "normals" and scan.normals is not None:
            return {"rgb": (np.asarray(scan.normals, dtype=np.float32) + 1.0) / 2.0}
        if mode == "height":
            return {"scalars": scan.points[:, 2]}
        return {}

    def show_info(self) -> None:
        tab = self.tab
        scan = tab.active_scan
        if scan is None:
            self.panel.info.setText("No scan loaded.")
            return
        title = tab.layers[tab.active_scan_name or ""].title
        self.panel.info.setText(f"Active scan: {title}\n" + scan_summary(scan))

    def open_scans(self, paths: Sequence[str | Path], *, replace: bool = False) -> JobHandle | None:
        """Load (and merge) ``paths`` in the background into a new scan layer."""
        tab = self.tab
        files = [str(p) for p in paths]
        if not files:
            return None
        if tab.jobs.find("load") is not None:
            tab.report_error("a scan is already being loaded")
            return None
        self.panel.load_progress.setVisible(True)
        self.panel.load_progress.setRange(0, 0)
        tab.status_message.emit(f"Loading {', '.join(Path(p).name for p in files)} …")

        def job(token: Any) -> Any:
            from levelset_studio.core.surface.scans.scanio import load_scan

            return load_scan(files, progress=token.report)

        def done(scan: Any) -> None:
            if replace and len(tab.layers):
                layer = self.new_layer(scan, files)
                tab.replace_all(layer, f"Open {layer.title} (replacing)")
                self.scan_added(layer)
            else:
                self.scan_ready(scan, files)
            tab.scan_files_opened.emit(files)

        t = tab.start_job("load", job, on_result=done)
        t.fraction.connect(self.panel.load_fraction)
        t.finished.connect(lambda: self.panel.load_progress.setVisible(False))
        return t

    def new_layer(
        self, scan: Any, paths: list[str], title: str | None = None, cleaning: dict[str, Any] | None = None
    ) -> ScanLayer:
        return ScanLayer(
            self.tab.layers.new_name("scan"),
            title or scan_title(paths),
            data=scan,
            files=list(paths),
            cleaning=cleaning,
        )

    def scan_ready(
        self, scan: Any, paths: list[str], title: str | None = None, cleaning: dict[str, Any] | None = None
    ) -> ScanLayer:
        """A loaded scan becomes a new layer (undo: Edit > Undo Open)."""
        layer = self.new_layer(scan, paths, title, cleaning)
        self.tab.add_layer(layer, f"Open {layer.title}")
        self.scan_added(layer)
        return layer

    def scan_added(self, layer: ScanLayer) -> None:
        tab = self.tab
        scan = layer.data
        tab.active_scan_name = layer.name
        self.show_info()
        tab.view.reset_camera()
        tab.status_message.emit(f"Loaded {len(scan):,} points")
        tab.update_buttons()
        tab.scan_loaded.emit(scan)
        return layer

    def clean_active_scan(self) -> JobHandle | None:
        tab = self.tab
        scan = tab.active_scan
        if scan is None:
            return None
        try:
            config = self.panel.cleaning_panel.config()
        except ConfigError as exc:
            tab.report_error(str(exc))
            return None
        source = tab.layers[tab.active_scan_name or ""]
        assert isinstance(source, ScanLayer)

        def job(token: Any) -> Any:
            from levelset_studio.core.surface.scans.cleaning import clean_scan

            return clean_scan(scan, config)

        def done(out: Any) -> None:
            cleaned, report = out
            from levelset_studio.core.params import config_to_dict

            tab.add_cleaned_scan(source, cleaned, config_to_dict(config), "Cleaning:\n" + report.summary())
            tab.status_message.emit(f"Cleaned: {report.input_points:,} -> {report.output_points:,} points")

        return tab.start_job("clean", job, on_result=done)
