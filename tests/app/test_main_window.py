"""The main window opens with both tabs, its menus, shortcuts and status bar, and closes."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence

pytestmark = pytest.mark.gui


def test_window_has_both_tabs_and_closes(window, qtbot):
    assert window.tabs.count() == 2
    assert [window.tabs.tabText(i) for i in range(2)] == ["Reconstruct", "Robustness"]
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert {"File", "View", "Help"} <= set(menus)
    assert window.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert window.export_action.shortcut().toString() == "Ctrl+E"
    assert window.reconstruct_action.shortcut().toString() == "F5"
    assert window.stop_action.shortcut().toString() == "Esc"
    assert window.device_label.text().startswith("Device: ")
    assert "Memory" in window.memory_label.text()
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.robustness_tab)
    assert window.close()
    assert not window.isVisible()


def test_geometry_and_recent_files_are_remembered(qtbot, settings, tmp_path):
    from levelset_studio.app.main_window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.resize(1450, 880)  # not the default size (1400 x 860); above both tabs' minimum
    qtbot.waitUntil(lambda: (w.width(), w.height()) == (1450, 880))
    size = (w.width(), w.height())
    w.add_recent([str(tmp_path / "a.ply")])
    w.add_recent([str(tmp_path / "b.ply"), str(tmp_path / "c.ply")])
    w.close()

    w2 = MainWindow(settings)
    qtbot.addWidget(w2)
    w2.show()
    qtbot.waitExposed(w2)
    assert (w2.width(), w2.height()) == size
    recent = w2.recent_files()
    assert recent[0] == [str(tmp_path / "b.ply"), str(tmp_path / "c.ply")]
    assert recent[1] == [str(tmp_path / "a.ply")]
    assert [a.text() for a in w2.recent_menu.actions()] == ["b.ply (+1)", "a.ply"]
    w2.close()


def test_about_lists_versions_and_device(window, qtbot):
    box = window.show_about()
    text = box.text()
    assert "torch" in text and "VTK" in text and "device" in text
    box.close()


def test_error_dialog_keeps_window_usable(qtbot, settings):
    from PySide6.QtWidgets import QMessageBox

    from levelset_studio.app.main_window import MainWindow

    w = MainWindow(settings)  # default error handler: a real dialog
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.reconstruct_tab.report_error("broken.ply: not a scan")
    box = w.findChild(QMessageBox, "error_dialog")
    assert box is not None
    qtbot.waitUntil(box.isVisible, timeout=2000)
    assert box.text() == "broken.ply: not a scan"
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=2000)
    w.tabs.setCurrentIndex(1)
    assert w.tabs.currentIndex() == 1
    w.close()


def activate(window):
    """Make ``window`` the active one: key shortcuts need that, and Xvfb has no window manager."""
    import warnings

    from PySide6.QtWidgets import QApplication

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        QApplication.setActiveWindow(window)
    assert QApplication.activeWindow() is window


def test_f5_and_esc_act_on_the_tab_on_screen(window, qtbot, blob_scan):
    """F5 runs and Esc stops the job of the visible tab, never the hidden one's."""
    from PySide6.QtCore import Qt

    rec, rob = window.reconstruct_tab, window.robustness_tab
    with qtbot.waitSignal(rec.scan_loaded, timeout=60_000):
        window.open_scans([str(blob_scan)])
    assert rec.reconstruct_button.isEnabled()  # F5 could start a reconstruction here

    window.tabs.setCurrentWidget(rob)
    rob.ensure_initialized()
    rob.dataset_panel.set_values({"name": "moons", "n_samples": 400, "noise": 0.1})
    rob.train_panel.set_values({"method": "standard", "epochs": 100_000, "batch_size": 32})
    activate(window)
    assert window.reconstruct_action.shortcut().isEmpty() and window.stop_action.shortcut().isEmpty()
    assert window.train_action.shortcut().toString() == "F5"
    qtbot.keyClick(window.tabs, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: rob.jobs.find("train") is not None, timeout=10_000)
    assert not rec.training and rec.jobs.find("reconstruct") is None
    with qtbot.waitSignal(rob.trainingFinished, timeout=30_000):
        qtbot.keyClick(window.tabs, Qt.Key.Key_Escape)
    assert not rob.jobs.find("train") is not None

    window.tabs.setCurrentWidget(rec)
    assert window.train_action.shortcut().isEmpty()
    assert window.reconstruct_action.shortcut().toString() == "F5"
    qtbot.keyClick(window.tabs, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: rec.training, timeout=10_000)
    assert not rob.jobs.find("train") is not None
    qtbot.keyClick(window.tabs, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not rec.training, timeout=10_000)
