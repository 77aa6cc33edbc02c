"""`levelset gui ... --screenshot PNG --quit` runs headless on pytest-xvfb's display."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.app.conftest import ROOT

pytestmark = pytest.mark.gui


def png_pixels(path):
    from PySide6.QtGui import QImage

    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    assert not img.isNull()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8).reshape(img.height(), img.bytesPerLine())
    return arr[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).copy()


@pytest.mark.slow  # > 20 s: a real training run
def test_gui_reconstruct_screenshot_quit_exits_zero_with_png(tmp_path, gui_env):
    """`levelset gui --reconstruct ... --screenshot PNG --quit` on the bundled sample."""
    png = tmp_path / "window.png"
    env = dict(gui_env, LEVELSET_STUDIO_SETTINGS=str(tmp_path / "settings.ini"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "levelset_studio.core.cli",
            "gui",
            "--reconstruct",
            "--iterations",
            "8",
            "--threads",
            "1",
            "--resolution",
            "96",
            "--preview-resolution",
            "48",
            "--screenshot",
            str(png),
            "--quit",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "longest GUI-thread stall" in out.stdout
    pix = png_pixels(png)
    assert pix.shape[0] >= 600 and pix.shape[1] >= 800
    # the window's widgets (light) and the 3D view's dark background are both there
    assert (pix.reshape(-1, 3).mean(axis=1) > 200).mean() > 0.2
    assert (np.abs(pix.astype(int) - np.array([38, 41, 48])).max(axis=2) < 8).mean() > 0.1


def test_gui_quit_reports_a_broken_scan_with_exit_2(qapp, tmp_path, capsys, monkeypatch):
    """The --quit path in this process: an error is one line on stderr and exit code 2."""
    from levelset_studio.core.cli import main

    bad = tmp_path / "empty.ply"
    bad.write_bytes(b"")
    monkeypatch.setenv("LEVELSET_STUDIO_SETTINGS", str(tmp_path / "settings.ini"))
    assert main(["gui", str(bad), "--quit"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("levelset: error: ") and "empty.ply" in lines[-1]
    assert "Traceback" not in err


def test_gui_rejects_bad_options_before_opening_a_window(capsys):
    from levelset_studio.core.cli import main

    assert main(["gui", "--iterations", "0", "--quit"]) == 2
    assert "iterations" in capsys.readouterr().err
    assert main(["gui", "--screenshot", "x.jpg", "--quit"]) == 2
    assert ".png" in capsys.readouterr().err


@pytest.mark.slow  # > 20 s: a real training run
def test_gui_reopens_a_session_and_continues_training(window, qtbot, blob_scan, tmp_path, gui_env):
    """`levelset gui WORK.lss --reconstruct --iterations N --quit` trains the saved network on."""
    tab = window.reconstruct_tab
    with qtbot.waitSignal(tab.scan_loaded, timeout=60_000):
        window.open_scans([str(blob_scan)])
    tab.recon_panel.set_values({"resolution": 64, "preview_resolution": 32, "threads": 1})
    with qtbot.waitSignal(tab.reconstruction_finished, timeout=240_000):
        tab.start_reconstruction(iterations=6)
    steps = tab.reconstructor.step
    session = tab.save_session(tmp_path / "work.lss")
    env = dict(gui_env, LEVELSET_STUDIO_SETTINGS=str(tmp_path / "settings.ini"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "levelset_studio.core.cli",
            "gui",
            str(session),
            "--reconstruct",
            "--iterations",
            "4",
            "--quit",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"reconstruction: {steps + 4} steps in all" in out.stdout


def test_gui_refuses_a_session_mixed_with_scans_or_missing(tmp_path, blob_scan, capsys):
    from levelset_studio.core.cli import main

    assert main(["gui", str(tmp_path / "nowhere.lss"), "--quit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere.lss" in err[0] and "no such session" in err[0]
    assert main(["gui", str(tmp_path / "a.lss"), str(blob_scan), "--quit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a.lss" in err[0] and "on its own" in err[0]
