"""The fault corpus: builds every damaged input from a good one, with the message it must give.

Each case is a function ``build(good: Path, out: Path) -> Path`` that writes a damaged
copy of the good session ``good`` into ``out`` and returns it, plus the text the
one-line refusal must contain. Nothing is committed as data: every file is built here.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MARKER_NAME = "EXECUTED"  # a payload that runs would create this file next to the session


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path, Path], Path]
    expect: str  # a substring of the one-line message


def _members(good: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(good) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(out: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    return out


def _doc(good: Path) -> dict:
    return json.loads(_members(good)["session.json"])


def _with_doc(edit: Callable[[dict], None]) -> Callable[[Path, Path], Path]:
    def build(good: Path, out: Path) -> Path:
        members = _members(good)
        doc = json.loads(members["session.json"])
        edit(doc)
        members["session.json"] = json.dumps(doc).encode()
        return _write(out, members)

    return build


def _bytes(make: Callable[[bytes], bytes]) -> Callable[[Path, Path], Path]:
    def build(good: Path, out: Path) -> Path:
        out.write_bytes(make(good.read_bytes()))
        return out

    return build


def _flip_inside_member(data: bytes) -> bytes:
    """Alter one byte of the stored checkpoint's data (its CRC no longer matches)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo("checkpoint.pt")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    pos = start + info.compress_size // 2
    b = bytearray(data)
    b[pos] ^= 0xFF
    return bytes(b)


def _extra_member(name: str, blob: bytes = b"x") -> Callable[[Path, Path], Path]:
    def build(good: Path, out: Path) -> Path:
        members = _members(good)
        members[name] = blob
        return _write(out, members)

    return build


def _replace_member(name: str | None, make: Callable[[Path, Path], bytes]) -> Callable[[Path, Path], Path]:
    """Replace member ``name`` (None: the first mesh layer's arrays) by ``make(good, folder)``."""

    def build(good: Path, out: Path) -> Path:
        members = _members(good)
        members[name or _mesh_member(good)] = make(good, out.parent)
        return _write(out, members)

    return build


def _mesh_layer(good: Path) -> int:
    return next(i for i, lay in enumerate(_doc(good)["layers"]) if lay["mesh"])


def _mesh_member(good: Path) -> str:
    return _doc(good)["layers"][_mesh_layer(good)]["mesh"]


def _set_layer(key: str, value) -> Callable[[Path, Path], Path]:
    def build(good: Path, out: Path) -> Path:
        i = _mesh_layer(good)
        return _with_doc(lambda d: d["layers"][i].__setitem__(key, value))(good, out)

    return build


def _drop_layer_key(key: str) -> Callable[[Path, Path], Path]:
    def build(good: Path, out: Path) -> Path:
        i = _mesh_layer(good)
        return _with_doc(lambda d: d["layers"][i].pop(key))(good, out)

    return build


def _checkpoint(edit: Callable[[dict], None]) -> Callable[[Path, Path], bytes]:
    """The good session's checkpoint, edited (still a valid torch file)."""

    def make(good: Path, _folder: Path) -> bytes:
        state = torch.load(io.BytesIO(_members(good)["checkpoint.pt"]), weights_only=True)
        state["model"] = dict(state["model"])
        edit(state)
        buf = io.BytesIO()
        torch.save(state, buf)
        return buf.getvalue()

    return make


def _reshape_first(s: dict) -> None:
    k = next(iter(s["model"]))
    s["model"][k] = torch.zeros(3, 1, 4)


def _drop_first(s: dict) -> None:
    s["model"].pop(next(iter(s["model"])))


def _nan_first(s: dict) -> None:
    k = next(iter(s["model"]))
    s["model"][k] = torch.full_like(s["model"][k], float("nan"))


class _Payload:
    """An object whose unpickling would create a marker file (a pickle 'exploit')."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __reduce__(self):
        return (Path.touch, (self.folder / MARKER_NAME,))


def _pickled_checkpoint(_good: Path, folder: Path) -> bytes:
    buf = io.BytesIO()
    torch.save({"kind": "levelset-studio/reconstruction", "model": _Payload(folder)}, buf)
    return buf.getvalue()


def _object_array_npz(_good: Path, folder: Path) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, vertices=np.array([_Payload(folder)], dtype=object), faces=np.zeros((1, 3), np.int64))
    return buf.getvalue()


def corpus() -> list[Case]:
    """Every damaged-session case; each builds its file from a good session."""
    return [
        Case("empty file", _bytes(lambda b: b""), "empty"),
        Case("not a zip", _bytes(lambda b: b"solid cube\nfacet normal 0 0 1\n" * 20), "not a zip"),
        Case("truncated", _bytes(lambda b: b[: len(b) // 2]), "truncated"),
        Case("truncated at the end", _bytes(lambda b: b[:-30]), "truncated"),
        Case("damaged data", _bytes(_flip_inside_member), "damaged"),
        Case("another zip", lambda g, o: _write(o, {"readme.txt": b"hello"}), "has no session.json"),
        Case("json syntax", _replace_member("session.json", lambda g, f: b"{not json"), "not valid JSON"),
        Case("json not an object", _replace_member("session.json", lambda g, f: b"[1, 2]"), "must be an object"),
        Case("other format", _with_doc(lambda d: d.__setitem__("format", "someone-else")), "not a LevelSet Studio"),
        Case("newer version", _with_doc(lambda d: d.__setitem__("version", 99)), "version 99 is newer"),
        Case(
            "version of wrong type", _with_doc(lambda d: d.__setitem__("version", "2")), "'version' must be an integer"
        ),
        Case("version missing", _with_doc(lambda d: d.pop("version")), "'version' is missing"),
        Case("scan missing", _with_doc(lambda d: d.pop("scan")), "'scan' is missing"),
        Case("scan files empty", _with_doc(lambda d: d["scan"].__setitem__("files", [])), "names no scan file"),
        Case(
            "scan path of wrong type",
            _with_doc(lambda d: d["scan"]["files"][0].__setitem__("path", 42)),
            "'scan.files[0].path' must be a string",
        ),
        Case(
            "scan relative path made absolute",
            _with_doc(lambda d: d["scan"]["files"][0].__setitem__("relative", "/etc/passwd")),
            "must be a relative path",
        ),
        Case("layers not a list", _with_doc(lambda d: d.__setitem__("layers", {"a": 1})), "'layers' must be a list"),
        Case("layer kind unknown", _set_layer("kind", "virus"), "kind' is 'virus'"),
        Case("layer name missing", _drop_layer_key("name"), "name' is missing"),
        Case("layer opacity out of range", _set_layer("opacity", 7), "outside [0, 1]"),
        Case("layer visible not a bool", _set_layer("visible", "yes"), "visible' must be true or false"),
        Case("layer colour", _set_layer("color", "javascript:alert(1)"), "not a colour"),
        Case("layer mesh absolute", _set_layer("mesh", "/etc/passwd"), "absolute"),
        Case("layer mesh escaping", _set_layer("mesh", "../../outside.npz"), "outside the session"),
        Case("layer mesh missing", _set_layer("mesh", "layers/77.npz"), "which the session lacks"),
        Case("member escaping the archive", _extra_member("../../evil.sh"), "outside the session"),
        Case("member with an absolute name", _extra_member("/tmp/evil.sh"), "absolute"),
        Case("layer array not a mesh", _replace_member(None, lambda g, f: b"PK\x03\x04garbage"), "not a mesh"),
        Case("layer array with pickled objects", _replace_member(None, _object_array_npz), "not a mesh"),
        Case(
            "layer faces out of range",
            _replace_member(None, lambda g, f: _npz(np.zeros((3, 3)), np.array([[0, 1, 9]]))),
            "missing vertices",
        ),
        Case(
            "layer vertices NaN",
            _replace_member(None, lambda g, f: _npz(np.full((3, 3), np.nan), np.array([[0, 1, 2]]))),
            "NaN",
        ),
        Case(
            "history ragged",
            _with_doc(lambda d: d.__setitem__("history", {"step": [1, 2], "loss": [1.0]})),
            "differ in length",
        ),
        Case("history not numbers", _with_doc(lambda d: d.__setitem__("history", {"loss": ["a"]})), "list of numbers"),
        Case("step negative", _with_doc(lambda d: d.__setitem__("step", -5)), "not a step count"),
        Case(
            "settings nested", _with_doc(lambda d: d.__setitem__("reconstruction", {"seed": {"x": 1}})), "plain value"
        ),
        Case(
            "settings out of range",
            _with_doc(lambda d: d["reconstruction"].__setitem__("resolution", 5)),
            "settings are invalid",
        ),
        Case(
            "checkpoint of another network",
            _with_doc(lambda d: d["network"].__setitem__("preset", "authors")),
            "the session names 'authors'",
        ),
        Case(
            "checkpoint tensor reshaped",
            _replace_member("checkpoint.pt", _checkpoint(_reshape_first)),
            "does not match its network",
        ),
        Case(
            "checkpoint tensor missing",
            _replace_member("checkpoint.pt", _checkpoint(_drop_first)),
            "does not match its network",
        ),
        Case("checkpoint weights NaN", _replace_member("checkpoint.pt", _checkpoint(_nan_first)), "NaN"),
        Case("checkpoint not torch", _replace_member("checkpoint.pt", lambda g, f: b"\x00" * 100), "cannot be read"),
        Case(
            "checkpoint with a pickle payload", _replace_member("checkpoint.pt", _pickled_checkpoint), "cannot be read"
        ),
        Case(
            "checkpoint member missing", _with_doc(lambda d: d["network"].__setitem__("checkpoint", "gone.pt")), "lacks"
        ),
    ]


def _npz(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, vertices=vertices, faces=faces)
    return buf.getvalue()


# ----------------------------------------------------------------------------- checkpoints


def checkpoint_corpus() -> list[Case]:
    """Damaged checkpoints for ``reconstruct --resume FILE``, built from a good one."""

    def edited(edit: Callable[[dict], None]) -> Callable[[Path, Path], Path]:
        def build(good: Path, out: Path) -> Path:
            state = torch.load(good, weights_only=True)
            s = dict(state)
            s["model"] = dict(state["model"])
            edit(s)
            torch.save(s, out)
            return out

        return build

    def reshape_first(s: dict) -> None:
        k = next(iter(s["model"]))
        s["model"][k] = torch.zeros(2, 2)

    def pickled(_good: Path, out: Path) -> Path:
        torch.save({"kind": "levelset-studio/reconstruction", "model": _Payload(out.parent)}, out)
        return out

    return [
        Case("empty", _bytes(lambda b: b""), "cannot read checkpoint"),
        Case("truncated", _bytes(lambda b: b[: len(b) // 3]), "cannot read checkpoint"),
        Case("not torch", _bytes(lambda b: b"hello world" * 10), "cannot read checkpoint"),
        Case("pickle payload", pickled, "cannot read checkpoint"),
        Case("another kind", edited(lambda s: s.__setitem__("kind", "other")), "not a LevelSet Studio"),
        Case("another version", edited(lambda s: s.__setitem__("version", 9)), "version 9 is not supported"),
        Case("another scan", edited(lambda s: s.__setitem__("scan_points", 12)), "trained on a scan of 12 points"),
        Case("tensor reshaped", edited(reshape_first), "not a usable reconstruction checkpoint"),
    ]


# ----------------------------------------------------------------------------- scans


def scan_corpus() -> list[Case]:
    """Damaged scan files (the readers' refusals, met by reconstruct and the GUI alike)."""

    def text(name: str, content: str) -> Callable[[Path, Path], Path]:
        def build(_good: Path, out: Path) -> Path:
            path = out.with_name(name)
            path.write_text(content)
            return path

        return build

    def binary(name: str, content: bytes) -> Callable[[Path, Path], Path]:
        def build(_good: Path, out: Path) -> Path:
            path = out.with_name(name)
            path.write_bytes(content)
            return path

        return build

    return [
        Case("empty ply", binary("empty.ply", b""), "empty.ply"),
        Case(
            "ply header cut",
            binary("cut.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex 100\n"),
            "cut.ply",
        ),
        Case("xyz all NaN", text("nan.xyz", "nan nan nan\n" * 50), "nan.xyz"),
        Case("xyz garbage", text("junk.xyz", "this is not a point cloud\n" * 5), "junk.xyz"),
        Case("unknown extension", binary("scan.docx", b"PK"), "scan.docx"),
    ]
