"""Saliency maps: what the input gradient of a classifier looks like.

Robust training (adversarial, curvature regularization, level-set margins) tends to give
input gradients that look like the object, where a standard model's look like noise.
Two maps, both for one class per input (by default the class predicted at the input):

- ``input_gradient``: d logit_k / d x, the gradient of the class's logit (not of the
  softmax or the loss, so a linear model's map is exactly its weight row w_k);
- ``smoothgrad``: the mean of that gradient over ``samples`` noisy copies x + N(0, s^2 I),
  s = ``noise`` times the input range (Smilkov et al.'s SmoothGrad; inputs unclamped).

``saliency_figure`` draws inputs and maps of several models side by side into a PNG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from levelset_studio.core.errors import ConfigError, DatasetError, LevelSetError
from levelset_studio.core.robust.attacks import eval_mode, predict

SMOOTHGRAD_SAMPLES = 25
SMOOTHGRAD_NOISE = 0.15  # noise std as a fraction of the input range [0, 1]


def _target(model: nn.Module, x: torch.Tensor, target: torch.Tensor | int | None) -> torch.Tensor:
    if target is None:
        return predict(model, x)
    if isinstance(target, int):
        return torch.full((x.shape[0],), int(target), dtype=torch.long, device=x.device)
    return target.to(x.device).long()


def input_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor | int | None = None) -> torch.Tensor:
    """d logit_target / d x for each input (same shape as ``x``); target defaults to the predicted class."""
    if x.dim() < 2 or x.shape[0] == 0:
        raise DatasetError("saliency needs a non-empty batch of inputs (N, ...)")
    if not bool(torch.isfinite(x).all()):
        raise DatasetError("the inputs contain NaN or infinite values")
    with eval_mode(model):
        k = _target(model, x, target)
        with torch.enable_grad():
            xg = x.detach().clone().requires_grad_(True)
            logits = model(xg)
            if k.numel() and (int(k.min()) < 0 or int(k.max()) >= logits.shape[1]):
                raise ConfigError(f"class must be in 0..{logits.shape[1] - 1}")
            chosen = logits.gather(1, k[:, None]).sum()
            (g,) = torch.autograd.grad(chosen, xg, allow_unused=True) if chosen.requires_grad else (None,)
    return torch.zeros_like(x) if g is None else g.detach()


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor | int | None = None,
    *,
    samples: int = SMOOTHGRAD_SAMPLES,
    noise: float = SMOOTHGRAD_NOISE,
    seed: int = 0,
) -> torch.Tensor:
    """SmoothGrad: the input gradient averaged over ``samples`` Gaussian-noised copies of x,
    always for the class predicted at the clean x (or ``target``)."""
    if int(samples) < 1:
        raise ConfigError(f"SmoothGrad samples must be >= 1, got {samples}")
    if not math.isfinite(noise) or noise < 0:
        raise ConfigError(f"SmoothGrad noise must be a finite number >= 0, got {noise:g}")
    k = _target(model, x, target)
    g = torch.Generator().manual_seed(int(seed))
    total = torch.zeros_like(x)
    for _ in range(int(samples)):
        z = torch.randn(x.shape, generator=g, dtype=x.dtype).to(x.device)
        total += input_gradient(model, x.detach() + noise * z, k)
    return total / int(samples)


@dataclass(frozen=True)
class SaliencyMaps:
    """One model's maps for a batch of inputs."""

    name: str
    predicted: np.ndarray  # (N,)
    gradient: np.ndarray  # (N, *shape)
    smooth: np.ndarray  # (N, *shape)


def saliency_maps(
    model: nn.Module, x: torch.Tensor, name: str = "model", *, samples: int = SMOOTHGRAD_SAMPLES, seed: int = 0
) -> SaliencyMaps:
    """Input gradient and SmoothGrad of ``model`` at ``x``, for the class it predicts."""
    k = predict(model, x)
    return SaliencyMaps(
        name=name,
        predicted=k.cpu().numpy(),
        gradient=input_gradient(model, x, k).cpu().numpy(),
        smooth=smoothgrad(model, x, k, samples=samples, seed=seed).cpu().numpy(),
    )


def image_of(a: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W) or (d,) -> something imshow draws: (H, W), (H, W, 3), or a square-ish row."""
    a = np.asarray(a)
    if a.ndim == 3:
        return a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        return a
    return a.reshape(1, -1)


def signed_map(g: np.ndarray) -> np.ndarray:
    """A map scaled to [-1, 1] by its largest magnitude (channels summed), for a diverging colour map."""
    g = np.asarray(g, dtype=float)
    if g.ndim == 3:
        g = g.sum(axis=0)
    m = float(np.abs(g).max())
    return g / m if m > 0 else g


def saliency_figure(
    path: str | Path,
    x: np.ndarray,
    label: int,
    maps: Sequence[SaliencyMaps],
    class_names: Sequence[str],
    title: str = "",
) -> Path:
    """A PNG: the input, then for each model its input gradient and SmoothGrad (red positive,
    blue negative, each scaled to its own largest magnitude; the colour bar says so)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"write a .png file, got {path.name!r}")
    if not path.parent.exists():
        raise LevelSetError("folder does not exist", path.parent)
    rows = len(maps)
    fig = Figure(figsize=(8.4, 2.9 * rows + 0.5), dpi=100)
    FigureCanvasAgg(fig)
    axs = np.atleast_2d(fig.subplots(rows, 3))
    img = image_of(x)
    im = None
    for r, m in enumerate(maps):
        ax = axs[r, 0]
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        pred = class_names[int(m.predicted[0])] if len(class_names) else str(int(m.predicted[0]))
        ax.set_title(
            f"{m.name}\nlabel {class_names[label] if len(class_names) else label}, predicted {pred}", fontsize=9
        )
        for c, (what, arr) in enumerate((("input gradient", m.gradient[0]), ("SmoothGrad", m.smooth[0])), start=1):
            im = axs[r, c].imshow(image_of(signed_map(arr)), cmap="RdBu_r", vmin=-1, vmax=1)
            axs[r, c].set_title(what, fontsize=9)
        for ax in axs[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    if im is not None:
        bar = fig.colorbar(im, ax=axs.ravel().tolist(), shrink=0.8)
        bar.set_label("d logit / d input (scaled to its largest magnitude)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    try:
        fig.savefig(path)
    except OSError as exc:
        raise LevelSetError(f"cannot write the picture ({exc.strerror})", path) from None
    return path
