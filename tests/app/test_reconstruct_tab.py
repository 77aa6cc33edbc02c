"""The Reconstruct tab with real widgets, real files and a real VTK render."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from levelset_studio.core.surface.meshes.meshio import MESH_EXTENSIONS, read_mesh
from levelset_studio.core.surface.scans.scanio import load_scan

pytestmark = pytest.mark.gui


def open_and_wait(window, qtbot, paths, timeout_ms=60_000):
    tab = window.reconstruct_tab
    with qtbot.waitSignal(tab.scan_loaded, timeout=timeout_ms) as blocker:
        window.open_scans([str(p) for p in paths])
    return blocker.args[0]


def test_open_scan_shows_points_and_info(window, qtbot, blob_scan):
    scan = open_and_wait(window, qtbot, [blob_scan])
    tab = window.reconstruct_tab
    assert len(scan) == 3000
    layer = tab.layers[tab.active_scan_name]
    poly = tab.view.dataset(layer.name)
    assert poly is not None and poly.n_points == 3000
    # shown in scan coordinates (the blob is centred at (100, -50, 20))
    assert np.allclose(poly.center, [100, -50, 20], atol=1.0)
    assert "Points: 3,000" in tab.info.text() and "Normals: no" in tab.info.text()
    assert window.recent_files()[0] == [str(blob_scan.resolve())]
    assert tab.reconstruct_button.isEnabled() == (tab.recon_panel is not None)


def test_broken_file_gives_dialog_and_window_still_works(qtbot, settings, tmp_path, blob_scan):
    from levelset_studio.app.main_window import MainWindow

    w = MainWindow(settings)  # default error handler: a real dialog
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    broken = tmp_path / "broken.ply"
    broken.write_text("ply\nformat ascii 1.0\nelement vertex 100\nproperty float x\nend_header\n1\n")
    tab = w.reconstruct_tab
    with qtbot.waitSignal(tab.job_failed, timeout=30_000) as failed:
        w.open_scans([broken])
    assert str(broken) in failed.args[0] and "\n" not in failed.args[0]
    box = w.findChild(QMessageBox, "error_dialog")
    qtbot.waitUntil(box.isVisible, timeout=2000)
    assert box.text() == failed.args[0]
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=2000)
    # still usable: nothing half-loaded, the next file opens
    assert tab.active_scan is None and not tab.layers
    assert tab.open_button.isEnabled()
    scan = open_and_wait(w, qtbot, [blob_scan])
    assert len(scan) == 3000
    w.close()


def test_drop_files_opens_them(window, qtbot, blob_scan):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(blob_scan))])
    event = QDropEvent(
        QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.reconstruct_tab.scan_loaded, timeout=60_000):
        window.dropEvent(event)
    assert window.reconstruct_tab.active_scan is not None


def test_poisson_inspect_trim_and_export(window, qtbot, blob_scan, tmp_path):
    scan = open_and_wait(window, qtbot, [blob_scan])
    tab = window.reconstruct_tab
    tab.poisson_panel.set_values({"depth": 6})
    with qtbot.waitSignal(tab.poisson_finished, timeout=120_000) as done:
        tab.poisson_button.click()
    mesh = done.args[0]
    layer = tab.selected_mesh_layer()
    assert layer.kind == "poisson" and layer.data is mesh and mesh.n_faces > 500
    assert tab.view.dataset(layer.name).n_cells == mesh.n_faces

    # inspect: colour by distance, histogram and metrics with units
    t = tab.evaluate_selected()
    with qtbot.waitSignal(t.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: layer.distances is not None, timeout=5000)
    poly = tab.view.dataset(layer.name)
    assert "distance" in poly.point_data and poly.n_points == mesh.n_vertices
    assert tab.inspect.histogram.counts is not None and tab.inspect.histogram.counts.sum() == mesh.n_vertices
    table = tab.inspect.metrics
    names = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert "scan → mesh mean" in names and "scan diagonal" in names
    assert all(table.item(r, 2).text() for r in range(table.rowCount()))  # every value has a unit
    assert "definition" in tab.inspect.metrics_tsv().splitlines()[0]

    # trimming preview is live and leaves the layer's mesh alone until applied
    tab.inspect.set_trim_fraction(0.5 * float(layer.distances.max()) / tab.inspect_controller.diagonal())
    inspect = tab.inspect_controller
    qtbot.waitUntil(lambda: inspect.pending_trim is not None, timeout=30_000)
    trimmed = inspect.pending_trim[2]
    assert 0 < trimmed.n_faces < mesh.n_faces
    qtbot.waitUntil(lambda: tab.view.dataset(layer.name).n_cells == trimmed.n_faces, timeout=5000)
    assert layer.data is mesh
    # the preview keeps the distance colours (and the colour bar's array) on the kept faces
    poly = tab.view.dataset(layer.name)
    assert poly.active_scalars_name == "distance"
    assert np.allclose(poly.point_data["distance"], layer.distances)
    tab.inspect.trim_apply.click()
    newest = tab.selected_mesh_layer()
    assert newest.kind == "trimmed" and newest.data.n_faces == trimmed.n_faces
    assert tab.view.dataset(layer.name).n_cells == mesh.n_faces  # preview undone on the source
    assert "distance" in tab.view.dataset(layer.name).point_data

    # export in every format, in the scan's own coordinates
    for ext in MESH_EXTENSIONS:
        out = tab.export_mesh(tmp_path / f"poisson{ext}", layer)
        back = read_mesh(out)
        assert back.n_faces == mesh.n_faces, ext
        assert np.allclose(back.vertices.mean(axis=0), mesh.vertices.mean(axis=0), atol=1e-3), ext
    assert np.allclose(mesh.vertices.mean(axis=0), scan.points.mean(axis=0), atol=1.0)
    # never over the input scan
    from levelset_studio.core.errors import LevelSetError

    with pytest.raises(LevelSetError):
        tab.export_mesh(blob_scan, layer)
    assert len(load_scan(blob_scan)) == 3000


def test_layers_visibility_opacity_colour_remove(window, qtbot, blob_scan):
    open_and_wait(window, qtbot, [blob_scan])
    tab = window.reconstruct_tab
    name = tab.active_scan_name
    actor = tab.view.actor(name)
    item = tab.layers_panel.list.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert not actor.GetVisibility()
    item.setCheckState(Qt.CheckState.Checked)
    assert actor.GetVisibility()
    tab.layers_panel.select(name)
    tab.layers_panel.opacity.setValue(40)
    assert actor.GetProperty().GetOpacity() == pytest.approx(0.4)
    tab.layers_panel.set_color(name, "#ff0000")  # scan colour mode becomes "uniform"
    actor = tab.view.actor(name)
    assert tab.color_mode.currentText() == "uniform"
    assert actor.GetProperty().GetColor() == pytest.approx((1.0, 0.0, 0.0))
    tab.layers_panel.remove_button.click()
    assert not tab.layers and tab.view.actor(name) is None and tab.active_scan is None


def test_cleaning_makes_a_new_layer_that_can_be_undone(window, qtbot, sample_scan):
    raw = open_and_wait(window, qtbot, [sample_scan])
    tab = window.reconstruct_tab
    source = tab.active_scan_name
    tab.cleaning_panel.set_values({"voxel_size": 0.01, "estimate_normals": True})
    with qtbot.waitSignal(tab.scan_loaded, timeout=120_000) as done:
        tab.clean_button.click()
    cleaned = done.args[0]
    assert tab.active_scan is cleaned and tab.active_scan_name != source
    assert 0 < len(cleaned) < len(raw) and cleaned.has_normals
    assert tab.layers[source].data is raw and not tab.layers[source].visible  # nothing lost
    assert tab.layers[tab.active_scan_name].cleaning["voxel_size"] == 0.01
    assert "Normals: yes" in tab.info.text()
    tab.remove_layer(tab.active_scan_name)  # undo
    assert tab.active_scan is raw
