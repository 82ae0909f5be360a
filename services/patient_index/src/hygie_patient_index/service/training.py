"""Use cases: train the match model by EM from the index's own records, and load the
last trained parameters (at start)."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from hygie_platform.uow import UnitOfWork

from ..adapters.candidates import blocking_candidates
from ..adapters.codec import source_from_row
from ..adapters.tables import match_parameters, source_record
from ..domain.blocking import blocking_keys, query_keys, rule_of
from ..domain.comparators import MatchView
from ..domain.scoring import DEFAULT_MODEL
from ..domain.training import (
    Levels,
    Trained,
    comparison_vector,
    estimate_m_by_rule,
    estimate_u,
    random_vectors,
)
from .context import IndexContext

__all__ = ["load_trained_model", "train_model"]


async def train_model(
    uow: UnitOfWork,
    ctx: IndexContext,
    *,
    sample: int = 2000,
    per_record: int = 20,
    seed: int | None = None,
) -> Trained:
    """Estimate u on random pairs of a sample of records and m by EM on the pairs each
    blocking rule gives them (one EM per rule, domain.training); store the parameters
    and use them from now on."""
    conn = uow.connection
    rows = (
        await conn.execute(
            sa.select(source_record)
            .where(source_record.c.active)
            .order_by(sa.func.random())
            .limit(sample)
        )
    ).mappings()
    sources = [source_from_row(r) for r in rows]
    if len(sources) < 10:
        raise ValueError(f"training needs at least 10 source records, found {len(sources)}")
    rng = random.Random(seed)
    views = [MatchView(s) for s in sources]
    model = DEFAULT_MODEL
    u = estimate_u(
        model, random_vectors(model, views, min(100 * len(views), 200_000), rng), prior_pairs=1000
    )
    # The pairs each blocking rule yields, from the index (the candidates of the sample).
    blocked: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for source, view in zip(sources, views, strict=True):
        keys = set(query_keys(source, view))
        for cand in await blocking_candidates(conn, source, limit=per_record):
            other = MatchView(cand)
            vector = comparison_vector(model, view, other)
            for rule in {rule_of(k) for k in keys.intersection(blocking_keys(cand, other))}:
                blocked[rule].append(vector)
    trained = estimate_m_by_rule(model, blocked, u)
    await conn.execute(
        match_parameters.insert().values(
            levels=_to_json(trained.levels),
            match_share=trained.match_share,
            pairs=trained.pairs,
            iterations=trained.iterations,
        )
    )
    ctx.use_model(DEFAULT_MODEL.with_levels(trained.levels))
    return trained


def _to_json(levels: Levels) -> dict[str, Any]:
    return {f: {lvl: [m, u] for lvl, (m, u) in lv.items()} for f, lv in levels.items()}


async def load_trained_model(uow: UnitOfWork, ctx: IndexContext) -> bool:
    """Use the last trained parameters, if any (True when loaded)."""
    row = (
        await uow.connection.execute(
            sa.select(match_parameters.c.levels).order_by(match_parameters.c.id.desc()).limit(1)
        )
    ).first()
    if row is None:
        return False
    levels = {f: {lvl: (mu[0], mu[1]) for lvl, mu in lv.items()} for f, lv in row[0].items()}
    ctx.use_model(DEFAULT_MODEL.with_levels(levels))
    return True
