"""Dialogs: errors (one line from core, never a traceback) and About."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def show_error(parent: QWidget | None, message: str, title: str = "LevelSet Studio") -> QMessageBox:
    """A non-blocking error box with core's one-line message; the window stays usable."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("error_dialog")
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box


def about_text(device: str | None = None) -> str:
    """HTML for the About box: versions of the app, its libraries and the compute device."""
    from levelset_studio.core.versions import versions

    v = versions()
    if device:
        v["device in use"] = device
    rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{val}</td></tr>" for k, val in v.items())
    return (
        "<h3>LevelSet Studio</h3>"
        "<p>Sample, move and draw the level sets of neural networks: surface reconstruction "
        "from scans and decision-boundary robustness (after Atzmon et al., "
        "<i>Controlling Neural Level Sets</i>, NeurIPS 2019).</p>"
        f"<table>{rows}</table>"
    )


def show_about(parent: QWidget | None, device: str | None = None) -> QMessageBox:
    box = QMessageBox(parent)
    box.setObjectName("about_dialog")
    box.setWindowTitle("About LevelSet Studio")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text(device))
    if parent is not None and not parent.windowIcon().isNull():
        box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.open()
    return box
