"""Undo and redo of every layer edit in the Reconstruct tab (real Qt, real VTK)."""

from __future__ import annotations

import tracemalloc

import numpy as np

from levelset_studio.core.surface.layers import MeshLayer
from levelset_studio.core.surface.meshes.mesh import Mesh


def open_and_wait(window, qtbot, path):
    with qtbot.waitSignal(window.reconstruct_tab.scan_loaded, timeout=60_000):
        window.open_scans([path])


def poisson(tab, qtbot):
    tab.poisson_panel.set_values({"depth": 5})
    with qtbot.waitSignal(tab.poisson_finished, timeout=120_000):
        tab.poisson_button.click()
    return tab.layers.active


def test_edits_undo_and_redo_in_order_with_named_actions(window, qtbot, blob_scan):
    open_and_wait(window, qtbot, blob_scan)
    tab = window.reconstruct_tab
    layer = poisson(tab, qtbot)
    mesh = layer.data
    name = layer.name
    tab.edit_layer(name, title="surface A")
    tab.layers_panel.set_color(name, "#ff0000")
    tab.layers_panel.select(name)
    for v in (80, 60, 40):  # one slider drag
        tab.layers_panel.opacity.setValue(v)
    tab.layers_panel.up_button.click()  # reorder: above the scan
    assert tab.layers.index(name) == 0
    assert window.undo_action.text() == "&Undo Move surface A"
    tab.layers_panel.remove_button.click()
    assert name not in tab.layers and tab.view.actor(name) is None
    assert window.undo_action.text() == "&Undo Remove surface A"

    window.undo_action.trigger()  # remove
    assert tab.layers[name] is layer and layer.data is mesh and tab.view.dataset(name).n_cells == mesh.n_faces
    window.undo_action.trigger()  # move
    assert tab.layers.index(name) == 1
    window.undo_action.trigger()  # the whole opacity drag is one step
    assert layer.opacity == 1.0
    assert tab.view.actor(name).GetProperty().GetOpacity() == 1.0
    window.undo_action.trigger()  # colour
    assert layer.color != "#ff0000"
    window.undo_action.trigger()  # rename
    assert layer.title == "Poisson #1" and tab.layers_panel.list.item(1).text() == "Poisson #1"
    window.undo_action.trigger()  # the Poisson result itself
    assert name not in tab.layers
    for _ in range(5):
        window.redo_action.trigger()
    assert layer.title == "surface A" and layer.color == "#ff0000" and layer.opacity == 0.4
    assert tab.layers.index(name) == 0
    rgb = tab.view.actor(name).GetProperty().GetColor()
    assert np.allclose(rgb, (1.0, 0.0, 0.0))
    assert window.redo_action.text() == "&Redo Remove surface A"


def test_cleaning_and_trim_undo(window, qtbot, sample_scan):
    open_and_wait(window, qtbot, sample_scan)
    tab = window.reconstruct_tab
    raw = tab.active_scan_name
    tab.cleaning_panel.set_values({"voxel_size": 0.02})
    with qtbot.waitSignal(tab.scan_loaded, timeout=120_000):
        tab.clean_button.click()
    cleaned = tab.active_scan_name
    assert cleaned != raw and not tab.layers[raw].visible
    window.undo_action.trigger()
    assert cleaned not in tab.layers and tab.layers[raw].visible and tab.active_scan_name == raw
    assert tab.view.actor(raw).GetVisibility()
    window.redo_action.trigger()
    assert tab.active_scan_name == cleaned and not tab.layers[raw].visible
    # removing the cleaned scan shows its source again, and undoing that hides it again
    tab.remove_layer(cleaned)
    assert tab.layers[raw].visible and tab.active_scan_name == raw
    window.undo_action.trigger()
    assert cleaned in tab.layers and not tab.layers[raw].visible


def test_undo_keeps_memory_bounded_by_sharing_arrays(window, qtbot):
    tab = window.reconstruct_tab
    rng = np.random.default_rng(0)
    mesh = Mesh(rng.normal(size=(50_000, 3)), rng.integers(0, 50_000, size=(50_000, 3)))
    vertices = mesh.vertices
    layer = MeshLayer(tab.layers.new_name("poisson"), "big", data=mesh, method="poisson", visible=False)
    tab.add_layer(layer)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(10):
        tab.remove_layer(layer.name)
        window.undo_action.trigger()
        tab.edit_layer(layer.name, title=f"big {i}")
        tab.edit_layer(layer.name, color=f"#00{i:02d}00")
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # 40 steps done and 21 kept; a copy of the mesh per step would be 2.4 MB each
    assert grown < 512 * 1024, f"undo steps grew memory by {grown / 1e6:.2f} MB"
    assert tab.layers[layer.name].data is mesh and mesh.vertices is vertices
    assert tab.undo_stack.count() == 21  # add, then a rename and a colour per round
