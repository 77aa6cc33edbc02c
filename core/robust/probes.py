"""The lab's probes beyond attacks: random noise, small transformations, saliency.

Like ``core.robust.lab`` this holds no Qt: each function takes a dataset and a model
snapshot and returns plain NumPy results for the Robustness tab (computed in a worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from levelset_studio.core.events import CancelToken
from levelset_studio.core.robust.data import Dataset
from levelset_studio.core.robust.noise import NoiseReport, noise_robustness, random_direction_distances
from levelset_studio.core.robust.saliency import SaliencyMaps, saliency_maps
from levelset_studio.core.robust.transforms import TransformReport, transform_images, worst_transformation

POINT_DIRECTIONS = 12  # random lines drawn through a clicked 2D point
NOISE_INPUTS = 200  # test inputs of the tab's noise report
TRANSFORM_INPUTS = 200


@dataclass(frozen=True)
class PointNoise:
    """Random lines through one 2D point and where each first meets the boundary."""

    set_name: str
    index: int
    x: np.ndarray  # (2,)
    directions: np.ndarray  # (K, 2) unit, pointing to the nearer crossing
    distances: np.ndarray  # (K,) inf where the line never crosses inside the search
    hits: np.ndarray  # (K, 2) x + t u (rows with inf distance hold inf)
    deepfool_norm: float

    @property
    def median_random(self) -> float:
        return float(np.median(self.distances))


@dataclass(frozen=True)
class NoiseSummary:
    report: NoiseReport
    model_name: str


@dataclass(frozen=True)
class TransformSummary:
    report: TransformReport
    images: np.ndarray  # (n, ...) the worst transformed test images, in gallery order
    params: np.ndarray  # (n, 3)
    predicted: np.ndarray  # (n,)


@dataclass(frozen=True)
class SaliencyPair:
    """Maps of one or two models on the same input."""

    index: int
    x: np.ndarray
    label: int
    maps: tuple[SaliencyMaps, ...]


def point_noise(
    dataset: Dataset, model: Any, set_name: str, index: int, directions: int = POINT_DIRECTIONS, seed: int = 0
) -> PointNoise:
    from levelset_studio.core.robust.attacks import deepfool

    xs = dataset.x_train if set_name == "train" else dataset.x_test
    x = xs[index : index + 1]
    dd = random_direction_distances(model, x, directions, seed=seed, max_radius=10.0, start=1e-3)
    hits = dd.hits(x)[0]
    return PointNoise(
        set_name=set_name,
        index=int(index),
        x=x[0].numpy(),
        directions=dd.directions[0].numpy(),
        distances=dd.distances[0].numpy(),
        hits=hits.numpy(),
        deepfool_norm=float(deepfool(model, x).norms[0]),
    )


def noise_summary(
    dataset: Dataset,
    model: Any,
    model_name: str,
    n: int = NOISE_INPUTS,
    sigmas: tuple[float, ...] = (0.05, 0.1, 0.2),
    directions: int = 20,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> NoiseSummary:
    x, y = dataset.x_test[:n], dataset.y_test[:n]
    r = noise_robustness(model, x, y, directions=directions, sigmas=sigmas, seed=seed, cancel=cancel)
    return NoiseSummary(r, model_name)


def transform_summary(
    dataset: Dataset,
    model: Any,
    n: int,
    max_rotation: float = 15.0,
    max_shift: int = 2,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> TransformSummary:
    """The worst transformation of the first ``n`` test images (those of the gallery)."""
    x, y = dataset.x_test[:n], dataset.y_test[:n]
    r = worst_transformation(model, x, y, max_rotation, max_shift, seed=seed, cancel=cancel)
    with torch.no_grad():
        imgs = transform_images(x, r.worst_params)
    return TransformSummary(r, imgs.numpy(), r.worst_params.numpy(), r.worst_predicted.numpy())


def saliency_pair(
    dataset: Dataset, models: dict[str, Any], index: int, samples: int = 16, seed: int = 0
) -> SaliencyPair:
    """Input gradient and SmoothGrad of each named model on test input ``index``."""
    x = dataset.x_test[index : index + 1]
    maps = tuple(saliency_maps(m, x, name, samples=samples, seed=seed) for name, m in models.items())
    return SaliencyPair(index=int(index), x=x[0].numpy(), label=int(dataset.y_test[index]), maps=maps)
