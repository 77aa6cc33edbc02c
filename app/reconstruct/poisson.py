"""The screened Poisson baseline in the Reconstruct tab: its settings and its run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from levelset_studio.app.reconstruct.common import group
from levelset_studio.app.widgets.collapsible import CollapsibleSection
from levelset_studio.app.widgets.params_panel import ParamsPanel
from levelset_studio.core.errors import ConfigError
from levelset_studio.core.surface.layers import MeshLayer
from levelset_studio.core.surface.reconstruction.poisson import PoissonConfig

if TYPE_CHECKING:
    from levelset_studio.app.jobs import JobHandle
    from levelset_studio.app.reconstruct.tab import ReconstructTab


class PoissonPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(0, 0, 0, 0)
        self.poisson_panel = ParamsPanel(PoissonConfig)
        box = group("Baseline: screened Poisson")
        box.layout().addWidget(CollapsibleSection("Settings", self.poisson_panel))
        self.poisson_button = QPushButton("Poisson")
        self.poisson_button.setToolTip("Run screened Poisson on the same scan, as a layer to compare with")
        box.layout().addWidget(self.poisson_button)
        lv.addWidget(box)


def run_poisson(tab: ReconstructTab, panel: PoissonPanel) -> JobHandle | None:
    """Screened Poisson on the active scan, in a worker; the result is a new layer."""
    scan = tab.active_scan
    if scan is None:
        return None
    try:
        config = panel.poisson_panel.config()
    except ConfigError as exc:
        tab.report_error(str(exc))
        return None
    scan_name = tab.active_scan_name

    def job(token: Any) -> Any:
        from levelset_studio.core.surface.reconstruction.poisson import poisson_reconstruct

        return poisson_reconstruct(scan, config, token)

    def done(mesh: Any) -> None:
        n = sum(1 for lay in tab.layers.meshes() if lay.method == "poisson") + 1
        layer = MeshLayer(
            tab.layers.new_name("poisson"),
            f"Poisson #{n}",
            data=mesh,
            method="poisson",
            config=config,
            scan=scan_name,
            color=tab.next_result_color(),
        )
        tab.add_layer(
            layer, f"Poisson of {tab.layers[scan_name or ''].title}" if scan_name in tab.layers else "Poisson"
        )
        tab.status_message.emit(f"Poisson finished: {mesh.n_faces:,} triangles")
        tab.poisson_finished.emit(mesh)

    tab.status_message.emit("Running screened Poisson…")
    return tab.start_job("poisson", job, on_result=done)
