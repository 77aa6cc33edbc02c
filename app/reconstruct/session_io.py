"""The Reconstruct tab's session: its layers, loss history and network to a ``SessionData``,
and a restored session (core's ``restore_session``, run as a job) back into the tab.

Nothing here computes: core reads, checks and rebuilds the session; this module maps it
onto layers. A scan that moved is asked for with a file dialog (``ask_for_file``), then
the restore runs again with the answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QWidget

from levelset_studio.core.errors import ScanMovedError
from levelset_studio.core.surface.layers import Layer, MeshLayer, ScanLayer
from levelset_studio.core.surface.restore import RestoredSession, restore_session
from levelset_studio.core.surface.session import LayerRecord, SessionData

PLAIN = (str, int, float, bool, type(None))


def ask_for_scan(parent: QWidget | None, missing: str) -> str | None:
    """Ask where a moved scan is now (a file dialog); None when the user cancels."""
    name = Path(missing).name
    path, _ = QFileDialog.getOpenFileName(
        parent,
        f"Where is {name} now? The session's scan is no longer at {missing}",
        str(Path(missing).parent if Path(missing).parent.exists() else Path.home()),
        f"{name} ({name});;All files (*)",
    )
    return path or None


def session_from_tab(tab: Any) -> SessionData:
    """Every layer of the active scan's work, the loss history and the network's step."""
    from levelset_studio.core.errors import LevelSetError
    from levelset_studio.core.params import config_to_dict

    scan_layer = tab.layers.get(tab.active_scan_name)
    if not isinstance(scan_layer, ScanLayer):
        raise LevelSetError("open a scan before saving a session")
    files = list(scan_layer.files)
    records = []
    for layer in tab.layers:
        if isinstance(layer, ScanLayer):
            if list(layer.files) != files:
                continue  # another scan set: a session holds one
            records.append(_record(layer, "cleaned" if layer.cleaning else "scan"))
        elif isinstance(layer, MeshLayer) and layer.data is not None:
            rec = _record(layer, layer.method if layer.method in ("levelset", "poisson", "trimmed") else "trimmed")
            rec.vertices, rec.faces = layer.data.vertices, layer.data.faces
            records.append(rec)
    engine = tab.reconstructor
    if tab.recon_config is not None and engine is not None:
        recon = config_to_dict(tab.recon_config)
    else:
        recon = tab.recon_panel.values()
    return SessionData(
        scan_files=files,
        cleaning=scan_layer.cleaning,
        reconstruction=recon,
        poisson=tab.poisson_panel.values(),
        layers=records,
        history=history_of(tab.loss_plot.series),
        step=engine.step if engine is not None else 0,
        network=engine.network_name if engine is not None else None,
    )


def _record(layer: Layer, kind: str) -> LayerRecord:
    info: dict[str, Any] = {}
    if isinstance(layer, MeshLayer):
        info = {
            k: v for k, v in (("step", layer.step), ("steps", layer.steps), ("elapsed", layer.elapsed)) if v is not None
        }
        if layer.source:
            info["source"] = layer.source
    return LayerRecord(
        name=layer.name,
        kind=kind,
        title=layer.title,
        color=layer.color if layer.color.startswith("#") and len(layer.color) == 7 else "",
        visible=layer.visible,
        opacity=float(layer.opacity),
        info={k: v for k, v in info.items() if isinstance(v, PLAIN)},
    )


def history_of(series: dict[str, list[tuple[float, float]]]) -> dict[str, list[float]]:
    """The loss plot's series (each its own steps) as aligned columns, NaN where missing."""
    steps = sorted({s for pts in series.values() for s, _ in pts})
    if not steps:
        return {}
    index = {s: i for i, s in enumerate(steps)}
    out = {"step": [float(s) for s in steps]}
    for key, pts in series.items():
        col = [math.nan] * len(steps)
        for s, v in pts:
            col[index[s]] = float(v)
        out[key] = col
    return out


def restore_job(path: str | Path, replacements: dict[str, str]) -> Callable[[Any], Any]:
    """The job that restores a session; a moved scan comes back as its ScanMovedError."""

    def job(token: Any) -> Any:
        try:
            return restore_session(path, replacements=replacements, cancel=token)
        except ScanMovedError as exc:
            return exc

    return job


def apply_restored(tab: Any, restored: RestoredSession) -> None:
    """Put a restored session's layers, settings, history and network into the tab."""
    data = restored.data
    if data.reconstruction:
        tab.recon_panel.set_values(data.reconstruction)
    if data.poisson:
        tab.poisson_panel.set_values(data.poisson)
    if data.cleaning:
        tab.cleaning_panel.set_values(data.cleaning)
    files = list(data.scan_files)
    training = tab.training_controller
    for item in restored.layers:
        r = item.record
        layer: Layer
        if r.kind in ("scan", "cleaned"):
            cleaning = data.cleaning if r.kind == "cleaned" else None
            layer = tab.scan_controller.scan_ready(item.data, files, title=r.title or None, cleaning=cleaning)
        else:
            info = r.info
            layer = MeshLayer(
                tab.layers.new_name(r.kind),
                r.title or r.kind,
                data=item.data,
                method=r.kind,  # type: ignore[arg-type]
                scan=tab.active_scan_name,
                source=info.get("source") if isinstance(info.get("source"), str) else None,
                step=int(info["step"]) if isinstance(info.get("step"), int) else None,
                steps=int(info["steps"]) if isinstance(info.get("steps"), int) else None,
                elapsed=float(info["elapsed"]) if isinstance(info.get("elapsed"), (int, float)) else None,
                **({"color": r.color} if r.color else {}),
            )
            if r.kind == "levelset" and restored.reconstructor is not None:
                layer.config = restored.config
                training.reconstructor = restored.reconstructor
                training.recon_config = restored.config
                training.recon_layer = layer.name
            tab.add_layer(layer)
        if not r.visible or r.opacity != 1.0:
            tab.edit_layer(layer.name, visible=r.visible, opacity=r.opacity)
    tab.loss_plot.clear()
    hist = data.history
    for i, step in enumerate(hist.get("step", [])):
        tab.loss_plot.add(int(step), {k: v[i] for k, v in hist.items() if k != "step"})
