"""ITI-119 Patient $match: score a query patient against the index, best first."""

from __future__ import annotations

from dataclasses import dataclass

from hygie_platform.uow import UnitOfWork

from ..adapters.candidates import blocking_candidates
from ..adapters.repository import PatientRepository
from ..domain.golden import GoldenRecord
from ..domain.identity import SourceRecord
from ..domain.scoring import PairScore
from .context import IndexContext
from .matching import best_scores

__all__ = ["ScoredPatient", "match_patients"]


@dataclass(frozen=True)
class ScoredPatient:
    patient: GoldenRecord
    score: PairScore
    grade: str  # certain | probable | possible


async def match_patients(
    uow: UnitOfWork,
    ctx: IndexContext,
    query: SourceRecord,
    *,
    count: int = 10,
    only_certain: bool = False,
) -> list[ScoredPatient]:
    """Golden records scored against ``query``: certain above the auto-link threshold,
    probable above the review threshold, possible above zero weight."""
    repo = PatientRepository(uow.connection)
    candidates = await blocking_candidates(uow.connection, query, limit=ctx.max_candidates)
    if query.trusted_ins is not None:
        candidates += await repo.sources_with_ins(query.trusted_ins)
    scored = best_scores(ctx, query, candidates)
    t = ctx.thresholds
    ranked = sorted(scored.items(), key=lambda kv: kv[1].weight, reverse=True)
    out: list[ScoredPatient] = []
    goldens = {g.id: g for g in await repo.goldens([gid for gid, _ in ranked])}
    for gid, s in ranked:
        grade = (
            "certain"
            if s.weight >= t.auto_link
            else "probable"
            if s.weight >= t.review
            else "possible"
            if s.weight >= 0
            else None
        )
        if grade is None or (only_certain and grade != "certain") or gid not in goldens:
            continue
        out.append(ScoredPatient(goldens[gid], s, grade))
    return out[:count]
