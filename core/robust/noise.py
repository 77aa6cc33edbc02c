"""Robustness to random noise, against the adversarial kind (docs/method.md §6).

For a nearly flat decision boundary in d dimensions, the distance to it along a random
direction is about sqrt(d) times the distance along the worst (adversarial) direction;
where the boundary curves, the random distance shrinks. This module measures both on the
same inputs:

- ``random_direction_distances``: for each input and each of K random unit directions u,
  the smallest |t| at which the predicted class of x + t u differs from that of x (the
  line through x, both signs of t: half of all rays point away from a flat boundary). The
  inputs are *not* clamped to [0, 1] (the question is about the boundary's geometry, not
  about valid images). t is found by doubling from a small start, then by bisection until
  the bracket is within ``rel_tol`` of its upper end; every step evaluates all (input,
  direction) pairs that are still open in one batched pass.
- ``noise_robustness``: the median over directions, then over inputs, next to DeepFool's
  median minimal L2 perturbation on the same inputs, their ratio, sqrt(d) for reference,
  and the accuracy under Gaussian noise N(0, sigma^2 I) at given sigmas (noisy inputs are
  clamped to [0, 1] there: that is accuracy on valid, noisy inputs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError, DatasetError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.robust.attacks import deepfool, eval_mode, predict

DEFAULT_DIRECTIONS = 20
DEFAULT_SIGMAS = (0.1, 0.3, 0.5)
REL_TOL = 0.01  # bisection stops when (hi - lo) <= REL_TOL * hi


@dataclass(frozen=True)
class DirectionDistances:
    """Distances to the boundary along random directions, for N inputs and K directions each."""

    directions: torch.Tensor  # (N, K, *input shape), unit L2 norm, signed towards the nearer crossing
    distances: torch.Tensor  # (N, K) L2 distance to the first class change; inf where none within max_radius
    predicted: torch.Tensor  # (N,) class at the clean input

    @property
    def median_per_input(self) -> torch.Tensor:
        """The median over directions of each input (inf when most directions never cross)."""
        return self.distances.median(dim=1).values

    def hits(self, x: torch.Tensor) -> torch.Tensor:
        """Where each direction meets the boundary: x + t u, (N, K, *shape) (inf rows stay inf)."""
        t = self.distances.reshape(*self.distances.shape, *([1] * (self.directions.dim() - 2)))
        return x.detach()[:, None] + t * self.directions


def random_unit_directions(
    n: int, k: int, shape: Sequence[int], generator: torch.Generator | None = None, dtype=torch.float32
) -> torch.Tensor:
    """(n, k, *shape) directions drawn uniformly from the unit sphere (normalized Gaussians)."""
    z = torch.randn((n, k, *shape), generator=generator, dtype=dtype)
    flat = z.reshape(n, k, -1)
    return (flat / flat.norm(dim=2, keepdim=True).clamp_min(1e-12)).reshape(z.shape)


def _changed(model: nn.Module, x: torch.Tensor, pred: torch.Tensor, batch_size: int) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            out.append(model(x[i : i + batch_size]).argmax(dim=1) != pred[i : i + batch_size])
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.bool, device=x.device)


def random_direction_distances(
    model: nn.Module,
    x: torch.Tensor,
    directions: int = DEFAULT_DIRECTIONS,
    *,
    max_radius: float | None = None,
    start: float | None = None,
    rel_tol: float = REL_TOL,
    seed: int = 0,
    batch_size: int = 8192,
    cancel: CancelToken | None = None,
) -> DirectionDistances:
    """L2 distance from each input to its decision boundary along ``directions`` random unit
    directions (doubling, then bisection to ``rel_tol``; inputs unclamped; batched).

    ``start`` is the first radius tried (default 1e-3 sqrt(d)), ``max_radius`` where the
    doubling gives up (default 1e3 sqrt(d)); a direction that never changes the class
    within it gets distance inf.
    """
    if x.dim() < 2 or x.shape[0] == 0:
        raise DatasetError("random-noise robustness needs a non-empty batch of inputs (N, ...)")
    k = int(directions)
    if k < 1:
        raise ConfigError(f"directions must be >= 1, got {directions}")
    if not (0 < rel_tol < 1):
        raise ConfigError(f"rel_tol must be in (0, 1), got {rel_tol:g}")
    if not bool(torch.isfinite(x).all()):
        raise DatasetError("the inputs contain NaN or infinite values")
    n, shape = x.shape[0], tuple(x.shape[1:])
    d = int(math.prod(shape))
    lo_start = float(start) if start is not None else 1e-3 * math.sqrt(d)
    top = float(max_radius) if max_radius is not None else 1e3 * math.sqrt(d)
    if not (0 < lo_start < top):
        raise ConfigError(f"need 0 < start < max_radius, got {lo_start:g} and {top:g}")
    g = torch.Generator().manual_seed(int(seed))
    u = random_unit_directions(n, k, shape, g, x.dtype).to(x.device)
    x0 = x.detach()
    lines = torch.cat([u, -u], dim=1)  # (n, 2k): both rays of every line
    with eval_mode(model):
        pred = predict(model, x0)
        rows = torch.arange(n, device=x.device).repeat_interleave(2 * k)  # ray p = (rows[p], p % 2k)
        base = x0[rows]
        uu = lines.reshape(n * 2 * k, *shape)
        pred_r = pred[rows]

        def crossed(idx: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            tt = t.reshape(-1, *([1] * len(shape)))
            return _changed(model, base[idx] + tt * uu[idx], pred_r[idx], batch_size)

        m = n * 2 * k
        lo = torch.zeros(m, dtype=x.dtype, device=x.device)
        hi = torch.full((m,), float("inf"), dtype=x.dtype, device=x.device)
        t = torch.full((m,), lo_start, dtype=x.dtype, device=x.device)
        open_ = torch.arange(m, device=x.device)
        while open_.numel():  # doubling: find a radius that crosses
            if cancel is not None:
                cancel.raise_if_cancelled()
            c = crossed(open_, t[open_])
            hi[open_[c]] = t[open_[c]]
            lo[open_[~c]] = t[open_[~c]]
            t[open_] = t[open_] * 2
            open_ = open_[~c]
            open_ = open_[t[open_] <= top]
        found = torch.isfinite(hi)
        todo = found.nonzero().flatten()
        while todo.numel():  # bisection to the relative tolerance
            if cancel is not None:
                cancel.raise_if_cancelled()
            todo = todo[(hi[todo] - lo[todo]) > rel_tol * hi[todo]]
            if not todo.numel():
                break
            mid = 0.5 * (lo[todo] + hi[todo])
            c = crossed(todo, mid)
            hi[todo[c]] = mid[c]
            lo[todo[~c]] = mid[~c]
    rays = hi.reshape(n, 2, k)
    back = rays[:, 1] < rays[:, 0]  # the negative ray crosses first
    signed = torch.where(back.reshape(n, k, *([1] * len(shape))), -u, u)
    return DirectionDistances(directions=signed, distances=rays.min(dim=1).values, predicted=pred)


def gaussian_noise_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    sigmas: Sequence[float],
    *,
    seed: int = 0,
    batch_size: int = 4096,
) -> dict[float, float]:
    """Accuracy on x + N(0, sigma^2 I), clamped to [0, 1], for each sigma (one draw per input)."""
    out: dict[float, float] = {}
    g = torch.Generator().manual_seed(int(seed))
    for s in sigmas:
        s = float(s)
        if not math.isfinite(s) or s < 0:
            raise ConfigError(f"noise sigma must be a finite number >= 0, got {s:g}")
        noise = torch.randn(x.shape, generator=g, dtype=x.dtype).to(x.device)
        noisy = (x.detach() + s * noise).clamp(0.0, 1.0)
        pred = predict(model, noisy, batch_size)
        out[s] = float((pred == y).float().mean()) if y.numel() else float("nan")
    return out


def _median(v: torch.Tensor) -> float:
    return float(v.median()) if v.numel() else float("nan")


@dataclass(frozen=True)
class NoiseReport:
    """Random against adversarial distance to the boundary, and accuracy under noise."""

    n: int
    directions: int
    d: int
    clean_accuracy: float
    median_random_l2: float  # median over inputs of the median over directions
    median_adversarial_l2: float  # DeepFool's median minimal ||r||_2 on the same inputs
    deepfool_fooled: float  # fraction of inputs DeepFool moved across the boundary
    not_crossed: float  # fraction of (input, direction) pairs that never changed class
    gaussian: dict[float, float] = field(default_factory=dict)  # sigma -> accuracy
    per_input_random: tuple[float, ...] = ()
    per_input_adversarial: tuple[float, ...] = ()

    @property
    def sqrt_d(self) -> float:
        return math.sqrt(self.d)

    @property
    def ratio(self) -> float:
        a = self.median_adversarial_l2
        return self.median_random_l2 / a if a > 0 else float("nan")

    @property
    def median_ratio(self) -> float:
        """The median over inputs of each input's own random / adversarial ratio (the
        per-input estimate: it does not mix distances of different inputs)."""
        pairs = [r / a for r, a in zip(self.per_input_random, self.per_input_adversarial) if a > 0 and math.isfinite(a)]
        pairs = [p for p in pairs if not math.isnan(p)]
        return float(torch.tensor(pairs).median()) if pairs else float("nan")

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "n": self.n,
            "directions": self.directions,
            "d": self.d,
            "sqrt_d": self.sqrt_d,
            "clean_accuracy": self.clean_accuracy,
            "median_random_l2": num(self.median_random_l2),
            "median_adversarial_l2": num(self.median_adversarial_l2),
            "ratio": num(self.ratio),
            "ratio_over_sqrt_d": num(self.ratio / self.sqrt_d),
            "median_per_input_ratio": num(self.median_ratio),
            "deepfool_fooled": self.deepfool_fooled,
            "not_crossed": self.not_crossed,
            "gaussian_accuracy": {f"{s:g}": a for s, a in self.gaussian.items()},
        }

    def format(self) -> str:
        lines = [
            f"{self.n} inputs, {self.directions} random directions each, d = {self.d} (sqrt(d) = {self.sqrt_d:.2f})",
            f"clean accuracy            {100 * self.clean_accuracy:6.2f}%",
            f"median random-direction L2 {self.median_random_l2:9.4g}",
            f"median DeepFool L2         {self.median_adversarial_l2:9.4g}",
            f"ratio random / adversarial {self.ratio:9.4g}  ({self.ratio / self.sqrt_d:.2f} sqrt(d))",
            f"median per-input ratio     {self.median_ratio:9.4g}  ({self.median_ratio / self.sqrt_d:.2f} sqrt(d))",
        ]
        if self.not_crossed > 0:
            lines.append(f"directions that never crossed: {100 * self.not_crossed:.1f}% (counted as infinitely far)")
        for s, a in self.gaussian.items():
            lines.append(f"accuracy under Gaussian noise sigma {s:g}: {100 * a:6.2f}%")
        return "\n".join(lines)


def noise_robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    directions: int = DEFAULT_DIRECTIONS,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    seed: int = 0,
    cancel: CancelToken | None = None,
    progress: Callable[[str], None] | None = None,
) -> NoiseReport:
    """The random-noise report of ``model`` on ``x`` (all inputs, each at its predicted class)."""
    if x.shape[0] == 0 or x.shape[0] != y.shape[0]:
        raise DatasetError(f"need as many labels as inputs (got {x.shape[0]} inputs, {y.shape[0]} labels)")
    if progress is not None:
        progress("random directions")
    dd = random_direction_distances(model, x, directions, seed=seed, cancel=cancel)
    if cancel is not None:
        cancel.raise_if_cancelled()
    if progress is not None:
        progress("DeepFool")
    df = deepfool(model, x)
    adv = torch.where(df.fooled, df.norms, torch.full_like(df.norms, float("inf")))
    rand = dd.median_per_input
    if progress is not None:
        progress("Gaussian noise")
    gauss = gaussian_noise_accuracy(model, x, y, sigmas, seed=seed)
    return NoiseReport(
        n=int(x.shape[0]),
        directions=int(directions),
        d=int(x[0].numel()),
        clean_accuracy=float((dd.predicted == y).float().mean()),
        median_random_l2=_median(rand),
        median_adversarial_l2=_median(adv),
        deepfool_fooled=float(df.fooled.float().mean()),
        not_crossed=float((~torch.isfinite(dd.distances)).float().mean()),
        gaussian=gauss,
        per_input_random=tuple(float(v) for v in rand),
        per_input_adversarial=tuple(float(v) for v in adv),
    )
