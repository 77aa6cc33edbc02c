"""Sampling level sets and relating samples to the parameters (docs/method.md §1-2).

One implementation serves the surface sampler (F: R^3 -> R), the decision-boundary
sampler (the margin function of a classifier, F: R^d -> R) and DeepFool.

``project_to_level_set`` is the generalized Newton projection

    p <- p - (F(p) - c) * grad F(p) / max(||grad F(p)||^2, 1e-6)

batched over any input shape (N, ...), with a convergence mask: points whose
|F - c| is still above ``tol`` after ``max_iters`` steps, or that left the domain,
are reported as not converged rather than silently kept.

``sample_network`` is the CNLS "sample network" p(theta): at theta0 it equals the
sample, and its derivative with respect to theta is the normal motion of the level
set there, so any loss on it moves the level set. First derivatives only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

LevelFunction = Callable[[torch.Tensor], torch.Tensor]
"""Maps a batch (N, ...) to one value per sample, shape (N,)."""

IndexedLevelFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A level function that also takes the rows' original indices (a margin per row's own label)."""

GRAD_EPS = 1e-6


@dataclass(frozen=True)
class ProjectionStats:
    total: int
    converged: int
    mean_abs: float  # mean |F - c| over all samples after projection
    max_abs: float
    iterations: int  # Newton steps taken (the batch stops when all converged)

    @property
    def fraction(self) -> float:
        return self.converged / self.total if self.total else 0.0


@dataclass(frozen=True)
class Projection:
    points: torch.Tensor  # (N, ...) detached
    residual: torch.Tensor  # (N,) F(points) - level, detached
    converged: torch.Tensor  # (N,) bool
    stats: ProjectionStats

    def kept(self) -> torch.Tensor:
        """The converged points only (the sampler's output)."""
        return self.points[self.converged]


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def _value_and_grad(fn, x: torch.Tensor, idx: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        f = fn(x) if idx is None else fn(x, idx)
        if f.dim() != 1 or f.shape[0] != x.shape[0]:
            raise ValueError(f"level function must return shape ({x.shape[0]},), got {tuple(f.shape)}")
        (g,) = torch.autograd.grad(f.sum(), x)
    return f.detach(), g.detach()


def newton_step(f: torch.Tensor, g: torch.Tensor, max_step: float | None = None) -> torch.Tensor:
    """The generalized Newton (pseudo-inverse) step -f g / ||g||^2 for residuals f."""
    gn2 = g.flatten(1).pow(2).sum(dim=1).clamp_min(GRAD_EPS)
    step = -_per_sample(f / gn2, g) * g
    if max_step is not None:
        norm = step.flatten(1).norm(dim=1).clamp_min(1e-12)
        step = step * _per_sample(torch.clamp(max_step / norm, max=1.0), step)
    return step


def project_to_level_set(
    fn: Callable[..., torch.Tensor],  # a LevelFunction, or an IndexedLevelFunction with indexed=True
    points: torch.Tensor,
    level: float | torch.Tensor = 0.0,
    *,
    max_iters: int = 10,
    tol: float = 1e-5,
    max_step: float | None = None,
    bounds: tuple[float, float] | None = None,
    clamp: bool = False,
    indexed: bool = False,
) -> Projection:
    """Move ``points`` onto the level set {F = level} by batched Newton steps.

    Only the points not yet converged are evaluated at each step, so a batch that is
    mostly converged costs little. ``bounds`` is the domain box: with ``clamp`` points
    are clipped into it (image inputs in [0, 1]); without, points that leave it stop
    and count as not converged. ``max_step`` caps the length of one step (helps where
    ||grad F|| is tiny far from the data). With ``indexed`` the function is called as
    ``fn(x_subset, rows)`` with the original row indices of the subset, for functions
    that differ per row (a classifier's margin for each row's own label).
    """
    x = points.detach().clone()
    n = x.shape[0]
    lvl = torch.as_tensor(level, dtype=x.dtype, device=x.device)
    lvl = lvl.expand(n).clone() if lvl.dim() == 0 else lvl.detach().reshape(n)
    residual = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    inside = torch.ones(n, dtype=torch.bool, device=x.device)
    active = torch.arange(n, device=x.device)
    steps = 0
    for it in range(max_iters + 1):
        if active.numel() == 0:
            break
        xa = x[active]
        if it == max_iters:  # final residuals only
            with torch.no_grad():
                fa = fn(xa, active) if indexed else fn(xa)
                residual[active] = fa.detach() - lvl[active]
            break
        f, g = _value_and_grad(fn, xa, active if indexed else None)
        f = f - lvl[active]
        residual[active] = f
        moving = f.abs() > tol
        if not bool(moving.any()):
            break
        active = active[moving]
        xa = xa[moving] + newton_step(f[moving], g[moving], max_step)
        if bounds is not None:
            if clamp:
                xa = xa.clamp(bounds[0], bounds[1])
            else:
                ok = ((xa >= bounds[0]) & (xa <= bounds[1])).flatten(1).all(dim=1)
                inside[active[~ok]] = False
                x[active[~ok]] = xa[~ok]
                active, xa = active[ok], xa[ok]
        x[active] = xa
        steps = it + 1
    converged = (residual.abs() <= tol) & inside
    ra = residual.abs()
    finite = torch.isfinite(ra)
    stats = ProjectionStats(
        total=n,
        converged=int(converged.sum()),
        mean_abs=float(ra[finite].mean()) if bool(finite.any()) else float("inf"),
        max_abs=float(ra[finite].max()) if bool(finite.any()) else float("inf"),
        iterations=steps,
    )
    return Projection(points=x, residual=residual, converged=converged, stats=stats)


@dataclass(frozen=True)
class SampleNetwork:
    points: torch.Tensor  # p(theta): equals the samples, differentiable in theta
    levels: torch.Tensor  # F(p; theta0), detached: the level each sample lies on
    normals: torch.Tensor  # grad_x F(p; theta0), detached


def sample_network(fn: LevelFunction, samples: torch.Tensor) -> SampleNetwork:
    """p(theta) = p - (F(p; theta) - F(p; theta0)) g / ||g||^2 with g = grad_x F(p; theta0).

    One forward pass: the values keep their graph to the parameters while the input
    gradient is taken (and detached), so a loss on ``points`` back-propagates into
    theta through F(p; theta) only. No second-order derivatives are needed.
    """
    with torch.enable_grad():
        x = samples.detach().requires_grad_(True)
        f = fn(x)
        (g,) = torch.autograd.grad(f.sum(), x, retain_graph=True)
    g = g.detach()
    gn2 = g.flatten(1).pow(2).sum(dim=1).clamp_min(GRAD_EPS)
    delta = (f - f.detach()) / gn2
    p = x.detach() - _per_sample(delta, g) * g
    return SampleNetwork(points=p, levels=f.detach(), normals=g)
