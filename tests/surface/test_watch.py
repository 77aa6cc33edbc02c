"""The surface watch scores preview meshes: fit to the scan, and whether they still change."""

from __future__ import annotations

import numpy as np
import pytest

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import MeshSnapshot, Progress
from levelset_studio.core.surface.watch import SurfaceQuality, SurfaceWatch, watch_events


def _uv_sphere(radius: float, n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    th, ph = np.meshgrid(np.linspace(0, np.pi, n), np.linspace(0, 2 * np.pi, 2 * n, endpoint=False), indexing="ij")
    v = radius * np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1).reshape(-1, 3)
    idx = np.arange(n * 2 * n).reshape(n, 2 * n)
    a, b = idx[:-1], np.roll(idx, -1, axis=1)[:-1]
    c, d = idx[1:], np.roll(idx, -1, axis=1)[1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)])
    return v, faces


def _scan(n: int = 5000, seed: int = 1) -> np.ndarray:
    p = np.random.default_rng(seed).normal(size=(n, 3))
    return p / np.linalg.norm(p, axis=1, keepdims=True)  # on the unit sphere


def test_quality_is_high_on_the_surface_and_low_off_it():
    watch = SurfaceWatch(_scan(), tolerance=0.01, sample=2000)
    good = watch.observe(*_uv_sphere(1.0), step=10)
    assert good.quality > 0.95 and good.change is None and not good.converged
    far = SurfaceWatch(_scan(), tolerance=0.01, sample=2000).observe(*_uv_sphere(0.8), step=10)
    # 0.2 off on a diagonal of ~3.46 is ~6% of the diagonal: no point is within 1%
    assert far.quality < 0.05 and far.mean_distance == pytest.approx(0.2 / watch.diagonal, rel=0.1)
    assert "fit" in good.text() and "%" in good.tooltip()


def test_converged_only_after_the_surface_stops_changing():
    watch = SurfaceWatch(_scan(), sample=1500, settle=0.001, patience=2)
    radii = [0.6, 0.8, 0.95, 1.0, 1.0, 1.0]
    reports = [watch.observe(*_uv_sphere(r), step=i) for i, r in enumerate(radii)]
    assert [r.converged for r in reports] == [False, False, False, False, False, True]
    assert reports[1].change == pytest.approx(0.2 / watch.diagonal, rel=0.1)
    assert reports[-1].quality > reports[0].quality
    # a change after convergence restarts the count
    assert not watch.observe(*_uv_sphere(0.9), step=7).converged


def test_watch_events_adds_one_quality_event_per_preview():
    v, f = _uv_sphere(1.0)
    events = [
        Progress(step=1, total=None, elapsed=0.1),
        MeshSnapshot(vertices=v, faces=f, step=1, elapsed=0.1),
        Progress(step=2, total=None, elapsed=0.2),
        MeshSnapshot(vertices=v, faces=np.zeros((0, 3), dtype=np.int64), step=2, elapsed=0.2),
    ]
    out = list(watch_events(iter(events), SurfaceWatch(_scan(), sample=500)))
    assert [type(e).__name__ for e in out] == ["Progress", "MeshSnapshot", "SurfaceQuality", "Progress", "MeshSnapshot"]
    assert isinstance(out[2], SurfaceQuality) and out[2].step == 1


def test_bad_input_is_a_clear_error():
    with pytest.raises(ConfigError, match="no finite points"):
        SurfaceWatch(np.full((10, 3), np.nan))
    with pytest.raises(ConfigError, match="tolerance"):
        SurfaceWatch(_scan(100), tolerance=0)
