"""The robustness tool's settings: the training configuration and the shared vocabulary.

``TrainConfig`` (how to train a classifier), the norm and attack-loss names and the
method names live here, below both ``core.robust.methods`` (the loss plug-ins, which read
a ``TrainConfig``) and ``core.robust.training`` (the trainer, which calls the methods):
neither imports the other for its types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from levelset_studio.core.device import DEVICE_CHOICES
from levelset_studio.core.params import param, validate_config

Norm = Literal["linf", "l2"]
Loss = Literal["ce", "margin"]
METHOD_NAMES: tuple[str, ...] = ("standard", "fgsm", "pgd", "trades", "levelset", "cure", "roll")
# methods whose training attacks each batch at radius eps (the others ignore eps)
ADVERSARIAL_METHODS: tuple[str, ...] = ("fgsm", "pgd", "trades")
NORM_CHOICES: tuple[str, ...] = ("linf", "l2")


@dataclass(frozen=True)
class TrainConfig:
    """How to train a classifier. Distances are in input units (inputs live in [0, 1])."""

    method: str = param(
        "standard",
        "Method",
        "training method: standard cross-entropy, fgsm (fast adversarial), pgd (Madry), trades, "
        "levelset (CNLS margin), cure, roll",
        choices=METHOD_NAMES,
    )
    epochs: int = param(10, "Epochs", "passes over the training set (per run)", minimum=1, maximum=100_000)
    batch_size: int = param(128, "Batch size", "examples per step", minimum=1, maximum=1_000_000)
    lr: float = param(1e-3, "Learning rate", "Adam step size", minimum=1e-7, maximum=10.0)
    eps: float = param(
        0.1,
        "Epsilon",
        "attack radius for fgsm, pgd and trades training",
        minimum=0.0,
        maximum=1.0,
        unit="input units",
        when={"method": ADVERSARIAL_METHODS},
    )
    eps_warmup: float = param(
        0.0,
        "Epsilon warm-up",
        "epochs over which eps grows linearly from 0 (adversarial "
        "training at large eps, e.g. MNIST 0.3 with an MLP, can collapse without it)",
        minimum=0.0,
        maximum=10_000.0,
        advanced=True,
        unit="epochs",
        when={"method": ADVERSARIAL_METHODS},
    )
    norm: Norm = param(
        "linf",
        "Norm",
        "norm of the attack ball and of boundary distances",
        choices=NORM_CHOICES,
        advanced=True,
        when={"method": (*ADVERSARIAL_METHODS, "levelset")},
    )
    pgd_steps: int = param(
        10,
        "PGD steps",
        "attack steps per batch (pgd, trades)",
        minimum=1,
        maximum=1000,
        advanced=True,
        when={"method": ("pgd", "trades")},
    )
    pgd_alpha: float = param(
        0.0,
        "PGD step size",
        "step of the attack (0: 2.5 eps / steps)",
        minimum=0.0,
        maximum=1.0,
        advanced=True,
        unit="input units",
        when={"method": ("pgd", "trades")},
    )
    trades_beta: float = param(
        6.0,
        "TRADES beta",
        "weight of the robustness (KL) term",
        minimum=0.0,
        maximum=100.0,
        advanced=True,
        when={"method": "trades"},
    )
    levelset_eps_c: float = param(
        0.15,
        "Margin target (correct)",
        "wanted distance from correctly classified points to the boundary; also the "
        "radius searched for boundary samples (MNIST recipe 0.4)",
        minimum=1e-4,
        maximum=1.0,
        unit="input units",
        when={"method": "levelset"},
    )
    levelset_eps_w: float = param(
        0.15,
        "Margin target (wrong)",
        "how far past a misclassified point the boundary is pushed (MNIST recipe 0.5)",
        minimum=0.0,
        maximum=1.0,
        advanced=True,
        unit="input units",
        when={"method": "levelset"},
    )
    levelset_weight: float = param(
        1.0,
        "Margin weight",
        "weight w of the correctly classified points' term",
        minimum=0.0,
        maximum=100.0,
        advanced=True,
        when={"method": "levelset"},
    )
    levelset_steps: int = param(
        10,
        "Boundary search steps",
        "sign-gradient steps of the boundary sampler (MNIST recipe 40)",
        minimum=1,
        maximum=1000,
        advanced=True,
        when={"method": "levelset"},
    )
    cure_lambda: float = param(
        4.0,
        "CURE lambda",
        "weight of the curvature term",
        minimum=0.0,
        maximum=1000.0,
        advanced=True,
        when={"method": "cure"},
    )
    cure_h: float = param(
        3.0,
        "CURE h",
        "final L2 length of the finite-difference step (ramped up from 0.1; MNIST 3, 2D sets about 0.1)",
        minimum=1e-4,
        maximum=100.0,
        advanced=True,
        unit="input units",
        when={"method": "cure"},
    )
    roll_lambda: float = param(
        2.0,
        "ROLL lambda",
        "weight of the linear-region regularizer",
        minimum=0.0,
        maximum=1000.0,
        advanced=True,
        when={"method": "roll"},
    )
    roll_c: float = param(
        0.25,
        "ROLL C",
        "weight of the hinge on small pre-activations",
        minimum=0.0,
        maximum=100.0,
        advanced=True,
        when={"method": "roll"},
    )
    roll_projections: int = param(
        8,
        "ROLL projections",
        "random directions estimating the hidden gradients' norms (exact when the input "
        "has at most this many dimensions; 0: always exact, slow on images)",
        minimum=0,
        maximum=4096,
        advanced=True,
        when={"method": "roll"},
    )
    seed: int = param(
        0, "Seed", "seed of the initial weights, shuffling and random starts", minimum=0, maximum=2**31 - 1
    )
    device: str = param(
        "auto", "Device", "where to train (auto: CUDA, then MPS, then CPU)", choices=DEVICE_CHOICES, advanced=True
    )

    def __post_init__(self) -> None:
        validate_config(self)
