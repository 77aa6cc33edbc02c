"""Robustness evaluation: clean and robust accuracy, DeepFool statistics, warnings.

``evaluate_robustness`` runs a list of attacks at a list of radii on n test inputs and
returns a ``RobustnessReport`` (clean accuracy, robust accuracy per attack and eps,
DeepFool's median ||r||_2 and rho_adv = mean ||r||_2 / ||x||_2, accuracy-vs-eps
curves) and warns when the numbers smell of gradient masking (docs/method.md §5: evaluate
with a strong ensemble, not only the attack a model was trained against):

- a black-box attack (Square) or AutoAttack far below white-box PGD at the same eps;
- PGD accuracy rising with more steps;
- robust accuracy rising with eps for the same attack.

``iter_evaluate_robustness`` is the same job as a generator of ``Progress`` events
ending in ``Finished(report)``, with a ``CancelToken`` checked between (and inside)
attacks, so the GUI can run it in a worker thread and the CLI under a progress bar.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError, DatasetError, ModelError
from levelset_studio.core.events import CancelToken, Finished, Progress
from levelset_studio.core.robust.attacks import (
    ATTACKS,
    attack_spec,
    autoattack,
    check_attack_eps,
    deepfool,
    eval_mode,
    pgd,
    predict,
    run_attack,
)

# Gradient-masking thresholds (fractions of the evaluated inputs).
BLACKBOX_GAP = 0.02  # Square may not beat white-box PGD by more than this
ENSEMBLE_GAP = 0.05  # AutoAttack is expected to be somewhat stronger than PGD; far stronger is a warning
STEPS_RISE = 0.01  # PGD with 4x the steps must not be more than this above PGD with fewer
EPS_RISE = 0.01  # robust accuracy may not rise with eps by more than noise

DEEPFOOL_MIN_FOOLED = 0.5  # DeepFool crosses almost every boundary of a differentiable model

DEFAULT_ATTACKS = ("fgsm", "pgd", "pgd-margin", "deepfool")


@dataclass(frozen=True)
class AttackResult:
    """Robust accuracy of one attack at one radius (fraction of the n inputs)."""

    attack: str
    norm: str
    eps: float
    robust_accuracy: float
    n: int
    seconds: float
    components: tuple[str, ...] = ()  # AutoAttack: what ran


@dataclass(frozen=True)
class DeepFoolSummary:
    """DeepFool over the correctly classified inputs (norms over those it fooled)."""

    median_l2: float  # median ||r||_2, input units
    rho_adv: float  # mean ||r||_2 / ||x||_2 (DeepFool paper's robustness figure)
    fooled_fraction: float  # of the correctly classified inputs
    n_correct: int
    mean_iterations: float
    seconds: float


@dataclass(frozen=True)
class RobustnessReport:
    n: int
    clean_accuracy: float
    results: tuple[AttackResult, ...]
    deepfool: DeepFoolSummary | None
    warnings: tuple[str, ...]
    steps: int  # PGD steps used
    seconds: float
    checks: dict[str, float] = field(default_factory=dict)  # extra numbers behind the warnings

    def robust_accuracy(self, attack: str, eps: float) -> float:
        for r in self.results:
            if r.attack == attack and math.isclose(r.eps, eps, rel_tol=1e-9, abs_tol=1e-12):
                return r.robust_accuracy
        raise KeyError(f"no result for {attack} at eps {eps:g}")

    @property
    def attacks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.attack for r in self.results))

    def curve(self, attack: str) -> tuple[np.ndarray, np.ndarray]:
        """Robust accuracy against eps for ``attack`` (eps 0 = clean accuracy)."""
        pts = sorted((r.eps, r.robust_accuracy) for r in self.results if r.attack == attack)
        if not pts or pts[0][0] > 0:
            pts = [(0.0, self.clean_accuracy), *pts]
        arr = np.asarray(pts, dtype=float)
        return arr[:, 0], arr[:, 1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "clean_accuracy": self.clean_accuracy,
            "pgd_steps": self.steps,
            "results": [
                {
                    "attack": r.attack,
                    "norm": r.norm,
                    "eps": r.eps,
                    "robust_accuracy": r.robust_accuracy,
                    "n": r.n,
                    "seconds": r.seconds,
                    **({"components": list(r.components)} if r.components else {}),
                }
                for r in self.results
            ],
            "curves": {
                a: {"eps": self.curve(a)[0].tolist(), "robust_accuracy": self.curve(a)[1].tolist()}
                for a in self.attacks
            },
            "deepfool": None
            if self.deepfool is None
            else {
                "median_l2": self.deepfool.median_l2,
                "rho_adv": self.deepfool.rho_adv,
                "fooled_fraction": self.deepfool.fooled_fraction,
                "n_correct": self.deepfool.n_correct,
                "mean_iterations": self.deepfool.mean_iterations,
                "seconds": self.deepfool.seconds,
            },
            "warnings": list(self.warnings),
            "checks": dict(self.checks),
            "seconds": self.seconds,
        }

    def format(self) -> str:
        """A plain-text table: accuracies in percent of the n inputs, eps in input units."""
        lines = [f"clean accuracy: {100 * self.clean_accuracy:.2f}% of n={self.n} test inputs (inputs in [0, 1])"]
        eps_all = sorted({r.eps for r in self.results})
        if self.results:
            head = f"{'attack':<16}{'norm':<6}" + "".join(f"{'eps ' + format(e, 'g'):>12}" for e in eps_all)
            lines += ["robust accuracy (%) per attack and radius eps:", head]
            for a in self.attacks:
                rs = {r.eps: r for r in self.results if r.attack == a}
                norm = next(iter(rs.values())).norm
                cells = "".join(f"{100 * rs[e].robust_accuracy:>12.2f}" if e in rs else f"{'-':>12}" for e in eps_all)
                lines.append(f"{a:<16}{'L-inf' if norm == 'linf' else 'L2':<6}{cells}")
            comps = {c for r in self.results for c in r.components}
            if comps:
                lines.append("AutoAttack ran: " + "; ".join(sorted(comps)))
            lines.append(f"PGD: {self.steps} steps, step size 2.5 eps / steps")
        if self.deepfool is not None:
            d = self.deepfool
            lines.append(
                f"DeepFool (L2, over the {d.n_correct} correctly classified inputs): median ||r||_2 = "
                f"{d.median_l2:.4g}, rho_adv = mean ||r||_2/||x||_2 = {d.rho_adv:.4g}, "
                f"fooled {100 * d.fooled_fraction:.1f}%, {d.mean_iterations:.2f} steps on average"
            )
        for w in self.warnings:
            lines.append(f"WARNING: {w}")
        return "\n".join(lines)


def _check_data(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    if x.shape[0] != y.shape[0]:
        raise DatasetError(f"{x.shape[0]} inputs but {y.shape[0]} labels")
    if x.shape[0] == 0:
        raise DatasetError("no inputs to evaluate")
    if not bool(torch.isfinite(x).all()):
        raise DatasetError("inputs contain NaN or infinite values")
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise DatasetError(f"inputs must lie in [0, 1], found [{float(x.min()):.3g}, {float(x.max()):.3g}]")
    try:
        with eval_mode(model), torch.no_grad():
            out = model(x[:2])
    except Exception as exc:  # noqa: BLE001 - a model that cannot take these inputs
        raise ModelError(
            f"the model cannot take inputs of shape {tuple(x.shape[1:])}: {str(exc).splitlines()[0]}"
        ) from None
    if out.dim() != 2 or out.shape[0] != min(2, x.shape[0]):
        raise ModelError(f"the model returns shape {tuple(out.shape)}, expected (N, classes) logits")
    c = int(out.shape[1])
    if int(y.max()) >= c or int(y.min()) < 0:
        raise ModelError(f"labels go up to {int(y.max())} but the model has {c} outputs")
    return c


def robust_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str,
    eps: float,
    *,
    steps: int = 40,
    restarts: int = 1,
    seed: int = 0,
    batch_size: int = 1000,
    cancel: CancelToken | None = None,
) -> float:
    """Fraction of ``x`` classified correctly and not changed by ``attack`` within ``eps``."""
    _check_data(model, x, y)
    check_attack_eps(attack, eps, x)
    robust = 0
    for i in range(0, x.shape[0], batch_size):
        _, r = run_attack(
            attack,
            model,
            x[i : i + batch_size],
            y[i : i + batch_size],
            eps,
            steps=steps,
            restarts=restarts,
            seed=seed,
            cancel=cancel,
        )
        robust += int(r.sum())
    return robust / x.shape[0]


@dataclass(frozen=True)
class _DeepFoolRun:
    correct: torch.Tensor  # (N,) classified correctly
    fooled: torch.Tensor  # (N,) DeepFool crossed the boundary (False for incorrect inputs)
    norms: torch.Tensor  # (N,) ||r||_2 (inf where not fooled)
    x_norms: torch.Tensor  # (N,) ||x||_2
    iterations: torch.Tensor  # (N,)


def _run_deepfool(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, cancel: CancelToken | None
) -> _DeepFoolRun:
    """DeepFool once on the correctly classified inputs; reused for the summary and every radius."""
    n = x.shape[0]
    correct = torch.zeros(n, dtype=torch.bool)
    fooled = torch.zeros(n, dtype=torch.bool)
    norms = torch.full((n,), float("inf"))
    iters = torch.zeros(n)
    for i in range(0, n, batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        ok = (predict(model, xb) == yb).cpu()
        correct[i : i + len(yb)] = ok
        if not bool(ok.any()):
            continue
        rows = torch.nonzero(ok).flatten() + i
        res = deepfool(model, xb[ok.to(xb.device)])
        fooled[rows] = res.fooled.cpu()
        norms[rows] = torch.where(res.fooled, res.norms, torch.full_like(res.norms, float("inf"))).cpu().float()
        iters[rows] = res.iterations.cpu().float()
    return _DeepFoolRun(
        correct=correct,
        fooled=fooled,
        norms=norms,
        x_norms=x.detach().flatten(1).norm(dim=1).cpu().float(),
        iterations=iters,
    )


def _summarize(run: _DeepFoolRun, seconds: float) -> DeepFoolSummary:
    f = run.fooled
    nc = int(run.correct.sum())
    return DeepFoolSummary(
        median_l2=float(run.norms[f].median()) if bool(f.any()) else float("nan"),
        rho_adv=float((run.norms[f] / run.x_norms[f].clamp_min(1e-12)).mean()) if bool(f.any()) else float("nan"),
        fooled_fraction=float(f.sum()) / nc if nc else 0.0,
        n_correct=nc,
        mean_iterations=float(run.iterations[run.correct].mean()) if nc else 0.0,
        seconds=seconds,
    )


def deepfool_summary(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1000, cancel: CancelToken | None = None
) -> DeepFoolSummary:
    """DeepFool's median ||r||_2 and rho_adv over the correctly classified inputs it fooled."""
    t0 = time.perf_counter()
    return _summarize(_run_deepfool(model, x, y, batch_size, cancel), time.perf_counter() - t0)


def _masking_warnings(
    results: Sequence[AttackResult], steps_check: tuple[float, float, float, int, int] | None
) -> list[str]:
    out: list[str] = []
    by = {(r.attack, r.eps): r.robust_accuracy for r in results}
    for r in results:
        spec = ATTACKS[r.attack]
        if spec.kind not in ("black-box", "ensemble"):
            continue
        whitebox = [by[(a, r.eps)] for a in ("pgd", "pgd-margin") if (a, r.eps) in by and ATTACKS[a].norm == spec.norm]
        whitebox += [
            by[(a, r.eps)] for a in ("pgd-l2", "pgd-l2-margin") if (a, r.eps) in by and ATTACKS[a].norm == spec.norm
        ]
        if not whitebox:
            continue
        best_wb = min(whitebox)
        gap = BLACKBOX_GAP if spec.kind == "black-box" else ENSEMBLE_GAP
        if r.robust_accuracy < best_wb - gap:
            what = "black-box" if spec.kind == "black-box" else "ensemble"
            out.append(
                f"possible gradient masking: {spec.label} ({what}) leaves {100 * r.robust_accuracy:.1f}% robust at "
                f"eps {r.eps:g}, far below white-box PGD's {100 * best_wb:.1f}%; trust the lower number"
            )
    for a in dict.fromkeys(r.attack for r in results):
        pts = sorted((r.eps, r.robust_accuracy) for r in results if r.attack == a)
        for (e0, a0), (e1, a1) in itertools.pairwise(pts):
            if a1 > a0 + EPS_RISE:
                out.append(
                    f"possible gradient masking: {ATTACKS[a].label} robust accuracy rises with eps "
                    f"({100 * a0:.1f}% at {e0:g} -> {100 * a1:.1f}% at {e1:g})"
                )
    if steps_check is not None:
        eps, few_acc, many_acc, few, many = steps_check
        if many_acc > few_acc + STEPS_RISE:
            out.append(
                f"possible gradient masking: PGD accuracy rises with more steps at eps {eps:g} "
                f"({100 * few_acc:.1f}% with {few} steps -> {100 * many_acc:.1f}% with {many})"
            )
    return out


def iter_evaluate_robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attacks: Sequence[str] = DEFAULT_ATTACKS,
    eps_list: Sequence[float] = (0.1, 0.2, 0.3),
    n: int | None = 1000,
    *,
    eps_l2_list: Sequence[float] | None = None,
    steps: int = 40,
    restarts: int = 1,
    seed: int = 0,
    batch_size: int = 1000,
    check_steps: bool = True,
    cancel: CancelToken | None = None,
) -> Iterator[Progress | Finished]:
    """The evaluation as a job: yields Progress after each attack and radius, then Finished(report).

    L-inf attacks use ``eps_list`` (fractions of the input range, in [0, 1]); L2 attacks
    use ``eps_l2_list`` (default: the same numbers, as L2 radii). DeepFool is reported
    by its median ||r||_2 and rho_adv, and as robust accuracy at the L2 radii. The
    first ``n`` inputs are used. With ``check_steps`` PGD is also run with a quarter
    of the steps at the largest radius, for the "accuracy rises with steps" warning.
    """
    t0 = time.perf_counter()
    attacks = list(dict.fromkeys(attacks))
    if not attacks:
        raise ConfigError("no attacks to run")
    for a in attacks:
        attack_spec(a)
    if n is not None:
        if int(n) < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        x, y = x[: int(n)], y[: int(n)]
    _check_data(model, x, y)
    eps_linf = [float(e) for e in eps_list]
    eps_l2 = [float(e) for e in (eps_l2_list if eps_l2_list is not None else eps_list)]
    jobs: list[tuple[str, float]] = []
    for a in attacks:
        for e in eps_linf if ATTACKS[a].norm == "linf" else eps_l2:
            check_attack_eps(a, e, x)
            jobs.append((a, e))
    want_steps_check = check_steps and "pgd" in attacks and bool(eps_linf) and steps >= 8
    total = len(jobs) + (1 if "deepfool" in attacks else 0) + (1 if want_steps_check else 0)
    done = 0
    clean = float((predict(model, x) == y).float().mean())
    yield Progress(
        step=0,
        total=total,
        elapsed=time.perf_counter() - t0,
        metrics={"clean_accuracy": clean},
        message=f"clean accuracy {100 * clean:.2f}%",
    )

    df_summary: DeepFoolSummary | None = None
    df_run: _DeepFoolRun | None = None
    if "deepfool" in attacks:
        t1 = time.perf_counter()
        df_run = _run_deepfool(model, x, y, batch_size, cancel)
        df_summary = _summarize(df_run, time.perf_counter() - t1)
        done += 1
        yield Progress(
            step=done,
            total=total,
            elapsed=time.perf_counter() - t0,
            metrics={"median_l2": df_summary.median_l2, "rho_adv": df_summary.rho_adv},
            message=f"DeepFool median ||r||_2 {df_summary.median_l2:.4g}",
        )

    results: list[AttackResult] = []
    for a, e in jobs:
        if cancel is not None:
            cancel.raise_if_cancelled()
        t1 = time.perf_counter()
        robust = 0
        comps: tuple[str, ...] = ()
        for i in range(0, x.shape[0], batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            if ATTACKS[a].kind == "minimal":  # one DeepFool run serves every radius
                break
            if ATTACKS[a].kind == "ensemble":  # the full result names the components that ran
                res = autoattack(model, xb, yb, e, norm=ATTACKS[a].norm, seed=seed, cancel=cancel)
                r = res.robust
                comps = res.components + tuple(f"skipped {s}" for s in res.skipped)
            else:
                _, r = run_attack(a, model, xb, yb, e, steps=steps, restarts=restarts, seed=seed, cancel=cancel)
            robust += int(r.sum())
        if ATTACKS[a].kind == "minimal":
            assert df_run is not None  # computed above whenever "deepfool" is asked for
            robust = int((df_run.correct & ~(df_run.fooled & (df_run.norms <= e + 1e-7))).sum())
        acc = robust / x.shape[0]
        results.append(
            AttackResult(
                attack=a,
                norm=ATTACKS[a].norm,
                eps=e,
                robust_accuracy=acc,
                n=int(x.shape[0]),
                seconds=time.perf_counter() - t1,
                components=comps,
            )
        )
        done += 1
        yield Progress(
            step=done,
            total=total,
            elapsed=time.perf_counter() - t0,
            metrics={f"{a}@{e:g}": acc},
            message=f"{ATTACKS[a].label} eps {e:g}: {100 * acc:.2f}% robust",
        )

    checks: dict[str, float] = {}
    steps_check = None
    if want_steps_check:
        e = max(eps_linf)
        few = max(steps // 4, 2)
        gen = torch.Generator(device=x.device).manual_seed(seed)
        accs = []
        for s in (few, steps):
            robust = 0
            for i in range(0, x.shape[0], batch_size):
                xb, yb = x[i : i + batch_size], y[i : i + batch_size]
                gen.manual_seed(seed)
                xa = pgd(model, xb, yb, e, steps=s, restarts=restarts, cancel=cancel, generator=gen)
                robust += int(((predict(model, xb) == yb) & (predict(model, xa) == yb)).sum())
            accs.append(robust / x.shape[0])
        checks = {f"pgd_{few}_steps@{e:g}": accs[0], f"pgd_{steps}_steps@{e:g}": accs[1]}
        steps_check = (e, accs[0], accs[1], few, steps)
        done += 1
        yield Progress(
            step=done, total=total, elapsed=time.perf_counter() - t0, metrics=checks, message="PGD steps check"
        )

    warnings = _masking_warnings(results, steps_check)
    if df_summary is not None and df_summary.n_correct and df_summary.fooled_fraction < DEEPFOOL_MIN_FOOLED:
        warnings.append(
            f"possible gradient masking: DeepFool crossed the boundary for only "
            f"{100 * df_summary.fooled_fraction:.1f}% of the correctly classified inputs "
            f"(vanishing or uninformative input gradients)"
        )
    report = RobustnessReport(
        n=int(x.shape[0]),
        clean_accuracy=clean,
        results=tuple(results),
        deepfool=df_summary,
        warnings=tuple(warnings),
        steps=int(steps),
        seconds=time.perf_counter() - t0,
        checks=checks,
    )
    yield Finished(result=report, elapsed=report.seconds)


def evaluate_robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attacks: Sequence[str] = DEFAULT_ATTACKS,
    eps_list: Sequence[float] = (0.1, 0.2, 0.3),
    n: int | None = 1000,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    **options: Any,
) -> RobustnessReport:
    """Run ``iter_evaluate_robustness`` to the end; ``progress`` receives each Progress event."""
    report = None
    for ev in iter_evaluate_robustness(model, x, y, attacks, eps_list, n, cancel=cancel, **options):
        if isinstance(ev, Progress) and progress is not None:
            progress(ev)
        elif isinstance(ev, Finished):
            report = ev.result
    assert report is not None
    return report
