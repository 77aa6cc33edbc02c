"""`levelset robust noise|transform|saliency` on real checkpoints: JSON and PNG output, one-line errors."""

from __future__ import annotations

import json

import pytest

from levelset_studio.core.cli import main
from tests.robust.test_cli_robust_eval import _train_and_save, cli


def run(capsys, *args: str) -> tuple[int, str, str]:
    """The command in this process (the subprocess test above covers the entry point)."""
    capsys.readouterr()
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe_ckpt")
    _train_and_save(d / "digits.ckpt", "digits", 120)
    _train_and_save(d / "digits_short.ckpt", "digits", 10)
    _train_and_save(d / "moons.ckpt", "moons", 60)
    return d


def test_noise_json_has_the_ratio_and_sqrt_d(ckpts):
    out = cli(
        "robust", "noise", str(ckpts / "digits.ckpt"), "--n", "40", "--directions", "8", "--sigmas", "0.1,0.5", "--json"
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["sqrt_d"] == pytest.approx(8.0) and d["d"] == 64 and d["dataset"] == "digits"
    assert 0 < d["median_adversarial_l2"] < d["median_random_l2"]
    assert d["ratio"] == pytest.approx(d["median_random_l2"] / d["median_adversarial_l2"])
    assert set(d["gaussian_accuracy"]) == {"0.1", "0.5"}
    assert d["gaussian_accuracy"]["0.5"] <= d["gaussian_accuracy"]["0.1"] + 0.05


def test_noise_text_report_on_2d_points(ckpts, capsys):
    rc, out, err = run(capsys, "robust", "noise", str(ckpts / "moons.ckpt"), "--n", "30", "--directions", "4")
    assert rc == 0, err
    assert "sqrt(d) = 1.41" in out and "ratio random / adversarial" in out


def test_transform_json_worst_below_random(ckpts, capsys):
    rc, text, err = run(
        capsys,
        "robust",
        "transform",
        str(ckpts / "digits.ckpt"),
        "--max-rotation",
        "15",
        "--max-shift",
        "1",
        "--rotations",
        "3",
        "--n",
        "100",
        "--json",
    )
    assert rc == 0, err
    d = json.loads(text)
    assert d["grid_size"] == 3 * 3 * 3
    assert d["worst_accuracy"] <= d["random_accuracy"] <= 1.0 and d["worst_accuracy"] < d["clean_accuracy"]


def test_saliency_png_of_two_models(ckpts, tmp_path, capsys):
    png = tmp_path / "sal.png"
    rc, out, err = run(
        capsys,
        "robust",
        "saliency",
        str(ckpts / "digits.ckpt"),
        str(ckpts / "digits_short.ckpt"),
        "--index",
        "3",
        "--samples",
        "4",
        "-o",
        str(png),
    )
    assert rc == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "digits.ckpt ->" in out and "digits_short.ckpt ->" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (("noise", "{d}/digits.ckpt", "--sigmas", "0.1,x"), "--sigmas: 'x' is not a number"),
        (("noise", "{d}/digits.ckpt", "--directions", "0"), "--directions must be >= 1"),
        (("transform", "{d}/moons.ckpt"), "needs an image dataset"),
        (("transform", "{d}/digits.ckpt", "--max-shift", "50"), "max shift"),
        (("saliency", "{d}/digits.ckpt", "--index", "99999", "-o", "{d}/x.png"), "out of range"),
        (("saliency", "{d}/digits.ckpt", "{d}/moons.ckpt", "--index", "0", "-o", "{d}/x.png"), "different data"),
        (("saliency", "{d}/digits.ckpt", "--index", "0", "-o", "{d}/x.jpg"), "write a .png"),
        (("noise", "{d}/missing.ckpt"), "missing.ckpt"),
    ],
)
def test_bad_input_is_one_line_exit_2(ckpts, capsys, args, message):
    rc, out, err = run(capsys, "robust", *(a.format(d=ckpts) for a in args))
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("levelset: error:") and message in lines[0], err
