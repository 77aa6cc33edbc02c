"""`levelset gui ... --screenshot PNG --quit` runs headless on pytest-xvfb's display."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.gui.conftest import ROOT

pytestmark = pytest.mark.gui


def png_pixels(path):
    from PySide6.QtGui import QImage

    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    assert not img.isNull()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8).reshape(img.height(), img.bytesPerLine())
    return arr[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).copy()


def test_gui_screenshot_quit_exits_zero_with_png(tmp_path, gui_env, blob_scan):
    png = tmp_path / "window.png"
    env = dict(gui_env, LEVELSET_STUDIO_SETTINGS=str(tmp_path / "settings.ini"))
    out = subprocess.run(
        [sys.executable, "-m", "core.cli", "gui", str(blob_scan), "--screenshot", str(png), "--quit"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 0, out.stderr
    pix = png_pixels(png)
    assert pix.shape[0] > 400 and pix.shape[1] > 600
    assert pix.std() > 10


def test_gui_quit_reports_a_broken_scan_with_exit_2(tmp_path, gui_env):
    bad = tmp_path / "empty.ply"
    bad.write_bytes(b"")
    env = dict(gui_env, LEVELSET_STUDIO_SETTINGS=str(tmp_path / "settings.ini"))
    out = subprocess.run(
        [sys.executable, "-m", "core.cli", "gui", str(bad), "--quit"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("levelset: error: ") and "empty.ply" in lines[-1]
    assert "Traceback" not in out.stderr


def test_gui_rejects_bad_options_before_opening_a_window(capsys):
    from core.cli import main

    assert main(["gui", "--iterations", "0", "--quit"]) == 2
    assert "iterations" in capsys.readouterr().err
    assert main(["gui", "--screenshot", "x.jpg", "--quit"]) == 2
    assert ".png" in capsys.readouterr().err
