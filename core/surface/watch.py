"""Watching a reconstruction: how good the preview surface is, and whether it still changes.

A person watching training wants two answers the loss does not give: *how close is the
surface to my scan?* and *is it still improving?* :class:`SurfaceWatch` answers both from
the preview meshes alone, cheaply enough to run after every preview in the worker:

- **quality**: the fraction of scan points (a fixed random subsample) whose exact
  point-to-triangle distance to the preview surface is within ``tolerance`` (a fraction
  of the bounding-box diagonal). 1.0 means every sampled point lies on the surface.
- **change**: the mean absolute change of those distances since the previous preview,
  as a fraction of the diagonal. The surface has **converged** when the change stays
  below ``settle`` for ``patience`` previews in a row.

:func:`watch_events` wraps a reconstruction's event stream and adds one
:class:`SurfaceQuality` event after each preview; no Qt, no display.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.events import Event, MeshSnapshot
from levelset_studio.core.surface.evaluation import SurfaceQuery
from levelset_studio.core.surface.meshes.mesh import Mesh

DEFAULT_TOLERANCE = 0.01  # fraction of the bounding-box diagonal
DEFAULT_SAMPLE = 3000  # scan points checked per preview
DEFAULT_SETTLE = 0.001  # "stopped changing": mean change below 0.1% of the diagonal ...
DEFAULT_PATIENCE = 2  # ... for this many previews in a row


@dataclass(frozen=True)
class SurfaceQuality(Event):
    """What the watch saw in one preview."""

    step: int
    quality: float  # fraction of sampled scan points within ``tolerance`` of the surface
    tolerance: float  # fraction of the diagonal
    change: float | None  # mean change of scan->surface distance since the last preview (fraction of diagonal)
    converged: bool
    mean_distance: float  # mean scan->surface distance of the sample, fraction of the diagonal

    def text(self) -> str:
        """A short line for a progress label: ``fit 93% · converged``."""
        out = f"fit {100 * self.quality:.0f}%"
        if self.converged:
            out += " · converged"
        return out

    def tooltip(self) -> str:
        tol = f"{100 * self.tolerance:g}%"
        lines = [
            f"fit: {100 * self.quality:.1f}% of scan points lie within {tol} of the bounding-box diagonal "
            "of the preview surface",
            f"mean distance: {100 * self.mean_distance:.2f}% of the diagonal",
        ]
        if self.change is not None:
            lines.append(f"change since the last preview: {100 * self.change:.3f}% of the diagonal")
        lines.append("converged: the surface has stopped changing" if self.converged else "still changing")
        return "\n".join(lines)


class SurfaceWatch:
    """Scores successive preview meshes against a fixed subsample of the scan points."""

    def __init__(
        self,
        points: np.ndarray,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        sample: int = DEFAULT_SAMPLE,
        settle: float = DEFAULT_SETTLE,
        patience: int = DEFAULT_PATIENCE,
        seed: int = 0,
    ) -> None:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) == 0:
            raise ConfigError("surface watch: the scan has no finite points")
        if not (0 < tolerance < 1):
            raise ConfigError(f"surface watch: tolerance {tolerance!r} is outside (0, 1)")
        if sample < 1 or patience < 1 or settle < 0:
            raise ConfigError("surface watch: sample and patience must be >= 1, settle >= 0")
        rng = np.random.default_rng(seed)
        if len(pts) > sample:
            pts = pts[rng.choice(len(pts), size=sample, replace=False)]
        self.points = pts
        self.diagonal = float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0))) or 1.0
        self.tolerance, self.settle, self.patience = float(tolerance), float(settle), int(patience)
        self._last: np.ndarray | None = None
        self._calm = 0
        self.history: list[SurfaceQuality] = []

    def observe(self, vertices: np.ndarray, faces: np.ndarray, step: int = 0) -> SurfaceQuality:
        """Score one preview surface (scan coordinates)."""
        mesh = Mesh(vertices, faces)
        if mesh.is_empty:
            d = np.full(len(self.points), np.inf)
        else:
            d = SurfaceQuery(mesh, origin=self.points.mean(axis=0)).distance(self.points) / self.diagonal
        quality = float(np.mean(d <= self.tolerance))
        finite = np.isfinite(d)
        mean = float(d[finite].mean()) if finite.any() else float("inf")
        change = None
        if self._last is not None:
            both = finite & np.isfinite(self._last)
            change = float(np.abs(d[both] - self._last[both]).mean()) if both.any() else float("inf")
            self._calm = self._calm + 1 if change <= self.settle else 0
        self._last = d
        report = SurfaceQuality(
            step=int(step),
            quality=quality,
            tolerance=self.tolerance,
            change=change,
            converged=self._calm >= self.patience,
            mean_distance=mean,
        )
        self.history.append(report)
        return report


def watch_events(events: Iterable[Event], watch: SurfaceWatch) -> Iterator[Event]:
    """The same events, plus a :class:`SurfaceQuality` after each preview mesh."""
    for ev in events:
        yield ev
        if isinstance(ev, MeshSnapshot) and len(ev.faces):
            yield watch.observe(ev.vertices, ev.faces, ev.step)
