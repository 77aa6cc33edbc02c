"""Minimal perturbations: batched DeepFool and the universal perturbation built on it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.levelset import project_to_level_set
from levelset_studio.core.robust.attacks.common import Norm, eval_mode, flat_norm, predict
from levelset_studio.core.robust.margin import decision_margin

DEEPFOOL_STEP_MARGIN = 1e-4  # DeepFool's "+1e-4" in |f'_l| + 1e-4: land just past the boundary


@dataclass(frozen=True)
class DeepFoolResult:
    """Minimal L2 perturbations; ``fooled`` is verified by re-classifying ``x_adv``."""

    x_adv: torch.Tensor  # (N, ...) in [0, 1]
    perturbation: torch.Tensor  # r = x_adv - x
    norms: torch.Tensor  # ||r||_2, (N,)
    fooled: torch.Tensor  # (N,) bool: model(x_adv) != model(x)
    iterations: torch.Tensor  # (N,) Newton steps taken per example
    original: torch.Tensor  # (N,) class predicted at x (the class attacked)
    adversarial: torch.Tensor  # (N,) class predicted at x_adv


class _NearestBoundary:
    """DeepFool's level function for ``project_to_level_set(indexed=True)``.

    At x (rows ``idx``), with k0 the class predicted at the clean input, it forms
    f'_k = f_k - f_k0 and w_k = grad f'_k for the candidate classes k, picks
    l = argmin |f'_k| / ||w_k|| (the nearest linearized boundary) and returns f'_l,
    whose gradient is w_l. Newton's step onto the level DEEPFOOL_STEP_MARGIN is then
    exactly DeepFool's (|f'_l| + 1e-4) w_l / ||w_l||^2. Rows whose label already
    changed are reported as on the level, so the projection stops them: DeepFool
    stops on label change.
    """

    def __init__(self, model: nn.Module, candidates: torch.Tensor, level: float):
        self.model = model
        self.candidates = candidates  # (N, K), column 0 = class at the clean input
        self.level = level
        self.iterations = torch.zeros(candidates.shape[0], dtype=torch.long, device=candidates.device)

    def __call__(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        cand = self.candidates[idx]
        k0 = cand[:, 0]
        f0 = logits.gather(1, k0[:, None]).squeeze(1)
        fooled = logits.argmax(dim=1) != k0
        if not (torch.is_grad_enabled() and x.requires_grad):  # final residual only
            value = decision_margin(logits, k0)
            return torch.where(fooled, torch.full_like(value, self.level), value)

        def grad(v: torch.Tensor) -> torch.Tensor:
            (g,) = torch.autograd.grad(v.sum(), x, retain_graph=True, allow_unused=True)
            return torch.zeros_like(x) if g is None else g

        g0 = grad(f0)
        dist = []
        for j in range(1, cand.shape[1]):
            fj = logits.gather(1, cand[:, j : j + 1]).squeeze(1)
            gj = grad(fj)
            w = (gj - g0).flatten(1).norm(dim=1)
            dist.append((fj - f0).detach().abs() / w.clamp_min(1e-12))
        best = torch.stack(dist, dim=1).argmin(dim=1) + 1
        fl = logits.gather(1, cand.gather(1, best[:, None])).squeeze(1)
        value = fl - f0
        self.iterations[idx[~fooled]] += 1
        # fooled rows: exactly the level (zero residual); the 0 * x term keeps a graph to x
        # for a model with no gradient path to its input (masked): zero steps, not a crash
        return torch.where(fooled, self.level + 0.0 * value, value) + 0.0 * x.flatten(1)[:, 0]


def deepfool(
    model: nn.Module,
    x: torch.Tensor,
    num_classes: int | None = None,
    max_iter: int = 50,
    overshoot: float = 0.02,
    candidates: int | None = None,
) -> DeepFoolResult:
    """Batched DeepFool (L2): the smallest step across the nearest class boundary.

    DeepFool is Newton projection onto the nearest boundary, so it runs on
    ``core.levelset.project_to_level_set`` (one implementation of the projection):
    each step costs one forward pass and one backward pass per candidate class for
    the whole batch. The total perturbation r is overshot by (1 + ``overshoot``) at
    the end, as in the paper, and the result is re-classified: ``fooled`` is only
    true where the label really changed (if clipping to [0, 1] undid the overshoot,
    the un-overshot point, which crossed, is returned). ``candidates`` limits the
    classes considered to the top-k of the clean logits (the authors' speed-up);
    ``num_classes`` defaults to the model's output size.
    """
    if max_iter < 1:
        raise ConfigError(f"DeepFool max_iter must be >= 1, got {max_iter}")
    if not (0 <= overshoot <= 1):
        raise ConfigError(f"DeepFool overshoot must be in [0, 1], got {overshoot:g}")
    x0 = x.detach()
    with eval_mode(model):
        with torch.no_grad():
            logits0 = model(x0)
        c = int(num_classes or logits0.shape[1])
        if logits0.shape[1] != c:
            raise ConfigError(f"model returns {logits0.shape[1]} classes, expected num_classes={c}")
        k = c if candidates is None else max(2, min(int(candidates), c))
        cand = logits0.argsort(dim=1, descending=True)[:, :k]
        fn = _NearestBoundary(model, cand, DEEPFOOL_STEP_MARGIN)
        proj = project_to_level_set(
            fn, x0, DEEPFOOL_STEP_MARGIN, max_iters=int(max_iter), tol=1e-7, bounds=(0.0, 1.0), clamp=True, indexed=True
        )
        crossed = proj.points
        x_adv = (x0 + (1.0 + overshoot) * (crossed - x0)).clamp(0.0, 1.0)
        k0 = cand[:, 0]
        with torch.no_grad():
            pred = model(x_adv).argmax(dim=1)
            lost = pred == k0
            if bool(lost.any()):  # overshoot clipped back across: keep the point that crossed
                x_adv[lost] = crossed[lost]
                pred[lost] = model(crossed[lost]).argmax(dim=1)
    r = x_adv - x0
    return DeepFoolResult(
        x_adv=x_adv,
        perturbation=r,
        norms=flat_norm(r),
        fooled=pred != k0,
        iterations=fn.iterations,
        original=k0,
        adversarial=pred,
    )


# ----------------------------------------------------------------------------- universal
def _project_ball(v: torch.Tensor, xi: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return v.clamp(-xi, xi)
    n = float(v.norm())
    return v * min(1.0, xi / n) if n > 0 else v


def fooling_rate(model: nn.Module, x: torch.Tensor, v: torch.Tensor) -> float:
    """Fraction of inputs whose predicted class changes when ``v`` is added."""
    if x.shape[0] == 0:
        return 0.0
    return float((predict(model, x) != predict(model, (x + v).clamp(0.0, 1.0))).float().mean())


def universal_perturbation(
    model: nn.Module,
    x: torch.Tensor,
    xi: float,
    norm: Norm = "linf",
    delta: float = 0.2,
    max_passes: int = 10,
    max_iter: int = 50,
    overshoot: float = 0.02,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """One perturbation v (shape of one input) that fools most of ``x`` (Moosavi-Dezfooli 2017).

    Pass over the data; for each input that x + v does not fool yet, DeepFool finds
    the minimal extra step r and v <- Proj_{||v|| <= xi}(v + r). Stop when the fooling
    rate reaches 1 - ``delta`` or after ``max_passes`` passes over the data.
    """
    if norm not in ("linf", "l2"):
        raise ConfigError(f"universal perturbation norm must be 'linf' or 'l2', got {norm!r}")
    xi = float(xi)
    if not math.isfinite(xi) or xi < 0:
        raise ConfigError(f"xi must be a finite radius >= 0, got {xi:g}")
    if not (0 <= delta < 1):
        raise ConfigError(f"delta must be in [0, 1), got {delta:g}")
    x0 = x.detach()
    v = torch.zeros_like(x0[0])
    clean = predict(model, x0)
    for _ in range(int(max_passes)):
        if fooling_rate(model, x0, v) >= 1.0 - delta:
            break
        order = torch.randperm(x0.shape[0])
        for i in order.tolist():
            if cancel is not None:
                cancel.raise_if_cancelled()
            xi_v = (x0[i : i + 1] + v).clamp(0.0, 1.0)
            if int(predict(model, xi_v)[0]) != int(clean[i]):
                continue
            res = deepfool(model, xi_v, max_iter=max_iter, overshoot=overshoot)
            if bool(res.fooled[0]):
                v = _project_ball(v + res.perturbation[0], xi, norm)
    return v
