"""Robustness of image classifiers to small rotations and translations.

A transformation is (angle in degrees, shift x, shift y in pixels), applied about the
image centre with ``affine_grid`` / ``grid_sample`` (bilinear, zeros outside: MNIST's
background). The search is a grid: ``rotations`` angles in [-R, R] and every whole-pixel
shift in [-T, T]^2 (the identity is always on the grid). An input counts as robust when
every transformation on the grid keeps its label; its worst transformation is one that
changes the label if any does (the one with the largest loss of its label among those). The random baseline draws one transformation per
input uniformly from the same grid, so the worst case can never be kinder than it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from levelset_studio.core.errors import ConfigError, DatasetError
from levelset_studio.core.events import CancelToken
from levelset_studio.core.robust.attacks import eval_mode, predict

DEFAULT_ROTATIONS = 11  # angles on the grid (odd: 0 is one of them)
MAX_ROTATION = 180.0
MAX_SHIFT = 8


def transformation_grid(max_rotation: float, max_shift: int, rotations: int = DEFAULT_ROTATIONS) -> torch.Tensor:
    """(G, 3) rows (angle degrees, shift x, shift y) covering [-R, R] x [-T, T]^2; row 0 is the identity."""
    r, t = float(max_rotation), int(max_shift)
    if not math.isfinite(r) or not 0 <= r <= MAX_ROTATION:
        raise ConfigError(f"max rotation must be in [0, {MAX_ROTATION:g}] degrees, got {max_rotation:g}")
    if t != max_shift or not 0 <= t <= MAX_SHIFT:
        raise ConfigError(f"max shift must be a whole number of pixels in [0, {MAX_SHIFT}], got {max_shift}")
    if rotations < 1:
        raise ConfigError(f"rotations must be >= 1, got {rotations}")
    angles = np.linspace(-r, r, int(rotations)) if r > 0 and rotations > 1 else np.zeros(1)
    angles = np.unique(np.concatenate([[0.0], angles]))
    shifts = np.arange(-t, t + 1, dtype=float)
    grid = np.array([(a, sx, sy) for a in angles for sx in shifts for sy in shifts], dtype=np.float32)
    ident = np.flatnonzero((grid == 0).all(axis=1))[0]
    order = np.concatenate([[ident], np.delete(np.arange(len(grid)), ident)])
    return torch.from_numpy(grid[order])


def _as_images(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        return x[:, None]
    if x.dim() != 4 or x.shape[-1] < 2 or x.shape[-2] < 2:
        raise DatasetError(
            f"geometric transformations need images (N, C, H, W) or (N, H, W), got inputs of shape {tuple(x.shape)}"
        )
    return x


def transform_images(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Rotate each image of ``x`` by params[:, 0] degrees about its centre, then shift it by
    (params[:, 1], params[:, 2]) pixels (x to the right, y down); one row of params per image."""
    img = _as_images(x)
    n, _, h, w = img.shape
    p = params.to(img.dtype).to(img.device)
    if p.shape != (n, 3):
        raise ConfigError(f"need one (angle, shift x, shift y) per image: {n} x 3, got {tuple(p.shape)}")
    a = torch.deg2rad(p[:, 0])
    cos, sin = torch.cos(a), torch.sin(a)
    # affine_grid maps output to input coordinates in [-1, 1]; a shift of s pixels is 2 s / size
    theta = torch.zeros(n, 2, 3, dtype=img.dtype, device=img.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
    theta[:, 0, 2] = -2.0 * p[:, 1] / w
    theta[:, 1, 2] = -2.0 * p[:, 2] / h
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(x.shape)


@dataclass(frozen=True)
class TransformReport:
    """Accuracy under the worst and under a random small transformation."""

    n: int
    max_rotation: float
    max_shift: int
    grid_size: int
    clean_accuracy: float
    worst_accuracy: float
    random_accuracy: float
    worst_params: torch.Tensor  # (N, 3) the worst (angle, shift x, shift y) per input
    worst_predicted: torch.Tensor  # (N,) class predicted after it
    random_params: torch.Tensor  # (N, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "max_rotation": self.max_rotation,
            "max_shift": self.max_shift,
            "grid_size": self.grid_size,
            "clean_accuracy": self.clean_accuracy,
            "worst_accuracy": self.worst_accuracy,
            "random_accuracy": self.random_accuracy,
        }

    def format(self) -> str:
        return "\n".join(
            [
                f"{self.n} inputs; rotations within ±{self.max_rotation:g}°, shifts within ±{self.max_shift} px "
                f"({self.grid_size} transformations on the grid)",
                f"clean accuracy                    {100 * self.clean_accuracy:6.2f}%",
                f"accuracy, random transformation   {100 * self.random_accuracy:6.2f}%",
                f"accuracy, worst transformation    {100 * self.worst_accuracy:6.2f}%",
            ]
        )


def worst_transformation(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    max_rotation: float = 15.0,
    max_shift: int = 2,
    *,
    rotations: int = DEFAULT_ROTATIONS,
    seed: int = 0,
    batch_size: int = 4096,
    cancel: CancelToken | None = None,
) -> TransformReport:
    """Grid search of the worst rotation within ±``max_rotation`` degrees and shift within
    ±``max_shift`` pixels for each input, batched over inputs and transformations."""
    img = _as_images(x)
    n = img.shape[0]
    if n == 0 or y.shape[0] != n:
        raise DatasetError(f"need as many labels as images (got {n} images, {y.shape[0]} labels)")
    grid = transformation_grid(max_rotation, max_shift, rotations)
    g = grid.shape[0]
    worst_loss = torch.full((n,), -float("inf"))
    worst_idx = torch.zeros(n, dtype=torch.long)
    all_correct = torch.ones(n, dtype=torch.bool)
    correct_at = torch.zeros(n, g, dtype=torch.bool)
    per = max(1, batch_size // max(n, 1))  # transformations per pass
    with eval_mode(model), torch.no_grad():
        for j0 in range(0, g, per):
            if cancel is not None:
                cancel.raise_if_cancelled()
            params = grid[j0 : j0 + per]
            m = params.shape[0]
            xs = transform_images(img.repeat(m, 1, 1, 1), params.repeat_interleave(n, dim=0)).reshape(
                m * n, *x.shape[1:]
            )
            logits = torch.cat([model(xs[i : i + batch_size]) for i in range(0, xs.shape[0], batch_size)]).cpu()
            yy = y.cpu().repeat(m)
            loss = F.cross_entropy(logits, yy, reduction="none").reshape(m, n)
            ok = (logits.argmax(1) == yy).reshape(m, n)
            correct_at[:, j0 : j0 + m] = ok.T
            all_correct &= ok.all(dim=0)
            # a transformation that changes the label beats any that does not; then the larger loss
            best, arg = (loss + 1e6 * (~ok).to(loss.dtype)).max(dim=0)
            take = best > worst_loss
            worst_loss[take] = best[take]
            worst_idx[take] = arg[take] + j0
    gen = torch.Generator().manual_seed(int(seed))
    rnd = torch.randint(0, g, (n,), generator=gen)
    worst_params = grid[worst_idx]
    worst_pred = predict(model, transform_images(img, worst_params).reshape(x.shape)).cpu()
    return TransformReport(
        n=n,
        max_rotation=float(max_rotation),
        max_shift=int(max_shift),
        grid_size=g,
        clean_accuracy=float(correct_at[:, 0].float().mean()),
        worst_accuracy=float(all_correct.float().mean()),
        random_accuracy=float(correct_at[torch.arange(n), rnd].float().mean()),
        worst_params=worst_params,
        worst_predicted=worst_pred,
        random_params=grid[rnd],
    )
