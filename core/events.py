"""Small immutable events that long jobs yield, and the cooperative cancel token.

A job is a generator (or a loop with a callback) that yields these events. The CLI
drives it with a progress bar; the GUI runs the same job in a worker thread and
forwards events to the GUI thread through signals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One step of a job. ``total`` is None when the job is bounded by time."""

    step: int
    total: int | None
    elapsed: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    remaining: float | None = None
    message: str = ""


@dataclass(frozen=True)
class Finished:
    """The last event of a job, carrying its result."""

    result: Any
    elapsed: float
    message: str = ""


class CancelToken:
    """Thread-safe flag that a job checks between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class MeshSnapshot:
    """The current zero level set during training, in scan coordinates.

    Produced in the worker (marching cubes runs there); plain NumPy arrays cross the
    thread boundary. ``samples`` optionally holds level-set samples (scan coords).
    """

    vertices: Any  # (V, 3) float64
    faces: Any  # (F, 3) int64
    step: int
    elapsed: float
    samples: Any = None
