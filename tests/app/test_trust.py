"""Nothing lost or misrepresented: export, recent files, sessions, title, replace-or-add,
and an Inspect panel that follows the selected layer (real Qt, real VTK)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from levelset_studio.core.surface.meshes.meshio import read_mesh


def open_and_wait(window, qtbot, paths):
    with qtbot.waitSignal(window.reconstruct_tab.scan_loaded, timeout=60_000):
        window.open_scans([str(p) for p in paths])


def poisson(tab, qtbot, depth=5):
    tab.poisson_panel.set_values({"depth": depth})
    with qtbot.waitSignal(tab.poisson_finished, timeout=120_000):
        tab.run_poisson()
    return tab.layers.active


def evaluate(tab, qtbot, layer):
    tab.layers.select(layer)
    t = tab.evaluate_selected()
    with qtbot.waitSignal(t.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: layer.distances is not None, timeout=5000)


def test_export_honours_the_filter_and_refuses_before_asking(window, qtbot, blob_scan, tmp_path):
    open_and_wait(window, qtbot, [blob_scan])
    tab = window.reconstruct_tab
    layer = poisson(tab, qtbot)
    asked: list[Path] = []
    window.ask_overwrite = lambda p: asked.append(p) or True
    out = window.export_chosen(tmp_path / "surface", "glTF binary (*.glb)")  # no extension typed
    assert out == tmp_path / "surface.glb" and read_mesh(out).n_faces == layer.data.n_faces
    assert window.statusBar().currentMessage() == f"Exported {out}"
    assert not asked
    # an input scan is refused at once: no "replace?" first, and no stale success shown
    window.errors.clear()
    assert window.export_chosen(blob_scan, "PLY (*.ply)") is None
    assert not asked and window.errors and "input scan" in window.errors[-1]
    assert window.statusBar().currentMessage() == ""
    # an existing file is asked about, then replaced
    assert window.export_chosen(tmp_path / "surface.glb", "glTF binary (*.glb)") == out
    assert asked == [out]
    from levelset_studio.app.reconstruct.export import suggested_name

    assert suggested_name(layer) == "Poisson_1.ply"


def test_recent_lists_only_files_that_opened(window, qtbot, blob_scan, tmp_path):
    bad = tmp_path / "broken.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 5\nend_header\n1 2\n")
    with qtbot.waitSignal(window.reconstruct_tab.job_failed, timeout=30_000):
        window.open_scans([bad])
    assert window.recent_files() == []
    open_and_wait(window, qtbot, [blob_scan])
    assert window.recent_files() == [[str(Path(blob_scan).resolve())]]


def test_save_session_without_a_scan_says_so_before_any_dialog(window, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    opened: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: opened.append("dialog") or ("", ""))
    window.save_session_dialog()
    assert window.errors == ["open a scan before saving a session"] and not opened


def test_title_names_the_scan_and_opening_asks_replace_or_add(window, qtbot, blob_scan, sample_scan):
    tab = window.reconstruct_tab
    assert window.windowTitle() == "LevelSet Studio"
    open_and_wait(window, qtbot, [blob_scan])
    assert window.windowTitle().startswith("blob.ply")
    first = tab.active_scan_name
    window.ask_replace_or_add = lambda: None  # cancelled: nothing opens
    window.open_scans([sample_scan])
    assert tab.jobs.find("load") is None and tab.layers.names() == [first]
    window.ask_replace_or_add = lambda: "add"
    open_and_wait(window, qtbot, [sample_scan])
    assert len(tab.layers.scans()) == 2 and window.windowTitle().startswith("sample_scan.ply")
    window.ask_replace_or_add = lambda: "replace"
    open_and_wait(window, qtbot, [blob_scan])
    assert len(tab.layers) == 1 and tab.layers.active.title == "blob.ply"
    assert tab.view.actor(first) is None
    window.undo_action.trigger()  # replacing is one undo step
    assert len(tab.layers.scans()) == 2 and first in tab.layers


def test_inspect_follows_the_selected_layer(window, qtbot, blob_scan):
    open_and_wait(window, qtbot, [blob_scan])
    tab = window.reconstruct_tab
    a = poisson(tab, qtbot, depth=5)
    b = poisson(tab, qtbot, depth=6)
    assert a.data.n_vertices != b.data.n_vertices
    evaluate(tab, qtbot, a)
    evaluate(tab, qtbot, b)
    bars = tab.view.plotter.scalar_bars

    def shown(layer):
        counts = tab.inspect.histogram.counts
        names = [tab.inspect.metrics.item(r, 1).text() for r in range(tab.inspect.metrics.rowCount())]
        visible = [t for t in list(bars.keys()) if bars[t].GetVisibility()]
        return counts is not None and counts.sum() == layer.data.n_vertices, names, visible

    tab.layers_panel.select(a.name)
    ok, values_a, visible = shown(a)
    assert ok and visible == [tab.scene.bar_title(a)] and "scan units" in visible[0]
    tab.layers_panel.select(b.name)
    ok, values_b, visible = shown(b)
    assert ok and visible == [tab.scene.bar_title(b)] and values_a != values_b
    # the trim slider ends where trimming stops changing the mesh
    assert tab.inspect.trim_slider.maximum() - 1 <= np.ceil(b.distances.max() / tab.inspect_controller.diagonal() * 1e4)
    # the scan has no histogram or bar; removing a layer removes its colour bar
    tab.layers_panel.select(tab.layers.scans()[0].name)
    assert tab.inspect.histogram.counts is None and tab.inspect.metrics.rowCount() == 0
    assert not [t for t in list(bars.keys()) if bars[t].GetVisibility()]
    tab.remove_layer(a.name)
    assert tab.scene.bar_title(a) not in list(bars.keys())


def test_compare_shows_two_layers_with_one_camera_and_one_table(window, qtbot, blob_scan):
    open_and_wait(window, qtbot, [blob_scan])
    tab = window.reconstruct_tab
    a = poisson(tab, qtbot, depth=5)
    b = poisson(tab, qtbot, depth=6)
    cmp = tab.open_compare()
    qtbot.waitExposed(cmp)
    cmp.show_layers(a.name, b.name)
    assert cmp.camera_shared()
    left, right = cmp.plotter.renderers[0], cmp.plotter.renderers[1]
    before = right.GetActiveCamera().GetPosition()
    left.GetActiveCamera().Azimuth(40)  # turning the left view turns the right one
    assert right.GetActiveCamera().GetPosition() != before
    cmp.plotter.render()
    img = np.asarray(cmp.plotter.screenshot(return_img=True))
    w = img.shape[1]
    for half in (img[:, : w // 2], img[:, w // 2 :]):  # each half shows its surface
        assert (np.abs(half[..., :3].astype(int) - 255 * np.array((0.15, 0.16, 0.19))).max(axis=2) > 40).mean() > 0.02
    cmp.evaluate_button.click()
    qtbot.waitUntil(lambda: cmp.table.rowCount() > 0 and cmp.table.columnCount() == 5, timeout=120_000)
    header = [cmp.table.horizontalHeaderItem(c).text() for c in range(cmp.table.columnCount())]
    assert header == ["metric", "unit", a.title, b.title, "definition"]
    cmp.copy_button.click()
    from PySide6.QtWidgets import QApplication

    text = QApplication.clipboard().text()
    assert text == cmp.table_tsv() and text.splitlines()[0].split("\t") == header
    assert "scan units" in text


def test_ignored_outliers_become_a_points_layer(window, qtbot, blob_scan):
    from levelset_studio.core.surface.reconstruction.support import IgnoredPoints, find_support

    open_and_wait(window, qtbot, [blob_scan])
    tab = window.reconstruct_tab
    scan = tab.active_scan
    far = scan.points.mean(axis=0) + np.array([[60.0, 0, 0], [0, 70.0, 0], [0, 0, 80.0]])
    pts = np.vstack([scan.points, far])
    support = find_support(pts)  # the engine's own outlier pass
    idx = np.flatnonzero(~support.inliers)
    assert set(range(len(scan.points), len(pts))) <= set(idx.tolist())
    layer = tab.training_controller.show_ignored(IgnoredPoints(idx, pts[idx], "far from every other point", len(pts)))
    assert layer.kind == "points" and layer.title == f"Ignored outliers ({len(idx):,})"
    assert tab.view.dataset(layer.name).n_points == len(idx)
    tab.remove_layer(layer.name)
    assert tab.view.actor(layer.name) is None
