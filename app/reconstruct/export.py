"""Export of a mesh layer from the GUI: the file type the user chose, a suggested name,
refusals before any question, and a preview never written unannounced."""

from __future__ import annotations

import re
from pathlib import Path

from levelset_studio.core.surface.layers import MeshLayer
from levelset_studio.core.surface.meshes.meshio import MESH_EXTENSIONS, MESH_FORMATS, mesh_file_filter


def mesh_filters() -> str:
    return mesh_file_filter()


def extension_of_filter(selected_filter: str) -> str | None:
    """``"glTF binary (*.glb)"`` -> ``".glb"``; None for a filter that names no one type."""
    found = re.findall(r"\*(\.[A-Za-z0-9]+)", selected_filter or "")
    return found[0].lower() if len(found) == 1 else None


def export_target(path: str | Path, selected_filter: str = "") -> Path:
    """The file to write: a name typed without a known mesh extension gets the chosen type's."""
    path = Path(path)
    if path.suffix.lower() in MESH_EXTENSIONS:
        return path
    ext = extension_of_filter(selected_filter) or MESH_FORMATS[0].extension
    return path.with_name(path.name + ext)


def suggested_name(layer: MeshLayer, selected_filter: str = "") -> str:
    """A file name from the layer's title, e.g. ``Level_set_1.ply``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", layer.title).strip("._") or "mesh"
    return stem + (extension_of_filter(selected_filter) or MESH_FORMATS[0].extension)


def filter_for(extension: str) -> str:
    """The dialog filter entry of ``extension`` (so the dialog opens on the suggested type)."""
    for f in MESH_FORMATS:
        if f.extension == extension:
            return f"{f.name} (*{f.extension})"
    return ""
