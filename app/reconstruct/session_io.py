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

from levelset_studio.app.reconstruct.layers import Layer
from levelset_studio.core.errors import ScanMovedError
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
    from levelset_studio.core.params import config_to_dict

    scan_layer = tab.layers.get(tab.active_scan_name or "")
    if scan_layer is None:
        from levelset_studio.core.errors import LevelSetError

        raise LevelSetError("open a scan before saving a session")
    files = list(scan_layer.info.get("files", []))
    records = []
    for layer in tab.layers.values():
        if layer.is_scan:
            if list(layer.info.get("files", [])) != files:
                continue  # another scan set: a session holds one
            kind = "cleaned" if layer.info.get("cleaning") else "scan"
            records.append(_record(layer, kind))
        elif layer.data is not None:
            rec = _record(layer, layer.kind)
            rec.vertices, rec.faces = layer.data.vertices, layer.data.faces
            records.append(rec)
    rec_engine = tab.reconstructor
    if tab.recon_config is not None and rec_engine is not None:
        recon = config_to_dict(tab.recon_config)
    else:
        recon = tab.recon_panel.values() if tab.recon_panel else {}
    return SessionData(
        scan_files=files,
        cleaning=scan_layer.info.get("cleaning"),
        reconstruction=recon,
        poisson=tab.poisson_panel.values() if tab.poisson_panel else {},
        layers=records,
        history=history_of(tab.loss_plot.series),
        step=rec_engine.step if rec_engine is not None else 0,
        network=rec_engine.network_name if rec_engine is not None else None,
    )


def _record(layer: Layer, kind: str) -> LayerRecord:
    info = {k: v for k, v in layer.info.items() if isinstance(v, PLAIN) and k not in ("cleaning",)}
    return LayerRecord(
        name=layer.name,
        kind=kind,
        title=layer.title,
        color=layer.color if layer.color.startswith("#") and len(layer.color) == 7 else "",
        visible=layer.visible,
        opacity=float(layer.opacity),
        info=info,
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
    if tab.recon_panel is not None and data.reconstruction:
        tab.recon_panel.set_values(data.reconstruction)
    if tab.poisson_panel is not None and data.poisson:
        tab.poisson_panel.set_values(data.poisson)
    if tab.cleaning_panel is not None and data.cleaning:
        tab.cleaning_panel.set_values(data.cleaning)
    files = list(data.scan_files)
    for item in restored.layers:
        r = item.record
        if r.kind in ("scan", "cleaned"):
            info = {"cleaning": data.cleaning} if r.kind == "cleaned" else None
            tab._scan_ready(item.data, files, title=r.title or None, info=info)
            layer = tab.layers[tab.active_scan_name]
        else:
            kwargs = {"color": r.color} if r.color else {}
            layer = Layer(tab._new_name(r.kind), r.title or r.kind, r.kind, item.data, **kwargs)
            layer.info.update(r.info)
            if r.kind == "levelset" and restored.reconstructor is not None:
                layer.info["config"] = restored.config
                tab.reconstructor = restored.reconstructor
                tab.recon_config = restored.config
                tab.recon_layer = layer.name
            tab.add_layer(layer)
        if not r.visible or r.opacity != 1.0:
            layer.visible, layer.opacity = r.visible, r.opacity
            tab.view.set_visible(layer.name, r.visible)
            tab.view.set_opacity(layer.name, r.opacity)
            tab.layers_panel.refresh(layer)
    tab.loss_plot.clear()
    hist = data.history
    for i, step in enumerate(hist.get("step", [])):
        tab.loss_plot.add(int(step), {k: v[i] for k, v in hist.items() if k != "step"})
