"""What every scan reader shares: the per-file cloud, checks and small helpers.

Private to :mod:`levelset_studio.core.surface.scans`; readers return a :class:`Cloud`
(points may still be non-finite) and :mod:`.scanio` merges clouds into a ``Scan``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from levelset_studio.core.errors import ScanError

MIN_POINTS = 10
"""Fewer finite points than this cannot define a surface."""

Progress = Callable[[float], None]
"""Called with the fraction (0..1) of a file read; may raise ``Cancelled``."""


@dataclass
class Cloud:
    """What one file holds before merging (points may still be non-finite)."""

    points: np.ndarray  # (N, 3) float64
    normals: np.ndarray | None = None  # (N, 3)
    colors: np.ndarray | None = None  # (N, 3) in [0, 1]
    faces: np.ndarray | None = None  # (F, 3) int64 when the file is a mesh
    intensity: np.ndarray | None = None  # (N,) float32, the file's own units
    classification: np.ndarray | None = None  # (N,) uint8 (LAS classes)
    stations: np.ndarray | None = None  # (S, 3) float64 scanner positions
    crs: str | None = None  # coordinate reference system (WKT or a name), when the file has one
    counts: dict[str, int] = field(default_factory=dict)  # what the reader dropped or kept, by reason
    points_in_file: int | None = None  # before any decimation or class filtering
    grid: tuple[np.ndarray, np.ndarray] | None = None  # LAS (scales, offsets) of the integer grid


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else type(exc).__name__
    return msg[:200]


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise ScanError("cannot read the file (permission denied)", path) from None
    except OSError as exc:
        raise ScanError(f"cannot read the file ({exc.strerror or exc})", path) from None


def check_geometry(points: np.ndarray, dropped: int, where: Path | None) -> None:
    n = len(points)
    if n < MIN_POINTS:
        extra = f" ({dropped} non-finite dropped)" if dropped else ""
        raise ScanError(f"only {n} finite points{extra}; at least {MIN_POINTS} are needed to define a surface", where)
    # The covariance of a strided sample (at most ~1M points): no N-sized copy of a big cloud.
    sample = points[:: max(1, n // 1_000_000)]
    centered = sample - sample.mean(axis=0)
    cov = centered.T @ centered / len(sample)
    ev = np.sort(np.linalg.eigvalsh(cov))[::-1]
    if ev[0] <= 0:
        raise ScanError(f"all {n} points coincide; no surface to reconstruct", where)
    if ev[1] <= 1e-12 * ev[0]:
        raise ScanError(f"all {n} points lie on one line; no surface to reconstruct", where)


def clean_normals(normals: np.ndarray | None) -> np.ndarray | None:
    """Unit float32 normals, or None when any is missing (a scan has all or none).

    Works in blocks, so a big cloud's normals are never copied whole in float64."""
    if normals is None:
        return None
    out = np.empty(normals.shape, dtype=np.float32)
    block = 1_000_000
    for s in range(0, len(normals), block):
        n = np.asarray(normals[s : s + block], dtype=np.float64)
        length = np.linalg.norm(n, axis=1)
        if not np.all(np.isfinite(length)) or np.any(length < 1e-12):
            return None
        out[s : s + block] = n / length[:, None]
    return out


def merge_optional(parts: list[np.ndarray | None]) -> np.ndarray | None:
    """Concatenate per-file attributes; None unless every file has them."""
    present = [p for p in parts if p is not None]
    if len(present) < len(parts):
        return None
    return np.concatenate(present) if len(present) > 1 else present[0]


def stack(table: np.ndarray, names: Sequence[str], dtype: type = np.float64) -> np.ndarray:
    out: np.ndarray = np.empty((len(table), len(names)), dtype=dtype)
    for j, n in enumerate(names):
        out[:, j] = table[n]
    return out


def colors01(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        top = 65535.0 if np.dtype(dtype).itemsize >= 2 and values.max(initial=0) > 255 else 255.0
        return (values / top).astype(np.float32)
    return (
        np.clip(values, 0.0, 1.0).astype(np.float32)
        if values.max(initial=0) <= 1.0
        else (np.clip(values, 0, 255) / 255.0).astype(np.float32)
    )


NOISE_CLASSES: tuple[int, ...] = (7, 18)
"""LAS classes of noise: 7 (low point) and 18 (high noise, LAS 1.4)."""


@dataclass(frozen=True)
class ReadConfig:
    """How scans are read, whatever their format (the CLI's ``--max-points`` etc.).

    ``max_points``: a point budget; bigger clouds are decimated while they are read
    (uniformly at random, with ``seed``) and the result says so. ``scan_index``: read only
    that station of an E57 file (0-based) instead of merging them all. ``keep_noise``:
    keep the LAS noise classes 7 and 18 (dropped by default). ``chunk_points``: points per
    chunk of the chunked readers (LAS/LAZ, E57); memory beyond the result is about one chunk.
    """

    max_points: int | None = None
    scan_index: int | None = None
    keep_noise: bool = False
    chunk_points: int = 1_000_000
    seed: int = 0

    def __post_init__(self) -> None:
        from levelset_studio.core.errors import ConfigError

        if self.max_points is not None and self.max_points < MIN_POINTS:
            raise ConfigError(f"--max-points must be at least {MIN_POINTS} (got {self.max_points})")
        if self.scan_index is not None and self.scan_index < 0:
            raise ConfigError(f"--scan-index must be 0 or more (got {self.scan_index})")
        if self.chunk_points < 1:
            raise ConfigError(f"chunk_points must be positive (got {self.chunk_points})")


class Decimator:
    """Keeps each point with probability a little over ``budget / total`` while chunks
    stream past; ``load_scan`` then trims the kept points to exactly the budget."""

    def __init__(self, total: int, budget: int | None, seed: int = 0) -> None:
        # A few standard deviations over the budget, so the binomial count almost never
        # falls short; the reader's caller trims the excess to exactly the budget.
        over = 1.0 if budget is None else 1.0 + 6.0 / np.sqrt(budget)
        self.rate = 1.0 if budget is None or total <= budget * over else min(1.0, budget * over / total)
        self.budget = budget
        self.rng = np.random.default_rng(seed)

    @property
    def active(self) -> bool:
        return self.rate < 1.0

    def mask(self, n: int) -> np.ndarray | None:
        """A keep-mask for the next ``n`` points, or None to keep them all."""
        if not self.active:
            return None
        return self.rng.random(n, dtype=np.float32) < self.rate


def subsample_indices(n: int, k: int, seed: int = 0) -> np.ndarray:
    """``k`` sorted indices out of ``n``, uniformly at random (all of them when n <= k)."""
    if n <= k:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if n <= 20_000_000:
        return np.sort(rng.choice(n, size=k, replace=False))
    # Large n: a Bernoulli pass in blocks (no n-sized permutation), then an exact trim.
    rate = min(1.0, 1.02 * k / n)
    parts = []
    block = 10_000_000
    for s in range(0, n, block):
        m = min(block, n - s)
        parts.append(s + np.flatnonzero(rng.random(m, dtype=np.float32) < rate))
    idx = np.concatenate(parts)
    if len(idx) > k:
        idx = idx[np.sort(rng.choice(len(idx), size=k, replace=False))]
    return idx
