"""What every use case needs besides the unit of work: the matching model, the
thresholds and the clock (injected by bootstrap; tests pass their own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ..domain.scoring import DEFAULT_MODEL, MatchModel, Thresholds

__all__ = ["IndexContext"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class IndexContext:
    """Mutable only through ``use_model`` (a trained model replaces the defaults)."""

    model: MatchModel = DEFAULT_MODEL
    thresholds: Thresholds = field(default_factory=Thresholds)
    clock: Callable[[], datetime] = _utcnow
    max_candidates: int = 200

    def use_model(self, model: MatchModel) -> None:
        self.model = model

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().date()
