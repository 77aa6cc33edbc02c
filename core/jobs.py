"""The job protocol: how every long computation reports, finishes and stops.

A *job* is a callable that takes a :class:`~levelset_studio.core.events.CancelToken` and
either returns its result or returns a generator of events
(:mod:`levelset_studio.core.events`) whose last one is ``Finished(result)``. The same
job runs under the CLI's progress bar, in a GUI worker thread and in a batch worker;
this module holds the conventions that all of them rely on:

- **Cancel** is cooperative. A job checks its token between steps (``raise_if_cancelled``)
  and a cancelled job *raises* :class:`~levelset_studio.core.errors.Cancelled`, whatever
  the engine: it never returns quietly, so a caller can always tell "stopped" from
  "done".
- **Errors** a user can cause are :class:`~levelset_studio.core.errors.LevelSetError`
  with a one-line message; :func:`user_message` is the one mapping from an exception to
  what a person reads (a CLI line, a dialog). Anything else is a bug.
- **Events** are small frozen dataclasses. Subclasses of
  :class:`~levelset_studio.core.events.Snapshot` and :class:`Progress` may be coalesced
  by a slow consumer (only the newest matters); other events are always delivered.

:func:`drain` drives a job's events to the end for code that has no event loop of its
own (the CLI, batch workers, tests).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from levelset_studio.core.errors import Cancelled, LevelSetError
from levelset_studio.core.events import CancelToken, Finished

T = TypeVar("T")

Job = Callable[[CancelToken], Any]
"""A job: called with its cancel token; returns a result or a generator of events."""

EventHandler = Callable[[Any], None]  # receives each Event


def user_message(exc: BaseException) -> str:
    """The one-line message a person reads for an exception that ended a job."""
    if isinstance(exc, LevelSetError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (try a smaller scan, resolution or batch)"
    text = str(exc).strip().splitlines()
    return f"internal error: {type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def drain(
    events: Iterator[Any] | Any,
    on_event: EventHandler | None = None,
    cancel: CancelToken | None = None,
) -> Any:
    """Consume a job's output to the end and return its result.

    ``events`` is what a job returned: a generator of events (the result is that of its
    ``Finished``) or a plain value (returned as it is). ``on_event`` sees every event,
    ``Finished`` included. With ``cancel`` set, :class:`Cancelled` is raised at the next
    event, and the generator is closed either way.
    """
    if not inspect.isgenerator(events):
        return events
    result = None
    try:
        for ev in events:
            if on_event is not None:
                on_event(ev)
            if isinstance(ev, Finished):
                result = ev.result
                break
            if cancel is not None:
                cancel.raise_if_cancelled()
    finally:
        events.close()
    return result


def run_job(job: Job, cancel: CancelToken | None = None, on_event: EventHandler | None = None) -> Any:
    """Call ``job`` with a token and drain it: the whole protocol, synchronously."""
    token = cancel if cancel is not None else CancelToken()
    return drain(job(token), on_event, token)


def single_result(fn: Callable[[CancelToken], T]) -> Callable[[CancelToken], Iterator[Finished]]:
    """A job computing one value, as a generator that yields ``Finished`` (for consumers
    that want every job to end with the same event)."""

    def job(token: CancelToken) -> Iterator[Finished]:
        t0 = time.perf_counter()
        result = fn(token)
        token.raise_if_cancelled()
        yield Finished(result=result, elapsed=time.perf_counter() - t0)

    return job


__all__ = ["Cancelled", "EventHandler", "Job", "drain", "run_job", "single_result", "user_message"]
