"""The attack registry: every named attack is one ``AttackSpec`` that carries its own run function.

The CLI's choices, the evaluation, the GUI's attack menu and the docs read ``ATTACKS``;
``run_attack(name, ...)`` looks the spec up and calls its ``run``. Adding an attack is
adding one spec here (no dispatch on names anywhere else).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.robust.attacks.common import Loss, Norm, check_l2_eps, check_linf_eps, per_sample, predict
from levelset_studio.core.robust.attacks.ensemble import autoattack
from levelset_studio.core.robust.attacks.gradient import fgsm, pgd
from levelset_studio.core.robust.attacks.minimal import deepfool

AttackKind = Literal["white-box", "black-box", "ensemble", "minimal"]


@dataclass(frozen=True)
class AttackContext:
    """What a run function gets besides the model, the data and the radius."""

    steps: int = 40
    restarts: int = 1
    seed: int = 0
    cancel: CancelToken | None = None

    def generator(self, device: torch.device) -> torch.Generator:
        return torch.Generator(device=device).manual_seed(int(self.seed))


# (model, x, y, eps, context) -> (x_adv, robust or None: None = robust is "still correct at x_adv")
AttackRun = Callable[[nn.Module, torch.Tensor, torch.Tensor, float, AttackContext], tuple[torch.Tensor, Any]]


@dataclass(frozen=True)
class AttackSpec:
    """One named attack as the CLI, the evaluation and the GUI offer it.

    ``parameters`` names the ``AttackContext`` fields the run function reads (``steps``,
    ``restarts``, ``seed``), so a caller knows which settings matter for it.
    """

    name: str
    label: str
    norm: Norm
    kind: AttackKind  # black-box and ensemble results are the gradient-masking checks
    description: str
    run: AttackRun = field(repr=False, compare=False)
    parameters: tuple[str, ...] = ()

    @property
    def has_radius(self) -> bool:
        """False for minimal attacks (DeepFool): they find their own radius."""
        return self.kind != "minimal"


def _fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, ctx: AttackContext):
    return fgsm(model, x, y, eps), None


def _pgd_run(norm: Norm, loss: Loss) -> AttackRun:
    def run(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, ctx: AttackContext):
        x_adv = pgd(
            model,
            x,
            y,
            eps,
            steps=ctx.steps,
            norm=norm,
            loss=loss,
            restarts=ctx.restarts,
            cancel=ctx.cancel,
            generator=ctx.generator(x.device),
        )
        return x_adv, None

    return run


def _deepfool(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, ctx: AttackContext):
    """Robust at eps when DeepFool fails or needs ||r||_2 > eps; x_adv is then the clean input."""
    res = deepfool(model, x)
    within = res.fooled & (res.norms <= eps + 1e-7)
    return torch.where(per_sample(within, x), res.x_adv, x.detach()), None


def _autoattack_run(norm: Norm, components: tuple[str, ...] | None) -> AttackRun:
    def run(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, ctx: AttackContext):
        res = autoattack(model, x, y, eps, norm=norm, seed=ctx.seed, components=components, cancel=ctx.cancel)
        return res.x_adv, res.robust

    return run


_SPECS: tuple[AttackSpec, ...] = (
    AttackSpec("fgsm", "FGSM", "linf", "white-box", "one signed-gradient step of size eps (cross-entropy)", _fgsm),
    AttackSpec(
        "pgd",
        "PGD",
        "linf",
        "white-box",
        "PGD L-inf, cross-entropy, random start (Madry)",
        _pgd_run("linf", "ce"),
        ("steps", "restarts", "seed"),
    ),
    AttackSpec(
        "pgd-margin",
        "PGD (margin)",
        "linf",
        "white-box",
        "PGD L-inf on the CW margin max_{j!=y} f_j - f_y",
        _pgd_run("linf", "margin"),
        ("steps", "restarts", "seed"),
    ),
    AttackSpec(
        "pgd-l2",
        "PGD L2",
        "l2",
        "white-box",
        "PGD L2, cross-entropy, normalized-gradient steps",
        _pgd_run("l2", "ce"),
        ("steps", "restarts", "seed"),
    ),
    AttackSpec(
        "pgd-l2-margin",
        "PGD L2 (margin)",
        "l2",
        "white-box",
        "PGD L2 on the CW margin",
        _pgd_run("l2", "margin"),
        ("steps", "restarts", "seed"),
    ),
    AttackSpec(
        "deepfool",
        "DeepFool",
        "l2",
        "minimal",
        "minimal L2 perturbation (counts as robust when ||r||_2 > eps)",
        _deepfool,
    ),
    AttackSpec(
        "apgd-ce",
        "APGD-CE",
        "linf",
        "white-box",
        "torchattacks APGD, cross-entropy, 100 steps",
        _autoattack_run("linf", ("apgd-ce",)),
        ("seed",),
    ),
    AttackSpec(
        "square",
        "Square",
        "linf",
        "black-box",
        "torchattacks Square, 5000 queries (score-based, no gradients)",
        _autoattack_run("linf", ("square",)),
        ("seed",),
    ),
    AttackSpec(
        "autoattack",
        "AutoAttack",
        "linf",
        "ensemble",
        "APGD-CE, APGD-T, FAB-T, Square (reference settings)",
        _autoattack_run("linf", None),
        ("seed",),
    ),
    AttackSpec(
        "autoattack-l2",
        "AutoAttack L2",
        "l2",
        "ensemble",
        "AutoAttack in L2 (reference settings)",
        _autoattack_run("l2", None),
        ("seed",),
    ),
)

ATTACKS: Mapping[str, AttackSpec] = MappingProxyType({s.name: s for s in _SPECS})


def attack_spec(name: str) -> AttackSpec:
    """The spec of attack ``name``; ConfigError naming the choices otherwise."""
    try:
        return ATTACKS[name]
    except KeyError:
        raise ConfigError(f"unknown attack {name!r} (choose from {', '.join(ATTACKS)})") from None


def check_attack_eps(name: str, eps: float, x: torch.Tensor) -> float:
    """Validate ``eps`` for attack ``name``: L-inf radii in [0, 1], L2 radii in [0, sqrt(d)]."""
    spec = attack_spec(name)
    return check_linf_eps(eps) if spec.norm == "linf" else check_l2_eps(eps, x)


def run_attack(
    name: str,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    steps: int = 40,
    restarts: int = 1,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run attack ``name`` at radius ``eps``: (x_adv, robust) with robust[i] true when
    x[i] is classified correctly and the attack did not change that within eps."""
    spec = attack_spec(name)
    eps = check_attack_eps(name, eps, x)
    x_adv, robust = spec.run(model, x, y, eps, AttackContext(steps=steps, restarts=restarts, seed=seed, cancel=cancel))
    if robust is None:
        robust = (predict(model, x) == y) & (predict(model, x_adv) == y)
    return x_adv, robust
