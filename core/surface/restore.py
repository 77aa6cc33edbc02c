"""Restoring a session without a GUI: read the scan, clean it, load the network, rebuild layers.

:func:`restore_session` is what both ``levelset reconstruct --resume-session`` and the
GUI's "Load Session" run (the GUI in a worker job). It checks each scan file against the
size and SHA-256 the session recorded; a scan that is gone (or is another file now)
raises :class:`~levelset_studio.core.errors.ScanMovedError` carrying the missing path,
so the GUI can ask for it and call again with ``replacements``. :func:`session_of_run`
is the other direction: a session from a finished (or interrupted) run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levelset_studio.core.errors import ScanMovedError, SessionError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.scans.scan import Scan
from levelset_studio.core.surface.session import LayerRecord, SessionData, file_digest, read_session

DEFAULT_RESTORE_RESOLUTION = 128  # meshing of a v1 session's network (no stored mesh)


@dataclass
class RestoredLayer:
    """A layer as restored: the saved record and its core value (Scan or Mesh)."""

    record: LayerRecord
    data: Scan | Mesh | None


@dataclass
class RestoredSession:
    """Everything a session brings back, ready for a GUI or a CLI run to go on."""

    path: Path
    data: SessionData
    raw_scan: Scan
    scan: Scan  # cleaned when the session cleaned
    cleaning: Any = None  # CleaningConfig or None
    reconstructor: Any = None  # Reconstructor or None
    config: Any = None  # ReconstructionConfig or None
    layers: list[RestoredLayer] = field(default_factory=list)

    @property
    def history(self) -> dict[str, list[float]]:
        return self.data.history

    @property
    def step(self) -> int:
        return self.reconstructor.step if self.reconstructor is not None else self.data.step


def check_scan_files(data: SessionData, replacements: Mapping[str, str] | None = None) -> list[str]:
    """The scan files to read: each found and, where recorded, of the saved size and checksum.

    ``replacements`` maps a saved (absolute) path to where the user says it is now.
    """
    repl = dict(replacements or {})
    files = []
    for i, found in enumerate(data.scan_files):
        ref = data.scans[i] if i < len(data.scans) else None
        saved = ref.path if ref is not None else found
        path = Path(repl.get(saved, found))
        if not path.is_file():
            raise ScanMovedError(f"the session's scan is no longer at {saved} (moved or deleted)", saved)
        if ref is not None and ref.size is not None:
            size = path.stat().st_size
            if size != ref.size:
                raise ScanMovedError(
                    f"{path} is not the session's scan (it has {size} bytes, the saved scan had {ref.size})", saved
                )
            if ref.sha256 is not None and file_digest(path)[1] != ref.sha256:
                raise ScanMovedError(f"{path} is not the session's scan (its contents changed)", saved)
        files.append(str(path))
    return files


def restore_session(
    path: str | Path,
    *,
    replacements: Mapping[str, str] | None = None,
    device: str | None = None,
    cancel: CancelToken | None = None,
    mesh_resolution: int | None = None,
) -> RestoredSession:
    """Read, check and rebuild a session (see the module docstring)."""
    from levelset_studio.core.params import config_from_dict
    from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
    from levelset_studio.core.surface.reconstruction.trainer import Reconstructor
    from levelset_studio.core.surface.scans.cleaning import CleaningConfig, clean_scan
    from levelset_studio.core.surface.scans.scanio import load_scan

    path = Path(path)
    token = cancel or CancelToken()
    with tempfile.TemporaryDirectory(prefix="levelset-restore-") as tmp:
        data = read_session(path, tmp)
        try:
            config = ReconstructionConfig.from_dict(data.reconstruction) if data.reconstruction else None
            cleaning = config_from_dict(CleaningConfig, data.cleaning) if data.cleaning else None
        except (TypeError, ValueError) as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SessionError(f"the session's settings are invalid ({text[:160]})", path) from None
        files = check_scan_files(data, replacements)
        token.raise_if_cancelled()
        raw = load_scan(files)
        scan = raw
        if cleaning is not None:
            token.raise_if_cancelled()
            scan, _report = clean_scan(raw, cleaning)
        rec = None
        if data.checkpoint is not None:
            token.raise_if_cancelled()
            rec = Reconstructor.load_checkpoint(data.checkpoint, scan, device=device)
            if config is None:
                config = rec.config
        data.scan_files = files
    layers = _layers(data, raw, scan, rec, config, mesh_resolution, token)
    return RestoredSession(path, data, raw, scan, cleaning, rec, config, layers)


def _layers(
    data: SessionData, raw: Scan, scan: Scan, rec: Any, config: Any, resolution: int | None, token: CancelToken
) -> list[RestoredLayer]:
    out: list[RestoredLayer] = []
    for record in data.layers:
        value: Scan | Mesh | None = None
        if record.kind == "scan":
            value = raw
        elif record.kind == "cleaned":
            value = scan
        elif record.has_mesh:
            value = Mesh(record.vertices, record.faces, name=record.name)  # type: ignore[arg-type]
        out.append(RestoredLayer(record, value))
    has_levelset = any(r.record.kind == "levelset" for r in out)
    if not data.layers:  # a version 1 session: the scan (and cleaned scan) come back as layers
        out.append(
            RestoredLayer(LayerRecord("scan", "scan", title=Path(raw.files[0]).name if raw.files else "scan"), raw)
        )
        if scan is not raw:
            out.append(RestoredLayer(LayerRecord("cleaned", "cleaned", title="cleaned"), scan))
    if rec is not None and not has_levelset:
        token.raise_if_cancelled()
        res = resolution or (config.resolution if data.version == 1 and config is not None else None)
        mesh = rec.extract_mesh(min(res or DEFAULT_RESTORE_RESOLUTION, 512))
        out.append(RestoredLayer(LayerRecord("levelset", "levelset", title="Level set (session)"), mesh))
    return out


def session_of_run(
    scan_files: list[str],
    *,
    reconstructor: Any = None,
    mesh: Mesh | None = None,
    cleaning: dict[str, Any] | None = None,
    history: dict[str, list[float]] | None = None,
    poisson: dict[str, Any] | None = None,
) -> SessionData:
    """A session of a headless run: the scan, its settings, the network and its mesh."""
    layers = [LayerRecord("scan", "scan", title=Path(scan_files[0]).name if scan_files else "scan")]
    if cleaning:
        layers.append(LayerRecord("cleaned", "cleaned", title="cleaned"))
    if mesh is not None and not mesh.is_empty:
        layers.append(LayerRecord("levelset", "levelset", title="Level set", vertices=mesh.vertices, faces=mesh.faces))
    return SessionData(
        scan_files=list(scan_files),
        cleaning=cleaning,
        reconstruction={} if reconstructor is None else reconstructor.config.to_dict(),
        poisson=poisson or {},
        layers=layers,
        history=history or {},
        step=0 if reconstructor is None else reconstructor.step,
        network=None if reconstructor is None else reconstructor.network_name,
    )
