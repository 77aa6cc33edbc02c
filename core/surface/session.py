"""Session files (``.lss``): everything needed to reopen a piece of work and go on training.

A session is a zip holding ``session.json`` (scan paths, cleaning steps, settings,
layers) and, when a network exists, ``checkpoint.pt`` written by the engine's
``Reconstructor.save_checkpoint`` (loaded back with ``torch.load(weights_only=True)``
by ``Reconstructor.load_checkpoint``). Scan paths are stored absolute and relative to
the session file, so a folder moved as a whole still opens.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levelset_studio.core.errors import CheckpointError

SESSION_FORMAT = "levelset-studio-session"
SESSION_VERSION = 1
SESSION_SUFFIX = ".lss"


@dataclass
class SessionData:
    """The contents of a session file."""

    scan_files: list[str]
    cleaning: dict[str, Any] | None = None  # CleaningConfig fields, None = raw scan
    reconstruction: dict[str, Any] = field(default_factory=dict)
    poisson: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    checkpoint: Path | None = None  # extracted into a temporary folder on read


def write_session(path: str | Path, data: SessionData, checkpoint_writer: Any = None) -> Path:
    """Write ``data`` to ``path`` atomically; ``checkpoint_writer(tmp_path)`` adds the weights."""
    path = Path(path)
    if path.suffix.lower() != SESSION_SUFFIX:
        path = path.with_suffix(SESSION_SUFFIX)
    base = path.resolve().parent
    files = []
    for f in data.scan_files:
        p = Path(f).resolve()
        try:
            rel = os.path.relpath(p, base)
        except ValueError:  # another drive on Windows
            rel = None
        files.append({"path": str(p), "relative": rel})
    doc = {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "scan_files": files,
        "cleaning": data.cleaning,
        "reconstruction": data.reconstruction,
        "poisson": data.poisson,
        "extra": data.extra,
        "has_checkpoint": checkpoint_writer is not None,
    }
    with tempfile.TemporaryDirectory(prefix="levelset-session-") as tmp:
        ckpt = Path(tmp) / "checkpoint.pt"
        if checkpoint_writer is not None:
            checkpoint_writer(ckpt)
        partial = path.with_name(path.name + ".partial")
        try:
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr("session.json", json.dumps(doc, indent=2, default=_json_default))
                if checkpoint_writer is not None:
                    z.write(ckpt, "checkpoint.pt")
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CheckpointError(f"cannot write session: {exc.strerror or exc}", path) from None
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a session")


def read_session(path: str | Path, workdir: str | Path) -> SessionData:
    """Read a session; the checkpoint (if any) is extracted into ``workdir``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such session file", path)
    try:
        with zipfile.ZipFile(path) as z:
            doc = json.loads(z.read("session.json").decode("utf-8"))
            ckpt = None
            if "checkpoint.pt" in z.namelist():
                ckpt = Path(z.extract("checkpoint.pt", workdir))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError("not a LevelSet Studio session file (corrupt or of another kind)", path) from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise CheckpointError("not a LevelSet Studio session file", path)
    if int(doc.get("version", 0)) > SESSION_VERSION:
        raise CheckpointError(f"session version {doc.get('version')} is newer than this app understands", path)
    base = path.resolve().parent
    files = []
    for entry in doc.get("scan_files", []):
        rel = entry.get("relative")
        cand = (base / rel) if rel else None
        files.append(str(cand) if cand is not None and cand.exists() else entry["path"])
    return SessionData(
        scan_files=files,
        cleaning=doc.get("cleaning"),
        reconstruction=doc.get("reconstruction") or {},
        poisson=doc.get("poisson") or {},
        extra=doc.get("extra") or {},
        checkpoint=ckpt,
    )
