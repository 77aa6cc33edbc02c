"""GUI test fixtures: a real MainWindow under Xvfb (pytest-xvfb starts it), with
settings kept in a temporary .ini so nothing of the user's is read or written."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(Path(__file__).resolve().parent):
            item.add_marker(pytest.mark.gui)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item):
    """Destroy the test's closed windows now, before the next test builds its own.

    pytest-qt closes a test's widgets and calls deleteLater(); left alone, the next
    test's event loop would destroy the old window (its OpenGL widget and VTK
    objects) while the new window's GL context is current, and Python's cyclic GC
    would free old VTK mappers at random moments. Deleting here, with no other
    window alive, keeps every GL teardown against its own context.
    """
    result = yield
    from PySide6.QtCore import QCoreApplication, QEvent

    if QCoreApplication.instance() is not None:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()
        QCoreApplication.processEvents()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return result


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def settings(settings_path: Path):
    from PySide6.QtCore import QSettings

    return QSettings(str(settings_path), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    """A shown main window; closed (workers stopped) after the test."""
    from levelset_studio.app.main_window import MainWindow

    w = MainWindow(settings)
    errors: list[str] = []
    w.error_handler = errors.append  # tests read the messages; dialogs are tested separately
    w.errors = errors  # type: ignore[attr-defined]
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.isVisible():
        w.close()


@pytest.fixture(scope="session")
def gui_env() -> dict[str, str]:
    """Environment for a `levelset gui` subprocess on pytest-xvfb's display."""
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


@pytest.fixture(scope="session")
def blob_scan(tmp_path_factory) -> Path:
    """A small ellipsoid point cloud far from the origin (scan coordinates must survive)."""
    import numpy as np

    from levelset_studio.core.surface.meshes.meshio import write_point_cloud

    rng = np.random.default_rng(0)
    p = rng.normal(size=(3000, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    p = p * np.array([1.0, 0.8, 0.6]) * 10.0 + np.array([100.0, -50.0, 20.0])
    path = tmp_path_factory.mktemp("scans") / "blob.ply"
    write_point_cloud(p, path)
    return path


@pytest.fixture(scope="session")
def sample_scan() -> Path:
    """The bundled sample scan that `levelset` opens by default."""
    from levelset_studio.resources import SAMPLE_SCAN

    assert SAMPLE_SCAN.exists(), "resources/sample_scan.ply is missing (made by `levelset make-scan`)"
    return SAMPLE_SCAN


@pytest.fixture(autouse=True, scope="session")
def _no_job_outlives_the_session():
    """A job still running at exit would abort the interpreter (QThread destroyed)."""
    yield
    from levelset_studio.app.jobs import wait_for_orphans

    assert wait_for_orphans(60.0), "a background job did not stop within 60 s after its window closed"


@pytest.fixture(autouse=True)
def _questions_answered(monkeypatch):
    """Modal questions get the default answer, so no test waits on a box nobody clicks.

    Tests about a question replace the window's ``ask_*`` attribute with their own answer."""
    from levelset_studio.app.reconstruct import export as export_flow

    monkeypatch.setattr(export_flow, "ask_replace_or_add", lambda _window: "replace")
    monkeypatch.setattr(export_flow, "ask_overwrite", lambda _window, _path: True)
    monkeypatch.setattr(export_flow, "ask_export_preview", lambda _window, _title: "final")
