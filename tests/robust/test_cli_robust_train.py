"""`levelset robust train` / `export` end to end, and their one-line errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from levelset_studio.core.cli import main
from tests.conftest import ROOT


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "levelset_studio.core.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )


def test_train_then_export(tmp_path):
    ckpt, pt2 = tmp_path / "moons.ckpt", tmp_path / "moons.pt2"
    r = _cli(
        "robust",
        "train",
        "--dataset",
        "moons",
        "--model",
        "mlp",
        "--method",
        "pgd",
        "--epochs",
        "8",
        "--eps",
        "0.05",
        "--seed",
        "3",
        "--n-samples",
        "300",
        "--width",
        "16",
        "--lr",
        "0.01",
        "--batch-size",
        "32",
        "--pgd-steps",
        "3",
        "--device",
        "cpu",
        "-o",
        str(ckpt),
    )
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and ckpt.is_file()
    from levelset_studio.core.robust.checkpoint import load_classifier
    from levelset_studio.core.robust.data import load_dataset
    from levelset_studio.core.robust.training import evaluate_accuracy

    clf = load_classifier(ckpt)
    assert clf.train_config.method == "pgd" and clf.train_config.eps == 0.05 and clf.epoch == 8
    assert clf.dataset_config.seed == 3 and clf.model_config.width == 16
    data = load_dataset(clf.dataset_config)
    assert evaluate_accuracy(clf.model, data.x_test, data.y_test) >= 0.85
    r = _cli("robust", "export", str(ckpt), "-o", str(pt2))
    assert r.returncode == 0, r.stderr
    program = torch.export.load(str(pt2)).module()
    assert torch.allclose(program(data.x_test[:7]), clf.model(data.x_test[:7]), atol=1e-6)


def test_bad_input_is_one_line_and_exit_2_in_a_subprocess(tmp_path):
    r = _cli("robust", "train", "--dataset", "moons", "--eps", "1.5", "-o", str(tmp_path / "x.ckpt"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["levelset: error: eps: 1.5 is outside [0, 1]"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "imagenet"], "dataset: 'imagenet' is not one of"),
        (["--dataset", "moons", "--model", "resnet"], "model: 'resnet' is not one of"),
        (["--dataset", "moons", "--method", "mixup"], "method: 'mixup' is not"),
        (["--dataset", "moons", "--eps", "-0.1"], "eps: -0.1 is outside [0, 1]"),
        (["--dataset", "moons", "--eps", "nan"], "eps: nan is not a valid float"),
        (["--dataset", "csv", "--csv-path", "{nan_csv}"], "line 2: non-finite coordinate"),
        (["--dataset", "mnist", "--data-dir", "{tmp}"], "MNIST files not found"),
        (
            ["--dataset", "digits", "--model", "smallcnn", "--method", "roll", "--epochs", "1", "--n-train", "20"],
            "method roll: needs the mlp model",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    nan_csv = tmp_path / "nan.csv"
    nan_csv.write_text("0,0,0\nnan,1,1\n1,0,1\n1,1,0\n0.5,0.5,1\n")
    argv = [a.format(nan_csv=nan_csv, tmp=tmp_path) for a in argv]
    rc = main(["robust", "train", *argv, "--device", "cpu", "-o", str(tmp_path / "x.ckpt")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("levelset: error: ") and message in err[0], err
    assert not (tmp_path / "x.ckpt").exists()


def test_export_errors(tmp_path, capsys):
    junk = tmp_path / "junk.ckpt"
    junk.write_text("hello")
    assert main(["robust", "export", str(junk), "-o", str(tmp_path / "m.pt2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable checkpoint" in err[0]
    assert main(["robust", "export", str(tmp_path / "none.ckpt"), "-o", str(tmp_path / "m.pt2")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
