"""Responsiveness of the GUI thread: the longest gap between ticks of a 10 ms timer.

While training runs in a worker, every gap longer than a frame (~16-100 ms) is a
stall the user feels when rotating the view. Tests and ``levelset gui --quit``
report the longest one.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer


class StallMeter(QObject):
    """Records the longest interval between timer ticks on the GUI thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 10) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.longest_s = 0.0
        self.ticks = 0
        self.gaps_over_100ms = 0

    def start(self) -> None:
        self.longest_s, self.ticks, self.gaps_over_100ms = 0.0, 0, 0
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        self._tick()
        self._timer.stop()
        return self.longest_s

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    @property
    def longest_ms(self) -> float:
        return 1000.0 * self.longest_s

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self._last
        self._last = now
        self.ticks += 1
        self.longest_s = max(self.longest_s, gap)
        if gap > 0.1:
            self.gaps_over_100ms += 1

    def summary(self) -> str:
        return (
            f"longest GUI-thread stall: {self.longest_ms:.0f} ms "
            f"({self.gaps_over_100ms} gaps over 100 ms in {self.ticks} ticks of {self.interval_ms} ms)"
        )
