"""Memory guard: estimate what a load or a reconstruction needs, refuse what cannot fit.

The estimates are simple models, bytes per point, per grid node and per batch sample,
whose constants were calibrated against measured peaks (``bench/memory_model.py``
prints estimate and measurement side by side). They err on the high side. A run whose
estimate exceeds the memory the machine has free is refused *before* it starts, with a
message that says what to lower, instead of being killed by the operating system
halfway (``--no-memory-check`` overrides).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from levelset_studio.core.errors import MemoryLimitError

GB = 2**30
# What may be used of the memory reported free (the rest stays for the system and the app).
USABLE_FRACTION = 0.9

# --- calibrated constants (bench/memory_model.py) -----------------------------------------
# Reading: peak bytes per byte on disk. Binary files hold 12-32 bytes a point and are read
# into float64 arrays (plus the reader's temporary copies); text holds ~25-60 characters
# a point and is parsed into float64 through a temporary array.
LOAD_BYTES_PER_FILE_BYTE = {"binary": 4.0, "text": 2.5}
TEXT_EXTENSIONS = (".xyz", ".txt", ".pts", ".csv", ".asc", ".obj", ".off")
# A loaded scan: float64 points (24), float32 normals and colours (12 + 12), the unit-box
# float32 copy (12), the trainer's device copy (12) and normals (12), plus cleaning's and
# the distance structure's temporaries.
SCAN_BYTES_PER_POINT = 140
# Nearest-point field: an int32 index per node plus its build (a distance per node).
FIELD_BYTES_PER_NODE = 16
# Marching cubes on a res^3 grid: float32 values, two boolean masks, the cropped copy and
# the scikit-image pass.
MESH_BYTES_PER_NODE = 14
# One training step: activations of the network for every sample, kept for the double
# backward pass (CNLS and IGR differentiate the gradient), per sample in the batch.
STEP_BYTES_PER_SAMPLE = {"grid": 9_000, "mlp": 14_000, "authors": 90_000}
# The network's parameters with Adam's two moments and the gradient.
PARAM_COPIES = 4
# Torch, NumPy, Open3D and the app themselves (measured RSS after the imports).
RUNTIME_BYTES = 500 * 2**20


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a piece of work needs, in parts (for the message) and in total."""

    what: str
    parts: dict[str, int] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def total(self) -> int:
        return int(sum(self.parts.values()))

    def largest(self) -> str:
        return max(self.parts, key=lambda k: self.parts[k]) if self.parts else ""


def fmt_bytes(n: float) -> str:
    if n >= GB:
        return f"{n / GB:.1f} GB"
    return f"{n / 2**20:.0f} MB"


def available_memory(device: str = "cpu") -> int:
    """Bytes free for this process now: the GPU's for ``cuda``; otherwise system memory,
    bounded by an address-space limit (``ulimit -v``) or a container's memory limit."""
    if device == "cuda":
        import torch

        if torch.cuda.is_available():
            free, _total = torch.cuda.mem_get_info()
            return int(free)
    import psutil

    free = int(psutil.virtual_memory().available)
    for limit in (_address_space_left(), _cgroup_left()):
        if limit is not None:
            free = min(free, limit)
    return max(free, 0)


def _address_space_left() -> int | None:
    """What an address-space limit (``ulimit -v``) leaves this process, if one is set."""
    import resource

    import psutil

    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    return int(soft - psutil.Process().memory_info().vms)


def _cgroup_left() -> int | None:
    """What a container's memory limit (cgroup v2 ``memory.max``) leaves, if one is set."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((base / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None


def estimate_load(files: Sequence[str | os.PathLike]) -> MemoryEstimate:
    """Peak memory of reading ``files`` (from their sizes on disk)."""
    parts: dict[str, int] = {}
    for f in files:
        p = Path(f)
        try:
            size = p.stat().st_size
        except OSError:
            continue  # the reader reports a missing file itself
        kind = "text" if p.suffix.lower() in TEXT_EXTENSIONS else "binary"
        parts[p.name] = int(size * LOAD_BYTES_PER_FILE_BYTE[kind])
    return MemoryEstimate("reading the scan", parts)


def estimate_reconstruction(
    n_points: int,
    *,
    resolution: int,
    batch_size: int,
    network: str = "grid",
    network_params: int = 2_000_000,
    field_resolution: int = 128,
    distance: str = "field",
    device: str = "cpu",
    preview_resolution: int = 0,
) -> MemoryEstimate:
    """Peak memory of a neural reconstruction of ``n_points`` points.

    On a GPU, ``device="cuda"`` gives the part that lives in GPU memory (the scan's copy,
    the network, the batch and the grid evaluation); the mesh itself is built on the CPU.
    """
    per_sample = STEP_BYTES_PER_SAMPLE.get(network, STEP_BYTES_PER_SAMPLE["mlp"])
    parts = {
        "scan points": n_points * SCAN_BYTES_PER_POINT,
        f"batch of {batch_size}": batch_size * per_sample,
        "network": network_params * 4 * PARAM_COPIES,
        f"mesh at {resolution}^3": (max(resolution, preview_resolution) + 1) ** 3 * MESH_BYTES_PER_NODE,
    }
    if distance == "field":
        parts[f"distance field at {field_resolution}^3"] = (field_resolution + 1) ** 3 * FIELD_BYTES_PER_NODE
    else:
        parts["nearest-point tree"] = n_points * 48
    if device == "cuda":
        parts.pop(f"mesh at {resolution}^3")
        parts["scan points"] = n_points * 24
    else:
        parts["runtime"] = RUNTIME_BYTES
    return MemoryEstimate("the reconstruction", parts, device)


def check_memory(
    estimate: MemoryEstimate, *, advice: str, available: int | None = None, fraction: float = USABLE_FRACTION
) -> None:
    """Raise ``MemoryLimitError`` when ``estimate`` exceeds the usable free memory.

    ``advice`` is what the user can lower (the flags or settings, for the message).
    """
    free = available_memory(estimate.device) if available is None else int(available)
    need = estimate.total
    if need <= free * fraction:
        return
    big = estimate.largest()
    where = "GPU memory" if estimate.device == "cuda" else "memory"
    raise MemoryLimitError(
        f"{estimate.what} needs about {fmt_bytes(need)} of {where} (most of it: {big}, "
        f"{fmt_bytes(estimate.parts.get(big, 0))}) but only {fmt_bytes(free)} is free; {advice}"
    )
