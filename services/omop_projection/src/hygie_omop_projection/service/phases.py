"""Where a generation's time goes: wall seconds per phase (``/omop/status``, the benchmark).

Phases overlap when a batch is decoded and mapped in a thread while the previous one is
written, so their sum can exceed the elapsed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Phases"]


class Phases:
    """Accumulated seconds and counts per named phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    @contextmanager
    def timed(self, name: str, count: int = 1) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started, count)

    def add(self, name: str, seconds: float, count: int = 1) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.counts[name] = self.counts.get(name, 0) + count

    def ticker(self, started: float | None = None) -> Callable[[str, int], None]:
        """``tick(name, count)``: adds the time since the previous tick (or ``started``)."""
        last = [time.perf_counter() if started is None else started]

        def tick(name: str, count: int = 1) -> None:
            now = time.perf_counter()
            self.add(name, now - last[0], count)
            last[0] = now

        return tick

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {
            name: {"seconds": round(s, 3), "count": self.counts[name]}
            for name, s in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        }
