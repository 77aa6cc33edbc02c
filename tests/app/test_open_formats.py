"""The Open dialog's filters and drag-and-drop follow the format registry (real Qt, Xvfb)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent

from levelset_studio.app.main_window import scan_file_filter
from levelset_studio.core.surface.scans.formats import SCAN_FORMATS


def test_open_dialog_filter_lists_every_registered_format():
    text = scan_file_filter()
    for spec in SCAN_FORMATS:
        assert all(f"*{e}" in text for e in spec.extensions), spec.name
    assert "*.e57" in text and "*.las" in text and "*.laz" in text


def _drag(window, name: str, tmp_path) -> bool:
    path = tmp_path / name
    path.write_bytes(b"x")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDragEnterEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    event.setAccepted(False)
    window.dragEnterEvent(event)
    return event.isAccepted()


def test_drag_accepts_registered_suffixes_only(window, tmp_path):
    for name in ("site.laz", "site.LAS", "station.e57", "scan.ply", "work.lss"):
        assert _drag(window, name, tmp_path), name
    assert not _drag(window, "notes.docx", tmp_path)
