"""What every attack shares: eval mode, radius checks, per-example norms, input gradients.

Inputs live in [0, 1] with any shape (N, ...); a model maps them to logits (N, C).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.robust.config import Loss, Norm
from levelset_studio.core.robust.margin import decision_margin

__all__ = [
    "Loss",
    "Norm",
    "attack_loss",
    "check_l2_eps",
    "check_linf_eps",
    "eval_mode",
    "flat_norm",
    "input_grad",
    "per_sample",
    "predict",
]


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode (batch norm / dropout frozen) and restore its mode."""
    was_training = bool(getattr(model, "training", False))
    _set_mode(model, False)
    try:
        yield model
    finally:
        if was_training:
            _set_mode(model, True)


def _set_mode(model: nn.Module, training: bool) -> None:
    # a torch.export program's module refuses train()/eval(): it is frozen in eval already
    fn = getattr(model, "train", None)
    if fn is None:
        return
    with contextlib.suppress(NotImplementedError, RuntimeError):
        fn(training)


def check_linf_eps(eps: float, name: str = "eps") -> float:
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0 or eps > 1:
        raise ConfigError(f"{name} must be in [0, 1] (inputs live in [0, 1]), got {eps:g}")
    return eps


def check_l2_eps(eps: float, x: torch.Tensor, name: str = "eps") -> float:
    """An L2 radius: finite, >= 0 and at most the diameter sqrt(d) of the [0, 1]^d box."""
    eps = float(eps)
    d = int(x[0].numel()) if x.dim() > 0 and x.shape[0] else 1
    if not math.isfinite(eps) or eps < 0 or eps > math.sqrt(d):
        raise ConfigError(
            f"L2 {name} must be in [0, sqrt(d) = {math.sqrt(d):.3g}] for inputs in [0, 1]^{d}, got {eps:g}"
        )
    return eps


def per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def flat_norm(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1)


def attack_loss(logits: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-example loss the attacker maximizes: cross-entropy or the CW margin F_y."""
    if loss == "ce":
        return F.cross_entropy(logits, y, reduction="none")
    if loss == "margin":
        return decision_margin(logits, y)
    raise ConfigError(f"attack loss must be 'ce' or 'margin', got {loss!r}")


def input_grad(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-example loss, its input gradient, logits) at ``x``; no parameter gradients."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        logits = model(xg)
        per = attack_loss(logits, y, loss)
        # allow_unused: a model whose output has no gradient path to x (gradient masking
        # by a non-differentiable layer) gets a zero gradient, not a crash
        (g,) = torch.autograd.grad(per.sum(), xg, allow_unused=True) if per.requires_grad else (None,)
    g = torch.zeros_like(xg) if g is None else g
    return per.detach(), g.detach(), logits.detach()


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Predicted classes of ``x`` in eval mode, in batches."""
    out = []
    with eval_mode(model), torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            out.append(model(x[i : i + batch_size]).argmax(dim=1))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=x.device)
