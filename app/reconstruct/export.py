"""Export of a mesh layer from the GUI: the file type the user chose, a suggested name,
refusals before any question, and a preview never written unannounced."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from levelset_studio.core.errors import LevelSetError
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


# ------------------------------------------------------------------ questions --
def ask_replace_or_add(window: QWidget) -> str | None:
    box = QMessageBox(window)
    box.setWindowTitle("Open scans")
    box.setText("Replace the open work with the new scan, or add the scan to it?")
    box.setInformativeText("Replace removes every layer (Edit > Undo brings them back).")
    replace = box.addButton("Replace", QMessageBox.ButtonRole.AcceptRole)
    add = box.addButton("Add", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(replace)
    box.exec()
    clicked = box.clickedButton()
    return "replace" if clicked is replace else "add" if clicked is add else None


def ask_overwrite(window: QWidget, path: Path) -> bool:
    answer = QMessageBox.question(window, "Export mesh", f"{path.name} exists. Replace it?")
    return answer == QMessageBox.StandardButton.Yes


def ask_export_preview(window: QWidget, title: str) -> str | None:
    box = QMessageBox(window)
    box.setWindowTitle("Export mesh")
    box.setText(f"{title} shows the low-resolution training preview (untrimmed).")
    box.setInformativeText("Make the final mesh (full resolution, trimmed) first, or export the preview?")
    final = box.addButton("Final mesh first", QMessageBox.ButtonRole.AcceptRole)
    preview = box.addButton("Export preview", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(final)
    box.exec()
    clicked = box.clickedButton()
    return "final" if clicked is final else "preview" if clicked is preview else None


# --------------------------------------------------------------------- export --
def export_dialog(window: Any) -> None:
    tab = window.reconstruct_tab
    layer = tab.selected_mesh_layer()
    if layer is None:
        window.error_handler("no reconstructed mesh to export yet")
        return
    if not _preview_settled(window, layer):
        return
    name = suggested_name(layer)
    start = Path(str(window.settings.value("last_dir", "") or Path.home())) / name
    path, chosen = QFileDialog.getSaveFileName(
        window,
        "Export mesh",
        str(start),
        mesh_filters(),
        filter_for(Path(name).suffix),
        QFileDialog.Option.DontConfirmOverwrite,  # asked below, after the refusals
    )
    if path:
        export_chosen(window, path, chosen, layer)


def _preview_settled(window: Any, layer: Any) -> bool:
    """A training preview is never exported unannounced: offer the final mesh first."""
    tab = window.reconstruct_tab
    if not layer.preview:
        return True
    if tab.training:
        window.error_handler("stop the reconstruction before exporting its mesh")
        return False
    choice = window.ask_export_preview(layer.title)
    if choice == "final":
        tab.finalize_mesh()
        window.statusBar().showMessage("Meshing at full resolution; export again when it is done", 8000)
        return False
    return choice == "preview"


def export_chosen(window: Any, path: str | Path, chosen_filter: str = "", layer: Any = None) -> Path | None:
    """Write the mesh to ``path`` in the chosen file type: refuse first, then ask, then write."""
    window.statusBar().clearMessage()  # never a stale success
    tab = window.reconstruct_tab
    target = export_target(path, chosen_filter)
    refusal = tab.export_refusal(target)
    if refusal:
        window.error_handler(refusal)
        return None
    if target.exists() and not window.ask_overwrite(target):
        return None
    try:
        out = tab.export_mesh(target, layer)
    except LevelSetError as exc:
        window.error_handler(str(exc))
        return None
    if out:
        window.settings.setValue("last_dir", str(Path(out).parent))
        window.statusBar().showMessage(f"Exported {out}", 8000)
    return out
