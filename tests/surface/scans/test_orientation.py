"""The up-axis guess: surveying formats are Z-up; shallow-in-Z objects are Y-up."""

from __future__ import annotations

import numpy as np

from levelset_studio.core.surface.scans.orientation import guess_up_axis


def _box(ext: tuple[float, float, float], n: int = 4000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, size=(n, 3)) * np.asarray(ext)


def test_shallow_in_z_means_y_up_and_otherwise_z_up():
    assert guess_up_axis(_box((1.0, 0.99, 0.78))) == "y"  # the bunny's proportions
    assert guess_up_axis(_box((1.0, 0.38, 0.59))) == "z"  # a long animal standing on Z
    assert guess_up_axis(_box((1.0, 1.0, 1.0))) == "z"  # no cue: Z


def test_surveying_formats_are_z_up_and_outliers_do_not_decide():
    pts = _box((1.0, 0.99, 0.5))
    assert guess_up_axis(pts, "site.LAZ") == "z" and guess_up_axis(pts, "model.ply") == "y"
    tall = _box((1.0, 1.0, 1.0))
    tall[:5, 2] = 1e6  # a few far outliers along Z
    assert guess_up_axis(tall) == "z"
    assert guess_up_axis(np.zeros((0, 3))) == "z" and guess_up_axis(np.full((3, 3), np.nan)) == "z"
