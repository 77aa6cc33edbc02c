"""AutoAttack composed from torchattacks' components with the reference settings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.robust.attacks.common import check_l2_eps, check_linf_eps, eval_mode

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
    eps = check_linf_eps(eps) if norm == "Linf" else check_l2_eps(eps, x)
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
