"""Gradient attacks: FGSM and Madry's PGD (L-inf or L2, cross-entropy or margin loss)."""

from __future__ import annotations

import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.robust.attacks.common import (
    Loss,
    Norm,
    attack_loss,
    check_l2_eps,
    check_linf_eps,
    eval_mode,
    flat_norm,
    input_grad,
    per_sample,
)


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Fast gradient sign method: x + eps * sign(grad_x CE), clipped to [0, 1]."""
    eps = check_linf_eps(eps)
    with eval_mode(model):
        _, g, _ = input_grad(model, x, y, "ce")
    return (x.detach() + eps * g.sign()).clamp(0.0, 1.0)


def _project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    n = flat_norm(delta).clamp_min(1e-12)
    return delta * per_sample(torch.clamp(eps / n, max=1.0), delta)


def _random_start(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None) -> torch.Tensor:
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return (2 * u - 1) * eps
    # uniform in the L2 ball: Gaussian direction, radius eps * U^(1/d)
    d = x[0].numel()
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    z = z / per_sample(flat_norm(z).clamp_min(1e-12), z)
    r = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device).pow(1.0 / d) * eps
    return z * per_sample(r, z)


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
    if norm not in ("linf", "l2"):
        raise ConfigError(f"PGD norm must be 'linf' or 'l2', got {norm!r}")
    if loss not in ("ce", "margin"):
        raise ConfigError(f"PGD loss must be 'ce' or 'margin', got {loss!r}")
    eps = check_linf_eps(eps) if norm == "linf" else check_l2_eps(eps, x)
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
                _, g, _ = input_grad(model, xa, y, loss)
                if norm == "linf":
                    xa = xa + alpha * g.sign()
                else:
                    xa = xa + alpha * g / per_sample(flat_norm(g).clamp_min(1e-12), g)
                xa = (x0 + _project(xa - x0, eps, norm)).clamp(0.0, 1.0)
            if restarts == 1:  # nothing to choose between: skip the extra forward pass
                return xa
            with torch.no_grad():
                logits = model(xa)
                cur_loss = attack_loss(logits, y, loss)
                fooled = logits.argmax(dim=1) != y
            # a fooling restart beats any non-fooling one; among equals the higher loss wins
            take = (fooled & ~best_fooled) | ((fooled == best_fooled) & (cur_loss > best_loss))
            best[take] = xa[take]
            best_loss[take] = cur_loss[take]
            best_fooled |= fooled
    return best
