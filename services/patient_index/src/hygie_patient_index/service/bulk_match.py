"""The decisions of the bulk load: ``decide_match`` (service.matching) for many records
whose normalised views are computed once per record, not once per compared pair.

``decide_with_views`` mirrors ``decide_match`` step by step (deterministic INS match, then
Fellegi-Sunter over the candidates, term-frequency adjustment, ``decide``) with the same
public functions of domain.scoring; tests check it decides as ``decide_match`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from uuid import UUID

from ..domain.comparators import MatchView
from ..domain.identity import SourceRecord
from ..domain.scoring import (
    STRICT_DISAGREEMENT,
    Decision,
    MatchModel,
    Outcome,
    PairScore,
    decide,
    tf_adjusted,
)
from .context import IndexContext

__all__ = ["Viewed", "best_scores_viewed", "decide_with_views"]

Viewed = tuple[SourceRecord, MatchView]
"""A source record and its view (MatchView caches its normalised keys)."""


def best_scores_viewed(
    model: MatchModel,
    view: MatchView,
    candidates: Iterable[Viewed],
    *,
    excluded: AbstractSet[UUID] = frozenset(),
) -> dict[UUID, PairScore]:
    """``best_scores`` with the candidates' views given."""
    best: dict[UUID, PairScore] = {}
    score = model.score
    for cand, cview in candidates:
        gid = cand.golden_id
        if gid is None or gid in excluded:
            continue
        s = score(view, cview)
        held = best.get(gid)
        if held is None or s.weight > held.weight:
            best[gid] = s
    return best


def decide_with_views(
    ctx: IndexContext,
    view: MatchView,
    *,
    same_ins: Iterable[Viewed],
    candidates: Iterable[Viewed],
    frequency: float | None,
    excluded: AbstractSet[UUID] = frozenset(),
) -> tuple[Decision, str]:
    """``decide_match`` for ``view.record`` (same steps, same decision)."""
    scored = best_scores_viewed(ctx.model, view, same_ins, excluded=excluded)
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
    scored = best_scores_viewed(ctx.model, view, candidates, excluded=excluded)
    if scored and frequency is not None:
        scored = {
            g: tf_adjusted(s, ctx.model, field="family_name", frequency=frequency)
            for g, s in scored.items()
        }
    return decide(scored, ctx.thresholds), "probabilistic"
