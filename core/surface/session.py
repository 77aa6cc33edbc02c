"""Session files (``.lss``): everything needed to reopen a piece of work and go on training.

A session (format version 2) is a zip holding

- ``session.json``: the scan reference (each file's path, absolute and relative to the
  session, with its size and SHA-256, so a moved or changed scan is noticed), the
  cleaning settings, the reconstruction and Poisson settings, every layer (name, kind,
  title, colour, visibility, opacity), the loss history and the step count;
- ``layers/<n>.npz``: the vertices and faces of each mesh layer (level set, Poisson,
  trimmed), as plain arrays (read back with ``allow_pickle=False``);
- ``checkpoint.pt``, when a network exists: the engine's training state, read back with
  ``torch.load(weights_only=True)``.

Version 1 files (settings and checkpoint only) are still read. Every file is checked by
:mod:`._session_checks` before it is used: nothing in a session is executed, and a
damaged one is refused with a one-line :class:`~levelset_studio.core.errors.SessionError`.
Writes are atomic: the old file survives a failed save untouched.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from levelset_studio.core.atomic import atomic_write
from levelset_studio.core.errors import SessionError
from levelset_studio.core.surface import _session_checks as checks

SESSION_FORMAT = checks.SESSION_FORMAT
SESSION_VERSION = 2
SESSION_SUFFIX = ".lss"
CHECKPOINT_MEMBER = "checkpoint.pt"


@dataclass
class ScanRef:
    """Where a scan file was when the session was saved, and how to recognise it."""

    path: str  # absolute
    relative: str | None = None  # relative to the session's folder
    size: int | None = None
    sha256: str | None = None


@dataclass
class LayerRecord:
    """One layer as saved: its look and, for meshes, its arrays (scan coordinates)."""

    name: str
    kind: str  # one of _session_checks.LAYER_KINDS
    title: str = ""
    color: str = ""
    visible: bool = True
    opacity: float = 1.0
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)  # plain JSON values only

    @property
    def has_mesh(self) -> bool:
        return self.vertices is not None and self.faces is not None


@dataclass
class SessionData:
    """The contents of a session file."""

    scan_files: list[str]
    cleaning: dict[str, Any] | None = None  # CleaningConfig fields, None = raw scan
    reconstruction: dict[str, Any] = field(default_factory=dict)
    poisson: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    layers: list[LayerRecord] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)  # e.g. {"step": [...], "loss": [...]}
    step: int = 0
    network: str | None = None  # the checkpoint's network preset
    scans: list[ScanRef] = field(default_factory=list)  # filled on read (and on write)
    checkpoint: Path | None = None  # extracted into a temporary folder on read
    version: int = SESSION_VERSION  # of the file that was read
    saved_at: float | None = None  # seconds since the epoch, from the file


def file_digest(path: str | os.PathLike) -> tuple[int, str]:
    """Size and SHA-256 of a file (read in 4 MiB blocks; remembered while the file is unchanged,
    so that frequent saves, such as the GUI's recovery copies, do not read a big scan again)."""
    st = os.stat(path)
    return _digest(os.path.realpath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest(path: str, _size: int, _mtime_ns: int) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(4 * 2**20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def scan_ref(file: str | os.PathLike, base: Path) -> ScanRef:
    p = Path(file).resolve()
    try:
        rel: str | None = os.path.relpath(p, base)
    except ValueError:  # another drive on Windows
        rel = None
    size = digest = None
    if p.is_file():
        size, digest = file_digest(p)
    return ScanRef(path=str(p), relative=rel, size=size, sha256=digest)


def write_session(path: str | Path, data: SessionData, checkpoint_writer: Any = None) -> Path:
    """Write ``data`` to ``path`` atomically; ``checkpoint_writer(file_path)`` adds the weights.

    Raises ``WriteError`` naming the file and the reason when it cannot be written; the
    old file at ``path`` is then untouched.
    """
    import time

    path = Path(path)
    if path.suffix.lower() != SESSION_SUFFIX:
        path = path.with_suffix(SESSION_SUFFIX)
    base = path.resolve().parent
    refs = [scan_ref(f, base) for f in data.scan_files]
    layers_doc = []
    arrays: dict[str, bytes] = {}
    for i, layer in enumerate(data.layers):
        checks.check_layer_kind(layer.kind, f"layers[{i}]", path)
        member = None
        if layer.has_mesh:
            member = f"layers/{i}.npz"
            buf = io.BytesIO()
            np.savez_compressed(
                buf, vertices=np.asarray(layer.vertices, dtype=np.float64), faces=np.asarray(layer.faces, np.int64)
            )
            arrays[member] = buf.getvalue()
        layers_doc.append(
            {
                "name": layer.name,
                "kind": layer.kind,
                "title": layer.title,
                "color": layer.color,
                "visible": bool(layer.visible),
                "opacity": float(layer.opacity),
                "mesh": member,
                "info": layer.info,
            }
        )
    doc = {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "saved_at": time.time(),
        "scan": {"files": [vars(r) for r in refs]},
        "cleaning": data.cleaning,
        "reconstruction": data.reconstruction,
        "poisson": data.poisson,
        "extra": data.extra,
        "layers": layers_doc,
        "history": data.history,
        "step": int(data.step),
        "network": None,
    }
    with tempfile.TemporaryDirectory(prefix="levelset-session-") as tmp:
        ckpt = Path(tmp) / CHECKPOINT_MEMBER
        if checkpoint_writer is not None:
            checkpoint_writer(ckpt)
            doc["network"] = {"checkpoint": CHECKPOINT_MEMBER, "preset": data.network}
        text = json.dumps(doc, indent=2, default=_json_default, allow_nan=True)

        def write(fh: IO[bytes]) -> None:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr(checks.DOCUMENT, text)
                for member, blob in arrays.items():
                    z.writestr(member, blob)
                if checkpoint_writer is not None:
                    z.write(ckpt, CHECKPOINT_MEMBER)

        atomic_write(path, write, what="session")
    data.scans = refs
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a session")


def read_session(
    path: str | Path, workdir: str | Path, *, load_meshes: bool = True, check_checkpoint: bool = True
) -> SessionData:
    """Read and check a session; the checkpoint (if any) is extracted into ``workdir``.

    ``check_checkpoint`` reads the checkpoint (``weights_only``) and checks that its
    weights fit the network it names; ``load_meshes=False`` skips the layers' arrays
    (a quick look, as for a recovery offer).

    Raises ``SessionError`` with a one-line reason for a damaged, tampered or foreign file.
    """
    path = Path(path)
    with checks.open_archive(path) as z:
        names = set(z.namelist())
        raw = z.read(checks.DOCUMENT)
        if len(raw) > checks.MAX_DOCUMENT_BYTES:
            raise SessionError("session.json is implausibly large", path)
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SessionError(f"session.json is not valid JSON ({exc.__class__.__name__})", path) from None
        doc = checks.Doc(value, "", path)
        if doc.get("format", (str,)) != SESSION_FORMAT:
            raise SessionError("not a LevelSet Studio session file", path)
        version = doc.get("version", (int,))
        if version > SESSION_VERSION:
            raise SessionError(
                f"session version {version} is newer than this app understands (up to {SESSION_VERSION})", path
            )
        if version < 1:
            raise SessionError(f"session version {version} is not a valid version", path)
        data = _read_v1(doc, names, path) if version == 1 else _read_v2(doc, z, names, path, load_meshes)
        data.version = version
        if data.checkpoint is not None:
            blob = z.read(str(data.checkpoint))
            if check_checkpoint:
                state = checks.load_checkpoint_state(blob, path)
                checks.check_checkpoint_network(state, data.network, path)
                if data.version == 1:
                    data.step = int(state.get("step", 0)) if isinstance(state.get("step"), int) else 0
            target = Path(workdir) / CHECKPOINT_MEMBER
            target.write_bytes(blob)
            data.checkpoint = target
    return data


def _resolve_scans(refs: list[ScanRef], path: Path) -> list[str]:
    base = path.resolve().parent
    files = []
    for ref in refs:
        cand = (base / ref.relative) if ref.relative else None
        files.append(str(cand.resolve()) if cand is not None and cand.exists() else ref.path)
    return files


def _scan_refs(entries: list[checks.Doc], path: Path, *, v1: bool) -> list[ScanRef]:
    refs = []
    for e in entries:
        p = e.get("path", (str,))
        rel = checks.check_relative(e.get("relative", (str, type(None)), required=False), e.where, path)
        size = None if v1 else e.get("size", (int, type(None)), required=False)
        digest = None if v1 else e.get("sha256", (str, type(None)), required=False)
        refs.append(ScanRef(path=p, relative=rel, size=size, sha256=digest))
    if not refs:
        raise SessionError("session.json names no scan file", path)
    return refs


def _read_v1(doc: checks.Doc, names: set[str], path: Path) -> SessionData:
    refs = _scan_refs(doc.objects("scan_files"), path, v1=True)
    has_ckpt = bool(doc.get("has_checkpoint", (bool,), required=False, default=False))
    if has_ckpt and CHECKPOINT_MEMBER not in names:
        raise SessionError(f"session.json says it has a checkpoint, but {CHECKPOINT_MEMBER} is missing", path)
    return SessionData(
        scan_files=_resolve_scans(refs, path),
        scans=refs,
        cleaning=checks.check_settings(doc.get("cleaning", (dict, type(None)), required=False), "cleaning", path)
        or None,
        reconstruction=checks.check_settings(
            doc.get("reconstruction", (dict, type(None)), required=False), "reconstruction", path
        ),
        poisson=checks.check_settings(doc.get("poisson", (dict, type(None)), required=False), "poisson", path),
        extra=doc.get("extra", (dict, type(None)), required=False) or {},
        checkpoint=Path(CHECKPOINT_MEMBER) if CHECKPOINT_MEMBER in names else None,
    )


def _read_v2(doc: checks.Doc, z: zipfile.ZipFile, names: set[str], path: Path, load_meshes: bool) -> SessionData:
    scan = doc.obj("scan")
    assert scan is not None
    refs = _scan_refs(scan.objects("files"), path, v1=False)
    layers = []
    seen = set()
    for ld in doc.objects("layers"):
        name = ld.get("name", (str,))
        if name in seen:
            raise SessionError(f"session.json: two layers are named '{name[:40]}'", path)
        seen.add(name)
        kind = checks.check_layer_kind(ld.get("kind", (str,)), ld.where, path)
        member = ld.member("mesh", names, required=False)
        opacity = float(ld.get("opacity", (int, float), required=False, default=1.0))
        if not 0.0 <= opacity <= 1.0:
            raise SessionError(f"session.json: '{ld.where}.opacity' is {opacity}, outside [0, 1]", path)
        rec = LayerRecord(
            name=name,
            kind=kind,
            title=ld.get("title", (str,), required=False, default=name),
            color=checks.check_color(ld.get("color", (str,), required=False, default=""), ld.where, path),
            visible=ld.get("visible", (bool,), required=False, default=True),
            opacity=opacity,
            info=ld.get("info", (dict, type(None)), required=False) or {},
        )
        if member is not None and load_meshes:
            rec.vertices, rec.faces = checks.read_mesh_arrays(z, member, path)
        layers.append(rec)
    net = doc.obj("network", required=False)
    ckpt = None
    preset = None
    if net is not None:
        ckpt = net.member("checkpoint", names)
        preset = net.get("preset", (str, type(None)), required=False)
    step = doc.get("step", (int,), required=False, default=0)
    if step < 0:
        raise SessionError(f"session.json: 'step' is {step}, not a step count", path)
    saved_at = doc.get("saved_at", (int, float, type(None)), required=False)
    return SessionData(
        scan_files=_resolve_scans(refs, path),
        scans=refs,
        cleaning=checks.check_settings(doc.get("cleaning", (dict, type(None)), required=False), "cleaning", path)
        or None,
        reconstruction=checks.check_settings(
            doc.get("reconstruction", (dict, type(None)), required=False), "reconstruction", path
        ),
        poisson=checks.check_settings(doc.get("poisson", (dict, type(None)), required=False), "poisson", path),
        extra=doc.get("extra", (dict, type(None)), required=False) or {},
        layers=layers,
        history=checks.check_history(doc.get("history", (dict, type(None)), required=False), path),
        step=step,
        network=preset,
        checkpoint=None if ckpt is None else Path(ckpt),
        saved_at=None if saved_at is None else float(saved_at),
    )


def describe_session(data: SessionData) -> str:
    """One line of what a session holds (for a recovery offer or a log)."""
    names = ", ".join(Path(f).name for f in data.scan_files)
    meshes = [lay for lay in data.layers if lay.kind not in ("scan", "cleaned")]
    parts = [f"scan {names}"]
    if meshes:
        parts.append(f"{len(meshes)} mesh layer{'s' if len(meshes) != 1 else ''}")
    if data.checkpoint is not None:
        parts.append(f"a network at step {data.step}")
    return ", ".join(parts)
