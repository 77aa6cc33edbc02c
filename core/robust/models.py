"""Classifiers for the robustness engine: MLP, the CNLS SmallCNN, and a user's own model.

Every model takes inputs in [0, 1] and returns logits; any normalization is a fixed
layer inside the model, so attacks and epsilons live in input space and an exported
model is used exactly as it was attacked.

A user's own model is a ``torch.export`` program (.pt2) or an older TorchScript file
(.pt). Loading either runs code from the file's author: only load models you trust.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from levelset_studio.core.errors import ModelError
from levelset_studio.core.params import param, validate_config

ARCHITECTURES: tuple[str, ...] = ("mlp", "smallcnn")
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "softplus")


@dataclass(frozen=True)
class ModelConfig:
    """The classifier's architecture."""

    arch: str = param(
        "mlp", "Model", "architecture: a fully connected MLP or the CNLS SmallCNN (images only)", choices=ARCHITECTURES
    )
    width: int = param(64, "Width", "hidden units per MLP layer", minimum=1, maximum=8192, when={"arch": "mlp"})
    depth: int = param(2, "Depth", "hidden layers of the MLP", minimum=1, maximum=32, when={"arch": "mlp"})
    activation: str = param(
        "relu",
        "Activation",
        "non-linearity (relu: piecewise linear, has linear regions; softplus: smooth, beta 10)",
        choices=ACTIVATIONS,
    )

    def __post_init__(self) -> None:
        validate_config(self)


def make_activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "tanh":
        return nn.Tanh()
    if name == "softplus":
        return nn.Softplus(beta=10.0)  # smooth, close to ReLU at the data's scale
    raise ModelError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


class Normalize(nn.Module):
    """Fixed (x - mean) / std inside the model: callers always pass [0, 1] inputs."""

    mean: torch.Tensor  # buffers, declared for the type checker
    std: torch.Tensor

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    """Fully connected classifier: flatten, ``depth`` hidden layers of ``width``, logits.

    ``layers`` is a flat Sequential of Linear and activation modules; ROLL and the
    linear-region analysis read the hidden pre-activations (the inputs of the
    activation modules) from it.
    """

    normalize: Normalize
    layers: nn.Sequential
    input_shape: tuple[int, ...]  # set by build_model: what the model was built for
    num_classes: int

    def __init__(self, in_features: int, num_classes: int, width: int, depth: int, activation: str):
        super().__init__()
        self.normalize = Normalize(0.5, 0.5)
        mods: list[nn.Module] = []
        d = in_features
        for _ in range(depth):
            mods += [nn.Linear(d, width), make_activation(activation)]
            d = width
        mods.append(nn.Linear(d, num_classes))
        self.layers = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.normalize(x).flatten(1))


class SmallCNN(nn.Module):
    """The SmallCNN of the CNLS/TRADES MNIST experiments.

    conv32-conv32-pool-conv64-conv64-pool-fc200-fc200-fc10 with 3x3 kernels. On 28x28
    inputs the convolutions are unpadded (as the authors'); on small images such as the
    8x8 digits they are padded so the two poolings leave a 2x2 map.
    """

    input_shape: tuple[int, ...]  # set by build_model: what the model was built for
    num_classes: int

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, activation: str = "relu"):
        super().__init__()
        if len(input_shape) != 3:
            raise ModelError(f"smallcnn needs image inputs (C, H, W), not shape {tuple(input_shape)}; use mlp")
        c, h, w = input_shape
        if min(h, w) < 8:
            raise ModelError(f"smallcnn needs images of at least 8x8 pixels, not {h}x{w}")
        pad = 0 if min(h, w) >= 20 else 1
        act = lambda: make_activation(activation)  # noqa: E731
        self.normalize = Normalize(0.5, 0.5)
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=pad),
            act(),
            nn.Conv2d(32, 32, 3, padding=pad),
            act(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=pad),
            act(),
            nn.Conv2d(64, 64, 3, padding=pad),
            act(),
            nn.MaxPool2d(2),
        )
        with torch.no_grad():
            n_flat = self.features(torch.zeros(1, *input_shape)).numel()
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_flat, 200),
            act(),
            nn.Linear(200, 200),
            act(),
            nn.Linear(200, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.normalize(x)))


def build_model(
    config: ModelConfig, input_shape: tuple[int, ...], num_classes: int, seed: int | None = None
) -> nn.Module:
    """A fresh classifier for inputs of ``input_shape`` in [0, 1]; returns logits (N, num_classes).

    With ``seed`` the initial weights are reproducible and the global RNG is left untouched.
    """
    if num_classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, not {num_classes}")
    shape = tuple(int(s) for s in input_shape)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        model: MLP | SmallCNN
        if config.arch == "mlp":
            n_in = 1
            for s in shape:
                n_in *= s
            model = MLP(n_in, num_classes, config.width, config.depth, config.activation)
        elif config.arch == "smallcnn":
            model = SmallCNN(shape, num_classes, config.activation)
        else:
            raise ModelError(f"unknown model {config.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    model.input_shape = shape  # what the model was built for (checkpoints and export read it)
    model.num_classes = int(num_classes)
    return model


ACTIVATION_TYPES = (nn.ReLU, nn.Tanh, nn.Softplus)


def hidden_preactivations(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run ``model`` on ``x`` and return (logits, [pre-activation of each hidden layer, flattened (N, k)]).

    The pre-activations are the inputs of the model's activation modules, kept in the
    autograd graph (ROLL differentiates them with respect to x and the parameters).
    """
    found: list[torch.Tensor] = []

    def hook(_m: nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
        found.append(inp[0].flatten(1))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, ACTIVATION_TYPES)]
    try:
        logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return logits, found


def _activation_derivative(m: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Elementwise derivative of the activation layer ``m`` at its input ``z``."""
    if isinstance(m, nn.ReLU):
        return (z > 0).to(z.dtype)
    if isinstance(m, nn.Tanh):
        return 1.0 - torch.tanh(z) ** 2
    if isinstance(m, nn.Softplus):
        return torch.sigmoid(z * m.beta)
    raise ModelError(f"unsupported layer {type(m).__name__}")


def mlp_preactivation_gradients(
    model: MLP, x: torch.Tensor
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Logits and, per hidden layer, (z, J): pre-activations z (N, k) and their input Jacobians J (N, k, d).

    Exact and cheap for an MLP: J_l = W_l diag(act'(z_{l-1})) J_{l-1}, J_1 = W_1 / std of the
    normalization. Differentiable in the parameters (ROLL's regularizer trains on it).
    """
    if not isinstance(model, MLP):
        raise ModelError("input Jacobians of the hidden layers are implemented for the mlp model only")
    h = model.normalize(x).flatten(1)
    jac: torch.Tensor | None = None  # None: the (scaled) identity, never built
    out: list[tuple[torch.Tensor, torch.Tensor]] = []
    mods = list(model.layers)
    for i, m in enumerate(mods):
        if isinstance(m, nn.Linear):
            h = m(h)
            if jac is None:
                jac = (m.weight / model.normalize.std).unsqueeze(0).expand(h.shape[0], -1, -1)
            else:
                jac = torch.einsum("kd,nde->nke", m.weight, jac)
            if i + 1 < len(mods):
                out.append((h, jac))
        else:
            z = h
            h = m(z)
            deriv = _activation_derivative(m, z)
            assert jac is not None
            jac = deriv.unsqueeze(-1) * jac
    return h, out


def mlp_preactivation_grad_sqnorms(
    model: MLP, x: torch.Tensor, projections: int = 0, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Logits and, per hidden layer, (z, ||grad_x z_j||^2): pre-activations and their squared gradient norms.

    ``projections`` = 0, or at least the input dimension: exact, from the Jacobians. Otherwise
    Hutchinson's unbiased estimate ||g||^2 = E (g . v)^2, v ~ N(0, I), with that many random
    directions pushed forward through the network (K forward passes instead of a
    (k x d) Jacobian per example: what makes ROLL affordable on MNIST).
    """
    d = x[0].numel()
    if projections <= 0 or projections >= d:
        logits, layers = mlp_preactivation_gradients(model, x)
        return logits, [(z, j.pow(2).sum(dim=2)) for z, j in layers]
    if not isinstance(model, MLP):
        raise ModelError("input gradients of the hidden layers are implemented for the mlp model only")
    n, k = x.shape[0], int(projections)
    h = model.normalize(x).flatten(1)
    v = torch.randn(n, d, k, generator=generator, dtype=x.dtype, device=x.device) / model.normalize.std
    out: list[tuple[torch.Tensor, torch.Tensor]] = []
    mods = list(model.layers)
    for i, m in enumerate(mods):
        if isinstance(m, nn.Linear):
            h = m(h)
            v = torch.einsum("kd,ndp->nkp", m.weight, v)
            if i + 1 < len(mods):
                out.append((h, v.pow(2).mean(dim=2)))
        else:
            z = h
            h = m(z)
            deriv = _activation_derivative(m, z)
            v = deriv.unsqueeze(-1) * v
    return h, out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------- user models


def load_user_model(
    path: str | Path, input_shape: tuple[int, ...], num_classes: int | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Load a user's classifier: a ``torch.export`` program (.pt2) or TorchScript (.pt).

    SECURITY: both formats run code written by the file's author; only load models
    you trust. The model must take (N, *input_shape) inputs in [0, 1] and return logits
    (N, num_classes); a model whose output does not fit the dataset is a ModelError.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError("no such model file", p)
    suffix = p.suffix.lower()
    try:
        if suffix == ".pt2":
            model = torch.export.load(str(p)).module()
        elif suffix in (".pt", ".pth", ".ts"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TorchScript is deprecated; loading old files is the point
                model = torch.jit.load(str(p), map_location="cpu")
            model.eval()
        else:
            raise ModelError("unsupported model format; use a torch.export program (.pt2) or TorchScript (.pt)", p)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for foreign or corrupt files
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load model ({msg[:200]})", p) from None
    shape = tuple(int(s) for s in input_shape)
    probe = torch.full((2, *shape), 0.5)
    try:
        with torch.no_grad():
            out = model(probe)
    except Exception as exc:  # noqa: BLE001 - turned into a typed error
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"model does not accept inputs of shape (N, {', '.join(map(str, shape))}) ({msg[:200]})", p
        ) from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 2:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(f"model must return logits of shape (N, classes), got {got} for a batch of 2", p)
    if num_classes is not None and out.shape[1] != num_classes:
        raise ModelError(f"model returns {out.shape[1]} logits but the dataset has {num_classes} classes", p)
    return model
