"""Attacks (docs/method.md §6) against real small models, checked against torchattacks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.robust.attacks import (
    ATTACKS,
    autoattack,
    deepfool,
    fgsm,
    fooling_rate,
    pgd,
    predict,
    run_attack,
    universal_perturbation,
)


def train_digits_mlp(seed: int = 0, steps: int = 300, hidden: int = 64):
    """A standardly trained MLP on scikit-learn's 8x8 digits (inputs (N, 1, 8, 8) in [0, 1])."""
    from sklearn.datasets import load_digits

    torch.manual_seed(seed)
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(d.target)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x), generator=g)
    tr, te = perm[:1400], perm[1400:]
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10)
    )
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


def accuracy(model, x, y) -> float:
    return float((predict(model, x) == y).float().mean())


def test_fgsm_and_pgd_lower_accuracy_of_a_standard_model(digits):
    model, x, y = digits
    clean = accuracy(model, x, y)
    assert clean > 0.9
    acc_fgsm = accuracy(model, fgsm(model, x, y, 0.1), y)
    acc_pgd = accuracy(model, pgd(model, x, y, 0.1, steps=20), y)
    assert acc_fgsm < clean - 0.3
    assert acc_pgd < acc_fgsm  # iterating finds more
    assert accuracy(model, pgd(model, x, y, 0.3, steps=20), y) < 0.05


@pytest.mark.parametrize("eps", [0.05, 0.1])
def test_fgsm_and_pgd_match_torchattacks(digits, eps):
    """Deterministic settings (no random start): robust accuracy within 1 point."""
    import torchattacks

    model, x, y = digits
    ours = accuracy(model, fgsm(model, x, y, eps), y)
    theirs = accuracy(model, torchattacks.FGSM(model, eps=eps)(x, y), y)
    assert abs(ours - theirs) <= 0.01
    alpha = eps / 8
    ours = accuracy(model, pgd(model, x, y, eps, alpha=alpha, steps=20, random_start=False), y)
    theirs = accuracy(model, torchattacks.PGD(model, eps=eps, alpha=alpha, steps=20, random_start=False)(x, y), y)
    assert abs(ours - theirs) <= 0.01
    e2 = 8 * eps
    ours = accuracy(model, pgd(model, x, y, e2, alpha=e2 / 8, steps=20, norm="l2", random_start=False), y)
    theirs = accuracy(model, torchattacks.PGDL2(model, eps=e2, alpha=e2 / 8, steps=20, random_start=False)(x, y), y)
    assert abs(ours - theirs) <= 0.01


def test_pgd_stays_in_the_ball_and_the_box(digits):
    model, x, y = digits
    x, y = x[:64], y[:64]
    for norm, eps in (("linf", 0.1), ("l2", 1.0)):
        for loss in ("ce", "margin"):
            xa = pgd(model, x, y, eps, steps=10, norm=norm, loss=loss, restarts=2)
            d = (xa - x).flatten(1)
            size = d.abs().max(dim=1).values if norm == "linf" else d.norm(dim=1)
            assert float(size.max()) <= eps + 1e-5
            assert float(xa.min()) >= 0.0 and float(xa.max()) <= 1.0
            assert accuracy(model, xa, y) < accuracy(model, x, y)


def test_pgd_restarts_keep_a_fooling_restart(digits):
    """With restarts an example stays fooled if any restart fooled it: never weaker than one restart."""
    model, x, y = digits
    x, y = x[:100], y[:100]
    one = [
        predict(model, pgd(model, x, y, 0.06, steps=5, generator=torch.Generator().manual_seed(s))) != y
        for s in range(3)
    ]
    many = predict(model, pgd(model, x, y, 0.06, steps=5, restarts=3, generator=torch.Generator().manual_seed(0))) != y
    assert bool((many | ~one[0]).all())  # restart 0 equals the single run with that seed
    assert int(many.sum()) >= max(int(o.sum()) for o in one) - 2


def test_pgd_leaves_model_mode_and_parameter_grads_alone(digits):
    model, x, y = digits
    for p in model.parameters():
        p.grad = None
    model.train()
    pgd(model, x[:8], y[:8], 0.1, steps=2)
    assert model.training
    model.eval()
    assert all(p.grad is None for p in model.parameters())


def test_deepfool_is_exact_on_a_linear_classifier():
    """For f(x) = Wx + b with two classes, r is the distance to the hyperplane, overshot by 1.02."""
    torch.manual_seed(1)
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0], [-1.0, 2.0]]))
        model.bias.copy_(torch.tensor([0.3, -0.3]))
    x = torch.rand(50, 2) * 0.2 + 0.4  # well inside the box: no clipping
    res = deepfool(model, x)
    w = model.weight[0] - model.weight[1]
    b = model.bias[0] - model.bias[1]
    dist = ((x @ w + b).abs() / w.norm()).detach()
    assert bool(res.fooled.all())
    assert int(res.iterations.max()) == 1
    torch.testing.assert_close(res.norms, 1.02 * dist, atol=2e-4, rtol=1e-3)


def test_deepfool_fools_what_it_reports_and_matches_torchattacks(digits):
    """Median ||r||_2 over originally correct inputs within 5% of torchattacks' DeepFool."""
    import torchattacks

    model, x, y = digits
    x, y = x[:40], y[:40]
    res = deepfool(model, x)
    assert float(res.fooled.float().mean()) > 0.95
    pred = predict(model, res.x_adv)
    assert bool((pred[res.fooled] != predict(model, x)[res.fooled]).all())
    assert float(res.x_adv.min()) >= 0 and float(res.x_adv.max()) <= 1
    torch.testing.assert_close(res.norms, (res.x_adv - x).flatten(1).norm(dim=1))
    correct = predict(model, x) == y
    theirs = (torchattacks.DeepFool(model, steps=50, overshoot=0.02)(x, y) - x).flatten(1).norm(dim=1)
    ours_med = float(res.norms[correct].median())
    theirs_med = float(theirs[correct].median())
    assert abs(ours_med - theirs_med) <= 0.05 * theirs_med, (ours_med, theirs_med)


def test_deepfool_candidates_limit_the_classes(digits):
    model, x, _ = digits
    res = deepfool(model, x[:40], candidates=3)
    assert float(res.fooled.float().mean()) > 0.9
    full = deepfool(model, x[:40])
    # fewer candidates can only find the same or a farther boundary (up to the non-linearity)
    assert float(res.norms.median()) >= 0.9 * float(full.norms.median())


def test_universal_perturbation_fools_many_inputs(digits):
    model, x, _ = digits
    x = x[:60]
    v = universal_perturbation(model, x, xi=2.0, norm="l2", delta=0.3, max_passes=1)
    assert float(v.norm()) <= 2.0 + 1e-5
    assert v.shape == x.shape[1:]
    rate = fooling_rate(model, x, v)
    noise = torch.randn_like(v)
    noise = noise / noise.norm() * 2.0
    assert rate > 0.5
    assert rate > fooling_rate(model, x, noise) + 0.2  # far better than random noise of the same size
    vi = universal_perturbation(model, x[:20], xi=0.15, norm="linf", delta=0.3, max_passes=1)
    assert float(vi.abs().max()) <= 0.15 + 1e-6


def test_autoattack_runs_reference_components_and_is_at_least_as_strong_as_pgd(digits):
    model, x, y = digits
    x, y = x[:16], y[:16]
    res = autoattack(model, x, y, 0.08, components=("apgd-ce", "apgd-t"), steps=20)
    assert res.components == (
        "APGD-CE (Linf, 20 steps, 1 restart)",
        "APGD-T (Linf, DLR, 20 steps, 1 restart, 9 target classes)",
    )
    # every reported non-robust example really is misclassified within eps
    assert float((res.x_adv - x).abs().max()) <= 0.08 + 1e-5
    bad = ~res.robust & res.clean_correct
    assert bool((predict(model, res.x_adv[bad]) != y[bad]).all())
    assert bool((res.robust <= res.clean_correct).all())
    pgd_robust = float(((predict(model, pgd(model, x, y, 0.08, steps=20)) == y) & res.clean_correct).float().mean())
    assert res.robust_accuracy <= pgd_robust + 1 / 16


def test_autoattack_on_a_two_class_2d_model_names_what_was_skipped():
    model = nn.Linear(2, 2)  # boundary: the line x0 = x1
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
        model.bias.zero_()
    x = torch.rand(20, 2, generator=torch.Generator().manual_seed(0))
    y = predict(model, x)
    res = autoattack(model, x, y, 0.1, components=("apgd-t", "fab-t", "square"), steps=20, square_queries=100)
    assert res.components == (
        "FAB-T (Linf, 20 steps, 1 restart, 1 target classes)",
        "Square (Linf, 100 queries, 1 restart, p_init 0.8)",
    )
    assert res.skipped and res.skipped[0].startswith("APGD-T")
    assert res.x_adv.shape == x.shape
    near = (x[:, 0] - x[:, 1]).abs() < 0.19  # L-inf distance to the line < 0.095
    assert not bool(res.robust[near].any())
    assert bool(res.robust[(x[:, 0] - x[:, 1]).abs() > 0.21].all())


def test_registry_and_bad_input(digits):
    model, x, y = digits
    assert {"fgsm", "pgd", "pgd-l2", "pgd-margin", "deepfool", "autoattack", "square"} <= set(ATTACKS)
    with pytest.raises(ConfigError, match="unknown attack"):
        run_attack("nope", model, x, y, 0.1)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        fgsm(model, x, y, 1.5)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        pgd(model, x, y, -0.1)
    with pytest.raises(ConfigError):
        pgd(model, x, y, float("nan"))
    with pytest.raises(ConfigError, match="L2"):
        pgd(model, x, y, math.sqrt(64) + 1, norm="l2")
    # DeepFool within eps: robust iff not fooled within ||r|| <= eps
    _, robust = run_attack("deepfool", model, x[:30], y[:30], 0.3)
    res = deepfool(model, x[:30])
    expected = (predict(model, x[:30]) == y[:30]) & ~(res.fooled & (res.norms <= 0.3))
    assert torch.equal(robust, expected)


def test_attacks_run_on_a_user_torch_export_program(tmp_path):
    """A loaded .pt2 refuses train()/eval(); every attack must still run on it."""
    from levelset_studio.core.robust.models import load_user_model

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).eval()
    x = torch.rand(6, 1, 8, 8)
    prog = torch.export.export(net, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(prog, str(tmp_path / "m.pt2"))
    model = load_user_model(tmp_path / "m.pt2", (1, 8, 8), 10)
    y = predict(model, x)
    assert accuracy(model, pgd(model, x, y, 0.2, steps=5), y) < 1.0
    res = deepfool(model, x)
    assert bool(res.fooled.all())
    torch.testing.assert_close(res.norms, deepfool(net, x).norms)
    aa = autoattack(model, x, y, 0.2, components=("apgd-ce",), steps=5)
    assert aa.components == ("APGD-CE (Linf, 5 steps, 1 restart)",)
