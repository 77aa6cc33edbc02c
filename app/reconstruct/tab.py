"""The Reconstruct tab: open a scan, clean it, reconstruct, watch it converge, inspect, export.

An assembly of panels around one layer model (``core.surface.layers.LayerList``):

- ``scans.py``      Scan and Cleaning boxes, loading and cleaning;
- ``training.py``   the level-set reconstruction (settings, progress, loss, live preview);
- ``poisson.py``    the screened Poisson baseline;
- ``layers_panel.py`` the list of layers; ``scene.py`` keeps the 3D view in step with it;
- ``inspect_panel.py`` / ``inspection.py`` distance colours, histogram, metrics, trimming;
- ``sessions.py``   session save and load.

Every computation is core's; long work runs as jobs (``app.jobs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QSplitter, QVBoxLayout, QWidget

from levelset_studio.app.jobs import JobHandle, JobRunner
from levelset_studio.app.reconstruct import session_io
from levelset_studio.app.reconstruct.common import group
from levelset_studio.app.reconstruct.inspect_panel import InspectPanel
from levelset_studio.app.reconstruct.inspection import InspectController
from levelset_studio.app.reconstruct.layers_panel import LayersPanel
from levelset_studio.app.reconstruct.poisson import PoissonPanel, run_poisson
from levelset_studio.app.reconstruct.scans import ScanController, ScanPanel, scan_summary
from levelset_studio.app.reconstruct.scene import Scene, samples_name
from levelset_studio.app.reconstruct.sessions import SessionController
from levelset_studio.app.reconstruct.training import ReconstructPanel, TrainingController
from levelset_studio.app.reconstruct.undo import AddLayer, EditLayer, Macro, MoveLayer, RemoveLayer, edit_text
from levelset_studio.app.view3d import View3D
from levelset_studio.core.errors import LevelSetError
from levelset_studio.core.surface.layers import Layer, LayerList, MeshLayer, ScanLayer

__all__ = ["ReconstructTab", "scan_summary"]


class ReconstructTab(QWidget):
    """Scan layers, the level-set reconstruction, Poisson, inspection and export."""

    scan_loaded = Signal(object)  # Scan
    reconstruction_finished = Signal(object)  # Mesh
    poisson_finished = Signal(object)  # Mesh
    session_loaded = Signal(str)
    scan_files_opened = Signal(list)  # the files of a scan that loaded (for Open Recent)
    final_mesh_ready = Signal(object)  # Mesh: the full-resolution mesh made after Stop
    job_failed = Signal(str)  # the one-line message (also passed to error_handler)
    busy_changed = Signal(bool)
    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_handler: Callable[[str], None] | None = None
        self.jobs = JobRunner(self)
        self.layers = LayerList()
        self.layers.removed.connect(self._layer_removed)  # first: before the views pick a new selection
        self.active_scan_name: str | None = None
        # Every edit of the layers goes through this stack (Edit > Undo / Redo).
        self.undo_stack = QUndoStack(self)
        self.compare_window: Any = None
        self._build()
        self.scan_controller = ScanController(self, self.scan_panel)
        self.training_controller = TrainingController(self, self.reconstruct_panel)
        self.inspect_controller = InspectController(self, self.inspect)
        self.session_controller = SessionController(self)
        self.scene = Scene(self.layers, self.view, self.scan_controller.scan_colors)
        self.stall_meter = self.training_controller.stall_meter
        self._connect()
        self.jobs.busy_changed.connect(self.update_buttons)
        self.update_buttons()

    # ------------------------------------------------------------------ layout --
    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal, self)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)

        # Left: scan, cleaning, reconstruction and Poisson.
        left = QWidget()
        lv = QVBoxLayout(left)
        self.scan_panel = ScanPanel()
        self.reconstruct_panel = ReconstructPanel()
        self.poisson_box = PoissonPanel()
        for w in (self.scan_panel, self.reconstruct_panel, self.poisson_box):
            lv.addWidget(w)
        lv.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setMinimumWidth(330)
        split.addWidget(scroll)

        # Centre: the 3D view.
        self.view = View3D(self)
        split.addWidget(self.view)

        # Right: layers and inspection.
        right = QWidget()
        rv = QVBoxLayout(right)
        self.layers_panel = LayersPanel(self.layers)
        rv.addWidget(group("Layers", self.layers_panel))
        self.inspect = InspectPanel()
        rv.addWidget(group("Inspect", self.inspect))
        rv.addStretch(1)
        right.setMinimumWidth(260)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([340, 700, 280])

        # The widgets tests, menus and the automation drive, by their old names.
        sp, rp = self.scan_panel, self.reconstruct_panel
        self.open_button, self.color_mode, self.load_progress, self.info = (
            sp.open_button,
            sp.color_mode,
            sp.load_progress,
            sp.info,
        )
        self.cleaning_panel, self.clean_button = sp.cleaning_panel, sp.clean_button
        self.recon_panel, self.reconstruct_button = rp.recon_panel, rp.reconstruct_button
        self.stop_button, self.continue_button = rp.stop_button, rp.continue_button
        self.progress, self.progress_text, self.loss_plot = rp.progress, rp.progress_text, rp.loss_plot
        self.show_samples, self.final_button = rp.show_samples, rp.final_button
        self.poisson_panel, self.poisson_button = self.poisson_box.poisson_panel, self.poisson_box.poisson_button

    def _connect(self) -> None:
        self.poisson_button.clicked.connect(self.run_poisson)
        self.clean_button.clicked.connect(self.clean_active_scan)
        self.color_mode.currentTextChanged.connect(lambda _t: self.scene.redraw_scans())
        lp = self.layers_panel
        lp.visibility_changed.connect(lambda name, on: self.edit_layer(name, visible=on))
        lp.opacity_changed.connect(lambda name, value: self.edit_layer(name, opacity=value))
        lp.color_changed.connect(self._layer_color)
        lp.rename_requested.connect(lambda name, title: self.edit_layer(name, title=title))
        lp.move_requested.connect(self.move_layer)
        lp.remove_requested.connect(self.remove_layer)
        lp.compare_button.clicked.connect(self.open_compare)
        self.layers.selected.connect(self._layer_selected)
        self.layers.changed.connect(self._layer_changed)

    # ------------------------------------------------------------- state/help --
    @property
    def busy(self) -> bool:
        return self.jobs.busy

    @property
    def training(self) -> bool:
        return self.training_controller.training

    @property
    def reconstructor(self) -> Any:
        return self.training_controller.reconstructor

    @property
    def recon_layer(self) -> str | None:
        return self.training_controller.recon_layer

    @property
    def recon_config(self) -> Any:
        return self.training_controller.recon_config

    @property
    def snapshots_applied(self) -> int:
        return self.training_controller.snapshots_applied

    @property
    def active_scan(self) -> Any:
        layer = self.layers.get(self.active_scan_name)
        return layer.data if isinstance(layer, ScanLayer) else None

    def selected_layer(self) -> Layer | None:
        return self.layers.active

    def selected_mesh_layer(self) -> MeshLayer | None:
        """The selected mesh layer, else the newest mesh layer that has a mesh."""
        layer = self.layers.active
        if isinstance(layer, MeshLayer) and layer.data is not None:
            return layer
        meshes = [lay for lay in self.layers.meshes() if lay.data is not None]
        return meshes[-1] if meshes else None

    def update_buttons(self, *_: Any) -> None:
        training = self.training
        has_scan = self.active_scan is not None
        loading = self.jobs.find("load") is not None
        self.reconstruct_button.setEnabled(has_scan and not training and not loading)
        self.stop_button.setEnabled(training)
        self.continue_button.setEnabled(self.reconstructor is not None and not training and has_scan)
        self.poisson_button.setEnabled(has_scan and self.jobs.find("poisson") is None)
        self.clean_button.setEnabled(has_scan and self.jobs.find("clean") is None)
        self.open_button.setEnabled(not loading)
        self.training_controller.sync_final_button()
        self.busy_changed.emit(self.busy)

    def report_error(self, message: str) -> None:
        """Show a one-line error from core; the tab stays usable."""
        self.status_message.emit(f"Error: {message}")
        self.job_failed.emit(message)
        if self.error_handler is not None:
            self.error_handler(message)

    def start_job(
        self,
        name: str,
        job: Callable,
        *,
        on_result: Callable[[Any], None],
        on_failed: Callable[[str], None] | None = None,
        replace: bool = False,
    ) -> JobHandle:
        t = self.jobs.submit(name, job, replace=replace)
        t.result.connect(on_result)
        t.failed.connect(on_failed or self.report_error)
        t.finished.connect(self.update_buttons)
        t.start()
        self.update_buttons()
        return t

    # ------------------------------------------------------------------ layers --
    def next_result_color(self) -> str:
        """The palette colour of the next result layer: each result gets its own."""
        from levelset_studio.app.view3d import result_color

        self._results = getattr(self, "_results", 0) + 1
        return result_color(self._results - 1)

    # Each edit is one undo step, named in the Edit menu; large arrays are shared.
    def add_layer(self, layer: Layer, text: str | None = None) -> None:
        """Add a layer on top and select it (undoable)."""
        self.undo_stack.push(AddLayer(self.layers, layer, text or f"Add {layer.title}"))

    def remove_layer(self, name: str) -> None:
        if name == self.recon_layer and self.training:
            self.report_error("stop the reconstruction before removing its layer")
            return
        layer = self.layers.get(name)
        if layer is None:
            return
        parts: list[QUndoCommand] = [RemoveLayer(self.layers, layer)]
        if isinstance(layer, ScanLayer) and name == self.active_scan_name:
            rest = [s for s in self.layers.scans() if s is not layer]
            if rest and not rest[-1].visible:  # removing a cleaned scan shows its source again
                parts.append(EditLayer(self.layers, rest[-1], "", visible=True))
        self.undo_stack.push(Macro(f"Remove {layer.title}", parts))

    def edit_layer(self, name: str, **changes: Any) -> None:
        """Change a layer's title or looks (undoable; slider moves merge into one step)."""
        layer = self.layers.get(name)
        if layer is None:
            return
        changes = {k: v for k, v in changes.items() if getattr(layer, k) != v}
        if changes:
            self.undo_stack.push(EditLayer(self.layers, layer, edit_text(layer, changes), **changes))

    def move_layer(self, name: str, index: int) -> None:
        layer = self.layers.get(name)
        if layer is not None and 0 <= index < len(self.layers) and index != self.layers.index(layer):
            self.undo_stack.push(MoveLayer(self.layers, layer, index))

    def add_cleaned_scan(self, source: ScanLayer, cleaned: Any, cleaning: dict[str, Any], report: str) -> None:
        """The cleaned scan becomes a new layer that replaces its source on screen (the source stays)."""
        scans = self.scan_controller
        layer = scans.new_layer(cleaned, source.files, title=f"{source.title} (cleaned)", cleaning=cleaning)
        layer.report = report
        parts = [AddLayer(self.layers, layer, ""), EditLayer(self.layers, source, "", visible=False)]
        self.undo_stack.push(Macro(f"Clean {source.title}", parts))
        scans.scan_added(layer)

    def replace_preview(self, layer: MeshLayer, mesh: Any, **info: Any) -> None:
        """A finished reconstruction: its full-resolution mesh replaces the preview (undoable)."""
        self.undo_stack.push(
            EditLayer(
                self.layers,
                layer,
                f"Final mesh of {layer.title}",
                data=mesh,
                preview=False,
                distances=None,
                histogram=None,
                report=None,
                **info,
            )
        )

    def _layer_color(self, name: str, color: str) -> None:
        layer = self.layers.get(name)
        if layer is not None and layer.is_scan:
            self.color_mode.setCurrentText("uniform")
        self.edit_layer(name, color=color)

    def _layer_changed(self, layer: Layer, old: dict[str, Any]) -> None:
        if layer is self.layers.active and set(old) & {"data", "distances", "report", "title"}:
            self.inspect_controller.show_selected()
        if "visible" in old and isinstance(layer, MeshLayer):
            self.view.set_visible(samples_name(layer.name), layer.visible and self.show_samples.isChecked())
        if layer.name == self.active_scan_name and "title" in old:
            self.scan_controller.show_info()

    def _layer_selected(self, layer: Layer | None) -> None:
        if isinstance(layer, ScanLayer) and not self.training:
            self.active_scan_name = layer.name
            self.scan_controller.show_info()
            self.update_buttons()
        self.scene.show_scalar_bar_of(layer)
        self.inspect_controller.show_selected()

    def _layer_removed(self, _index: int, layer: Layer) -> None:
        self.training_controller.forget_layer(layer.name)
        if layer.name == self.active_scan_name:
            scans = self.layers.scans()
            self.active_scan_name = scans[-1].name if scans else None
            self.scan_controller.show_info()
        self.update_buttons()

    # ---------------------------------------------------------- the panels' work --
    def open_scans(self, paths: Sequence[str | Path], *, replace: bool = False) -> JobHandle | None:
        """Load ``paths`` into a new scan layer; ``replace``: the loaded scan replaces every layer."""
        if replace and self.training:
            self.report_error("stop the reconstruction before replacing its scan")
            return None
        return self.scan_controller.open_scans(paths, replace=replace)

    def replace_all(self, layer: Layer, text: str) -> None:
        """One undo step: every layer goes, ``layer`` comes."""
        parts: list[QUndoCommand] = [RemoveLayer(self.layers, lay) for lay in reversed(list(self.layers))]
        parts.append(AddLayer(self.layers, layer, ""))
        self.undo_stack.push(Macro(text, parts))

    def open_compare(self) -> Any:
        """The Compare window (two linked views, one metrics table), opened or raised."""
        from levelset_studio.app.reconstruct.compare import CompareWindow

        if self.compare_window is None or self.compare_window.closed:
            self.compare_window = CompareWindow(self)
        self.compare_window.show()
        self.compare_window.raise_()
        return self.compare_window

    def finalize_mesh(self) -> JobHandle | None:
        return self.training_controller.finalize()

    def export_refusal(self, path: str | Path) -> str | None:
        """Why ``path`` cannot be written (asked before any "replace?" question), or None."""
        from levelset_studio.core.surface.meshes.meshio import MESH_EXTENSIONS

        path = Path(path)
        if path.suffix.lower() not in MESH_EXTENSIONS:
            return f"{path.name}: unsupported mesh format (supported: {', '.join(MESH_EXTENSIONS)})"
        target = path.resolve()
        for lay in self.layers.scans():
            if any(Path(f).resolve() == target for f in lay.files):
                return f"{path}: that is an input scan; it is never overwritten"
        if not path.parent.is_dir():
            return f"{path}: the folder {path.parent} does not exist"
        return None

    def clean_active_scan(self) -> JobHandle | None:
        return self.scan_controller.clean_active_scan()

    def start_reconstruction(
        self, *, iterations: int | None = None, time_budget: float | None = None
    ) -> JobHandle | None:
        return self.training_controller.start(iterations=iterations, time_budget=time_budget)

    def continue_reconstruction(
        self, *, iterations: int | None = None, time_budget: float | None = None
    ) -> JobHandle | None:
        return self.training_controller.continue_(iterations=iterations, time_budget=time_budget)

    def stop(self) -> None:
        self.training_controller.stop()

    def run_poisson(self) -> JobHandle | None:
        return run_poisson(self, self.poisson_box)

    def evaluate_selected(self) -> JobHandle | None:
        return self.inspect_controller.evaluate_selected()

    def export_mesh(self, path: str | Path, layer: MeshLayer | None = None) -> Path:
        """Write the selected (or newest) mesh in the scan's own coordinates."""
        from levelset_studio.core.surface.meshes.meshio import write_mesh

        layer = layer or self.selected_mesh_layer()
        if layer is None or layer.data is None:
            raise LevelSetError("no reconstructed mesh to export yet")
        protect = [f for lay in self.layers.scans() for f in lay.files]
        return write_mesh(layer.data, path, protect=tuple(protect))

    def session_data(self) -> Any:
        return self.session_controller.session_data()

    def save_session(self, path: str | Path) -> Path:
        return self.session_controller.save_session(path)

    def load_session(self, path: str | Path, replacements: dict[str, str] | None = None) -> JobHandle | None:
        return self.session_controller.load_session(path, replacements)

    def ask_for_file(self, missing: str) -> str | None:
        """Where a session's moved scan is now (a file dialog; tests replace it)."""
        return session_io.ask_for_scan(self, missing)

    def shutdown(self, timeout_s: float = 2.0) -> bool:
        """Cancel every job and wait for them (window closing); True when all stopped."""
        self.training_controller.shutdown()
        if self.compare_window is not None:
            self.compare_window.close_view()
            self.compare_window.close()
        ok = self.jobs.stop_all(timeout_s)
        self.view.close_view()
        return ok
