"""The 3D view's picture: smooth shading, scans that step back, palette, up axis (real VTK)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from levelset_studio.core.surface.meshes.meshing import extract_mesh, gradient_normals
from levelset_studio.core.surface.scans.scan import NormalizingTransform


def _sphere_mesh():
    def fn(x: torch.Tensor) -> torch.Tensor:
        return x.norm(dim=1) - 0.8

    tf = NormalizingTransform.identity()
    return gradient_normals(fn, extract_mesh(fn, 40, tf), tf)


@pytest.fixture
def view(qtbot):
    from levelset_studio.app.view3d import View3D

    v = View3D()
    qtbot.addWidget(v)
    v.resize(480, 400)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.close_view()


def _centre(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return img[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].reshape(-1, img.shape[2])[:, :3].astype(float)


def test_surface_is_smoothly_shaded_with_a_spread_of_shades(view):
    from levelset_studio.app.view3d import BACKGROUND

    mesh = _sphere_mesh()
    view.set_mesh("s", mesh.vertices, mesh.faces, color="#e69f00", normals=mesh.vertex_normals)
    assert view.actor("s").GetProperty().GetInterpolationAsString() == "Phong"
    assert np.allclose(view.dataset("s").point_data["Normals"], mesh.vertex_normals)
    px = _centre(view.image())
    bg = np.array(BACKGROUND) * 255
    surface = px[np.abs(px - bg).sum(axis=1) > 30]
    assert len(surface) > 0.9 * len(px)  # the sphere covers the centre
    shade = surface.mean(axis=1)
    assert np.percentile(shade, 95) - np.percentile(shade, 5) > 25  # shaded, not a flat fill
    # an update in place keeps smooth normals (given, or computed when none come)
    view.update_mesh("s", mesh.vertices * 0.9, mesh.faces)
    assert view.dataset("s").point_data["Normals"].shape == (mesh.n_vertices, 3)


def test_scan_points_step_back_and_come_forward_with_one_click(view, qtbot):
    from levelset_studio.app.view3d import FAINT_OPACITY

    pts = np.random.default_rng(0).normal(size=(2000, 3))
    view.set_points("scan", pts, point_size=3.0, scan=True)
    view.set_points("samples", pts[:10], point_size=4.0)  # not a scan: never faint
    prop = view.actor("scan").GetProperty()
    assert prop.GetOpacity() == 1.0 and prop.GetPointSize() == 3.0
    with qtbot.waitSignal(view.scans_faint_changed):
        view.set_scans_faint(True)
    assert view.faint_button.isChecked() and view.is_faint("scan") and not view.is_faint("samples")
    assert prop.GetOpacity() <= FAINT_OPACITY and prop.GetPointSize() <= 1.0
    assert view.actor("samples").GetProperty().GetOpacity() == 1.0
    view.faint_button.click()  # one click brings them back
    assert not view.scans_faint and prop.GetOpacity() == 1.0 and prop.GetPointSize() == 3.0


def test_dense_clouds_are_drawn_from_a_subsample(view):
    from levelset_studio.app.view3d import subsample_stride

    assert subsample_stride(10, 100) == 1 and subsample_stride(1000, 100) == 10 and subsample_stride(1001, 100) == 11
    pts = np.zeros((30, 3))
    pts[:, 0] = np.arange(30)
    import levelset_studio.app.view3d as v3

    old = v3.MAX_DRAWN_POINTS
    v3.MAX_DRAWN_POINTS = 10
    try:
        view.set_points("dense", pts, scalars=pts[:, 0], scan=True)
    finally:
        v3.MAX_DRAWN_POINTS = old
    assert view.dataset("dense").n_points == 10


def test_up_axis_sets_the_default_view_and_reset_restores_it(view, qtbot):
    from levelset_studio.app.view3d import RESULT_PALETTE, result_color

    mesh = _sphere_mesh()
    view.set_mesh("s", mesh.vertices, mesh.faces)
    with qtbot.waitSignal(view.up_axis_changed) as sig:
        view.up_combo.setCurrentIndex(view.up_combo.findData("y"))
    assert sig.args == ["y"] and view.up_axis == "y"
    assert np.allclose(view.plotter.camera.up, (0, 1, 0), atol=1e-6)
    default = np.array(view.plotter.camera.position)
    view.plotter.camera.azimuth = 70.0
    view.plotter.camera.elevation = -30.0
    assert not np.allclose(view.plotter.camera.position, default)
    view.reset_camera()  # R
    assert np.allclose(view.plotter.camera.position, default, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError):
        view.set_up_axis("w")
    # one colour per result layer, all different
    assert len({result_color(i) for i in range(len(RESULT_PALETTE))}) == len(RESULT_PALETTE)
