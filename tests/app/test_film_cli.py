"""`levelset gui SCAN --reconstruct --record film.gif --quit` films the live reconstruction."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest


def test_record_option_is_checked_before_a_window_opens(tmp_path, gui_env):
    from levelset_studio.core.cli import main

    assert main(["gui", "--record", str(tmp_path / "film.avi"), "--reconstruct", "--quit"]) == 2
    assert main(["gui", "--record", str(tmp_path / "film.gif"), "--quit"]) == 2  # no --reconstruct
    assert main(["gui", "--record", str(tmp_path / "no" / "film.gif"), "--reconstruct", "--quit"]) == 2


@pytest.mark.slow
def test_gui_records_a_film_of_the_reconstruction(tmp_path, gui_env):
    import imageio.v3 as iio

    film = tmp_path / "film.gif"
    cmd = [sys.executable, "-m", "levelset_studio.core.cli", "gui", "--reconstruct", "--iterations", "60"]
    cmd += ["--snapshot-interval", "0.5", "--preview-resolution", "48", "--resolution", "64", "--threads", "1"]
    cmd += ["--record", str(film), "--quit"]
    out = subprocess.run(cmd, env=gui_env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "film:" in out.stdout
    frames = iio.imread(film, index=None)
    assert frames.shape[0] > 1
    diffs = [np.abs(frames[i + 1].astype(int) - frames[i].astype(int)).mean() for i in range(len(frames) - 1)]
    assert max(diffs) > 0.5  # the surface changes between frames
