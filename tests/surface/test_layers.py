"""The Qt-free layer model: typed layers, order, selection and events."""

from __future__ import annotations

import numpy as np
import pytest

from levelset_studio.core.errors import LevelSetError
from levelset_studio.core.surface.layers import LayerList, MeshLayer, PointsLayer, ScanLayer
from levelset_studio.core.surface.meshes.mesh import Mesh


def _recorder(layers: LayerList) -> list[tuple]:
    log: list[tuple] = []
    layers.inserted.connect(lambda i, lay: log.append(("inserted", i, lay.name)))
    layers.removed.connect(lambda i, lay: log.append(("removed", i, lay.name)))
    layers.moved.connect(lambda a, b, lay: log.append(("moved", a, b, lay.name)))
    layers.changed.connect(lambda lay, old: log.append(("changed", lay.name, dict(old))))
    layers.selected.connect(lambda lay: log.append(("selected", None if lay is None else lay.name)))
    return log


def _mesh() -> Mesh:
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    return Mesh(v, np.array([[0, 1, 2]]))


def test_typed_layers_have_their_kind_and_colour():
    scan = ScanLayer("scan-1", "bunny.ply", files=["bunny.ply"])
    ls = MeshLayer("levelset-1", "Level set #1", data=_mesh(), method="levelset")
    po = MeshLayer("poisson-1", "Poisson #1", data=_mesh(), method="poisson")
    pts = PointsLayer("points-1", "ignored", points=np.zeros((5, 3)), role="ignored outliers")
    assert [x.kind for x in (scan, ls, po, pts)] == ["scan", "levelset", "poisson", "points"]
    assert scan.is_scan and ls.is_mesh and pts.is_points and not scan.is_mesh
    assert len({scan.color, ls.color, po.color, pts.color}) == 4  # one colour per kind
    with pytest.raises(LevelSetError, match="unknown mesh kind"):
        MeshLayer("m", "m", method="marching")  # type: ignore[arg-type]
    with pytest.raises(LevelSetError, match="opacity"):
        ScanLayer("s", "s", opacity=1.5)


def test_insert_move_update_remove_emit_events_in_order():
    layers = LayerList()
    log = _recorder(layers)
    a, b = ScanLayer("a", "A"), MeshLayer("b", "B", method="poisson")
    layers.append(a)
    layers.append(b)
    assert layers.names() == ["a", "b"] and layers["b"] is b and layers[0] is a and "a" in layers and b in layers
    layers.move("b", 0)
    assert layers.names() == ["b", "a"]
    old = layers.update("a", visible=False, opacity=0.5, title="A")  # title unchanged: not reported
    assert old == {"visible": True, "opacity": 1.0} and not a.visible
    layers.select("a")
    i, removed = layers.remove("a")
    assert (i, removed) == (1, a) and layers.active is None and "a" not in layers
    assert log == [
        ("inserted", 0, "a"),
        ("inserted", 1, "b"),
        ("moved", 1, 0, "b"),
        ("changed", "a", {"visible": True, "opacity": 1.0}),
        ("selected", "a"),
        ("selected", None),
        ("removed", 1, "a"),
    ]


def test_bad_edits_are_refused_with_a_message():
    layers = LayerList()
    layers.append(ScanLayer("a", "A"))
    with pytest.raises(LevelSetError, match="exists already"):
        layers.append(ScanLayer("a", "again"))
    with pytest.raises(LevelSetError, match="no setting 'method'"):
        layers.update("a", method="poisson")
    with pytest.raises(LevelSetError, match="opacity"):
        layers.update("a", opacity=-0.1)
    with pytest.raises(KeyError):
        layers["missing"]


def test_names_are_never_reused_and_arrays_are_not_copied():
    layers = LayerList()
    n1 = layers.new_name("scan")
    layers.append(ScanLayer(n1, "x"))
    layers.remove(n1)
    assert layers.new_name("scan") != n1
    mesh = _mesh()
    layer = MeshLayer("m", "m", data=mesh)
    layers.append(layer)
    layers.remove(layer)
    layers.insert(0, layer)  # put back (as undo does): the same object and arrays
    assert layers["m"].data is mesh and layers["m"].data.vertices is mesh.vertices
