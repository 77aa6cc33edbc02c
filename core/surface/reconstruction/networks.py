"""Implicit networks F: R^3 -> R whose zero level set is the reconstructed surface.

Both start as the signed distance of a sphere (negative inside), the "geometric"
initialization of SAL/IGR/CNLS, so the first zero level set is a closed surface that
training pulls onto the scan:

- ``ImplicitMLP``: the authors' architecture (docs/method.md §3): fully connected, xyz
  concatenated to the hidden layers, ReLU or softplus(beta=100). 8x512 is GPU-sized.
- ``FeatureGridMLP``: multi-resolution dense feature grids sampled trilinearly, whose
  features go with xyz into a small MLP. The grids start at zero, so F starts as the
  MLP's sphere; the grids add detail only where samples land (the general-level term
  keeps F a distance-like function near the data, which controls sheets far from it).

Trilinear interpolation is written with gathers (not grid_sample) so that it runs on
every device and is twice differentiable (IGR's eikonal term needs that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

SPHERE_RADIUS = 0.6  # initial zero level set in the unit box (the scan fills [-1, 1]^3)


def _activation(name: str, beta: float) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "softplus":
        return nn.Softplus(beta=beta)
    raise ValueError(f"unknown activation {name!r}")


class ImplicitMLP(nn.Module):
    """MLP with xyz fed to every hidden layer and geometric (sphere) initialization."""

    def __init__(
        self,
        depth: int = 4,
        width: int = 128,
        activation: str = "softplus",
        beta: float = 100.0,
        in_features: int = 0,
        radius: float = SPHERE_RADIUS,
    ) -> None:
        super().__init__()
        self.spec = dict(
            kind="mlp",
            depth=depth,
            width=width,
            activation=activation,
            beta=beta,
            in_features=in_features,
            radius=radius,
        )
        self.in_features = in_features
        d_in = 3 + in_features
        layers = []
        for i in range(depth):
            layers.append(nn.Linear(d_in if i == 0 else width + d_in, width))
        self.hidden = nn.ModuleList(layers)
        self.out = nn.Linear(width, 1)
        self.act = _activation(activation, beta)
        self._geometric_init(radius)

    def _geometric_init(self, radius: float) -> None:
        with torch.no_grad():
            for lin in cast(list[nn.Linear], list(self.hidden)):
                nn.init.normal_(lin.weight, 0.0, math.sqrt(2.0) / math.sqrt(lin.out_features))
                nn.init.zeros_(lin.bias)
            width = self.out.in_features
            nn.init.normal_(self.out.weight, math.sqrt(math.pi) / math.sqrt(width), 1e-4)
            nn.init.constant_(self.out.bias, -radius)
            # The concatenated xyz changes the statistics of the classic init: fit the last
            # layer's scale and bias so that F ~ |x| - radius on the box (least squares).
            g = torch.Generator().manual_seed(1234)
            x = (torch.rand(4096, 3, generator=g) * 2 - 1) * 1.2
            feats = torch.zeros(x.shape[0], self.in_features)
            h = self.features(x, feats)
            raw = h @ self.out.weight[0]
            # Least squares through the 2x2 normal equations in float64: LAPACK's lstsq
            # rounded differently from call to call (memory alignment), so two networks
            # built with one seed differed in the last bits, and training amplified that.
            a = torch.stack([raw, torch.ones_like(raw)], 1).double()
            target = (x.norm(dim=1) - radius).double()
            ata = (a[:, :, None] * a[:, None, :]).sum(0)
            atb = (a * target[:, None]).sum(0)
            sol = torch.linalg.solve(ata, atb).float()
            self.out.weight.mul_(sol[0])
            self.out.bias.fill_(float(sol[1]))

    def features(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        inp = x if extra is None or extra.shape[1] == 0 else torch.cat([x, extra], 1)
        h = inp
        for i, lin in enumerate(self.hidden):
            h = self.act(lin(h if i == 0 else torch.cat([h, inp], 1)))
        return h

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.features(x, extra)).squeeze(1)


def trilinear(grid: torch.Tensor, x: torch.Tensor, bound: float) -> torch.Tensor:
    """Values of a dense grid (R, R, R, C) over [-bound, bound]^3 at points x (N, 3) -> (N, C).

    Points outside the box are clamped to its faces. Differentiable in the grid values
    and in x (twice in x: only gathers, products and sums).
    """
    r = grid.shape[0]
    n = x.shape[0]
    u = ((x + bound) * ((r - 1) / (2 * bound))).clamp(0.0, r - 1 - 1e-4)
    i0 = u.detach().floor().long()
    w = u - i0.to(u.dtype)
    flat = grid.reshape(-1, grid.shape[-1])
    base = (i0[:, 0] * r + i0[:, 1]) * r + i0[:, 2]
    offs = torch.tensor([(dx * r + dy) * r + dz for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)], device=x.device)
    # one gather for the 8 corners: one dense gradient buffer per grid in backward, not eight
    corners = flat.index_select(0, (base[:, None] + offs[None, :]).reshape(-1)).reshape(n, 8, -1)
    wx = torch.stack([1 - w[:, 0], w[:, 0]], 1)
    wy = torch.stack([1 - w[:, 1], w[:, 1]], 1)
    wz = torch.stack([1 - w[:, 2], w[:, 2]], 1)
    weights = (wx[:, :, None, None] * wy[:, None, :, None] * wz[:, None, None, :]).reshape(n, 8)
    return (corners * weights[:, :, None]).sum(1)


class FeatureGridMLP(nn.Module):
    """Multi-resolution dense feature grids + a small sphere-initialized MLP."""

    def __init__(
        self,
        resolutions: Sequence[int] = (16, 32, 64, 96),
        features: int = 2,
        depth: int = 2,
        width: int = 64,
        activation: str = "softplus",
        beta: float = 100.0,
        bound: float = 1.25,
        radius: float = SPHERE_RADIUS,
    ) -> None:
        super().__init__()
        self.spec = dict(
            kind="grid",
            resolutions=list(resolutions),
            features=features,
            depth=depth,
            width=width,
            activation=activation,
            beta=beta,
            bound=bound,
            radius=radius,
        )
        self.bound = bound
        self.grids = nn.ParameterList([nn.Parameter(torch.zeros(r, r, r, features)) for r in resolutions])
        self.mlp = ImplicitMLP(depth, width, activation, beta, in_features=features * len(resolutions), radius=radius)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([trilinear(g, x, self.bound) for g in self.grids], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x, self.encode(x))


NETWORK_PRESETS: dict[str, dict[str, Any]] = {
    # measured on a 2-core CPU (bench/reconstruction.py); see core/recon/trainer.py for the per-device choice
    "grid": dict(kind="grid", resolutions=[16, 32, 64, 96], features=2, depth=2, width=64),
    "mlp": dict(kind="mlp", depth=4, width=128, activation="softplus"),
    "authors": dict(kind="mlp", depth=8, width=512, activation="softplus"),
}


def build_network(spec: dict[str, Any]) -> nn.Module:
    """A network from its spec dict (as stored in checkpoints)."""
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind == "mlp":
        spec.pop("in_features", None)
        return ImplicitMLP(**spec)
    if kind == "grid":
        return FeatureGridMLP(**spec)
    raise ValueError(f"unknown network kind {kind!r}")
