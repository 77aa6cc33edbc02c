"""Adversarial attacks in input space (METHODS.md 6).

Every attack takes a classifier ``model`` (inputs in [0, 1] of any shape (N, ...),
logits (N, C) out; any normalization lives inside the model) and returns inputs that
stay in [0, 1]. The model is put in eval mode for the attack and restored afterwards.

- ``fgsm``: one signed-gradient step.
- ``pgd``: Madry's projected gradient descent, L-inf or L2, cross-entropy or margin
  (CW) loss, random start and restarts (per example the successful, else the
  highest-loss restart is kept).
- ``deepfool``: batched minimal L2 perturbation; it is Newton projection onto the
  nearest class boundary, so it runs on ``core.levelset.project_to_level_set``.
- ``universal_perturbation``: one perturbation for a whole data set (DeepFool inside).
- ``autoattack``: APGD-CE, APGD-T, FAB-T and Square from torchattacks, composed with
  the reference AutoAttack settings (torchattacks' own wrapper uses fewer steps).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import ConfigError
from core.events import CancelToken
from core.levelset import project_to_level_set
from core.robust.margin import decision_margin

Norm = Literal["linf", "l2"]
Loss = Literal["ce", "margin"]


# ----------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode (batch norm / dropout frozen) and restore its mode."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train()


def _check_eps(eps: float, name: str = "eps") -> float:
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0 or eps > 1:
        raise ConfigError(f"{name} must be in [0, 1] (inputs live in [0, 1]), got {eps:g}")
    return eps


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def _flat_norm(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1)


def _attack_loss(logits: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-example loss the attacker maximizes: cross-entropy or the CW margin F_y."""
    if loss == "ce":
        return F.cross_entropy(logits, y, reduction="none")
    if loss == "margin":
        return decision_margin(logits, y)
    raise ConfigError(f"attack loss must be 'ce' or 'margin', got {loss!r}")


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-example loss, its input gradient, logits) at ``x``; no parameter gradients."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        logits = model(xg)
        per = _attack_loss(logits, y, loss)
        (g,) = torch.autograd.grad(per.sum(), xg)
    return per.detach(), g.detach(), logits.detach()


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Predicted classes of ``x`` in eval mode, in batches."""
    out = []
    with eval_mode(model), torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            out.append(model(x[i:i + batch_size]).argmax(dim=1))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=x.device)


# ----------------------------------------------------------------------------- FGSM / PGD
def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Fast gradient sign method: x + eps * sign(grad_x CE), clipped to [0, 1]."""
    eps = _check_eps(eps)
    with eval_mode(model):
        _, g, _ = _input_grad(model, x, y, "ce")
    return (x.detach() + eps * g.sign()).clamp(0.0, 1.0)


def _project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    n = _flat_norm(delta).clamp_min(1e-12)
    return delta * _per_sample(torch.clamp(eps / n, max=1.0), delta)


def _random_start(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None) -> torch.Tensor:
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return (2 * u - 1) * eps
    # uniform in the L2 ball: Gaussian direction, radius eps * U^(1/d)
    d = x[0].numel()
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    z = z / _per_sample(_flat_norm(z).clamp_min(1e-12), z)
    r = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device).pow(1.0 / d) * eps
    return z * _per_sample(r, z)


def default_step_size(eps: float, steps: int) -> float:
    """Madry et al.'s rule alpha = 2.5 eps / steps: the walk can cross the ball and back."""
    return 2.5 * eps / max(int(steps), 1)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    alpha: float | None = None,
    steps: int = 40,
    norm: Norm = "linf",
    loss: Loss = "ce",
    random_start: bool = True,
    restarts: int = 1,
    cancel: CancelToken | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected gradient descent (Madry) inside the ``norm`` ball of radius ``eps``.

    L-inf steps are ``alpha * sign(grad)``, L2 steps ``alpha * grad / ||grad||``; after
    each step the perturbation is projected onto the ball and the input clipped to
    [0, 1]. ``loss`` is cross-entropy or the CW margin max_{j!=y} f_j - f_y. With
    several ``restarts`` each example keeps a restart that misclassifies it, else the
    one with the highest loss. ``alpha`` defaults to 2.5 eps / steps.
    """
    eps = _check_eps(eps)
    if norm not in ("linf", "l2"):
        raise ConfigError(f"PGD norm must be 'linf' or 'l2', got {norm!r}")
    if loss not in ("ce", "margin"):
        raise ConfigError(f"PGD loss must be 'ce' or 'margin', got {loss!r}")
    steps = int(steps)
    restarts = int(restarts)
    if steps < 1 or restarts < 1:
        raise ConfigError(f"PGD needs steps >= 1 and restarts >= 1, got {steps} and {restarts}")
    alpha = default_step_size(eps, steps) if alpha is None else float(alpha)
    x0 = x.detach()
    best = x0.clone()
    best_loss = torch.full((x0.shape[0],), -float("inf"), dtype=x0.dtype, device=x0.device)
    best_fooled = torch.zeros(x0.shape[0], dtype=torch.bool, device=x0.device)
    with eval_mode(model):
        for _ in range(restarts):
            if random_start and eps > 0:
                xa = (x0 + _random_start(x0, eps, norm, generator)).clamp(0.0, 1.0)
            else:
                xa = x0.clone()
            for _ in range(steps):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                _, g, _ = _input_grad(model, xa, y, loss)
                if norm == "linf":
                    xa = xa + alpha * g.sign()
                else:
                    xa = xa + alpha * g / _per_sample(_flat_norm(g).clamp_min(1e-12), g)
                xa = (x0 + _project(xa - x0, eps, norm)).clamp(0.0, 1.0)
            with torch.no_grad():
                logits = model(xa)
                cur_loss = _attack_loss(logits, y, loss)
                fooled = logits.argmax(dim=1) != y
            # a fooling restart beats any non-fooling one; among equals the higher loss wins
            take = (fooled & ~best_fooled) | ((fooled == best_fooled) & (cur_loss > best_loss))
            best[take] = xa[take]
            best_loss[take] = cur_loss[take]
            best_fooled |= fooled
    return best
