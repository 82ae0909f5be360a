"""Finding the golden record a new identity belongs to: deterministic on a trusted INS,
otherwise probabilistic over the blocking candidates (domain.scoring)."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.candidates import blocking_candidates, family_frequency
from ..adapters.repository import PatientRepository
from ..domain.comparators import MatchView
from ..domain.identity import SourceRecord
from ..domain.scoring import (
    STRICT_DISAGREEMENT,
    Decision,
    Outcome,
    PairScore,
    decide,
    tf_adjusted,
)
from .context import IndexContext

__all__ = [
    "Scored",
    "best_of",
    "best_scores",
    "decide_match",
    "decide_scored",
    "find_match",
]


Scored = tuple[UUID | None, PairScore]
"""The golden record of a candidate and the score of the pair."""


def best_of(scored: Iterable[Scored], excluded: AbstractSet[UUID]) -> dict[UUID, PairScore]:
    """The best score per candidate golden record (excluded ones left out)."""
    best: dict[UUID, PairScore] = {}
    for gid, s in scored:
        if gid is None or gid in excluded:
            continue
        held = best.get(gid)
        if held is None or s.weight > held.weight:
            best[gid] = s
    return best


def _scored(
    ctx: IndexContext, record: SourceRecord, pairs: Iterable[SourceRecord]
) -> Iterable[Scored]:
    view = MatchView(record)
    return (
        (c.golden_id, ctx.model.score(view, MatchView(c))) for c in pairs if c.golden_id is not None
    )


def best_scores(
    ctx: IndexContext,
    record: SourceRecord,
    candidates: Iterable[SourceRecord],
    *,
    excluded: AbstractSet[UUID] = frozenset(),
) -> dict[UUID, PairScore]:
    """The best pair score per candidate golden record (excluded ones left out)."""
    return best_of(_scored(ctx, record, candidates), excluded)


def decide_scored(
    ctx: IndexContext,
    *,
    same_ins: Iterable[Scored],
    candidates: Iterable[Scored],
    frequency: float | None,
    excluded: AbstractSet[UUID] = frozenset(),
) -> tuple[Decision, str]:
    """The decision on the scores of a record's pairs: a golden record sharing its trusted
    INS links deterministically (a trait conflict or several such records flagged for
    review); otherwise Fellegi-Sunter over the candidates, term-frequency adjusted on the
    family name, then ``decide``. The online match and the bulk load both end here."""
    scored = best_of(same_ins, excluded)
    if scored:
        golden_id, score = max(scored.items(), key=lambda kv: kv[1].weight)
        conflict = any(score.level(f) in lvls for f, lvls in STRICT_DISAGREEMENT.items())
        reason = (
            "ins-trait-conflict"
            if conflict
            else "ins-shared-by-several-patients"
            if len(scored) > 1
            else None
        )
        return Decision(Outcome.LINK, golden_id, score, reason, reason is not None), "deterministic"
    scored = best_of(candidates, excluded)
    if scored and frequency is not None:
        scored = {
            g: tf_adjusted(s, ctx.model, field="family_name", frequency=frequency)
            for g, s in scored.items()
        }
    return decide(scored, ctx.thresholds), "probabilistic"


def decide_match(
    ctx: IndexContext,
    record: SourceRecord,
    *,
    same_ins: Iterable[SourceRecord],
    candidates: Iterable[SourceRecord],
    frequency: float | None,
    excluded: AbstractSet[UUID] = frozenset(),
) -> tuple[Decision, str]:
    """The decision given what the index holds: sources sharing the record's trusted INS,
    blocking candidates and the frequency of its family name (no I/O)."""
    return decide_scored(
        ctx,
        same_ins=_scored(ctx, record, same_ins),
        candidates=_scored(ctx, record, candidates),
        frequency=frequency,
        excluded=excluded,
    )


async def find_match(
    conn: AsyncConnection,
    ctx: IndexContext,
    record: SourceRecord,
    *,
    excluded: AbstractSet[UUID] = frozenset(),
) -> tuple[Decision, str]:
    """The link decision for ``record`` and its method (deterministic or probabilistic)."""
    repo = PatientRepository(conn)
    ins = record.trusted_ins
    same = [s for s in await repo.sources_with_ins(ins) if s.id != record.id] if ins else []
    if same and best_scores(ctx, record, same, excluded=excluded):
        return decide_match(
            ctx, record, same_ins=same, candidates=(), frequency=None, excluded=excluded
        )
    candidates = await blocking_candidates(conn, record, limit=ctx.max_candidates)
    frequency = await family_frequency(conn, record) if candidates else None
    return decide_match(
        ctx, record, same_ins=(), candidates=candidates, frequency=frequency, excluded=excluded
    )
