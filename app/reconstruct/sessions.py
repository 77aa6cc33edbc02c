"""Session save and load in the Reconstruct tab (the file format is core's)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from levelset_studio.core.errors import LevelSetError
from levelset_studio.core.surface.layers import MeshLayer, ScanLayer

if TYPE_CHECKING:
    from levelset_studio.app.jobs import JobHandle
    from levelset_studio.app.reconstruct.tab import ReconstructTab


class SessionController:
    def __init__(self, tab: ReconstructTab) -> None:
        self.tab = tab
        self._tmpdir = tempfile.TemporaryDirectory(prefix="levelset-gui-")

    def session_data(self) -> Any:
        from levelset_studio.core.params import config_to_dict
        from levelset_studio.core.surface.session import SessionData

        tab = self.tab
        scan_layer = tab.layers.get(tab.active_scan_name)
        if not isinstance(scan_layer, ScanLayer):
            raise LevelSetError("open a scan before saving a session")
        training = tab.training_controller
        return SessionData(
            scan_files=list(scan_layer.files),
            cleaning=scan_layer.cleaning,
            reconstruction=config_to_dict(training.recon_config)
            if training.recon_config is not None and training.reconstructor is not None
            else tab.recon_panel.values(),
            poisson=tab.poisson_panel.values(),
        )

    def save_session(self, path: str | Path) -> Path:
        from levelset_studio.core.surface.session import write_session

        if self.tab.training:
            raise LevelSetError("stop the reconstruction before saving the session")
        data = self.session_data()
        rec = self.tab.training_controller.reconstructor
        writer = None if rec is None else rec.save_checkpoint
        return write_session(path, data, writer)

    def load_session(self, path: str | Path) -> JobHandle | None:
        """Reopen a session: scans, cleaning, settings and the network (Continue trains on)."""
        from levelset_studio.core.surface.session import read_session

        tab = self.tab
        if tab.busy:
            tab.report_error("wait for the running job to finish (or stop it) before loading a session")
            return None
        try:
            data = read_session(path, self._tmpdir.name)
            recon_cls = tab.recon_panel.config_cls
            recon_config = recon_cls(**data.reconstruction) if data.reconstruction else None
        except (LevelSetError, TypeError) as exc:
            tab.report_error(str(exc) if isinstance(exc, LevelSetError) else f"{path}: bad settings in session ({exc})")
            return None
        cleaning_cls = tab.cleaning_panel.config_cls

        def job(token: Any) -> Any:
            from levelset_studio.core.surface.scans.scanio import load_scan

            scan = load_scan(data.scan_files)
            raw = scan
            if data.cleaning:
                from levelset_studio.core.params import config_from_dict
                from levelset_studio.core.surface.scans.cleaning import clean_scan

                cleaning = config_from_dict(cleaning_cls, data.cleaning)
                token.raise_if_cancelled()
                scan, _report = clean_scan(scan, cleaning)
            rec = mesh = None
            if data.checkpoint is not None:
                from levelset_studio.core.surface.reconstruction.trainer import Reconstructor

                token.raise_if_cancelled()
                rec = Reconstructor.load_checkpoint(data.checkpoint, scan)
                res = recon_config.resolution if recon_config is not None else 128
                mesh = rec.extract_mesh(res)
            return raw, scan, rec, mesh

        def done(out: Any) -> None:
            raw, scan, rec, mesh = out
            scans = tab.scan_controller
            raw_layer = scans.scan_ready(raw, data.scan_files)
            if data.cleaning:
                scans.scan_ready(scan, data.scan_files, title=f"{raw_layer.title} (cleaned)", cleaning=data.cleaning)
            if data.reconstruction:
                tab.recon_panel.set_values(data.reconstruction)
            if data.poisson:
                tab.poisson_panel.set_values(data.poisson)
            if data.cleaning:
                tab.cleaning_panel.set_values(data.cleaning)
            if rec is not None:
                training = tab.training_controller
                training.reconstructor = rec
                training.recon_config = recon_config
                layer = MeshLayer(
                    tab.layers.new_name("levelset"),
                    "Level set (session)",
                    data=mesh,
                    method="levelset",
                    config=recon_config,
                    scan=tab.active_scan_name,
                    step=rec.step,
                )
                training.recon_layer = layer.name
                tab.add_layer(layer)
            tab.undo_stack.clear()  # a reopened session starts a new history
            tab.update_buttons()
            tab.session_loaded.emit(str(path))

        tab.status_message.emit(f"Loading session {Path(path).name} …")
        return tab.start_job("load", job, on_result=done)
