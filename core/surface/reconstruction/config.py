"""Settings of a neural reconstruction, described once (CLI flags, GUI panel, session files).

Sizes in the normalized unit box ([-1, 1]^3 around the scan's bounding box) unless a
unit says otherwise; user-facing distances are fractions of the bounding-box diagonal
so that defaults work at any scale (docs/parameters.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from levelset_studio.core.device import DEVICE_CHOICES
from levelset_studio.core.params import config_from_dict, config_to_dict, param, validate_config

METHODS = ("levelset", "igr")
NETWORKS = ("auto", "grid", "mlp", "authors")


@dataclass(frozen=True)
class ReconstructionConfig:
    """One neural reconstruction. Poisson is not a method here: the CLI/GUI dispatch it to core.surface.reconstruction.poisson."""

    method: str = param(
        "levelset",
        "Method",
        "levelset: CNLS level-set sampling loss; igr: implicit geometric regularization (eikonal)",
        choices=METHODS,
    )
    network: str = param(
        "auto",
        "Network",
        "implicit network: grid = multi-resolution feature grid + small MLP (fast on CPU), "
        "mlp = 4x128 MLP, authors = 8x512 MLP of the paper (GPU-sized); auto picks by device",
        choices=NETWORKS,
    )
    time_budget: float | None = param(
        60.0,
        "Time budget",
        "stop training after this many seconds",
        kind=float,
        minimum=0.5,
        maximum=86400.0,
        unit="s",
        optional=True,
    )
    iterations: int | None = param(
        None,
        "Iterations",
        "stop training after this many steps (with a time budget: whichever comes first)",
        kind=int,
        minimum=1,
        maximum=10_000_000,
    )
    resolution: int = param(256, "Mesh resolution", "marching-cubes grid of the final mesh", minimum=32, maximum=1024)
    preview_resolution: int = param(
        112, "Preview resolution", "marching-cubes grid of the live preview", minimum=16, maximum=512
    )
    snapshot_interval: float = param(
        2.0,
        "Preview interval",
        "seconds between live preview meshes (0: none)",
        minimum=0.0,
        maximum=3600.0,
        unit="s",
        zero="off",
    )
    device: str = param("auto", "Device", "compute device; auto picks CUDA, then MPS, then CPU", choices=DEVICE_CHOICES)
    seed: int = param(
        0, "Seed", "random seed: CPU runs with the same seed repeat exactly", minimum=0, maximum=2**31 - 1
    )
    trim_distance: float = param(
        0.01,
        "Trim distance",
        "remove final-mesh faces farther than this from every scan point "
        "(fraction of the bounding-box diagonal, never less than 3 median point "
        "spacings; 0: keep all)",
        minimum=0.0,
        maximum=1.0,
        unit="diagonal",
        zero="off",
    )
    min_component: float = param(
        0.0,
        "Minimum piece",
        "remove disconnected pieces smaller than this fraction of the mesh's faces (0: keep all)",
        minimum=0.0,
        maximum=0.5,
        zero="off",
    )
    ignore_outliers: bool = param(
        True,
        "Ignore outliers",
        "before training, ignore points with no surface around them (spacing to their 8th "
        "neighbour over 3x the scan's median); they are reported, not deleted",
    )
    # --- advanced -----------------------------------------------------------------------------
    weight_average: bool = param(
        True,
        "Weight averaging",
        "mesh an exponential moving average of the network's weights (smoother, and longer "
        "runs do not get worse); off: mesh the last step's weights",
        advanced=True,
    )
    learning_rate: float = param(
        0.0,
        "Learning rate",
        "Adam step size (0: the network's measured default)",
        minimum=0.0,
        maximum=1.0,
        advanced=True,
        zero="auto",
    )
    lr_final: float = param(
        0.1,
        "Final learning rate",
        "learning rate at the end of the budget as a fraction of the start (cosine decay; 1: constant)",
        minimum=0.001,
        maximum=1.0,
        advanced=True,
    )
    batch_size: int = param(
        0,
        "Scan points per step",
        "scan points drawn per step; half seed zero-level samples, half general-level samples (0: per-device default)",
        minimum=0,
        maximum=1_000_000,
        advanced=True,
        zero="auto",
    )
    surface_weight: float = param(
        3.0,
        "Surface weight",
        "weight of mean |F| at scan points (CNLS: 3)",
        minimum=0.0,
        maximum=1000.0,
        advanced=True,
        when={"method": "levelset"},
    )
    eikonal_weight: float = param(
        0.1,
        "Eikonal weight",
        "IGR: weight of (|grad F| - 1)^2; levelset: added only when > 0 and method is igr",
        minimum=0.0,
        maximum=100.0,
        advanced=True,
        when={"method": "igr"},
    )
    zero_eikonal_weight: float = param(
        0.1,
        "Zero-level eikonal weight",
        "levelset: weight of "
        "(|grad F| - 1)^2 at the zero-level samples; keeps F signed across the "
        "surface, so long runs do not fold it into gaps (0: off, pure CNLS)",
        minimum=0.0,
        maximum=100.0,
        advanced=True,
        zero="off",
        when={"method": "levelset"},
    )
    normal_weight: float = param(
        1.0,
        "Normal weight",
        "IGR: weight of |grad F - n| when the scan has normals",
        minimum=0.0,
        maximum=100.0,
        advanced=True,
        when={"method": "igr"},
    )
    newton_iterations: int = param(
        5,
        "Newton steps (fresh)",
        "Newton steps for freshly drawn zero-level samples",
        minimum=1,
        maximum=50,
        advanced=True,
    )
    warm_start: bool = param(
        True,
        "Warm-start samples",
        "keep last step's zero-level samples and re-project them with one Newton step",
        advanced=True,
        when={"method": "levelset"},
    )
    refresh_fraction: float = param(
        0.1,
        "Refresh fraction",
        "fraction of warm-started samples redrawn each step",
        minimum=0.0,
        maximum=1.0,
        advanced=True,
        when={"method": "levelset", "warm_start": True},
    )
    distance: str = param(
        "field",
        "Scan distance",
        "nearest-scan-point distances: field = precomputed nearest-point grid (fast), kdtree = exact queries",
        choices=("field", "kdtree"),
        advanced=True,
        when={"method": "levelset"},
    )
    field_resolution: int = param(
        128,
        "Distance field resolution",
        "nodes per axis of the nearest-point grid",
        minimum=16,
        maximum=512,
        advanced=True,
        when={"method": "levelset", "distance": "field"},
    )
    threads: int = param(
        0, "CPU threads", "torch threads on the CPU (0: all cores)", minimum=0, maximum=256, advanced=True, zero="auto"
    )

    def __post_init__(self) -> None:
        validate_config(self)

    def with_values(self, **values: Any) -> ReconstructionConfig:
        """A validated copy with some settings changed."""
        return replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReconstructionConfig:
        return config_from_dict(cls, values)
