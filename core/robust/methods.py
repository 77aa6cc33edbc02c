"""Training methods as loss plug-ins (docs/method.md §5 and 7).

Each method is one function ``loss(batch) -> BatchLoss`` registered under its name in
``METHODS``; the one trainer (``core.robust.training``) calls it for every batch.
Adding a method is adding a function here and its name to ``METHOD_NAMES``.

- standard: cross-entropy.
- fgsm: "fast" adversarial training (Wong et al. 2020): one signed-gradient step of
  1.25 eps from a uniform random start, i.e. PGD with one step (the shared attack).
- pgd: Madry adversarial training on PGD examples (the shared attack,
  ``core.robust.attacks.pgd``).
- trades: CE(f(x), y) + beta KL(f(x) || f(x')), x' maximizing the KL in the eps-ball.
- levelset: the CNLS margin loss on decision-boundary samples related to the
  parameters by the sample network (``core.robust.boundary`` + ``core.levelset``).
- cure: CE + lambda ||grad l(x + z) - grad l(x)||_2^2 (finite-difference curvature;
  squared as in the CURE paper, so it fades smoothly where the loss is flat).
- roll: CE + lambda mean_j [||grad_x z_j||^2 + C relu(1 - |z_j|)] (MLP with ReLU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.levelset import sample_network
from levelset_studio.core.robust.boundary import project_to_ball, sample_decision_boundary
from levelset_studio.core.robust.config import METHOD_NAMES, Norm, TrainConfig
from levelset_studio.core.robust.margin import decision_margin, margin_function
from levelset_studio.core.robust.models import MLP, mlp_preactivation_grad_sqnorms


@dataclass
class Batch:
    """What a method sees of one training step."""

    model: nn.Module
    x: torch.Tensor  # inputs in [0, 1]
    y: torch.Tensor
    config: TrainConfig
    progress: float  # fraction of the planned training done, in [0, 1] (for ramps)
    eps: float = 0.0  # attack radius for this batch (config.eps, ramped up during the warm-up)


@dataclass
class BatchLoss:
    loss: torch.Tensor  # scalar, to back-propagate
    clean_logits: torch.Tensor  # logits of the clean batch (detached), for the training accuracy
    metrics: dict[str, float] = field(default_factory=dict)


MethodLoss = Callable[[Batch], BatchLoss]
METHODS: dict[str, MethodLoss] = {}


def register_method(name: str) -> Callable[[MethodLoss], MethodLoss]:
    def deco(fn: MethodLoss) -> MethodLoss:
        METHODS[name] = fn
        return fn

    return deco


def pgd_alpha(config: TrainConfig, eps: float) -> float:
    """The PGD step: the configured one, or Madry's 2.5 eps / steps."""
    return config.pgd_alpha if config.pgd_alpha > 0 else 2.5 * eps / config.pgd_steps


def _adversarial(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int, norm: Norm
) -> torch.Tensor:
    """Adversarial examples from the project's one PGD (random start in the eps-ball)."""
    from levelset_studio.core.robust.attacks import pgd  # runs the model in eval mode and restores its mode

    return pgd(model, x, y, eps, alpha, steps, norm=norm, loss="ce", random_start=True).detach()


@register_method("standard")
def standard_loss(b: Batch) -> BatchLoss:
    logits = b.model(b.x)
    return BatchLoss(F.cross_entropy(logits, b.y), logits.detach())


@register_method("fgsm")
def fgsm_loss(b: Batch) -> BatchLoss:
    c = b.config
    if b.eps == 0:
        return standard_loss(b)
    with torch.no_grad():
        clean = b.model(b.x)
    x_adv = _adversarial(b.model, b.x, b.y, b.eps, 1.25 * b.eps, 1, c.norm)
    logits = b.model(x_adv)
    return BatchLoss(F.cross_entropy(logits, b.y), clean, {"adv_acc": float((logits.argmax(1) == b.y).float().mean())})


@register_method("pgd")
def pgd_loss(b: Batch) -> BatchLoss:
    c = b.config
    if b.eps == 0:
        return standard_loss(b)
    with torch.no_grad():
        clean = b.model(b.x)
    x_adv = _adversarial(b.model, b.x, b.y, b.eps, pgd_alpha(c, b.eps), c.pgd_steps, c.norm)
    logits = b.model(x_adv)
    return BatchLoss(F.cross_entropy(logits, b.y), clean, {"adv_acc": float((logits.argmax(1) == b.y).float().mean())})


def trades_adversary(
    model: nn.Module, x: torch.Tensor, eps: float, alpha: float, steps: int, norm: Norm
) -> torch.Tensor:
    """TRADES' inner maximization: x' in the eps-ball maximizing KL(f(x) || f(x')).

    Unlike PGD on a label loss, this needs no label; the authors start at x plus a tiny
    Gaussian (0.001) because the KL's gradient vanishes at x' = x.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            p_clean = F.softmax(model(x), dim=1)
        z = project_to_ball(x + 0.001 * torch.randn_like(x), x, eps, norm)
        for _ in range(steps):
            with torch.enable_grad():
                z = z.detach().requires_grad_(True)
                kl = F.kl_div(F.log_softmax(model(z), dim=1), p_clean, reduction="sum")
                (g,) = torch.autograd.grad(kl, z)
            if norm == "linf":
                z = z.detach() + alpha * g.sign()
            else:
                gn = g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (g.dim() - 1)))
                z = z.detach() + alpha * g / gn
            z = project_to_ball(z, x, eps, norm)
        return z.detach()
    finally:
        model.train(was_training)


@register_method("trades")
def trades_loss(b: Batch) -> BatchLoss:
    c = b.config
    if b.eps == 0:
        return standard_loss(b)
    x_adv = trades_adversary(b.model, b.x, b.eps, pgd_alpha(c, b.eps), c.pgd_steps, c.norm)
    logits = b.model(b.x)
    adv = b.model(x_adv)
    natural = F.cross_entropy(logits, b.y)
    robust = F.kl_div(F.log_softmax(adv, dim=1), F.softmax(logits, dim=1), reduction="batchmean")
    return BatchLoss(natural + c.trades_beta * robust, logits.detach(), {"kl": float(robust.detach())})


def levelset_signed_distance(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, search_eps: float, steps: int, norm: Norm
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Signed distance from each x to its class boundary, differentiable in the parameters.

    Positive for correctly classified x. Where the CNLS sampler found a boundary sample
    p, the distance is that to p(theta) (the sample network) - in L-inf along the
    coordinate k = argmax |grad F_y(p)| as in the authors' code. Rows without a sample
    (boundary farther than the search ball, or not crossed) use the first-order
    distance -F_y(x; theta) / ||grad_x F_y(x)||_* (dual norm, gradient detached), so
    every row has a training signal, also far from the boundary and at the start.

    Returns (signed distance (N,), correct (N,) bool, found (N,) bool, clean logits).
    """
    samples = sample_decision_boundary(model, x, y, search_eps, steps=steps, norm=norm)
    correct = samples.start_margin < 0
    # first-order distance for every row (replaced below where a sample exists)
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        logits = model(xr)
        f = decision_margin(logits, y)
        (g,) = torch.autograd.grad(f.sum(), xr, retain_graph=True)
    g = g.detach().flatten(1)
    dual = g.abs().sum(dim=1) if norm == "linf" else g.norm(dim=1)
    signed = -f / dual.clamp_min(1e-6)
    if samples.count:
        rows = samples.source
        sn = sample_network(margin_function(model, y[rows]), samples.points)
        delta = (sn.points - x[rows]).flatten(1)
        if norm == "linf":
            k = sn.normals.flatten(1).abs().argmax(dim=1, keepdim=True)
            dist = delta.gather(1, k).squeeze(1).abs()
        else:
            dist = delta.norm(dim=1)
        sign = torch.where(correct[rows], 1.0, -1.0).to(dist.dtype)
        signed = signed.index_put((rows,), sign * dist)
    return signed, correct, samples.found, logits.detach()


@register_method("levelset")
def levelset_loss(b: Batch) -> BatchLoss:
    """CNLS margin loss: w relu(eps_c - d) for correct x, relu(eps_w + d) for misclassified x."""
    c = b.config
    signed, correct, found, clean = levelset_signed_distance(
        b.model, b.x, b.y, c.levelset_eps_c, c.levelset_steps, c.norm
    )
    per = torch.where(correct, c.levelset_weight * F.relu(c.levelset_eps_c - signed), F.relu(c.levelset_eps_w - signed))
    return BatchLoss(
        per.mean(), clean, {"found": float(found.float().mean()), "margin": float(signed.detach().median())}
    )


def cure_h(config: TrainConfig, progress: float) -> float:
    """CURE's finite-difference step, ramped linearly from 0.1 (or h if smaller) to h."""
    start = min(0.1, config.cure_h)
    return start + (config.cure_h - start) * min(1.0, max(0.0, progress))


@register_method("cure")
def cure_loss(b: Batch) -> BatchLoss:
    c = b.config
    x = b.x.detach().requires_grad_(True)
    logits = b.model(x)
    ce = F.cross_entropy(logits, b.y, reduction="sum")
    (g,) = torch.autograd.grad(ce, x, create_graph=True)
    sgn = g.detach().sign()
    z = sgn / sgn.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (x.dim() - 1)))
    xz = (b.x + cure_h(c, b.progress) * z).detach().requires_grad_(True)
    ce_z = F.cross_entropy(b.model(xz), b.y, reduction="sum")
    (gz,) = torch.autograd.grad(ce_z, xz, create_graph=True)
    reg = (gz - g).flatten(1).pow(2).sum(dim=1).mean()  # squared, as in the CURE paper
    loss = ce / len(b.y) + c.cure_lambda * reg
    return BatchLoss(loss, logits.detach(), {"curvature": float(reg.detach())})


def check_method(model: nn.Module, config: TrainConfig) -> None:
    """Refuse a method/model pair that cannot train, before any work is done."""
    if config.method == "roll" and not isinstance(model, MLP):
        raise ConfigError("method roll: needs the mlp model (its regularizer reads the MLP's hidden layers)")


@register_method("roll")
def roll_loss(b: Batch) -> BatchLoss:
    c = b.config
    check_method(b.model, c)
    if not isinstance(b.model, MLP):  # check_method has refused other models already
        raise ConfigError("roll trains the mlp model only")
    logits, layers = mlp_preactivation_grad_sqnorms(b.model, b.x, c.roll_projections)
    grad_sq = torch.cat([g for _, g in layers], dim=1)  # (N, neurons)
    near = torch.cat([F.relu(1.0 - z.abs()) for z, _ in layers], dim=1)
    reg = (grad_sq + c.roll_c * near).mean()
    loss = F.cross_entropy(logits, b.y) + c.roll_lambda * reg
    return BatchLoss(loss, logits.detach(), {"roll_reg": float(reg.detach())})


assert set(METHODS) == set(METHOD_NAMES)
