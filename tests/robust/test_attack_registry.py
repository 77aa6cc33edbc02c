"""The attack registry: every spec runs through its own function; config sits below methods and trainer."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.robust.attacks import ATTACKS, AttackSpec, attack_spec, run_attack


def _linear_model(d: int = 6, seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Flatten(), nn.Linear(d, 4))
    x = torch.rand(16, d, generator=g)
    with torch.no_grad():
        y = model(x).argmax(1)
    return model, x, y


# the torchattacks components (APGD, Square, AutoAttack) are slow; test_attacks.py runs them
TORCHATTACKS = ("apgd-ce", "square", "autoattack", "autoattack-l2")


@pytest.mark.parametrize("name", [n for n in ATTACKS if n not in TORCHATTACKS])
def test_every_spec_runs_through_its_own_function(name):
    spec = ATTACKS[name]
    assert isinstance(spec, AttackSpec) and callable(spec.run)
    assert spec.norm in ("linf", "l2") and spec.description
    model, x, y = _linear_model()
    eps = 0.3 if spec.norm == "linf" else 0.8
    x_adv, robust = run_attack(name, model, x, y, eps, steps=5, seed=1)
    assert x_adv.shape == x.shape and robust.dtype == torch.bool and robust.shape == (16,)
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    delta = (x_adv - x).flatten(1)
    size = delta.abs().max(dim=1).values if spec.norm == "linf" else delta.norm(dim=1)
    assert bool((size <= eps + 1e-5).all())  # every attack stays inside its radius
    # a linear 4-class model on [0, 1]^6 with these radii is fooled somewhere: the attack did something
    assert not bool(robust.all())


def test_specs_say_which_settings_matter_and_unknown_names_are_refused():
    assert "steps" in attack_spec("pgd").parameters and "steps" not in attack_spec("fgsm").parameters
    assert not attack_spec("deepfool").has_radius and attack_spec("pgd").has_radius
    with pytest.raises(ConfigError, match="unknown attack 'nope'"):
        attack_spec("nope")
    with pytest.raises(TypeError):
        ATTACKS["x"] = ATTACKS["pgd"]  # type: ignore[index]  # the registry is read-only


def test_methods_do_not_import_the_trainer():
    """core.robust.config breaks the old methods <-> training cycle."""
    code = (
        "import sys, levelset_studio.core.robust.methods as m;"
        "print('levelset_studio.core.robust.training' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
