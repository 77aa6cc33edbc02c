"""What a person sees in the Reconstruct tab: a surface that reads as one, progress with
the fit, a first-step hint, the up axis per file, and buttons above the fold at 1280x800.
Real torch training, real VTK render under Xvfb."""

from __future__ import annotations

import numpy as np
import pytest

from levelset_studio.app.view3d import BACKGROUND, RESULT_PALETTE

pytestmark = pytest.mark.gui

FAST = {"threads": 1, "resolution": 96, "preview_resolution": 48, "snapshot_interval": 0.5}


def _open(window, qtbot, path):
    tab = window.reconstruct_tab
    with qtbot.waitSignal(tab.scan_loaded, timeout=60_000):
        window.open_scans([str(path)])
    tab.recon_panel.set_values(FAST)
    return tab


def test_finished_surface_is_shaded_and_the_scan_steps_back(window, qtbot, sample_scan):
    from levelset_studio.app.reconstruct.training import FIRST_STEP_HINT

    tab = _open(window, qtbot, sample_scan)
    assert tab.progress_text.text() == FIRST_STEP_HINT  # a first-time user is told what to press
    scan_name = tab.active_scan_name
    assert not tab.view.is_faint(scan_name)
    with qtbot.waitSignal(tab.reconstruction_finished, timeout=240_000):
        assert tab.start_reconstruction(iterations=40) is not None
    layer = tab.layers.get(tab.recon_layer)
    assert layer.color == RESULT_PALETTE[0] and tab.next_result_color() == RESULT_PALETTE[1]
    # the scan stepped back: small faint points; one click brings it forward and back
    assert tab.view.is_faint(scan_name) and tab.view.faint_button.isChecked()
    assert "fit" in tab.progress_text.text() and "%" in tab.progress_text.text()
    assert layer.data.vertex_normals is not None  # the network's gradient, for the shading
    img = tab.view.image().astype(float)
    h, w = img.shape[:2]
    centre = img[h // 2 - 15 : h // 2 + 15, w // 2 - 15 : w // 2 + 15].reshape(-1, 3)
    bg = np.array(BACKGROUND) * 255
    surface = centre[np.abs(centre - bg).max(axis=1) > 40]
    assert len(surface) > 0.9 * len(centre), "the surface does not cover the centre of the view"
    shade = surface.mean(axis=1)
    assert np.percentile(shade, 95) - np.percentile(shade, 5) > 15, "flat fill, not a shaded surface"
    tab.view.faint_button.click()
    assert not tab.view.is_faint(scan_name)
    # the hint is for the first time only
    window.settings.sync()
    assert window.settings.value("hints/reconstructed", False, type=bool)


def test_up_axis_is_guessed_and_remembered_per_file(window, qtbot, sample_scan, tmp_path):
    import shutil

    copy = tmp_path / "creature.ply"
    shutil.copy(sample_scan, copy)
    tab = _open(window, qtbot, copy)
    assert tab.view.up_axis == "z"  # the sample is long in X and stands on Z
    tab.view.up_combo.setCurrentIndex(tab.view.up_combo.findData("y"))
    assert np.allclose(tab.view.plotter.camera.up, (0, 1, 0), atol=1e-6)
    tab.view.set_up_axis("z")  # as if another file had been shown
    window.ask_replace_or_add = lambda: "replace"  # the question a second open asks
    _open(window, qtbot, copy)
    assert tab.view.up_axis == "y"  # remembered for this file


def test_buttons_are_above_the_fold_at_1280x800(window, qtbot):
    from PySide6.QtCore import QPoint, QRect

    window.resize(1280, 800)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (1280, 800))
    tab = window.reconstruct_tab
    scroll = tab.findChild(__import__("PySide6.QtWidgets").QtWidgets.QScrollArea)
    port = scroll.viewport()
    visible = QRect(QPoint(0, 0), port.size())
    for button in (tab.reconstruct_button, tab.poisson_button):
        top_left = button.mapTo(port, QPoint(0, 0))
        assert visible.contains(QRect(top_left, button.size())), f"{button.text()} is below the fold"
