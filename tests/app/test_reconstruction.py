"""Reconstruct in the window: live level set, Stop/Continue, closing while training,
sessions that continue training. Real torch training, real VTK render."""

from __future__ import annotations

import time

import numpy as np
import pytest

from levelset_studio.app.view3d import BACKGROUND
from tests.app.test_cli_gui import png_pixels

pytestmark = pytest.mark.gui


# Small, fast settings for tests: one torch thread (two threads are ~10x slower on an
# oversubscribed CI machine), coarse meshes, frequent previews.
FAST = {"threads": 1, "resolution": 128, "preview_resolution": 64, "snapshot_interval": 1.0}


def open_sample(window, qtbot, path):
    tab = window.reconstruct_tab
    with qtbot.waitSignal(tab.scan_loaded, timeout=60_000) as blocker:
        window.open_scans([str(path)])
    tab.recon_panel.set_values(FAST)
    return blocker.args[0]


def view_region(window, image):
    """The 3D view's pixels inside a window screenshot."""
    from PySide6.QtCore import QPoint

    plotter = window.reconstruct_tab.view.plotter
    tl = plotter.mapTo(window, QPoint(0, 0))
    return image[tl.y() : tl.y() + plotter.height(), tl.x() : tl.x() + plotter.width()]


@pytest.mark.slow  # > 20 s: real training
def test_reconstruct_shows_the_surface_live_and_in_the_screenshot(window, qtbot, sample_scan, tmp_path):
    scan = open_sample(window, qtbot, sample_scan)
    tab = window.reconstruct_tab
    with qtbot.waitSignal(tab.reconstruction_finished, timeout=240_000) as done:
        assert tab.start_reconstruction(iterations=40) is not None
        qtbot.waitUntil(lambda: tab.training, timeout=5000)
        assert tab.stop_button.isEnabled() and not tab.reconstruct_button.isEnabled()
    mesh = done.args[0]
    layer = tab.layers[tab.recon_layer]
    assert layer.data is mesh and mesh.n_faces > 1000
    # the zero level set was shown while training, in one actor updated in place
    assert tab.snapshots_applied >= 1
    poly = tab.view.dataset(tab.recon_layer)
    assert poly.n_cells == mesh.n_faces
    # scan coordinates: the surface sits on the scan
    lo, hi = scan.points.min(axis=0), scan.points.max(axis=0)
    assert np.all(mesh.vertices.mean(axis=0) > lo) and np.all(mesh.vertices.mean(axis=0) < hi)
    assert tab.loss_plot.series and "loss" in tab.loss_plot.series
    print(f"\n[gui] {tab.stall_meter.summary()}")
    assert tab.stall_meter.ticks > 10

    # show only the surface, then check the picture: background at the corner,
    # the object over the centre of the view
    tab.layers_panel.list.item(0).setCheckState(__import__("PySide6.QtCore").QtCore.Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: not tab.view.actor(tab.layers[0].name).GetVisibility(), timeout=5000)
    png = window.save_screenshot(tmp_path / "reconstruct.png")
    img = png_pixels(png)
    view = view_region(window, img).astype(int)
    h, w = view.shape[:2]
    bg = np.array(BACKGROUND) * 255
    corner = view[5:25, w - 25 : w - 5].reshape(-1, 3)
    assert np.abs(corner - bg).max(axis=1).mean() < 8, corner[:3]
    centre = view[h // 2 - 10 : h // 2 + 10, w // 2 - 10 : w // 2 + 10].reshape(-1, 3)
    differs = np.abs(centre - bg).max(axis=1) > 40
    assert differs.mean() > 0.9, "the reconstructed object does not cover the centre of the view"


@pytest.mark.slow  # > 20 s: real training
def test_stop_and_continue(window, qtbot, sample_scan):
    open_sample(window, qtbot, sample_scan)
    tab = window.reconstruct_tab
    steps = []
    t = tab.start_reconstruction(time_budget=120)
    t.progress.connect(lambda p: steps.append(p.step))
    qtbot.waitUntil(lambda: bool(steps) and steps[-1] >= 5 and tab.snapshots_applied >= 1, timeout=120_000)
    started = time.monotonic()
    with qtbot.waitSignal(t.finished, timeout=10_000):
        window.stop_action.trigger()  # Esc
    assert time.monotonic() - started < 2.0
    assert not tab.training and tab.continue_button.isEnabled()
    stopped_at = tab.reconstructor.step
    assert stopped_at >= 5

    # Stop leaves the preview on screen and offers the final mesh; Export asks first
    layer = tab.layers[tab.recon_layer]
    preview = layer.data
    assert layer.preview and tab.final_button.isVisible() and "Final mesh" in tab.progress_text.text()
    asked = []
    window.ask_export_preview = lambda title: asked.append(title) or "final"
    with qtbot.waitSignal(tab.final_mesh_ready, timeout=120_000) as final:
        window.export_dialog()  # "final mesh first": no file dialog, the meshing starts
    assert asked == [layer.title] and not layer.preview and layer.data is final.args[0]
    assert layer.data.n_faces > preview.n_faces and not tab.final_button.isVisible()
    window.undo_action.trigger()  # the preview comes back, the same object
    assert layer.preview and layer.data is preview
    assert tab.view.dataset(layer.name).n_cells == preview.n_faces
    window.redo_action.trigger()
    assert layer.data is final.args[0]
    with qtbot.waitSignal(tab.reconstruction_finished, timeout=240_000) as done:
        tab.continue_reconstruction(iterations=5)
    assert tab.reconstructor.step >= stopped_at + 5
    assert done.args[0].n_faces > 0


def test_closing_during_training_stops_the_worker_within_2_s(qtbot, settings, sample_scan):
    from levelset_studio.app.main_window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    open_sample(w, qtbot, sample_scan)
    tab = w.reconstruct_tab
    steps = []
    t = tab.start_reconstruction(time_budget=120)
    t.progress.connect(lambda p: steps.append(p.step))
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=120_000)
    started = time.monotonic()
    w.close()
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"closing took {elapsed:.2f} s"
    assert not t.is_running()
    assert not tab.jobs.running()


@pytest.mark.slow  # > 20 s: real training
def test_session_round_trip_continues_training(window, qtbot, sample_scan, settings, tmp_path):
    from levelset_studio.app.main_window import MainWindow

    open_sample(window, qtbot, sample_scan)
    tab = window.reconstruct_tab
    tab.recon_panel.set_values({"seed": 7})
    with qtbot.waitSignal(tab.reconstruction_finished, timeout=240_000):
        tab.start_reconstruction(iterations=10)
    steps = tab.reconstructor.step
    session = tab.save_session(tmp_path / "work.lss")
    assert session.exists()
    values = tab.recon_panel.values()

    w2 = MainWindow(settings)
    qtbot.addWidget(w2)
    w2.show()
    tab2 = w2.reconstruct_tab
    with qtbot.waitSignal(tab2.session_loaded, timeout=120_000):
        tab2.load_session(session)
    assert tab2.active_scan is not None and len(tab2.active_scan) == len(tab.active_scan)
    assert tab2.recon_panel.values() == values
    assert tab2.reconstructor is not None and tab2.reconstructor.step == steps
    assert tab2.layers[tab2.recon_layer].data.n_faces > 0
    assert tab2.continue_button.isEnabled()
    with qtbot.waitSignal(tab2.reconstruction_finished, timeout=240_000):
        tab2.continue_reconstruction(iterations=3)
    assert tab2.reconstructor.step >= steps + 3
    w2.close()


def test_a_corrupt_session_is_refused_with_a_message(window, qtbot, tmp_path):
    bad = tmp_path / "bad.lss"
    bad.write_bytes(b"not a zip")
    with qtbot.waitSignal(window.reconstruct_tab.job_failed, timeout=5000) as failed:
        window.reconstruct_tab.load_session(bad)
    assert "bad.lss" in failed.args[0] and "session" in failed.args[0]
    assert window.errors == [failed.args[0]]


def test_a_failed_run_reports_and_leaves_the_tab_usable(window, qtbot, sample_scan):
    open_sample(window, qtbot, sample_scan)
    tab = window.reconstruct_tab
    tab.recon_panel.set_values({"time_budget": None, "iterations": None})  # no budget at all
    n_layers = len(tab.layers)
    with qtbot.waitSignal(tab.job_failed, timeout=60_000) as failed:
        tab.reconstruct_button.click()
    assert "time_budget" in failed.args[0] and "\n" not in failed.args[0]
    # buttons follow the thread's finished signal
    qtbot.waitUntil(lambda: tab.reconstruct_button.isEnabled() and not tab.stop_button.isEnabled(), timeout=10_000)
    assert not tab.training
    assert len(tab.layers) == n_layers  # the empty result layer is gone
    assert window.errors == [failed.args[0]]
