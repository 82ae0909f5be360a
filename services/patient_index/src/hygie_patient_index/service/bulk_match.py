"""The decisions of the bulk load: ``decide_match`` (service.matching) for many records,
their pairs scored first (views computed once per record, the pairs shared with a
forked process on a multi-core machine), then decided in order.

The decision itself is ``service.matching.decide_scored``, the one ``decide_match`` ends
in, on pair scores computed beforehand by the same ``MatchModel.score``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ProcessPoolExecutor
from uuid import UUID

from ..domain.comparators import MatchView
from ..domain.identity import SourceRecord
from ..domain.scoring import (
    Decision,
    MatchModel,
    PairScore,
)
from .context import IndexContext
from .matching import Scored, decide_scored

__all__ = [
    "Scored",
    "Viewed",
    "decide_scored",
    "decide_with_views",
    "default_workers",
    "score_pairs",
]

Viewed = tuple[SourceRecord, MatchView]
"""A source record and its view (MatchView caches its normalised keys)."""

#: Below this many pairs a batch is scored in this process only (a fork costs more).
MIN_PARALLEL_PAIRS = 20_000


def _scores(model: MatchModel, view: MatchView, pairs: Iterable[Viewed]) -> Iterable[Scored]:
    return ((c.golden_id, model.score(view, cv)) for c, cv in pairs if c.golden_id is not None)


def decide_with_views(
    ctx: IndexContext,
    view: MatchView,
    *,
    same_ins: Iterable[Viewed],
    candidates: Iterable[Viewed],
    frequency: float | None,
    excluded: AbstractSet[UUID] = frozenset(),
) -> tuple[Decision, str]:
    """``decide_match`` for ``view.record``, its pairs scored on the way."""
    return decide_scored(
        ctx,
        same_ins=_scores(ctx.model, view, same_ins),
        candidates=_scores(ctx.model, view, candidates),
        frequency=frequency,
        excluded=excluded,
    )


def default_workers() -> int:
    """Processes that score pairs: the cores this process may run on, at most 2."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


_JOB: tuple[MatchModel, Sequence[tuple[MatchView, MatchView]]] | None = None


def _score_range(start: int, stop: int) -> list[PairScore]:
    """In the forked process: the scores of ``_JOB``'s pairs [start, stop)."""
    assert _JOB is not None
    model, pairs = _JOB
    return [model.score(a, b) for a, b in pairs[start:stop]]


def score_pairs(
    model: MatchModel, pairs: Sequence[tuple[MatchView, MatchView]], *, workers: int = 1
) -> list[PairScore]:
    """``model.score`` of each pair, in order. With ``workers`` > 1 on a fork-capable
    system, the first part of the pairs is scored by forked processes (which inherit the
    views: nothing is sent but the scores back) while this one scores the rest."""
    global _JOB
    if workers <= 1 or len(pairs) < MIN_PARALLEL_PAIRS or "fork" not in _start_methods():
        return [model.score(a, b) for a, b in pairs]
    # A pair costs ~32 µs to score and ~8 µs to unpickle here (~5 to pickle there): the
    # other processes take a little more than their even share.
    share = int(len(pairs) * 0.53 / (workers - 1))
    bounds = [(k * share, (k + 1) * share) for k in range(workers - 1)]
    mine = bounds[-1][1]
    _JOB = (model, pairs)
    try:
        with ProcessPoolExecutor(
            workers - 1, mp_context=multiprocessing.get_context("fork")
        ) as pool:
            futures = [pool.submit(_score_range, a, b) for a, b in bounds]
            rest = [model.score(a, b) for a, b in pairs[mine:]]
            out: list[PairScore] = []
            for f in futures:
                out.extend(f.result())
    finally:
        _JOB = None
    out.extend(rest)
    return out


def _start_methods() -> list[str]:
    return multiprocessing.get_all_start_methods()
