"""The convergence film: frames from the view's meshes, one fixed camera, GIF and MP4."""

from __future__ import annotations

import numpy as np
import pytest

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.surface.meshes.meshing import extract_mesh
from levelset_studio.core.surface.scans.scan import NormalizingTransform


def _sphere(radius: float):
    return extract_mesh(lambda x: x.norm(dim=1) - radius, 32, NormalizingTransform.identity())


@pytest.fixture
def view(qtbot):
    from levelset_studio.app.view3d import View3D

    v = View3D()
    qtbot.addWidget(v)
    v.resize(320, 260)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.close_view()


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_film_has_several_differing_frames_from_a_fixed_camera(view, tmp_path, suffix):
    import imageio.v3 as iio

    from levelset_studio.app.recorder import FilmRecorder

    view.set_points("scan", np.random.default_rng(0).uniform(-1, 1, (500, 3)), scan=True)
    rec = FilmRecorder(view, tmp_path / f"film{suffix}", layer="mesh", fps=5, hold_s=0.0)
    rec.start()
    first = _sphere(0.3)
    view.set_mesh("mesh", first.vertices, first.faces)
    view.set_mesh("other", first.vertices + 5, first.faces)  # another layer: no frame
    for r in (0.5, 0.7, 0.9):
        m = _sphere(r)
        view.update_mesh("mesh", m.vertices, m.faces)
    camera = np.array(view.plotter.camera.position)
    view.plotter.camera.azimuth = 90.0  # the user turns the view: the film does not turn
    view.update_mesh("mesh", m.vertices, m.faces)
    assert not np.allclose(view.plotter.camera.position, camera)  # the user's view is kept
    assert rec.stop() == tmp_path / f"film{suffix}" and rec.frames == 5
    frames = iio.imread(tmp_path / f"film{suffix}", index=None)
    # GIF merges a repeated frame into the one before it: the fixed-camera frame of the same mesh
    assert frames.shape[0] >= (4 if suffix == ".gif" else 5) and frames.shape[-1] >= 3
    diffs = [np.abs(frames[i + 1, ..., :3].astype(int) - frames[i, ..., :3].astype(int)).mean() for i in range(3)]
    assert min(diffs) > 0.5  # the surface grows from frame to frame
    # same mesh, turned camera: the fixed camera gives (nearly) the same frame
    assert np.abs(frames[-1, ..., :3].astype(int) - frames[3, ..., :3].astype(int)).mean() < 0.3 * min(diffs)


def test_film_paths_are_checked_and_an_empty_film_leaves_no_file(view, tmp_path):
    from levelset_studio.app.recorder import FilmRecorder, check_film_path

    with pytest.raises(ConfigError, match=r"\.gif or \.mp4"):
        check_film_path(tmp_path / "film.avi")
    with pytest.raises(ConfigError, match="does not exist"):
        check_film_path(tmp_path / "nope" / "film.gif")
    rec = FilmRecorder(view, tmp_path / "empty.gif")
    rec.start()
    assert rec.stop() is None and not (tmp_path / "empty.gif").exists()
