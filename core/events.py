"""Small immutable events that long jobs yield, and the cooperative cancel token.

A job (:mod:`levelset_studio.core.jobs`) is a generator that yields these events. The CLI
drives it with a progress bar; the GUI runs the same job in a worker thread and forwards
events to the GUI thread through signals; a batch worker drains it. Every event is a
frozen dataclass deriving from :class:`Event`; each tool adds its own kinds next to its
engine (the mesh preview here, the decision-region picture in ``robust.lab``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from levelset_studio.core.errors import Cancelled


@dataclass(frozen=True)
class Event:
    """Base of every event a job yields.

    ``coalesce``: a consumer that cannot keep up may keep only the newest event of a
    kind that sets it (progress ticks, previews); every other event is delivered.
    """

    coalesce: ClassVar[bool] = False


@dataclass(frozen=True)
class Progress(Event):
    """One step of a job. ``total`` is None when the job is bounded by time.

    A consumer that cannot keep up may skip Progress events: only the newest matters.
    """

    coalesce: ClassVar[bool] = True
    step: int
    total: int | None
    elapsed: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    remaining: float | None = None
    message: str = ""


@dataclass(frozen=True)
class Snapshot(Event):
    """A picture of a job's current state (a preview mesh, a region map).

    A consumer that cannot keep up keeps only the newest snapshot and drops older ones.
    """

    coalesce: ClassVar[bool] = True


@dataclass(frozen=True)
class Milestone(Progress):
    """Progress that marks a stage with results of its own (an epoch's test accuracy):
    shown like progress, but never skipped."""

    coalesce: ClassVar[bool] = False


@dataclass(frozen=True)
class Message(Event):
    """A line for the user that is neither progress nor a result (what a job decided)."""

    text: str


@dataclass(frozen=True)
class Finished(Event):
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

    def report(self, fraction: float) -> None:
        """Progress of a job that is not a generator (0..1); raises Cancelled when cancelled.

        The base token only checks for cancel; a GUI worker's token also shows the fraction.
        """
        self.raise_if_cancelled()


@dataclass(frozen=True)
class MeshSnapshot(Snapshot):
    """The current zero level set during training, in scan coordinates.

    Produced in the worker (marching cubes runs there); plain NumPy arrays cross the
    thread boundary. ``samples`` optionally holds level-set samples (scan coords).
    """

    vertices: Any  # (V, 3) float64
    faces: Any  # (F, 3) int64
    step: int
    elapsed: float
    samples: Any = None
    normals: Any = None  # (V, 3) float32 unit vertex normals (the network's gradient), or None
