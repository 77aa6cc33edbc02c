"""The Robustness tab with real widgets, a real trainer and real attacks (pytest-qt,
under Xvfb started by pytest-xvfb). Small data and few epochs keep it to about a minute."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from levelset_studio.app.robustness.tab import RobustnessTab
from tests.conftest import ROOT

pytestmark = pytest.mark.gui


def wait_for(qtbot, predicate, timeout_s: float, what: str) -> None:
    try:
        qtbot.waitUntil(lambda: bool(predicate()), timeout=int(timeout_s * 1000))
    except qtbot.TimeoutError:
        pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def make_tab(qtbot, dataset: dict | None = None, train: dict | None = None, model: dict | None = None) -> RobustnessTab:
    tab = RobustnessTab()
    qtbot.addWidget(tab)
    tab.resize(1300, 850)
    tab.show()
    qtbot.waitExposed(tab)
    tab.error_handler = tab.errors.append  # messages are read by the tests; dialogs have their own test
    tab.dataset_panel.set_values({"name": "moons", "n_samples": 400, "noise": 0.1, **(dataset or {})})
    tab.model_panel.set_values({"arch": "mlp", "width": 32, "depth": 2, "activation": "relu", **(model or {})})
    tab.train_panel.set_values({"method": "standard", "epochs": 15, "batch_size": 32, "lr": 0.01, **(train or {})})
    tab.ensure_initialized()
    tab._settings_changed()
    assert not tab.errors, tab.errors
    return tab


def train(qtbot, tab: RobustnessTab, timeout_s: float = 240) -> None:
    with qtbot.waitSignal(tab.trainingFinished, timeout=int(timeout_s * 1000)):
        tab.train_button.click()
    assert not tab.errors, tab.errors
    wait_for(qtbot, lambda: not tab.busy, timeout_s, "the analysis jobs after training")
    assert not tab.errors, tab.errors


@pytest.fixture(scope="module")
def moons_run(qapp):
    """One tab trained on moons, shared by the 2D tests (training is the slow part).
    Records the first region image drawn while training."""
    tab = RobustnessTab()
    tab.resize(1300, 850)
    tab.show()
    tab.error_handler = tab.errors.append
    tab.ensure_initialized()
    tab.dataset_panel.set_values({"name": "moons", "n_samples": 400, "noise": 0.1})
    tab.model_panel.set_values({"arch": "mlp", "width": 32, "depth": 2, "activation": "relu"})
    tab.train_panel.set_values({"method": "standard", "epochs": 15, "batch_size": 32, "lr": 0.01})
    tab.seed_spin.setValue(7)
    run = {"tab": tab, "first": None, "updates_before": tab.map.region_updates, "finished": False}
    tab.trainingFinished.connect(lambda: run.__setitem__("finished", True))
    tab.train_button.click()
    deadline = time.monotonic() + 300
    while not run["finished"] or tab.busy:
        if run["first"] is None and tab.map.state.confidence is not None:
            run["first"] = (tab.map.state.predicted.copy(), tab.map.state.confidence.copy())
        if time.monotonic() > deadline:
            pytest.fail("training on moons did not finish in 300 s")
        qapp.processEvents()
        time.sleep(0.005)
    yield run
    tab.close()


def test_training_moons_moves_and_separates_the_region_map(moons_run):
    tab = moons_run["tab"]
    ds = tab.lab.dataset
    assert not tab.errors, tab.errors
    assert ds is not None and ds.is_2d
    # the map was redrawn many times while training, and it changed
    assert tab.map.region_updates - moons_run["updates_before"] >= 5
    pred_map, conf_map = tab.map.state.predicted, tab.map.state.confidence
    assert moons_run["first"] is not None
    first_pred, first_conf = moons_run["first"]
    assert (first_pred != pred_map).mean() > 0.05 or np.abs(first_conf - conf_map).max() > 0.2
    # the map's class at the test points separates the classes
    pred = tab.map.predicted_class_at(ds.x_test.numpy())
    acc = float((pred == ds.y_test.numpy()).mean())
    assert acc > 0.9, acc
    # each class owns a real part of the picture
    share = np.bincount(pred_map.ravel(), minlength=2) / pred_map.size
    assert share.min() > 0.2, share
    # overlay: level-set samples on the decision boundary, where the map changes class
    b = tab.map.state.boundary
    assert b is not None and len(b) > 10
    conf_at_b = conf_map[tuple(np.array([_cell(tab, p) for p in b]).T)]
    assert np.median(conf_at_b) < 0.8  # on the boundary the map is pale (uncertain)
    # the live curves show test accuracy per epoch
    header, rows = tab.curves.table()
    assert "test_acc" in header and len(rows) == 15
    assert tab.train_button.text() == "Continue"


def test_click_point_shows_adversarial_within_eps(qtbot, tmp_path, moons_run):
    tab = moons_run["tab"]
    ds = tab.lab.dataset
    tab.set_eps(0.15)
    x_test, y_test = ds.x_test.numpy(), ds.y_test.numpy()
    conf_map = tab.map.state.confidence
    # the correctly classified test point with the least confident map colour: near the boundary
    conf = np.array([conf_map[tuple(_cell(tab, p))] for p in x_test])
    correct = tab.map.predicted_class_at(x_test) == y_test
    idx = int(np.where(correct)[0][np.argmin(conf[correct])])
    pos = tab.map.pixel_of("test", idx)
    qtbot.mouseClick(tab.map, Qt.MouseButton.LeftButton, pos=QPoint(round(pos.x()), round(pos.y())))
    wait_for(
        qtbot, lambda: tab.last_point_attack is not None and not tab.jobs.find("attack") is not None, 30, "the attack"
    )
    r = tab.last_point_attack
    assert (r.set_name, r.index) == ("test", idx)
    assert r.clean_pred == r.label
    # PGD's adversarial point is inside the L-inf ball and changes the prediction
    assert np.abs(r.pgd_adv - r.x).max() <= r.eps + 1e-5
    assert r.pgd_pred != r.label
    assert len(r.pgd_path) > 2
    # DeepFool: a minimal perturbation that also crosses, drawn as a path
    assert r.deepfool_fooled and 0 < r.deepfool_norm < 0.5
    assert r.deepfool_pred != r.label
    assert [p.name for p in tab.map.state.paths] == ["pgd", "deepfool"]
    assert "||r||" in tab.map_info.text() and "L-inf" in tab.map_info.text()
    assert tab.map.state.eps_norm == "linf"
    # pgd-l2: the same point is attacked again in L2, its eps-balls drawn round
    tab.attack_combo.setCurrentText("pgd-l2")
    assert tab.map.state.eps_norm == "l2"
    wait_for(
        qtbot,
        lambda: tab.last_point_attack.norm == "l2" and not tab.jobs.find("attack") is not None,
        30,
        "the L2 attack",
    )
    r2 = tab.last_point_attack
    assert (r2.set_name, r2.index) == ("test", idx)
    assert np.linalg.norm(r2.pgd_adv - r2.x) <= r2.eps + 1e-5
    assert not np.allclose(r2.pgd_adv, r.pgd_adv)  # a different threat model, a different point
    assert "L2" in tab.map_info.text()
    tab.attack_combo.setCurrentText("pgd")
    wait_for(
        qtbot,
        lambda: tab.last_point_attack.norm == "linf" and not tab.jobs.find("attack") is not None,
        30,
        "the L-inf attack again",
    )
    # the picture of the attack exports as PNG and the regions as CSV
    png, csv_path = tab.export_map_png(tmp_path / "map.png"), tab.export_map_csv(tmp_path / "map.csv")
    img = QImage(str(png))
    assert img.width() > 300 and _distinct_colors(img) > 50
    assert len(csv_path.read_text().splitlines()) == conf_map.size + 1
    wait_for(qtbot, lambda: not tab.busy, 60, "the analysis")


def _cell(tab: RobustnessTab, p: np.ndarray) -> tuple[int, int]:
    h, w = tab.map.state.predicted.shape
    x0, x1, y0, y1 = tab.map.state.extent
    return (round((p[1] - y0) / (y1 - y0) * (h - 1)), round((p[0] - x0) / (x1 - x0) * (w - 1)))


def _distinct_colors(img: QImage, step: int = 4) -> int:
    seen = set()
    for y in range(0, img.height(), step):
        for x in range(0, img.width(), step):
            seen.add(img.pixel(x, y))
    return len(seen)


def test_digits_image_view_shows_a_perturbation(qtbot):
    tab = make_tab(qtbot, dataset={"name": "digits"}, model={"width": 64}, train={"epochs": 3, "batch_size": 64})
    assert tab.data_stack.currentIndex() == 1
    train(qtbot, tab)
    assert tab.gallery.count() > 20
    assert all("→" in tab.gallery.item(i).text() for i in range(tab.gallery.count()))
    tab.attack_combo.setCurrentText("pgd")
    tab.set_eps(0.2)
    tab.gallery.setCurrentRow(3)
    wait_for(qtbot, lambda: tab.adv_view.result is not None and not tab.busy, 60, "the image attack and analysis")
    assert not tab.errors, tab.errors
    res = tab.adv_view.result
    pert = res["perturbation"]
    assert np.count_nonzero(np.abs(pert) > 1e-4) > 5
    assert np.abs(pert).max() <= 0.2 + 1e-5
    assert tab.last_image_attack.index == 3
    assert np.isclose(res["p_before"].sum(), 1, atol=1e-4) and np.isclose(res["p_after"].sum(), 1, atol=1e-4)
    # the adversarial pixmap is on screen
    assert not tab.adv_view.labels["perturbation"].pixmap().isNull()
    # analysis of the selected image: cross-section and curvature
    assert tab.section_plot.data is not None
    assert tab.section_plot.data["classes"].shape == (len(tab.section_plot.data["b"]), len(tab.section_plot.data["a"]))
    assert len(tab.curvature_plot.profiles) == 1
    # robust accuracy against eps, computed in the background after training
    ((_name, (eps, acc)),) = tab.eps_plot.curves.items()
    assert eps[0] == 0 and acc[0] >= acc[-1]


def test_compare_two_models(qtbot, tmp_path, moons_run):
    saved = tmp_path / "standard.json"
    assert moons_run["tab"].save_lab(saved)
    tab = make_tab(qtbot, train={"method": "pgd", "eps": 0.08, "pgd_steps": 3, "epochs": 10})
    train(qtbot, tab)
    tab.load_compare_slot("A", saved)  # a saved lab (standard training)
    tab.set_compare_slot("B")  # the model just trained (PGD training)
    assert tab.compare.ready()
    tab.select_point("test", 0)
    tab.run_compare()
    wait_for(qtbot, lambda: not tab.busy, 240, "the comparison")
    assert not tab.errors, tab.errors
    for slot in ("A", "B"):
        d = tab.compare.sections[slot].data
        assert d is not None and d["classes"].shape == (len(d["b"]), len(d["a"]))
    assert len(tab.compare.curvature.profiles) == 2
    assert len(tab.compare.eps_curve.curves) == 2
    assert tab.compare.slots["A"][0] == "standard.json" and "pgd" in tab.compare.slots["B"][0]
    # a training-setting change keeps the trained model until Retrain, and says so
    tab.train_panel.set_values({"method": "standard"})
    assert tab.lab.model is not None and tab.settings_stale and tab.train_button.text() == "Retrain"
    assert "Retrain" in tab.controls.stale_label.text()
    # a dataset change resets the lab cleanly (the compare slots keep their models)
    tab.dataset_panel.set_values({"noise": 0.2})
    assert tab.lab.model is None and tab.compare.ready() and not tab.settings_stale


def test_digits_noise_transformations_and_saliency(qtbot):
    """The tab shows random-noise robustness, the worst transformation and saliency for a trained digits model."""
    tab = make_tab(qtbot, dataset={"name": "digits"}, model={"width": 64}, train={"epochs": 3, "batch_size": 64})
    train(qtbot, tab)
    # saliency of the selected image: input gradient and SmoothGrad of the current model
    tab.gallery.setCurrentRow(5)
    wait_for(qtbot, lambda: tab.saliency_view.pair is not None and not tab.busy, 60, "the saliency")
    pair = tab.saliency_view.pair
    assert pair.index == 5 and len(pair.maps) == 1
    grad = pair.maps[0].gradient
    assert grad.shape == (1, 1, 8, 8) and np.count_nonzero(np.abs(grad) > 1e-6) > 10
    assert all(not c.pixmap().isNull() for c in tab.saliency_view.cells[0])
    # random noise against adversarial: the boundary is much farther along random directions
    tab.noise_panel.noise_button.click()
    wait_for(qtbot, lambda: tab.noise_panel.noise_report is not None and not tab.busy, 120, "the noise report")
    r = tab.noise_panel.noise_report
    assert r.d == 64 and r.median_adversarial_l2 > 0 and r.ratio > 2.0
    assert "√d for reference" in tab.noise_panel.noise_table.text()
    # the worst rotation / shift, shown in the gallery with its caption
    tab.noise_panel.transform_button.click()
    wait_for(qtbot, lambda: tab.noise_panel.transform_report is not None and not tab.busy, 120, "the transformations")
    t = tab.noise_panel.transform_report
    assert t.worst_accuracy <= t.random_accuracy <= 1.0
    tab.image_page.show_combo.setCurrentIndex(1)
    assert "°" in tab.gallery.item(0).text() and tab.gallery.count() == t.n
    assert not tab.errors, tab.errors
    # captions are not cut: every line fits the gallery's grid cell
    fm = tab.gallery.fontMetrics()
    for i in range(tab.gallery.count()):
        for line in tab.gallery.item(i).text().split("\n"):
            assert fm.horizontalAdvance(line) <= tab.gallery.gridSize().width(), line
        assert len(tab.gallery.item(i).text().split("\n")) * fm.height() + 56 <= tab.gallery.gridSize().height()


def test_settings_that_do_not_apply_are_hidden(qtbot):
    tab = make_tab(qtbot, train={"method": "standard"})
    assert not tab.train_panel.applies("eps") and not tab.train_panel.applies("trades_beta")
    tab.train_panel.set_values({"method": "trades"})
    assert tab.train_panel.applies("eps") and tab.train_panel.applies("trades_beta")
    assert not tab.train_panel.applies("cure_lambda")
    assert tab.dataset_panel.applies("noise") and tab.dataset_panel.applies("n_samples")
    tab.dataset_panel.set_values({"name": "digits"})
    assert not tab.dataset_panel.applies("noise") and not tab.dataset_panel.applies("n_samples")
    tab.model_panel.set_values({"arch": "smallcnn"})
    assert not tab.model_panel.applies("width") and not tab.model_panel.applies("depth")


def test_clicked_point_gets_random_lines_to_the_boundary(qtbot, moons_run):
    tab = moons_run["tab"]
    tab.select_point("test", 2)
    wait_for(qtbot, lambda: tab.last_point_noise is not None and not tab.busy, 60, "the random lines")
    r = tab.last_point_noise
    assert r.index == 2 and r.hits.shape == (len(r.distances), 2)
    ok = np.isfinite(r.distances)
    assert ok.mean() > 0.5
    # each line ends just across the boundary: the model's class changes between 98% and 100% of the way
    import torch

    from levelset_studio.core.robust.attacks import predict

    model = tab.lab.snapshot_model()
    x = torch.as_tensor(r.x, dtype=torch.float32)[None]
    hits = torch.as_tensor(r.hits[ok], dtype=torch.float32)
    here = int(predict(model, x)[0])
    assert bool((predict(model, hits) != here).all())
    assert bool((predict(model, x + 0.98 * (hits - x)) == here).all())
    # and the random distance is at least DeepFool's minimal one
    assert np.median(r.distances[ok]) >= r.deepfool_norm * 0.95
    assert tab.map.state.noise_hits is not None


def test_hint_placeholder_and_attack_box_are_readable_at_1280x800(qtbot):
    tab = make_tab(qtbot)
    tab.resize(1280, 700)  # the window's 1280x800 less its menu, tab and status bars (measured: ~705)
    qtbot.waitUntil(lambda: tab.height() == 700)
    # the "click a point" hint stays; the dataset summary has its own line
    assert "Click a point" in tab.map_info.text() and "moons" in tab.map_page.summary.text()
    # the Attack box is visible without scrolling
    scroll = tab.controls.parentWidget().parentWidget()
    bottom = tab.attack_combo.mapTo(scroll.viewport(), QPoint(0, tab.attack_combo.height())).y()
    assert bottom <= scroll.viewport().height(), (bottom, scroll.viewport().height())
    # the "train a model" placeholder is drawn over the points, on an opaque card
    img = tab.map.grab().toImage()
    cx, cy = img.width() // 2, img.height() // 2 - 12  # the card's padding, above the text
    row = [img.pixelColor(x, cy) for x in range(cx - 40, cx + 40, 4)]
    assert all(c.red() > 235 and c.green() > 235 and c.blue() > 235 for c in row)


def test_save_load_round_trip(qtbot, tmp_path, moons_run):
    tab = moons_run["tab"]
    path = tmp_path / "lab.json"
    assert tab.save_lab(path)
    state = json.loads(path.read_text())
    assert state["settings"]["seed"] == 7 and state["settings"]["train"]["epochs"] == 15
    assert (tmp_path / state["checkpoint"]).is_file()
    pred_map, conf_map = tab.map.state.predicted.copy(), tab.map.state.confidence.copy()

    other = make_tab(qtbot, dataset={"name": "circles"})
    assert other.load_lab(path)
    wait_for(qtbot, lambda: not other.busy, 120, "the loaded model's pictures")
    assert not other.errors, other.errors
    assert other.seed_spin.value() == 7
    assert other.dataset_panel.values()["name"] == "moons"
    assert other.train_panel.values()["epochs"] == 15
    np.testing.assert_array_equal(other.map.state.predicted, pred_map)
    np.testing.assert_allclose(other.map.state.confidence, conf_map, atol=1e-5)
    assert len(other.curves.table()[1]) == 15  # the training history came back too
    assert other.train_button.text() == "Continue"  # and training resumes from epoch 15
    assert other.lab.trainer.epoch == 15


def test_users_exported_model_on_a_chosen_dataset(qtbot, tmp_path, moons_run):
    from levelset_studio.core.robust.export import export_classifier

    trained = moons_run["tab"]
    path = export_classifier(trained.lab.snapshot_model(), (2,), tmp_path / "my_model.pt2")
    tab = make_tab(qtbot)
    assert tab.load_user_model(path)
    wait_for(qtbot, lambda: not tab.busy, 120, "the user model's pictures")
    assert not tab.errors, tab.errors
    assert "my_model.pt2" in tab.model_source_label.text()
    assert not tab.train_button.isEnabled()  # a user's program is analyzed, not trained
    # the same classifier gives the same regions
    np.testing.assert_array_equal(tab.map.state.predicted, trained.map.state.predicted)
    assert len(tab.eps_plot.curves) == 1


def test_errors_are_dialogs_and_the_tab_keeps_working(qtbot, tmp_path):
    tab = make_tab(qtbot)
    tab.error_handler = tab.show_error  # the real dialog this time
    bad = tmp_path / "broken.json"
    bad.write_text("{ not json")
    assert not tab.load_lab(bad)
    assert tab.errors and "broken.json" in tab.errors[-1]
    box = tab.error_boxes[-1]
    assert box.isVisible() and "\n" not in box.text()
    box.close()
    model_file = tmp_path / "model.pt2"
    model_file.write_bytes(b"garbage")
    assert not tab.load_user_model(model_file)
    assert "model.pt2" in tab.errors[-1]
    for b in tab.error_boxes:
        b.close()
    tab.errors.clear()
    tab.train_panel.set_values({"epochs": 2})
    train(qtbot, tab)
    assert tab.map.state.predicted is not None


def test_closing_during_training_stops_cleanly(qtbot):
    tab = make_tab(qtbot, train={"epochs": 100000})
    tab.train_button.click()
    wait_for(qtbot, lambda: tab.map.region_updates > 2, 30, "training to run")
    t0 = time.monotonic()
    tab.close()
    assert time.monotonic() - t0 < 2.0
    assert not tab.busy


def test_cli_screenshot_of_the_robustness_tab(tmp_path):
    png = tmp_path / "robustness.png"
    cmd = [
        sys.executable,
        "-m",
        "levelset_studio.core.cli",
        "gui",
        "--tab",
        "robustness",
        "--dataset",
        "moons",
        "--train",
        "--screenshot",
        str(png),
        "--quit",
    ]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    img = QImage(str(png))
    assert not img.isNull() and img.width() > 600
    assert _distinct_colors(img) > 200
    # the decision-region map is on it: both class colours (blue and orange regions) are present
    colors = [img.pixelColor(x, y) for y in range(0, img.height(), 6) for x in range(0, img.width(), 6)]
    blue = sum(1 for c in colors if c.blue() > c.red() + 40)
    orange = sum(1 for c in colors if c.red() > c.blue() + 60 and c.green() > 90)
    assert blue > 200 and orange > 200, (blue, orange)


def test_qt_binding_keeps_references_to_none_and_true(qtbot):
    """PySide6 6.12.0 on Python < 3.12 drops a reference to None on every void call and
    to True on every emit(); a GUI then aborts after a few thousand calls. Catch such a
    binding here, with a clear message, instead of as a random crash."""
    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        changed = Signal(object)

    o = Emitter()
    before = (sys.getrefcount(None), sys.getrefcount(True))
    for _ in range(200):
        o.setObjectName("x")
        o.changed.emit(1)
    after = (sys.getrefcount(None), sys.getrefcount(True))
    assert after[0] - before[0] > -50 and after[1] - before[1] > -50, (
        f"this PySide6 loses references to None/True (refcount change {after[0] - before[0]}, "
        f"{after[1] - before[1]} over 200 calls): install PySide6 < 6.12 on Python < 3.12"
    )
