"""Sampling the decision boundary near given inputs (docs/method.md §5, the CNLS sampler).

For each input x with label y, the boundary of its class is the zero level set of the
margin function F_y (``core.robust.margin``). The CNLS authors find one sample near x by

1. starting uniformly in the eps-ball around x,
2. taking sign-gradient steps that drive F_y towards the other side of zero,
3. keeping the rows that crossed F_y = 0, and
4. refining the crossing on the segment from x to the crossed point (regula falsi),

then dropping samples with |F_y| >= tol (0.1). Every sample lies on the segment, so
within eps of its input in the chosen norm. An optional Newton polish
(``core.levelset.project_to_level_set``, the one projection of the project) moves the
samples onto F_y = 0 exactly, for drawing.

The same function serves margin training (with the sample network of
``core.levelset``), the boundary points the Robustness tab draws, and the analysis code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.levelset import project_to_level_set
from levelset_studio.core.robust.margin import decision_margin, margin_function_indexed

Model = Callable[[torch.Tensor], torch.Tensor]
NORMS: tuple[str, ...] = ("linf", "l2")
BOUNDARY_TOL = 0.1  # the authors' threshold on |F_y| for keeping a sample


@dataclass(frozen=True)
class BoundarySamples:
    """Samples near the decision boundary, at most one per input row."""

    points: torch.Tensor  # (M, ...) detached, inside [0, 1]
    source: torch.Tensor  # (M,) int64: the row of the input each sample belongs to
    residual: torch.Tensor  # (M,) F_y(points)
    found: torch.Tensor  # (N,) bool: rows that have a sample
    start_margin: torch.Tensor  # (N,) F_y(x) of the inputs (negative: correctly classified)

    @property
    def count(self) -> int:
        return int(self.source.numel())

    @property
    def fraction(self) -> float:
        return float(self.found.float().mean()) if self.found.numel() else 0.0


def _per_row(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def _margin(model: Model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return decision_margin(model(x), y)


def _margin_and_grad(model: Model, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.enable_grad():
        z = x.detach().requires_grad_(True)
        f = decision_margin(model(z), y)
        (g,) = torch.autograd.grad(f.sum(), z)
    return f.detach(), g.detach()


def project_to_ball(z: torch.Tensor, center: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Closest point of the eps-ball around ``center`` (and of the box [0, 1])."""
    d = z - center
    if norm == "linf":
        d = d.clamp(-eps, eps)
    else:
        n = d.flatten(1).norm(dim=1).clamp_min(1e-12)
        d = d * _per_row(torch.clamp(eps / n, max=1.0), d)
    return (center + d).clamp(0.0, 1.0)


def uniform_in_ball(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Points drawn uniformly in the eps-ball around each row of ``x`` (then clipped to [0, 1])."""
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return (x + (2.0 * u - 1.0) * eps).clamp(0.0, 1.0)
    g = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    g = g / _per_row(g.flatten(1).norm(dim=1).clamp_min(1e-12), g)
    dim = x[0].numel()
    r = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device).pow(1.0 / dim) * eps
    return (x + g * _per_row(r, g)).clamp(0.0, 1.0)


def _regula_falsi(
    model: Model, x: torch.Tensor, y: torch.Tensor, b: torch.Tensor, fa: torch.Tensor, fb: torch.Tensor, iters: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Root of F_y on the segments x -> b (F changes sign on each), Illinois regula falsi.

    Returns the best point found on each segment and its F_y.
    """
    ta = torch.zeros_like(fa)
    tb = torch.ones_like(fb)
    best_t = torch.where(fa.abs() < fb.abs(), ta, tb)
    best_f = torch.where(fa.abs() < fb.abs(), fa, fb)
    # Illinois: when the same end is replaced twice in a row, halve the other end's value
    last = torch.zeros_like(fa, dtype=torch.int8)
    for _ in range(iters):
        denom = fb - fa
        t = torch.where(denom.abs() > 1e-12, (ta * fb - tb * fa) / denom, (ta + tb) / 2)
        t = t.clamp(0.0, 1.0)
        pts = x + _per_row(t, x) * (b - x)
        fc = _margin(model, pts, y)
        better = fc.abs() < best_f.abs()
        best_t = torch.where(better, t, best_t)
        best_f = torch.where(better, fc, best_f)
        same_as_a = torch.sign(fc) == torch.sign(fa)
        # replace the end on the same side as fc; halve the other end's value if it stayed twice
        ta = torch.where(same_as_a, t, ta)
        fa_new = torch.where(same_as_a, fc, fa)
        tb = torch.where(same_as_a, tb, t)
        fb_new = torch.where(same_as_a, fb, fc)
        fb_new = torch.where(same_as_a & (last == 1), fb_new / 2, fb_new)
        fa_new = torch.where(~same_as_a & (last == -1), fa_new / 2, fa_new)
        last = torch.where(same_as_a, torch.ones_like(last), -torch.ones_like(last))
        fa, fb = fa_new, fb_new
    pts = x + _per_row(best_t, x) * (b - x)
    return pts, best_f


def sample_decision_boundary(
    model: Model,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    steps: int = 10,
    alpha: float | None = None,
    norm: str = "linf",
    tol: float = BOUNDARY_TOL,
    refine_iters: int = 10,
    newton_iters: int = 0,
    generator: torch.Generator | None = None,
) -> BoundarySamples:
    """One decision-boundary sample near each row of ``x`` (inputs in [0, 1], labels ``y``).

    Rows whose class boundary is not crossed within ``steps`` sign-gradient steps inside
    the eps-ball get no sample (``found`` is False). For a misclassified row the search
    runs the other way (towards its true class), so the sample is the boundary it must
    cross to become correct. ``alpha`` defaults to 2.5 eps / steps (Madry's rule).
    ``newton_iters`` > 0 polishes the samples onto F_y = 0 with the shared Newton
    projection (they may then leave the segment slightly).
    """
    if norm not in NORMS:
        raise ConfigError(f"norm: {norm!r} is not one of {', '.join(NORMS)}")
    if not eps > 0 or (norm == "linf" and eps > 1.0):
        raise ConfigError(f"eps: {eps!r} must be positive (and at most 1 in L-inf)")
    x = x.detach()
    y = y.detach().long()
    n = x.shape[0]
    step = 2.5 * eps / max(steps, 1) if alpha is None else float(alpha)
    f0 = _margin(model, x, y)
    s = torch.where(f0 > 0, 1.0, -1.0).to(x.dtype)  # +1: misclassified (start on the wrong side)
    z = uniform_in_ball(x, eps, norm, generator)
    end = torch.zeros_like(x)
    f_end = torch.zeros(n, dtype=x.dtype, device=x.device)
    found = torch.zeros(n, dtype=torch.bool, device=x.device)
    active = torch.arange(n, device=x.device)
    for it in range(steps + 1):
        if active.numel() == 0:
            break
        za, ya = z[active], y[active]
        if it < steps:
            fa, ga = _margin_and_grad(model, za, ya)
        else:
            fa, ga = _margin(model, za, ya), None
        crossed = s[active] * fa <= 0
        if bool(crossed.any()):
            rows = active[crossed]
            end[rows] = za[crossed]
            f_end[rows] = fa[crossed]
            found[rows] = True
        if ga is None:
            break
        keep = ~crossed
        active, za, ga = active[keep], za[keep], ga[keep]
        direction = -_per_row(s[active], ga)  # move F_y towards the other side of zero
        if norm == "linf":
            za = za + direction * step * ga.sign()
        else:
            gn = _per_row(ga.flatten(1).norm(dim=1).clamp_min(1e-12), ga)
            za = za + direction * step * ga / gn
        z[active] = project_to_ball(za, x[active], eps, norm)
    rows = found.nonzero().squeeze(1)
    if rows.numel():
        pts, res = _regula_falsi(model, x[rows], y[rows], end[rows], f0[rows], f_end[rows], refine_iters)
    else:
        pts, res = x[:0].clone(), f0[:0].clone()
    if newton_iters > 0 and rows.numel():
        proj = project_to_level_set(
            margin_function_indexed(model, y[rows]),
            pts,
            0.0,
            max_iters=newton_iters,
            tol=1e-5,
            bounds=(0.0, 1.0),
            clamp=True,
            indexed=True,
        )
        better = proj.residual.abs() < res.abs()
        pts = torch.where(_per_row(better, pts), proj.points, pts)
        res = torch.where(better, proj.residual, res)
    good = res.abs() < tol
    found[rows[~good]] = False
    return BoundarySamples(
        points=pts[good].detach(), source=rows[good], residual=res[good].detach(), found=found, start_margin=f0
    )


def boundary_distance(x: torch.Tensor, points: torch.Tensor, norm: str = "linf") -> torch.Tensor:
    """Distance of each sample to its input in ``norm`` (rows paired)."""
    d = (points - x).flatten(1)
    return d.abs().amax(dim=1) if norm == "linf" else d.norm(dim=1)
