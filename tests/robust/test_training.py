"""The trainer and its methods on tiny 2D data: accuracy, robustness, margins, resume.

Each run is a few epochs of a small MLP on a few hundred points (seconds on a CPU).
"""

from __future__ import annotations

import pytest
import torch

from levelset_studio.core.errors import Cancelled, ConfigError
from levelset_studio.core.events import CancelToken, Finished, Progress
from levelset_studio.core.robust.attacks import deepfool, pgd
from levelset_studio.core.robust.boundary import boundary_distance, sample_decision_boundary
from levelset_studio.core.robust.data import DatasetConfig, load_dataset
from levelset_studio.core.robust.margin import decision_margin
from levelset_studio.core.robust.methods import METHOD_NAMES, METHODS
from levelset_studio.core.robust.models import ModelConfig, build_model
from levelset_studio.core.robust.training import RobustTrainer, TrainConfig, evaluate_accuracy, train_classifier

BASE = dict(epochs=12, batch_size=50, lr=1e-2, device="cpu", seed=0)
# per-method settings scaled to the [0, 1]^2 box (the MNIST defaults are far larger)
METHOD_SETTINGS = {
    "standard": {},
    "fgsm": {"eps": 0.08},
    "pgd": {"eps": 0.08, "pgd_steps": 5},
    "trades": {"eps": 0.05, "pgd_steps": 5, "trades_beta": 1.0},
    "levelset": {"levelset_eps_c": 0.1, "levelset_eps_w": 0.1},
    "cure": {"cure_h": 0.05, "cure_lambda": 0.1},
    "roll": {"roll_lambda": 0.1},
}
MIN_ACCURACY = {"cure": 0.8, "roll": 0.8}  # regularizers that trade accuracy on curved moons


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def moons():
    return load_dataset(DatasetConfig(name="moons", n_samples=400, noise=0.1, seed=0))


def _train(dataset, method, **extra):
    model = build_model(ModelConfig(width=32), dataset.input_shape, dataset.num_classes, seed=0)
    cfg = TrainConfig(method=method, **{**BASE, **METHOD_SETTINGS[method], **extra})
    return train_classifier(model, dataset, cfg)


@pytest.fixture(scope="module")
def trained(moons):
    """Models trained once and shared by the comparisons below."""
    return {m: _train(moons, m) for m in METHOD_NAMES}


def test_registry_has_every_method():
    assert set(METHODS) == set(METHOD_NAMES) == {"standard", "fgsm", "pgd", "trades", "levelset", "cure", "roll"}


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_each_method_learns_moons(trained, moons, method):
    result = trained[method]
    assert result.epoch == BASE["epochs"] and len(result.history) == BASE["epochs"]
    acc = evaluate_accuracy(result.model, moons.x_test, moons.y_test)
    assert acc >= MIN_ACCURACY.get(method, 0.88), f"{method}: test accuracy {acc:.3f}"
    assert result.history[-1]["test_acc"] == pytest.approx(acc)
    first, last = result.history[0], result.history[-1]
    assert last["train_loss"] < first["train_loss"]


def test_pgd_training_raises_pgd_robust_accuracy(trained, moons):
    eps = 0.1
    robust = {}
    for method in ("standard", "pgd"):
        model = trained[method].model
        x_adv = pgd(model, moons.x_test, moons.y_test, eps, steps=20, generator=torch.Generator().manual_seed(0))
        robust[method] = evaluate_accuracy(model, x_adv, moons.y_test)
    assert robust["pgd"] >= robust["standard"] + 0.1, robust


def test_levelset_margin_training_pushes_the_boundary_away(trained, moons):
    """DeepFool (an independent measure) finds the boundary farther from the test points."""
    dist = {m: float(deepfool(trained[m].model, moons.x_test).norms.median()) for m in ("standard", "levelset")}
    assert dist["levelset"] > 1.2 * dist["standard"], dist


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_boundary_samples_lie_on_the_boundary_near_their_points(trained, moons, norm):
    model = trained["standard"].model
    eps = 0.3
    s = sample_decision_boundary(model, moons.x_test, moons.y_test, eps, steps=20, norm=norm)
    assert s.count >= 0.8 * len(moons.y_test)
    with torch.no_grad():
        f = decision_margin(model(s.points), moons.y_test[s.source])
    assert torch.allclose(f, s.residual, atol=1e-5)
    assert bool((f.abs() < 0.1).all())
    assert float(boundary_distance(moons.x_test[s.source], s.points, norm).max()) <= eps + 1e-5
    assert s.found.sum() == s.count and s.source.unique().numel() == s.count
    # Newton polish (the shared projection) lands on F_y = 0 far more tightly
    p = sample_decision_boundary(model, moons.x_test, moons.y_test, eps, steps=20, norm=norm, newton_iters=5)
    assert float(p.residual.abs().median()) < 1e-4


def test_training_is_seed_repeatable_and_cancel_resumes_exactly(moons):
    cfg = TrainConfig(method="pgd", epochs=2, batch_size=64, lr=1e-2, eps=0.05, pgd_steps=3, device="cpu", seed=5)

    def fresh():
        return build_model(ModelConfig(width=16), (2,), 2, seed=5)

    a = train_classifier(fresh(), moons, cfg).model
    b = train_classifier(fresh(), moons, cfg).model
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)

    trainer = RobustTrainer(fresh(), moons, cfg)
    token = CancelToken()
    seen = 0
    with pytest.raises(Cancelled):
        for ev in trainer.run(token):
            if isinstance(ev, Progress) and ev.message == "batch":
                seen += 1
                if seen == 7:  # mid second epoch (5 batches per epoch)
                    token.cancel()
    assert trainer.epoch == 1
    events = list(trainer.run())
    assert isinstance(events[-1], Finished) and trainer.epoch == 2
    assert events[0].total == 3  # the three batches left
    for pa, pc in zip(a.parameters(), trainer.model.parameters()):
        assert torch.equal(pa, pc)
    epochs = [e.metrics for e in events if isinstance(e, Progress) and "test_acc" in e.metrics]
    assert [m["epoch"] for m in epochs] == [2.0]
    # a further run continues for another `epochs` epochs
    list(trainer.run())
    assert trainer.epoch == 4 and len(trainer.history) == 4


def test_progress_events_carry_the_metrics(moons):
    cfg = TrainConfig(method="standard", epochs=2, batch_size=100, device="cpu")
    events = list(RobustTrainer(build_model(ModelConfig(width=8), (2,), 2), moons, cfg).run())
    batches = [e for e in events if isinstance(e, Progress) and e.message == "batch"]
    epochs = [e for e in events if isinstance(e, Progress) and e.message.startswith("epoch")]
    assert len(batches) == 2 * 3 and len(epochs) == 2
    assert [e.step for e in batches] == list(range(1, 7)) and batches[-1].total == 6
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert key in epochs[-1].metrics
    assert isinstance(events[-1], Finished)


def test_bad_settings_are_config_errors(moons):
    with pytest.raises(ConfigError, match="eps"):
        TrainConfig(eps=1.5)
    with pytest.raises(ConfigError, match="method"):
        TrainConfig(method="mixup")
    cnn = build_model(ModelConfig(arch="smallcnn"), (1, 8, 8), 10)
    digits = load_dataset(DatasetConfig(name="digits", n_train=20))
    with pytest.raises(ConfigError, match="roll"):
        train_classifier(cnn, digits, TrainConfig(method="roll", epochs=1, device="cpu"))
