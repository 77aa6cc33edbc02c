"""Validation of session files before anything in them is used.

A session file comes from anywhere: a crash may have cut it, another program may have
written it, a person may have edited ``session.json``. Everything here only *reads*:
the archive's directory, the JSON document, NumPy arrays (``allow_pickle=False``) and
checkpoints (``torch.load(weights_only=True)``). No code in a session is ever run.
Each failed check raises :class:`~levelset_studio.core.errors.SessionError` with a
one-line reason that names what is wrong.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from levelset_studio.core.errors import SessionError

SESSION_FORMAT = "levelset-studio-session"
DOCUMENT = "session.json"
LAYER_KINDS = ("scan", "cleaned", "levelset", "poisson", "trimmed")
MAX_MEMBER_BYTES = 16 * 2**30  # a member larger than this (uncompressed) is not ours
MAX_DOCUMENT_BYTES = 64 * 2**20


def open_archive(path: Path) -> zipfile.ZipFile:
    """The session's zip, after checking it is a complete zip with safe member names."""
    if not path.exists():
        raise SessionError("no such session file", path)
    if not path.is_file():
        raise SessionError("not a file", path)
    if path.stat().st_size == 0:
        raise SessionError("the session file is empty", path)
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SessionError("not a session file: not a zip archive, or cut short (truncated)", path) from None
    except OSError as exc:
        raise SessionError(f"cannot read the session file ({exc.strerror or exc})", path) from None
    try:
        for info in z.infolist():
            check_member_name(info.filename, path)
            if info.file_size > MAX_MEMBER_BYTES:
                raise SessionError(f"member '{info.filename}' is implausibly large ({info.file_size} bytes)", path)
        bad = z.testzip()  # reads every member and checks its CRC: catches cut or altered data
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        z.close()
        raise SessionError(f"the session file is damaged ({_first_line(exc)})", path) from None
    except SessionError:
        z.close()
        raise
    if bad is not None:
        z.close()
        raise SessionError(f"the session file is damaged: member '{bad}' fails its checksum", path)
    if DOCUMENT not in z.namelist():
        z.close()
        raise SessionError(f"not a session file: it has no {DOCUMENT}", path)
    return z


def check_member_name(name: str, where: Path) -> str:
    """A member name must be a plain relative path inside the archive."""
    if not name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise SessionError(f"member '{name}' has an absolute or foreign path", where)
    norm = posixpath.normpath(name)
    if norm.startswith("..") or norm != name.rstrip("/"):
        raise SessionError(f"member '{name}' points outside the session", where)
    return name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


# ----------------------------------------------------------------------------- session.json


class Doc:
    """Typed access to a JSON object with messages that name the offending key."""

    def __init__(self, value: Any, where: str, path: Path) -> None:
        if not isinstance(value, dict):
            raise SessionError(f"{where or DOCUMENT} must be an object, not {_type(value)}", path)
        self.value = value
        self.where = where
        self.path = path

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, types: tuple[type, ...], *, required: bool = True, default: Any = None) -> Any:
        if key not in self.value:
            if required:
                raise SessionError(f"session.json: '{self._name(key)}' is missing", self.path)
            return default
        v = self.value[key]
        if v is None and type(None) in types:
            return None
        # bool is an int in Python; a key declared int must not accept true/false
        ok = isinstance(v, types) and not (isinstance(v, bool) and bool not in types)
        if not ok:
            names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types if t is not type(None))
            raise SessionError(f"session.json: '{self._name(key)}' must be {names}, not {_type(v)}", self.path)
        return v

    def obj(self, key: str, *, required: bool = True) -> Doc | None:
        v = self.get(key, (dict, type(None)), required=required)
        return None if v is None else Doc(v, self._name(key), self.path)

    def objects(self, key: str, *, required: bool = True) -> list[Doc]:
        v = self.get(key, (list,), required=required, default=[])
        return [Doc(x, f"{self._name(key)}[{i}]", self.path) for i, x in enumerate(v)]

    def member(self, key: str, names: set[str], *, required: bool = True) -> str | None:
        """The name of an archive member this key refers to (checked to exist and be safe)."""
        v = self.get(key, (str, type(None)), required=required)
        if v is None:
            return None
        check_member_name(v, self.path)
        if v not in names:
            raise SessionError(f"session.json: '{self._name(key)}' names '{v}', which the session lacks", self.path)
        return str(v)


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "a list",
}


def _type(v: Any) -> str:
    if v is None:
        return "null"
    return _TYPE_NAMES.get(type(v), type(v).__name__).replace("a ", "").replace("an ", "")


def check_settings(value: Any, where: str, path: Path) -> dict[str, Any]:
    """A settings object: keys are strings, values plain JSON scalars (or lists of them)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SessionError(f"session.json: '{where}' must be an object, not {_type(value)}", path)
    for k, v in value.items():
        flat = v if isinstance(v, list) else [v]
        if not all(x is None or isinstance(x, (str, int, float, bool)) for x in flat):
            raise SessionError(f"session.json: '{where}.{k}' must be a plain value, not {_type(v)}", path)
    return dict(value)


def check_history(value: Any, path: Path) -> dict[str, list[float]]:
    """The loss history: named series of numbers, all of one length."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SessionError(f"session.json: 'history' must be an object, not {_type(value)}", path)
    out: dict[str, list[float]] = {}
    n = None
    for k, v in value.items():
        if not isinstance(v, list) or not all(
            (isinstance(x, (int, float)) and not isinstance(x, bool)) or x is None for x in v
        ):
            raise SessionError(f"session.json: 'history.{k}' must be a list of numbers", path)
        if n is not None and len(v) != n:
            raise SessionError("session.json: the series of 'history' differ in length", path)
        n = len(v)
        out[str(k)] = [float("nan") if x is None else float(x) for x in v]
    return out


def check_layer_kind(kind: str, where: str, path: Path) -> str:
    if kind not in LAYER_KINDS:
        raise SessionError(f"session.json: '{where}.kind' is '{kind}', not one of {', '.join(LAYER_KINDS)}", path)
    return kind


def check_color(color: str, where: str, path: Path) -> str:
    c = color.lstrip("#")
    if color and (len(color) != 7 or not color.startswith("#") or any(ch not in "0123456789abcdefABCDEF" for ch in c)):
        raise SessionError(f"session.json: '{where}.color' is '{color[:20]}', not a colour like #e8c26a", path)
    return color


# ----------------------------------------------------------------------------- arrays


def read_mesh_arrays(z: zipfile.ZipFile, member: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A layer's (vertices, faces) from an .npz member, without pickles, checked for sense."""
    try:
        with np.load(io.BytesIO(z.read(member)), allow_pickle=False) as npz:
            vertices = np.asarray(npz["vertices"])
            faces = np.asarray(npz["faces"])
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise SessionError(f"layer data '{member}' is not a mesh ({_first_line(exc)})", path) from None
    if vertices.ndim != 2 or vertices.shape[1] != 3 or vertices.dtype.kind != "f":
        raise SessionError(f"layer data '{member}': vertices must be an (N, 3) float array", path)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
        raise SessionError(f"layer data '{member}': faces must be an (M, 3) integer array", path)
    if not np.all(np.isfinite(vertices)):
        raise SessionError(f"layer data '{member}': vertices hold NaN or infinite values", path)
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise SessionError(f"layer data '{member}': faces refer to missing vertices", path)
    return vertices.astype(np.float64, copy=False), faces.astype(np.int64, copy=False)


# ----------------------------------------------------------------------------- checkpoint


def check_checkpoint_network(state: dict[str, Any], network: str | None, path: Path) -> None:
    """The checkpoint's weights must fit the network the session names, tensor by tensor."""
    import torch

    from levelset_studio.core.surface.reconstruction.networks import NETWORK_PRESETS, build_network

    name = state.get("network")
    if network is not None and name != network:
        raise SessionError(f"the checkpoint holds network '{name}', the session names '{network}'", path)
    if name not in NETWORK_PRESETS:
        raise SessionError(f"the checkpoint names an unknown network '{str(name)[:40]}'", path)
    model = state.get("model")
    if not isinstance(model, dict):
        raise SessionError("the checkpoint holds no network weights", path)
    expected = build_network(NETWORK_PRESETS[name]).state_dict()
    missing = [k for k in expected if k not in model]
    extra = [k for k in model if k not in expected]
    if missing or extra:
        what = f"lacks '{missing[0]}'" if missing else f"has an unknown tensor '{extra[0]}'"
        raise SessionError(f"the checkpoint does not match its network '{name}': it {what}", path)
    for k, t in expected.items():
        got = model[k]
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(t.shape):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise SessionError(
                f"the checkpoint does not match its network '{name}': '{k}' is {shape}, expected {tuple(t.shape)}",
                path,
            )
        if not torch.isfinite(got).all():
            raise SessionError(f"the checkpoint's weights hold NaN or infinite values ('{k}')", path)


def load_failure_reason(exc: BaseException) -> str:
    """A plain reason for a failed ``torch.load(weights_only=True)`` (torch's own text is long)."""
    text = str(exc)
    if "Weights only load failed" in text:
        return "it holds objects other than tensors, which are never loaded"
    if isinstance(exc, EOFError) or "central directory" in text or "zip archive" in text:
        return "it is cut short or damaged"
    return "it is not a torch checkpoint"


def load_checkpoint_state(data: bytes, path: Path) -> dict[str, Any]:
    """The checkpoint's state dict, read with ``weights_only=True`` (no code is run)."""
    import torch

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a corrupt or foreign file
        raise SessionError(f"the session's checkpoint cannot be read: {load_failure_reason(exc)}", path) from None
    if not isinstance(state, dict):
        raise SessionError("the session's checkpoint is not a reconstruction checkpoint", path)
    return state


def check_relative(rel: str | None, where: str, path: Path) -> str | None:
    """A scan's path relative to the session must be relative (a tampered one may not be)."""
    if rel is None:
        return None
    if Path(rel).is_absolute() or rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":"):
        raise SessionError(f"session.json: '{where}.relative' must be a relative path, not '{rel[:80]}'", path)
    return rel
