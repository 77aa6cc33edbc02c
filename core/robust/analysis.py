"""Data for the Robustness tab's pictures (docs/method.md §8). Each function returns plain
arrays; the GUI only draws them.

- ``decision_region_grid``: predicted class and confidence on a grid over a 2D box.
- ``boundary_points``: points on the decision boundary of a 2D model (the CNLS boundary
  sampler of ``core.robust.boundary`` with the shared Newton polish).
- ``cross_section``: a plane through an input spanned by its adversarial direction
  and a random orthogonal direction, with predicted class and loss surface.
- ``hessian_top_eigenvalues``: the curvature profile, Lanczos on Hessian-vector
  products of the input Hessian of the loss.
- ``linear_region_radius``: ROLL's L2 radius of the linear region of a ReLU network.
- ``activation_pattern_map``: linear regions of a 2D ReLU network as integer ids.

Grid convention (all 2D maps): arrays are (resolution, resolution) with row i at
y = ys[i] and column j at x = xs[j] (an image with its origin at the lower left).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from levelset_studio.core.errors import ConfigError, ModelError
from levelset_studio.core.robust.attacks import deepfool, eval_mode
from levelset_studio.core.robust.boundary import sample_decision_boundary
from levelset_studio.core.robust.margin import decision_margin
from levelset_studio.core.robust.models import hidden_preactivations

Bounds = tuple[tuple[float, float], tuple[float, float]]


def _check_resolution(resolution: int) -> int:
    r = int(resolution)
    if r < 2 or r > 4096:
        raise ConfigError(f"resolution must be in [2, 4096], got {resolution}")
    return r


def grid_axes(bounds: Bounds = ((0.0, 1.0), (0.0, 1.0)), resolution: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """The x and y coordinates of a ``resolution`` x ``resolution`` grid over ``bounds``."""
    r = _check_resolution(resolution)
    (x0, x1), (y0, y1) = bounds
    if not (x1 > x0 and y1 > y0):
        raise ConfigError(f"bounds must be ((xmin, xmax), (ymin, ymax)) with min < max, got {bounds}")
    return np.linspace(x0, x1, r), np.linspace(y0, y1, r)


def _grid_points(xs: np.ndarray, ys: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    gx, gy = np.meshgrid(xs, ys)  # (r, r): row i <-> ys[i]
    return torch.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=dtype)


def _dtype(model: nn.Module) -> torch.dtype:
    p = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return p.dtype if p is not None else torch.float32


def _check_2d(model: nn.Module) -> None:
    try:
        with eval_mode(model), torch.no_grad():
            out = model(torch.full((1, 2), 0.5, dtype=_dtype(model)))
    except Exception as exc:  # noqa: BLE001 - turned into a typed error
        raise ModelError(f"this picture needs a model of 2D inputs: {str(exc).splitlines()[0]}") from None
    if out.dim() != 2:
        raise ModelError(f"the model returns shape {tuple(out.shape)}, expected (N, classes) logits")


# ----------------------------------------------------------------------------- regions
@dataclass(frozen=True)
class RegionGrid:
    xs: np.ndarray  # (r,)
    ys: np.ndarray  # (r,)
    predicted: np.ndarray  # (r, r) int64 class
    confidence: np.ndarray  # (r, r) float: softmax probability of the predicted class
    margin: np.ndarray  # (r, r) float: top logit minus runner-up (0 on the boundary)


def decision_region_grid(
    model: nn.Module, bounds: Bounds = ((0.0, 1.0), (0.0, 1.0)), resolution: int = 200, batch_size: int = 65536
) -> RegionGrid:
    """Predicted class, confidence and logit margin of a 2D classifier on a grid."""
    _check_2d(model)
    xs, ys = grid_axes(bounds, resolution)
    pts = _grid_points(xs, ys, _dtype(model))
    pred, conf, marg = [], [], []
    with eval_mode(model), torch.no_grad():
        for i in range(0, pts.shape[0], batch_size):
            logits = model(pts[i : i + batch_size])
            p = logits.softmax(dim=1)
            c, k = p.max(dim=1)
            top2 = logits.topk(min(2, logits.shape[1]), dim=1).values
            pred.append(k)
            conf.append(c)
            marg.append(top2[:, 0] - top2[:, -1])
    r = len(xs)
    return RegionGrid(
        xs=xs,
        ys=ys,
        predicted=torch.cat(pred).numpy().reshape(r, r),
        confidence=torch.cat(conf).numpy().reshape(r, r),
        margin=torch.cat(marg).numpy().reshape(r, r),
    )


@dataclass(frozen=True)
class BoundaryPoints:
    points: np.ndarray  # (M, 2) on the decision boundary
    classes: np.ndarray  # (M,) the class on the side each search started from
    residual: np.ndarray  # (M,) margin F_y at the point (~0)


def boundary_points(
    model: nn.Module,
    bounds: Bounds = ((0.0, 1.0), (0.0, 1.0)),
    n: int = 1000,
    eps: float = 0.25,
    seed: int = 0,
    tol: float = 1e-3,
) -> BoundaryPoints:
    """Points on the decision boundary of a 2D model, spread over ``bounds``.

    ``n`` uniform start points, each labelled with its predicted class, go through the
    CNLS boundary sampler (``core.robust.boundary.sample_decision_boundary``: signed
    gradient steps within ``eps`` until the margin changes sign, regula falsi on the
    segment, then the shared Newton projection onto F_y = 0). Only points with
    |F_y| < ``tol`` are kept, so every returned point is on the boundary.
    """
    _check_2d(model)
    if int(n) < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    (x0, x1), (y0, y1) = bounds
    lo = torch.tensor([max(x0, 0.0), max(y0, 0.0)])
    hi = torch.tensor([min(x1, 1.0), min(y1, 1.0)])
    if not bool((hi > lo).all()):
        raise ConfigError(f"bounds {bounds} do not overlap the input box [0, 1]^2")
    g = torch.Generator().manual_seed(int(seed))
    start = (lo + (hi - lo) * torch.rand(int(n), 2, generator=g)).to(_dtype(model))
    with eval_mode(model):
        with torch.no_grad():
            y = model(start).argmax(dim=1)
        s = sample_decision_boundary(
            model, start, y, eps, steps=20, norm="l2", tol=tol, refine_iters=20, newton_iters=10, generator=g
        )
    return BoundaryPoints(points=s.points.numpy(), classes=y[s.source].numpy(), residual=s.residual.numpy())


# ----------------------------------------------------------------------------- cross-section
@dataclass(frozen=True)
class CrossSection:
    u: np.ndarray  # (r,) coordinate along the adversarial direction (L2 input units)
    v: np.ndarray  # (r,) coordinate along the random direction
    predicted: np.ndarray  # (r, r) int64; row i <-> v[i], column j <-> u[j]
    loss: np.ndarray  # (r, r) cross-entropy of the label y
    label_logit: np.ndarray  # (r, r) logit of the label y
    direction_adv: np.ndarray  # unit vector, shape of one input
    direction_rand: np.ndarray  # unit vector orthogonal to direction_adv
    inside: np.ndarray  # (r, r) bool: the plane point lies in the input box [0, 1]^d
    boundary_distance: float  # DeepFool's ||r||_2 when it gave the direction, else nan


def cross_section(
    model: nn.Module,
    x: torch.Tensor,
    y: int | torch.Tensor,
    direction_adv: torch.Tensor | None = None,
    direction_rand: torch.Tensor | None = None,
    extent: float | None = None,
    resolution: int = 101,
    seed: int = 0,
    batch_size: int = 8192,
) -> CrossSection:
    """The plane x + u d_adv + v d_rand, u, v in [-extent, extent] (docs/method.md §8).

    ``direction_adv`` defaults to DeepFool's minimal perturbation (the direction to the
    nearest boundary; the loss gradient if DeepFool fails); ``direction_rand`` to a
    seeded Gaussian direction made orthogonal to it. ``extent`` defaults to 2.5 times
    DeepFool's ||r||_2 so that the boundary is in view. Plane points are not clipped
    to [0, 1] (clipping would bend the plane); ``inside`` marks those in the box.
    """
    r = _check_resolution(resolution)
    x0 = x.detach()
    if x0.dim() >= 1 and x0.shape[0] == 1 and x0.dim() > 1:
        x0 = x0[0]
    label = torch.as_tensor(y).reshape(1).long()
    dist = float("nan")
    with eval_mode(model):
        if direction_adv is None:
            res = deepfool(model, x0[None])
            d = res.perturbation[0]
            if bool(res.fooled[0]) and float(d.norm()) > 0:
                dist = float(res.norms[0])
            else:  # no boundary found: fall back to the loss gradient
                with torch.enable_grad():
                    z = x0[None].clone().requires_grad_(True)
                    (d,) = torch.autograd.grad(F.cross_entropy(model(z), label), z)
                d = d[0]
        else:
            d = direction_adv.detach().reshape(x0.shape).to(x0.dtype)
        if float(d.norm()) == 0:
            raise ModelError("no adversarial direction: the loss gradient is zero at this input")
        d_adv = d / d.norm()
        if direction_rand is None:
            g = torch.Generator().manual_seed(int(seed))
            q = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
        else:
            q = direction_rand.detach().reshape(x0.shape).to(x0.dtype)
        q = q - (q * d_adv).sum() * d_adv  # Gram-Schmidt
        if float(q.norm()) < 1e-8:
            raise ConfigError("the random direction is parallel to the adversarial one")
        d_rand = q / q.norm()
        ext = float(extent) if extent is not None else (2.5 * dist if np.isfinite(dist) else 1.0)
        if not np.isfinite(ext) or ext <= 0:
            raise ConfigError(f"extent must be a positive number, got {extent}")
        u = np.linspace(-ext, ext, r)
        v = np.linspace(-ext, ext, r)
        uu, vv = np.meshgrid(u, v)
        uu_t = torch.tensor(uu.ravel(), dtype=x0.dtype)
        vv_t = torch.tensor(vv.ravel(), dtype=x0.dtype)
        pred, loss, logit, inside = [], [], [], []
        shape = (-1,) + (1,) * x0.dim()
        with torch.no_grad():
            for i in range(0, uu_t.numel(), batch_size):
                pts = (
                    x0[None]
                    + uu_t[i : i + batch_size].view(shape) * d_adv
                    + vv_t[i : i + batch_size].view(shape) * d_rand
                )
                out = model(pts)
                lab = label.expand(out.shape[0])
                pred.append(out.argmax(dim=1))
                loss.append(F.cross_entropy(out, lab, reduction="none"))
                logit.append(out.gather(1, lab[:, None]).squeeze(1))
                inside.append(((pts >= 0) & (pts <= 1)).flatten(1).all(dim=1))
    return CrossSection(
        u=u,
        v=v,
        predicted=torch.cat(pred).numpy().reshape(r, r),
        loss=torch.cat(loss).numpy().reshape(r, r),
        label_logit=torch.cat(logit).numpy().reshape(r, r),
        direction_adv=d_adv.numpy(),
        direction_rand=d_rand.numpy(),
        inside=torch.cat(inside).numpy().reshape(r, r),
        boundary_distance=dist,
    )


# ----------------------------------------------------------------------------- curvature
def hessian_vector_product(model: nn.Module, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H v for the input Hessian H of the cross-entropy loss at one input (double back-prop)."""
    with torch.enable_grad():
        z = x.detach().clone().requires_grad_(True)
        loss = F.cross_entropy(model(z), y)
        (g,) = torch.autograd.grad(loss, z, create_graph=True)
        if not g.requires_grad:  # piecewise-linear logits and a constant loss curvature path
            return torch.zeros_like(z)
        (hv,) = torch.autograd.grad((g * v).sum(), z, allow_unused=True)
    return torch.zeros_like(z) if hv is None else hv.detach()


def hessian_top_eigenvalues(
    model: nn.Module, x: torch.Tensor, y: int | torch.Tensor, k: int = 10, iters: int = 30, seed: int = 0
) -> np.ndarray:
    """The ``k`` largest-magnitude eigenvalues of the input Hessian of the loss at ``x``.

    Lanczos with full re-orthogonalization on Hessian-vector products (double
    back-propagation; no d x d matrix is formed), ``iters`` steps (at most d), then the
    Ritz values of the tridiagonal matrix, sorted by decreasing magnitude. The extreme
    eigenvalues converge first, so a few dozen steps suffice for the top ones; with
    ``iters`` = d the result is exact up to rounding. ``x`` is one input (with or
    without a batch dimension of 1).
    """
    x0 = x.detach()
    if x0.dim() > 1 and x0.shape[0] == 1:
        x0 = x0[0]
    xb = x0[None].to(torch.float64) if x0.dtype == torch.float64 else x0[None]
    label = torch.as_tensor(y).reshape(1).long()
    d = x0.numel()
    m = max(1, min(int(iters), d))
    k = max(1, min(int(k), m))
    g = torch.Generator().manual_seed(int(seed))
    q = torch.randn(d, generator=g, dtype=torch.float64)
    q = q / q.norm()
    Q = [q]
    alphas: list[float] = []
    betas: list[float] = []
    with eval_mode(model):
        for j in range(m):
            w = (
                hessian_vector_product(model, xb, label, Q[j].to(xb.dtype).reshape(xb.shape))
                .reshape(-1)
                .to(torch.float64)
            )
            a = float(w @ Q[j])
            alphas.append(a)
            # full re-orthogonalization (twice is enough) keeps the Ritz values clean
            for _ in range(2):
                for qi in Q:
                    w = w - (w @ qi) * qi
            b = float(w.norm())
            if j == m - 1 or b < 1e-10:
                break
            betas.append(b)
            Q.append(w / b)
    t = np.diag(alphas) + np.diag(betas[: len(alphas) - 1], 1) + np.diag(betas[: len(alphas) - 1], -1)
    ritz = np.linalg.eigvalsh(t)
    order = np.argsort(-np.abs(ritz))
    return ritz[order][:k]


# ----------------------------------------------------------------------------- linear regions
def _relu_preactivations(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    bad = [
        type(m).__name__
        for m in model.modules()
        if isinstance(m, (nn.Tanh, nn.Softplus, nn.Sigmoid, nn.GELU, nn.ELU, nn.SiLU, nn.MaxPool2d, nn.MaxPool1d))
    ]
    if bad:
        raise ModelError(f"linear regions are defined for ReLU networks; this model has {bad[0]}")
    if not any(isinstance(m, nn.ReLU) for m in model.modules()):
        raise ModelError("linear regions are defined for ReLU networks; this model has no ReLU layer")
    _, zs = hidden_preactivations(model, x)
    return zs


def linear_region_radius(model: nn.Module, x: torch.Tensor, unit_chunk: int = 256) -> torch.Tensor:
    """ROLL's L2 radius of the linear region around each input (docs/method.md §7).

    min over hidden pre-activations z_j of |z_j(x)| / ||grad_x z_j(x)||_2: within the
    region every z_j is affine, so this is the distance to the nearest hyperplane where
    a ReLU switches, i.e. the largest L2 ball around x inside the region. The input
    gradients of all units come from batched vector-Jacobian products, ``unit_chunk``
    units at a time. Returns (N,).
    """
    x0 = x.detach()
    n = x0.shape[0]
    best = torch.full((n,), float("inf"), dtype=x0.dtype)
    with eval_mode(model), torch.enable_grad():
        z_in = x0.clone().requires_grad_(True)
        zs = _relu_preactivations(model, z_in)
        z = torch.cat(zs, dim=1)  # (N, K)
        kk = z.shape[1]
        for s in range(0, kk, unit_chunk):
            e = min(kk, s + unit_chunk)
            eye = torch.zeros(e - s, n, kk, dtype=z.dtype)
            eye[torch.arange(e - s), :, torch.arange(s, e)] = 1.0
            (jac,) = torch.autograd.grad(
                z, z_in, grad_outputs=eye, is_grads_batched=True, retain_graph=True, allow_unused=True
            )
            if jac is None:
                continue
            gnorm = jac.flatten(2).norm(dim=2).t()  # (N, chunk)
            ratio = z[:, s:e].detach().abs() / gnorm
            ratio = torch.where(gnorm > 0, ratio, torch.full_like(ratio, float("inf")))
            best = torch.minimum(best, ratio.min(dim=1).values)
    return best


def activation_pattern_map(
    model: nn.Module, bounds: Bounds = ((0.0, 1.0), (0.0, 1.0)), resolution: int = 200
) -> np.ndarray:
    """Linear regions of a 2D ReLU network: (r, r) int64 region ids, one per activation pattern.

    Ids are numbered 0..R-1 in order of first appearance along the grid (row-major), so
    that the same network and grid always give the same colours.
    """
    _check_2d(model)
    xs, ys = grid_axes(bounds, resolution)
    pts = _grid_points(xs, ys, _dtype(model))
    with eval_mode(model), torch.no_grad():
        zs = _relu_preactivations(model, pts)
    bits = (torch.cat(zs, dim=1) > 0).numpy()
    packed = np.packbits(bits, axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(first.size)
    r = len(xs)
    return rank[inverse.reshape(-1)].reshape(r, r).astype(np.int64)


def margin_at(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """F_y(x) = max_{j != y} f_j - f_y (negative where x is classified as y)."""
    with eval_mode(model), torch.no_grad():
        return decision_margin(model(x), y)
