"""Adversarial attacks in input space (docs/method.md §6).

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.levelset import project_to_level_set
from levelset_studio.core.robust.margin import decision_margin

Norm = Literal["linf", "l2"]
Loss = Literal["ce", "margin"]


# ----------------------------------------------------------------------------- helpers
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


def _check_eps(eps: float, name: str = "eps") -> float:
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0 or eps > 1:
        raise ConfigError(f"{name} must be in [0, 1] (inputs live in [0, 1]), got {eps:g}")
    return eps


def _check_l2(eps: float, x: torch.Tensor, name: str = "eps") -> float:
    """An L2 radius: finite, >= 0 and at most the diameter sqrt(d) of the [0, 1]^d box."""
    eps = float(eps)
    d = int(x[0].numel()) if x.dim() > 0 and x.shape[0] else 1
    if not math.isfinite(eps) or eps < 0 or eps > math.sqrt(d):
        raise ConfigError(
            f"L2 {name} must be in [0, sqrt(d) = {math.sqrt(d):.3g}] for inputs in [0, 1]^{d}, got {eps:g}"
        )
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


def _input_grad(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-example loss, its input gradient, logits) at ``x``; no parameter gradients."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        logits = model(xg)
        per = _attack_loss(logits, y, loss)
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
    if norm not in ("linf", "l2"):
        raise ConfigError(f"PGD norm must be 'linf' or 'l2', got {norm!r}")
    if loss not in ("ce", "margin"):
        raise ConfigError(f"PGD loss must be 'ce' or 'margin', got {loss!r}")
    eps = _check_eps(eps) if norm == "linf" else _check_l2(eps, x)
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
            if restarts == 1:  # nothing to choose between: skip the extra forward pass
                return xa
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


# ----------------------------------------------------------------------------- DeepFool
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
        norms=_flat_norm(r),
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


# ----------------------------------------------------------------------------- AutoAttack
AUTOATTACK_STEPS = 100  # reference APGD / APGD-T / FAB-T iterations
AUTOATTACK_TARGETS = 9  # reference number of target classes of APGD-T and FAB-T
SQUARE_QUERIES = 5000  # reference query budget of Square


class _Presented(nn.Module):
    """The classifier as torchattacks wants it: an nn.Module of (N, C, H, W) inputs.

    Inputs of other shapes travel as (N, 1, 1, d) and are reshaped back. The wrapped
    model is held outside the module tree, so torchattacks' own eval()/train() calls
    do not reach it (a torch.export program refuses them; ``eval_mode`` already set
    the mode), and a zero-size parameter tells torchattacks the device.
    """

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...], device: torch.device):
        super().__init__()
        self._inner = (model,)
        self.shape = shape
        self.device_anchor = nn.Parameter(torch.zeros(0, device=device), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._inner[0](x.reshape(x.shape[0], *self.shape))


@contextlib.contextmanager
def _frozen_parameters(model: nn.Module) -> Iterator[None]:
    """torchattacks' FAB calls .backward(): keep it from touching parameter gradients."""
    params = [p for p in model.parameters() if p.requires_grad] if hasattr(model, "parameters") else []
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@dataclass(frozen=True)
class AutoAttackResult:
    x_adv: torch.Tensor
    robust: torch.Tensor  # (N,) bool: correct on the clean input and after every component
    clean_correct: torch.Tensor  # (N,) bool
    components: tuple[str, ...]  # exactly what ran, with its settings
    robust_after: dict[str, float] = field(default_factory=dict)  # robust accuracy after each component
    skipped: tuple[str, ...] = ()  # components not run, with the reason

    @property
    def robust_accuracy(self) -> float:
        return float(self.robust.float().mean()) if self.robust.numel() else 0.0


def autoattack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    norm: str = "Linf",
    version: str = "standard",
    seed: int = 0,
    n_classes: int | None = None,
    components: tuple[str, ...] | None = None,
    steps: int = AUTOATTACK_STEPS,
    square_queries: int = SQUARE_QUERIES,
    batch_size: int = 500,
    cancel: CancelToken | None = None,
) -> AutoAttackResult:
    """Standard AutoAttack composed from torchattacks with the reference settings.

    APGD-CE (100 steps, 1 restart), APGD-T (DLR, 100 steps, 1 restart, 9 target
    classes), FAB-T (100 steps, 1 restart, 9 target classes) and Square (5000 queries,
    1 restart, p_init 0.8, no rescaled schedule), each run only on the inputs still
    robust, as the reference does. torchattacks' own ``AutoAttack`` runs 10 steps,
    which is why it is not used. With fewer than 10 classes the target count is
    C - 1; APGD-T's DLR loss needs at least 4 classes and is skipped (and listed in
    ``skipped``) below that. ``components`` selects a subset (e.g. ("square",));
    ``steps`` and ``square_queries`` exist for quick previews and tests: anything but
    the defaults is not AutoAttack, and the component names then say what ran.
    """
    import torchattacks  # a real dependency, imported late: it is slow to import

    norm = {"linf": "Linf", "l2": "L2"}.get(str(norm).lower(), norm)
    if norm not in ("Linf", "L2"):
        raise ConfigError(f"AutoAttack norm must be 'Linf' or 'L2', got {norm!r}")
    if version != "standard":
        raise ConfigError(f"only the 'standard' AutoAttack version is available, got {version!r}")
    eps = _check_eps(eps) if norm == "Linf" else _check_l2(eps, x)
    x0 = x.detach()
    shape = tuple(x0.shape[1:])
    net = _Presented(model, shape, x0.device)
    x4 = x0 if x0.dim() == 4 else x0.reshape(x0.shape[0], 1, 1, -1)
    with eval_mode(model), torch.no_grad():
        logits = model(x0[:1]) if x0.shape[0] else None
    c = int(n_classes or (logits.shape[1] if logits is not None else 2))
    targets = min(AUTOATTACK_TARGETS, c - 1)
    wanted = tuple(components) if components is not None else ("apgd-ce", "apgd-t", "fab-t", "square")
    unknown = [w for w in wanted if w not in ("apgd-ce", "apgd-t", "fab-t", "square")]
    if unknown:
        raise ConfigError(f"unknown AutoAttack component {unknown[0]!r} (apgd-ce, apgd-t, fab-t, square)")
    plan: list[tuple[str, Callable[[], Any]]] = []
    skipped: list[str] = []
    steps, square_queries = int(steps), int(square_queries)
    if steps < 1 or square_queries < 1:
        raise ConfigError(f"AutoAttack needs steps >= 1 and square_queries >= 1, got {steps} and {square_queries}")
    if "apgd-ce" in wanted:
        plan.append(
            (
                f"APGD-CE ({norm}, {steps} steps, 1 restart)",
                lambda: torchattacks.APGD(
                    net, norm=norm, eps=eps, steps=steps, n_restarts=1, seed=seed, loss="ce", rho=0.75
                ),
            )
        )
    if "apgd-t" in wanted:
        if c >= 4:

            def make_apgdt():
                a = torchattacks.APGDT(
                    net, norm=norm, eps=eps, steps=steps, n_restarts=1, seed=seed, rho=0.75, n_classes=c
                )
                a.n_target_classes = targets
                return a

            plan.append((f"APGD-T ({norm}, DLR, {steps} steps, 1 restart, {targets} target classes)", make_apgdt))
        else:
            skipped.append(f"APGD-T (its DLR loss needs >= 4 classes, the model has {c})")
    if "fab-t" in wanted and c >= 2:

        def make_fabt():
            a = torchattacks.FAB(
                net,
                norm=norm,
                eps=eps,
                steps=steps,
                n_restarts=1,
                seed=seed,
                multi_targeted=True,
                n_classes=c,
                alpha_max=0.1,
                eta=1.05,
                beta=0.9,
            )
            a.n_target_classes = targets
            return a

        plan.append((f"FAB-T ({norm}, {steps} steps, 1 restart, {targets} target classes)", make_fabt))
    if "square" in wanted:
        plan.append(
            (
                f"Square ({norm}, {square_queries} queries, 1 restart, p_init 0.8)",
                lambda: torchattacks.Square(
                    net,
                    norm=norm,
                    eps=eps,
                    n_queries=square_queries,
                    n_restarts=1,
                    p_init=0.8,
                    loss="margin",
                    resc_schedule=False,
                    seed=seed,
                ),
            )
        )
    x_adv = x4.clone()
    with eval_mode(model), _frozen_parameters(model):
        with torch.no_grad():
            clean = (
                torch.cat([net(x4[i : i + batch_size]).argmax(1) for i in range(0, x4.shape[0], batch_size)]) == y
                if x4.shape[0]
                else torch.zeros(0, dtype=torch.bool)
            )
        robust = clean.clone()
        ran: list[str] = []
        after: dict[str, float] = {}
        for name, make in plan:
            attack = make()
            todo = robust.nonzero().flatten()
            for i in range(0, todo.numel(), batch_size):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                rows = todo[i : i + batch_size]
                adv = attack(x4[rows], y[rows]).detach().clamp(0.0, 1.0)
                with torch.no_grad():
                    fooled = net(adv).argmax(1) != y[rows]
                x_adv[rows[fooled]] = adv[fooled]
                robust[rows[fooled]] = False
            ran.append(name)
            after[name] = float(robust.float().mean()) if robust.numel() else 0.0
    return AutoAttackResult(
        x_adv=x_adv.reshape(x0.shape),
        robust=robust,
        clean_correct=clean,
        components=tuple(ran),
        robust_after=after,
        skipped=tuple(skipped),
    )


# ----------------------------------------------------------------------------- registry
AttackKind = Literal["white-box", "black-box", "ensemble", "minimal"]


@dataclass(frozen=True)
class AttackSpec:
    """One named attack as the CLI, the evaluation and the GUI offer it."""

    name: str
    label: str
    norm: Norm
    kind: AttackKind  # black-box and ensemble results are the gradient-masking checks
    description: str


ATTACKS: dict[str, AttackSpec] = {
    s.name: s
    for s in (
        AttackSpec("fgsm", "FGSM", "linf", "white-box", "one signed-gradient step of size eps (cross-entropy)"),
        AttackSpec("pgd", "PGD", "linf", "white-box", "PGD L-inf, cross-entropy, random start (Madry)"),
        AttackSpec(
            "pgd-margin", "PGD (margin)", "linf", "white-box", "PGD L-inf on the CW margin max_{j!=y} f_j - f_y"
        ),
        AttackSpec("pgd-l2", "PGD L2", "l2", "white-box", "PGD L2, cross-entropy, normalized-gradient steps"),
        AttackSpec("pgd-l2-margin", "PGD L2 (margin)", "l2", "white-box", "PGD L2 on the CW margin"),
        AttackSpec(
            "deepfool", "DeepFool", "l2", "minimal", "minimal L2 perturbation (counts as robust when ||r||_2 > eps)"
        ),
        AttackSpec("apgd-ce", "APGD-CE", "linf", "white-box", "torchattacks APGD, cross-entropy, 100 steps"),
        AttackSpec(
            "square", "Square", "linf", "black-box", "torchattacks Square, 5000 queries (score-based, no gradients)"
        ),
        AttackSpec(
            "autoattack", "AutoAttack", "linf", "ensemble", "APGD-CE, APGD-T, FAB-T, Square (reference settings)"
        ),
        AttackSpec("autoattack-l2", "AutoAttack L2", "l2", "ensemble", "AutoAttack in L2 (reference settings)"),
    )
}


def attack_spec(name: str) -> AttackSpec:
    """The spec of attack ``name``; ConfigError naming the choices otherwise."""
    try:
        return ATTACKS[name]
    except KeyError:
        raise ConfigError(f"unknown attack {name!r} (choose from {', '.join(ATTACKS)})") from None


def check_attack_eps(name: str, eps: float, x: torch.Tensor) -> float:
    """Validate ``eps`` for attack ``name``: L-inf radii in [0, 1], L2 radii in [0, sqrt(d)]."""
    spec = attack_spec(name)
    return _check_eps(eps) if spec.norm == "linf" else _check_l2(eps, x)


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
    x[i] is classified correctly and the attack did not change that within eps.

    For DeepFool (unbounded, minimal) an input is robust at eps when DeepFool fails or
    needs ||r||_2 > eps; x_adv is then the clean input.
    """
    spec = attack_spec(name)
    eps = check_attack_eps(name, eps, x)
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    if name == "deepfool":
        res = deepfool(model, x)
        within = res.fooled & (res.norms <= eps + 1e-7)
        x_adv = torch.where(_per_sample(within, x), res.x_adv, x.detach())
    elif name in ("autoattack", "autoattack-l2", "apgd-ce", "square"):
        comps = {"apgd-ce": ("apgd-ce",), "square": ("square",)}.get(name)
        res_aa = autoattack(model, x, y, eps, norm=spec.norm, seed=seed, components=comps, cancel=cancel)
        return res_aa.x_adv, res_aa.robust
    elif name == "fgsm":
        x_adv = fgsm(model, x, y, eps)
    else:
        loss: Loss = "margin" if name.endswith("margin") else "ce"
        x_adv = pgd(
            model, x, y, eps, steps=steps, norm=spec.norm, loss=loss, restarts=restarts, cancel=cancel, generator=gen
        )
    robust = (predict(model, x) == y) & (predict(model, x_adv) == y)
    return x_adv, robust
