"""Faults in the GUI: each ends in a dialog naming the problem, and nothing is lost.

Damaged and moved-scan sessions, failed saves and exports, the autosave's recovery copy
and its offer after a crash (a real app process killed with SIGKILL, marked slow)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from levelset_studio.core.surface.session import LayerRecord, SessionData, read_session, write_session

OLD = b"the old file, which must survive\n"


@pytest.fixture
def recovery(tmp_path, monkeypatch) -> Path:
    """A recovery folder of this test's own (read when a window is built)."""
    folder = tmp_path / "recovery"
    monkeypatch.setenv("LEVELSET_STUDIO_RECOVERY", str(folder))
    return folder


@pytest.fixture
def dialog_window(qtbot, settings, recovery):
    """A main window that shows real error dialogs (the default handler)."""
    from levelset_studio.app.main_window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.isVisible():
        w.close()


def _box_text(window, qtbot) -> str:
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.error_boxes), timeout=60_000)
    box = [b for b in window.error_boxes if b.isVisible()][-1]
    return box.text()


def _work_session(scan: Path, folder: Path) -> Path:
    """A session with the scan, a hidden Poisson layer and a trimmed layer, and a loss history."""
    from levelset_studio.core.surface.scans.scanio import load_scan

    pts = load_scan(scan).points
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    layers = [
        LayerRecord("scan", "scan", title=scan.name),
        LayerRecord(
            "p",
            "poisson",
            title="Poisson #1",
            color="#123456",
            visible=False,
            opacity=0.5,
            vertices=pts[:4],
            faces=tri,
        ),
        LayerRecord("t", "trimmed", title="Trimmed", color="#654321", vertices=pts[4:8], faces=tri[:1]),
    ]
    history = {"step": [1.0, 2.0, 3.0], "loss": [0.5, 0.3, 0.2]}
    return write_session(folder / "work.lss", SessionData([str(scan)], layers=layers, history=history))


def test_a_session_restores_every_layer_and_the_history(dialog_window, qtbot, blob_scan, tmp_path):
    tab = dialog_window.reconstruct_tab
    with qtbot.waitSignal(tab.session_loaded, timeout=120_000):
        tab.load_session(_work_session(blob_scan, tmp_path))
    by_kind = {lay.kind: lay for lay in tab.layers}
    assert sorted(by_kind) == ["poisson", "scan", "trimmed"]
    p = by_kind["poisson"]
    assert p.title == "Poisson #1" and p.color == "#123456" and p.visible is False and p.opacity == 0.5
    assert p.data.n_faces == 2 and by_kind["trimmed"].data.n_faces == 1
    assert [v for _, v in tab.loss_plot.series["loss"]] == [0.5, 0.3, 0.2]
    # and saved again, it holds the same
    again = read_session(tab.save_session(tmp_path / "again.lss"), tmp_path)
    assert [r.kind for r in again.layers] == ["scan", "poisson", "trimmed"]
    assert again.history["loss"] == [0.5, 0.3, 0.2]


def test_a_damaged_session_gets_a_dialog_and_changes_nothing(dialog_window, qtbot, blob_scan, tmp_path):
    good = _work_session(blob_scan, tmp_path)
    bad = tmp_path / "cut.lss"
    bad.write_bytes(good.read_bytes()[:-40])
    tab = dialog_window.reconstruct_tab
    before = tab.layers.names()
    tab.load_session(bad)
    text = _box_text(dialog_window, qtbot)
    assert "cut.lss" in text and "truncated" in text and "\n" not in text
    assert tab.layers.names() == before


def test_a_moved_scan_is_asked_for_then_the_session_opens(dialog_window, qtbot, blob_scan, tmp_path):
    scan = tmp_path / "scan.ply"
    shutil.copy(blob_scan, scan)
    session = _work_session(scan, tmp_path)
    moved = tmp_path / "moved" / "scan.ply"
    moved.parent.mkdir()
    scan.rename(moved)
    tab = dialog_window.reconstruct_tab
    asked: list[str] = []
    tab.ask_for_file = lambda missing: asked.append(missing) or str(moved)
    with qtbot.waitSignal(tab.session_loaded, timeout=120_000):
        tab.load_session(session)
    assert asked == [str(scan)]
    assert sorted(lay.kind for lay in tab.layers) == ["poisson", "scan", "trimmed"]


def test_a_moved_scan_not_given_back_is_named_in_a_dialog(dialog_window, qtbot, blob_scan, tmp_path):
    scan = tmp_path / "scan.ply"
    shutil.copy(blob_scan, scan)
    session = _work_session(scan, tmp_path)
    scan.unlink()
    tab = dialog_window.reconstruct_tab
    tab.ask_for_file = lambda missing: None  # the user cancels the file dialog
    tab.load_session(session)
    text = _box_text(dialog_window, qtbot)
    assert str(scan) in text and "moved or deleted" in text
    assert not tab.layers


@pytest.mark.parametrize("what", ["session", "export"])
def test_a_failed_save_names_the_file_and_keeps_the_old_one(
    what, dialog_window, qtbot, blob_scan, tmp_path, monkeypatch
):
    tab = dialog_window.reconstruct_tab
    with qtbot.waitSignal(tab.session_loaded, timeout=120_000):
        tab.load_session(_work_session(blob_scan, tmp_path))
    tab.layers_panel.select(next(lay.name for lay in tab.layers if lay.kind == "trimmed"))
    # a folder that vanished between the dialog and the write
    gone = tmp_path / "gone"
    gone.mkdir()
    target = gone / ("w.lss" if what == "session" else "m.ply")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    gone.rmdir()
    (dialog_window.save_session_dialog if what == "session" else dialog_window.export_dialog)()
    text = _box_text(dialog_window, qtbot)
    assert str(target) in text and "does not exist" in text
    assert not gone.exists()
    # a full disk (a writer failing halfway): the old file stays as it was
    old = tmp_path / ("old.lss" if what == "session" else "old.ply")
    old.write_bytes(OLD)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(old), "")))
    monkeypatch.setattr(os, "fsync", _full_disk)
    for b in dialog_window.error_boxes:
        b.close()
    (dialog_window.save_session_dialog if what == "session" else dialog_window.export_dialog)()
    text = _box_text(dialog_window, qtbot)
    assert str(old) in text and ("disk is full" in text or "No space left" in text)
    assert old.read_bytes() == OLD and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".old")) == []


def _full_disk(_fd: int) -> None:
    raise OSError(28, "No space left on device")


def test_autosave_keeps_a_copy_after_each_job_and_a_clean_exit_removes_it(
    dialog_window, qtbot, blob_scan, tmp_path, recovery
):
    tab = dialog_window.reconstruct_tab
    saver = dialog_window.autosave
    with qtbot.waitSignal(saver.saved, timeout=120_000):
        tab.load_session(_work_session(blob_scan, tmp_path))  # a finished job -> a recovery copy
    data = read_session(recovery / "recovery.lss", tmp_path)
    assert sorted(r.kind for r in data.layers) == ["poisson", "scan", "trimmed"]
    dialog_window.close()
    assert not (recovery / "recovery.lss").exists()


def test_the_next_start_offers_the_recovery_copy(qtbot, settings, blob_scan, tmp_path, recovery):
    from levelset_studio.app.autosave import offer_recovery
    from levelset_studio.app.main_window import MainWindow

    recovery.mkdir()
    shutil.copy(_work_session(blob_scan, tmp_path), recovery / "recovery.lss")
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    assert w.autosave.holding  # nothing overwrites the copy before the user answers
    box = offer_recovery(w)
    assert box is not None and "blob.ply" in box.text() and "2 mesh layers" in box.text() and "saved" in box.text()
    restore = next(b for b in box.buttons() if b.text() == "Restore")
    with qtbot.waitSignal(w.reconstruct_tab.session_loaded, timeout=120_000):
        restore.click()
    assert sorted(lay.kind for lay in w.reconstruct_tab.layers) == ["poisson", "scan", "trimmed"]
    assert not w.autosave.holding
    w.close()


def test_discarding_the_offer_removes_the_copy(qtbot, settings, blob_scan, tmp_path, recovery):
    from levelset_studio.app.autosave import offer_recovery
    from levelset_studio.app.main_window import MainWindow

    recovery.mkdir()
    shutil.copy(_work_session(blob_scan, tmp_path), recovery / "recovery.lss")
    w = MainWindow(settings)
    qtbot.addWidget(w)
    box = offer_recovery(w)
    next(b for b in box.buttons() if b.text() == "Discard").click()
    assert not (recovery / "recovery.lss").exists() and not w.autosave.holding
    assert isinstance(box, QMessageBox)
    w.close()


@pytest.mark.slow
def test_killing_the_app_during_a_reconstruction_offers_recovery(
    qtbot, settings, blob_scan, tmp_path, recovery, gui_env
):
    """A real `levelset gui` process, killed with SIGKILL mid-training; the next start offers its work."""
    from levelset_studio.app.autosave import offer_recovery
    from levelset_studio.app.main_window import MainWindow

    env = dict(gui_env, LEVELSET_STUDIO_RECOVERY=str(recovery), LEVELSET_STUDIO_AUTOSAVE_SECONDS="1")
    env["HOME"] = tempfile.mkdtemp(prefix="levelset-home-")  # the app's settings, not the user's
    copy = recovery / "recovery.lss"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "levelset_studio.core.cli",
            "gui",
            str(blob_scan),
            "--reconstruct",
            "--time-budget",
            "600",
            "--threads",
            "1",
            "--resolution",
            "48",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def has_network() -> bool:
            if not copy.exists():
                return False
            try:
                data = read_session(copy, tmp_path, load_meshes=False, check_checkpoint=False)
                return data.checkpoint is not None and data.step > 0  # a network that has trained
            except Exception:  # noqa: BLE001 - the copy is being replaced right now
                return False

        qtbot.waitUntil(lambda: proc.poll() is not None or has_network(), timeout=300_000)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and copy.exists()

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    box = offer_recovery(w)
    assert box is not None and "a network at step" in box.text()
    with qtbot.waitSignal(w.reconstruct_tab.session_loaded, timeout=180_000):
        next(b for b in box.buttons() if b.text() == "Restore").click()
    tab = w.reconstruct_tab
    assert tab.reconstructor is not None and tab.reconstructor.step > 0
    assert any(lay.kind == "levelset" and lay.data is not None for lay in tab.layers)
    w.close()
