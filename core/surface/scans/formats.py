"""The format registry: every scan reader and writer, registered once.

Each :class:`FormatSpec` names a format's extensions, a description, what it can hold
(normals, colour, intensity, classes, stations, CRS) and whether ``levelset clean`` can
write it. Everything that lists formats reads them from here: the CLI help and
``levelset info --formats``, the GUI's Open dialog and drag-and-drop, the desktop MIME
types and the tables of README.md and docs/formats.md (``levelset docs``).

Mesh formats (for writing results) are registered the same way in
:mod:`levelset_studio.core.surface.meshes.meshio`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from levelset_studio.core.surface.scans import _e57, _las, _meshfiles, _pcd, _ply, _text
from levelset_studio.core.surface.scans._common import Cloud, Progress, ReadConfig, read_bytes

Capability = Literal["points", "normals", "colour", "intensity", "classes", "stations", "faces", "crs"]
CAPABILITIES: tuple[Capability, ...] = ("normals", "colour", "intensity", "classes", "stations", "faces", "crs")

Reader = Callable[[Path, ReadConfig, "Progress | None"], Cloud]


@dataclass(frozen=True)
class FormatSpec:
    """One file format: how to recognise it, what it holds, who reads and writes it."""

    name: str
    extensions: tuple[str, ...]  # lower case, with the dot
    description: str
    kind: Literal["cloud", "mesh", "set"]  # a point cloud, a mesh read as a scan, a scan set
    capabilities: frozenset[Capability]
    writable: bool = False  # ``levelset clean`` / ``make-scan`` can write it
    library: str = "built in"  # what does the work
    mime: str | None = None  # the MIME type the desktop entry registers (packaging/linux)
    reader: Reader | None = None  # None: handled by load_scan itself (scan sets)
    chunked: bool = False  # read in chunks (bounded memory, budget applied while reading)

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities


def _from_bytes(parse: Callable[[bytes, Path], Cloud]) -> Reader:
    def read(path: Path, config: ReadConfig, progress: Progress | None = None) -> Cloud:
        return parse(read_bytes(path), path)

    return read


def _mesh_reader(path: Path, config: ReadConfig, progress: Progress | None = None) -> Cloud:
    return _meshfiles.read_trimesh(read_bytes(path), path, path.suffix.lower())


def _caps(*names: Capability) -> frozenset[Capability]:
    return frozenset(("points", *names))


SCAN_FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec(
        "PLY",
        (".ply",),
        "Stanford polygon file, ASCII or binary; points, or a mesh whose faces are sampled",
        "cloud",
        _caps("normals", "colour", "faces"),
        writable=True,
        library="numpy (plyfile for unusual face lists)",
        mime="model/x-ply",
        reader=_ply.read_ply_file,
        chunked=True,  # binary point clouds
    ),
    FormatSpec(
        "PCD",
        (".pcd",),
        "Point Cloud Library file: ascii, binary, binary_compressed; organized clouds",
        "cloud",
        _caps("normals", "colour"),
        writable=True,
        library="numpy (open3d for binary_compressed)",
        mime="model/x-pcd",
        reader=_from_bytes(_pcd.read_pcd),
    ),
    FormatSpec(
        "Text",
        (".xyz", ".pts", ".txt", ".csv"),
        "columns of numbers: x y z [normals] [colour], any separator, header lines",
        "cloud",
        _caps("normals", "colour"),
        writable=True,  # as .xyz
        library="numpy",
        mime="model/x-xyz",
        reader=_from_bytes(_text.read_text),
    ),
    FormatSpec(
        "E57",
        (".e57",),
        "ASTM E2807 laser-scan exchange: stations placed by their poses, structured scans",
        "cloud",
        _caps("colour", "intensity", "stations"),
        writable=True,
        library="pye57 (libE57Format)",
        mime="model/e57",
        reader=_e57.read_e57,
        chunked=True,
    ),
    FormatSpec(
        "LAS",
        (".las",),
        "ASPRS LAS 1.2-1.4 lidar points, georeferenced (exact scale and offset)",
        "cloud",
        _caps("colour", "intensity", "classes", "crs"),
        writable=True,
        library="laspy",
        mime="application/vnd.las",
        reader=_las.read_las,
        chunked=True,
    ),
    FormatSpec(
        "LAZ",
        (".laz",),
        "compressed LAS",
        "cloud",
        _caps("colour", "intensity", "classes", "crs"),
        writable=True,
        library="laspy with lazrs",
        mime="application/vnd.laszip",
        reader=_las.read_las,
        chunked=True,
    ),
    FormatSpec(
        "OBJ",
        (".obj",),
        "Wavefront mesh: vertices plus area-weighted samples on the faces",
        "mesh",
        _caps("normals", "faces"),
        library="trimesh",
        mime="model/obj",
        reader=_mesh_reader,
    ),
    FormatSpec(
        "STL",
        (".stl",),
        "stereolithography mesh (binary or ASCII), sampled like OBJ",
        "mesh",
        _caps("normals", "faces"),
        library="trimesh",
        mime="model/stl",
        reader=_mesh_reader,
    ),
    FormatSpec(
        "OFF",
        (".off",),
        "Object File Format mesh, sampled like OBJ",
        "mesh",
        _caps("normals", "faces"),
        library="trimesh",
        mime="model/x-off",
        reader=_mesh_reader,
    ),
    FormatSpec(
        "Scan set",
        (".conf",),
        "Stanford scan set: 'bmesh FILE tx ty tz qx qy qz qw' lines placing scans",
        "set",
        _caps("stations"),
    ),
)

SCAN_EXTENSIONS: tuple[str, ...] = tuple(e for f in SCAN_FORMATS for e in f.extensions)
WRITABLE_SCAN_EXTENSIONS: tuple[str, ...] = (".ply", ".pcd", ".xyz", ".e57", ".las", ".laz")

_BY_EXT = {e: f for f in SCAN_FORMATS for e in f.extensions}

write_las = _las.write_las
write_e57 = _e57.write_e57
laz_backend_available = _las.laz_backend_available
crs_name = _las.crs_name
e57_station_count = _e57.station_count


def format_for(path: str | Path) -> FormatSpec | None:
    """The registered format of ``path`` by its extension, or None."""
    return _BY_EXT.get(Path(path).suffix.lower())


def supported_text(exts: Sequence[str] = SCAN_EXTENSIONS) -> str:
    return ", ".join(exts)


def _globs(exts: Sequence[str]) -> str:
    return " ".join("*" + e for e in exts)


def scan_file_filter() -> str:
    """A Qt-style file-dialog filter for every readable scan (plain string, no Qt)."""
    groups = [f"Scans ({_globs(SCAN_EXTENSIONS)})"]
    groups += [f"{f.name} ({_globs(f.extensions)})" for f in SCAN_FORMATS]
    groups.append("All files (*)")
    return ";;".join(groups)


def accepts_drop(path: str | Path) -> bool:
    """Whether a file dropped on the window is a scan the registry can read."""
    return format_for(path) is not None


def _mark(yes: bool) -> str:
    return "yes" if yes else ""


def markdown_table() -> str:
    """The README / docs table of scan formats, from the registry."""
    head = ["Format", "Extensions", "Normals", "Colour", "Intensity", "Classes", "Stations", "CRS", "Write", "Library"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in SCAN_FORMATS:
        cells = [
            f.name,
            " ".join(f"`{e}`" for e in f.extensions),
            _mark(f.has("normals")),
            _mark(f.has("colour")),
            _mark(f.has("intensity")),
            _mark(f.has("classes")),
            _mark(f.has("stations")),
            _mark(f.has("crs")),
            _mark(f.writable),
            f.library,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def formats_text() -> str:
    """What ``levelset info --formats`` prints: one line per format."""
    lines = []
    width = max(len(f.name) for f in SCAN_FORMATS)
    ext_w = max(len(" ".join(f.extensions)) for f in SCAN_FORMATS)
    for f in SCAN_FORMATS:
        caps = [c for c in CAPABILITIES if f.has(c) and c != "faces"]
        flags = ", ".join(caps) if caps else "points"
        write = "read/write" if f.writable else "read"
        lines.append(f"{f.name:<{width}}  {' '.join(f.extensions):<{ext_w}}  {write:<10}  {flags}  ({f.library})")
        lines.append(f"{'':<{width}}  {f.description}")
    return "\n".join(lines)


__all__ = [
    "CAPABILITIES",
    "SCAN_EXTENSIONS",
    "SCAN_FORMATS",
    "WRITABLE_SCAN_EXTENSIONS",
    "FormatSpec",
    "ReadConfig",
    "accepts_drop",
    "crs_name",
    "e57_station_count",
    "format_for",
    "formats_text",
    "laz_backend_available",
    "markdown_table",
    "scan_file_filter",
    "supported_text",
    "write_e57",
    "write_las",
]
