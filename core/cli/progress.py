"""Drive a job's event generator with a tqdm progress bar (the CLI's view of a job)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from tqdm import tqdm

from levelset_studio.core.events import Finished, Progress


def run_with_progress(
    events: Iterable[Any],
    *,
    desc: str,
    total: int | None = None,
    format_metrics: Callable[[Progress], dict[str, str]] | None = None,
    on_event: Callable[[Any], None] | None = None,
) -> Any:
    """Consume ``events``; show Progress on a bar; return the Finished result."""
    result = None
    with tqdm(
        total=total, desc=desc, unit="it", file=sys.stderr, dynamic_ncols=True, disable=None, mininterval=0.5
    ) as bar:
        for ev in events:
            if on_event is not None:
                on_event(ev)
            if isinstance(ev, Progress):
                if ev.total is not None and bar.total != ev.total:
                    bar.total = ev.total
                bar.n = ev.step
                post = format_metrics(ev) if format_metrics else {k: f"{v:.4g}" for k, v in ev.metrics.items()}
                if ev.remaining is not None:
                    post["left"] = f"{ev.remaining:.0f}s"
                bar.set_postfix(post, refresh=False)
                bar.refresh()
            elif isinstance(ev, Finished):
                result = ev.result
    return result
