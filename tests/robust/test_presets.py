"""CURE / ROLL presets: valid settings, fine-tuning through the CLI, evaluation at the method's own radius."""

from __future__ import annotations

import pytest
import torch

from levelset_studio.core.cli import main
from levelset_studio.core.errors import ConfigError
from levelset_studio.core.robust.checkpoint import load_classifier
from levelset_studio.core.robust.presets import PRESETS, evaluate_preset, preset


def test_every_preset_builds_valid_configs():
    for p in PRESETS.values():
        assert p.train_config().method in ("cure", "roll") and p.target_eps
        p.model_config()
        if p.finetune_epochs:
            assert p.pretrain_config().method == "standard"
    assert preset("roll-mnist").model_config().width == 300 and preset("roll-mnist").train_config().roll_lambda == 2.0
    assert preset("cure-mnist").finetune_epochs > 0  # CURE is a fine-tuning method in its paper
    assert "not" in preset("roll-mnist").caveat  # says where it is not robust
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("nope")


def test_cli_trains_a_fine_tuning_preset_and_flags_override_it(tmp_path, capsys, one_torch_thread):
    out = tmp_path / "cure.ckpt"
    rc = main(
        [
            "robust",
            "train",
            "--dataset",
            "moons",
            "--n-samples",
            "300",
            "--preset",
            "cure-2d",
            "--epochs",
            "2",
            "-o",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "standard epochs, then cure" in err
    clf = load_classifier(out)
    assert clf.train_config.method == "cure" and clf.train_config.cure_h == pytest.approx(0.1)
    assert clf.train_config.epochs == 2  # the flag beat the preset's 30
    assert clf.model_config.activation == "softplus"
    ev = evaluate_preset(preset("cure-2d"), clf.model, clf_data_x(clf), clf_data_y(clf), steps=10)
    assert set(ev.at_target) == {0.05, 0.1} and ev.at_mnist is None  # 2D: no MNIST radius
    assert 0 <= ev.at_target[0.1] <= ev.at_target[0.05] <= ev.clean_accuracy
    assert main(["robust", "train", "--dataset", "moons", "--preset", "x", "-o", str(out)]) == 2


def clf_data_x(clf):
    from levelset_studio.core.robust.data import load_dataset

    return load_dataset(clf.dataset_config).x_test[:100]


def clf_data_y(clf):
    from levelset_studio.core.robust.data import load_dataset

    return load_dataset(clf.dataset_config).y_test[:100]


def test_images_are_also_evaluated_at_mnist_radius():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    x = torch.rand(8, 1, 8, 8)
    y = model(x).argmax(1)
    ev = evaluate_preset(preset("roll-mnist"), model, x, y, steps=5)
    assert ev.at_mnist is not None and ev.at_mnist <= min(ev.at_target.values())
    assert set(ev.to_dict()) >= {"robust_at_target", "robust_at_linf_0.3", "caveat"}
