"""Robustness evaluation: report numbers, curves, progress/cancel, masking warnings."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from levelset_studio.core.errors import Cancelled, ConfigError, DatasetError, ModelError
from levelset_studio.core.events import CancelToken, Finished, Progress
from levelset_studio.core.robust.attacks import deepfool, predict, run_attack
from levelset_studio.core.robust.evaluation import (
    AttackResult,
    _masking_warnings,
    evaluate_robustness,
    iter_evaluate_robustness,
    robust_accuracy,
)


def train_digits_mlp(seed: int = 0, steps: int = 250, hidden: int = 64):
    """A standardly trained MLP on scikit-learn's 8x8 digits (inputs (N, 1, 8, 8) in [0, 1])."""
    from sklearn.datasets import load_digits

    torch.manual_seed(seed)
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(d.target)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x), generator=g)
    tr, te = perm[:1400], perm[1400:]
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(steps):
        idx = tr[torch.randint(0, len(tr), (128,), generator=g)]
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model, x[te], y[te]


@pytest.fixture(scope="module")
def digits():
    return train_digits_mlp()


class Binarize(nn.Module):
    """Thresholds pixels: a textbook gradient-masking defence (zero input gradient)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > 0.5).float()


def test_report_numbers_curves_and_format(digits):
    model, x, y = digits
    events = list(iter_evaluate_robustness(model, x, y, ["fgsm", "pgd", "deepfool"], [0.05, 0.15], n=120, steps=10))
    progress = [e for e in events if isinstance(e, Progress)]
    assert isinstance(events[-1], Finished)
    rep = events[-1].result
    assert progress[-1].step == progress[-1].total == 2 * 3 + 1 + 1  # jobs + DeepFool + steps check
    xs, ys = x[:120], y[:120]
    clean = float((predict(model, xs) == ys).float().mean())
    assert rep.n == 120 and rep.clean_accuracy == pytest.approx(clean)
    # attacks lower accuracy, more with larger eps, PGD below FGSM
    for a in ("fgsm", "pgd"):
        eps, acc = rep.curve(a)
        assert eps[0] == 0 and acc[0] == pytest.approx(clean)
        assert acc[1] < clean and acc[2] < acc[1]
    assert rep.robust_accuracy("pgd", 0.15) <= rep.robust_accuracy("fgsm", 0.15)
    assert rep.robust_accuracy("pgd", 0.15) < 0.3
    # DeepFool: median ||r||_2 and rho_adv over the correct inputs, recomputed by hand
    ok = predict(model, xs) == ys
    res = deepfool(model, xs[ok])
    assert rep.deepfool.n_correct == int(ok.sum())
    assert rep.deepfool.median_l2 == pytest.approx(float(res.norms[res.fooled].median()), rel=1e-4)
    rho = float((res.norms / xs[ok].flatten(1).norm(dim=1))[res.fooled].mean())
    assert rep.deepfool.rho_adv == pytest.approx(rho, rel=1e-4)
    # DeepFool's robust accuracy at an L2 radius counts inputs it needs more than eps for
    full = deepfool(model, xs)
    robust_df = ok & ~(full.fooled & (full.norms <= 0.05))
    assert rep.robust_accuracy("deepfool", 0.05) == pytest.approx(float(robust_df.float().mean()))
    d = rep.to_dict()
    json.dumps(d)
    assert d["curves"]["pgd"]["eps"] == [0.0, 0.05, 0.15]
    text = rep.format()
    assert "clean accuracy" in text and "rho_adv" in text and "pgd" in text
    assert not rep.warnings  # an honest standard model


def test_robust_accuracy_matches_run_attack(digits):
    model, x, y = digits
    acc = robust_accuracy(model, x[:80], y[:80], "pgd", 0.1, steps=10, batch_size=30)
    _, r = run_attack("pgd", model, x[:80], y[:80], 0.1, steps=10)
    # batches draw their own random starts; the numbers agree up to a few inputs
    assert abs(acc - float(r.float().mean())) <= 3 / 80
    assert acc < float((predict(model, x[:80]) == y[:80]).float().mean())


def test_gradient_masking_is_flagged(digits):
    model, x, y = digits
    masked = nn.Sequential(Binarize(), model)
    rep = evaluate_robustness(masked, x, y, ["pgd", "square", "deepfool"], [0.3], n=16, steps=10)
    assert rep.robust_accuracy("square", 0.3) < rep.robust_accuracy("pgd", 0.3) - 0.3
    joined = " ".join(rep.warnings)
    assert "Square" in joined and "gradient masking" in joined
    assert "DeepFool" in joined


def test_masking_rules():
    res = [AttackResult("pgd", "linf", e, a, 100, 0.0) for e, a in ((0.1, 0.5), (0.2, 0.6))]
    res.append(AttackResult("autoattack", "linf", 0.1, 0.3, 100, 0.0))
    w = _masking_warnings(res, (0.2, 0.55, 0.70, 10, 40))
    assert any("rises with eps" in s for s in w)
    assert any("AutoAttack" in s for s in w)
    assert any("more steps" in s for s in w)
    ok = [AttackResult("pgd", "linf", 0.1, 0.5, 100, 0.0), AttackResult("autoattack", "linf", 0.1, 0.48, 100, 0.0)]
    assert _masking_warnings(ok, (0.1, 0.52, 0.5, 10, 40)) == []


def test_cancel_stops_the_job(digits):
    model, x, y = digits
    token = CancelToken()
    events = iter_evaluate_robustness(model, x, y, ["pgd"], [0.1, 0.2], n=50, steps=5, cancel=token)
    first = next(events)
    assert isinstance(first, Progress)
    token.cancel()
    with pytest.raises(Cancelled):
        list(events)


def test_bad_input_gives_clear_errors(digits):
    model, x, y = digits
    bad = x[:10].clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(DatasetError, match="NaN"):
        evaluate_robustness(model, bad, y[:10], ["fgsm"], [0.1])
    with pytest.raises(DatasetError, match=r"\[0, 1\]"):
        evaluate_robustness(model, x[:10] * 3, y[:10], ["fgsm"], [0.1])
    with pytest.raises(ModelError, match="labels"):
        evaluate_robustness(model, x[:10], y[:10] + 10, ["fgsm"], [0.1])
    with pytest.raises(ModelError, match="shape"):
        evaluate_robustness(model, torch.rand(10, 2), y[:10], ["fgsm"], [0.1])
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        evaluate_robustness(model, x[:10], y[:10], ["fgsm"], [1.5])
    with pytest.raises(ConfigError, match="unknown attack"):
        evaluate_robustness(model, x[:10], y[:10], ["cw"], [0.1])
