"""`levelset robust eval` and `levelset robust attack` on real checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import ROOT


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "levelset_studio.core.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _train_and_save(path: Path, name: str, steps: int) -> None:
    from levelset_studio.core.robust.checkpoint import save_classifier
    from levelset_studio.core.robust.data import DatasetConfig, load_dataset
    from levelset_studio.core.robust.models import ModelConfig, build_model
    from levelset_studio.core.robust.training import TrainConfig

    dc = DatasetConfig(name=name, n_samples=400) if name != "digits" else DatasetConfig(name=name)
    data = load_dataset(dc)
    mc = ModelConfig(width=32, depth=2)
    model = build_model(mc, data.input_shape, data.num_classes)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, data.x_train.shape[0], (128,), generator=g)
        loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_classifier(
        path,
        model.eval(),
        mc,
        dc,
        TrainConfig(),
        opt,
        1,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        class_names=data.class_names,
    )


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    _train_and_save(d / "moons.ckpt", "moons", 300)
    _train_and_save(d / "digits.ckpt", "digits", 300)
    return d


def test_eval_prints_a_report_and_json(checkpoints):
    out = cli(
        "robust",
        "eval",
        str(checkpoints / "digits.ckpt"),
        "--attacks",
        "fgsm,pgd,deepfool",
        "--eps",
        "0.05,0.2",
        "--n",
        "100",
        "--steps",
        "10",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["n"] == 100 and rep["dataset"] == "digits"
    assert rep["clean_accuracy"] > 0.85
    pgd = {r["eps"]: r["robust_accuracy"] for r in rep["results"] if r["attack"] == "pgd"}
    assert pgd[0.2] < pgd[0.05] < rep["clean_accuracy"]  # a standard model falls under attack
    assert rep["deepfool"]["median_l2"] > 0 and 0 < rep["deepfool"]["rho_adv"] < 1
    assert rep["curves"]["fgsm"]["eps"] == [0.0, 0.05, 0.2]
    text = cli("robust", "eval", str(checkpoints / "moons.ckpt"), "--attacks", "pgd", "--n", "50", "--steps", "10")
    assert text.returncode == 0, text.stderr
    assert "clean accuracy" in text.stdout and "eps 0.1" in text.stdout  # the 2D default radii


def test_attack_writes_pictures(checkpoints, tmp_path):
    import matplotlib.image as mpimg

    png = tmp_path / "adv.png"
    out = cli(
        "robust",
        "attack",
        str(checkpoints / "digits.ckpt"),
        "--attack",
        "pgd",
        "--index",
        "3",
        "--eps",
        "0.2",
        "--steps",
        "10",
        "-o",
        str(png),
    )
    assert out.returncode == 0, out.stderr
    img = mpimg.imread(png)
    assert img.shape[0] > 300 and img.shape[1] > 600 and img[..., :3].std() > 0.05
    assert "adversarial ->" in out.stdout
    png2 = tmp_path / "moons.png"
    out = cli(
        "robust", "attack", str(checkpoints / "moons.ckpt"), "--attack", "deepfool", "--index", "0", "-o", str(png2)
    )
    assert out.returncode == 0, out.stderr
    assert mpimg.imread(png2).shape[1] > 600


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval", "{d}/digits.ckpt", "--eps", "1.5"], "outside [0, 1]"),
        (["eval", "{d}/digits.ckpt", "--attacks", "fgsm,nope"], "unknown attack"),
        (["attack", "{d}/digits.ckpt", "--attack", "pgd", "--index", "100000", "-o", "{d}/x.png"], "out of range"),
        (
            ["attack", "{d}/digits.ckpt", "--attack", "fgsm", "--index", "0", "--eps", "-0.1", "-o", "{d}/x.png"],
            "outside [0, 1]",
        ),
        (["eval", "{d}/missing.ckpt"], "no such checkpoint"),
        (["eval", "{d}/garbage.ckpt"], "checkpoint"),
    ],
)
def test_bad_input_is_one_line_exit_2(checkpoints, args, message):
    (checkpoints / "garbage.ckpt").write_bytes(b"not a checkpoint at all")
    out = cli("robust", *[a.format(d=checkpoints) for a in args], timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("levelset: error:"), out.stderr
    assert message in lines[0]
