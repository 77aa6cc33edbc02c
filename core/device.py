"""Compute device selection: CUDA, then MPS, then CPU. Nothing here requires a GPU."""

from __future__ import annotations

from typing import Literal

import torch

from levelset_studio.core.errors import ConfigError

DeviceName = Literal["auto", "cpu", "cuda", "mps"]
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(name: str = "auto") -> torch.device:
    """The device for ``name``; 'auto' picks CUDA, then MPS, then CPU."""
    if name not in DEVICE_CHOICES:
        raise ConfigError(f"device: {name!r} is not one of {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for but this torch build sees no CUDA GPU")
    if name == "mps" and not _mps_available():
        raise ConfigError("device: mps was asked for but Apple Metal is not available")
    return torch.device(name)


def describe_device(device: torch.device | str | None = None) -> str:
    """Human-readable device name for status bars and logs, e.g. 'CUDA: NVIDIA H200'."""
    dev = select_device("auto") if device is None else torch.device(device)
    if dev.type == "cuda":
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"CUDA: {torch.cuda.get_device_name(idx)}"
    if dev.type == "mps":
        return "MPS: Apple GPU"
    return f"CPU ({torch.get_num_threads()} threads)"


def memory_text() -> str:
    """This process's memory for a status bar: resident set size, and the GPU's when in use."""
    try:
        import psutil

        text = f"Memory: {psutil.Process().memory_info().rss / 2**30:.2f} GB"
    except ImportError:  # peak instead of current where psutil is missing
        import resource

        text = f"Peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB"
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        text += f" · GPU {torch.cuda.memory_allocated() / 2**30:.2f} GB"
    return text
