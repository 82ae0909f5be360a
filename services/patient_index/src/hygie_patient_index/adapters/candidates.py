"""Blocking: the candidate source records a new identity is compared with — those
sharing one of its blocking keys (domain.blocking), found on the GIN index of
``block_keys``. A pair sharing no key is never compared (presumed a non-match).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.blocking import query_keys
from ..domain.identity import SourceRecord
from .codec import source_from_row, source_values
from .tables import golden_record, source_record

__all__ = ["blocking_candidates", "family_frequency"]


#: How many rows sharing a key are ranked before the best ``limit`` are kept.
RANKED_PER_KEPT = 10


async def blocking_candidates(
    conn: AsyncConnection, record: SourceRecord, *, limit: int = 200
) -> list[SourceRecord]:
    """Active source records of active golden records sharing a block with ``record``.

    When more than ``limit`` share a block (a common name in a large index), those sharing
    the most blocking keys with ``record`` come first (up to ``RANKED_PER_KEPT * limit``
    rows ranked), so the cap drops the weakest candidates, not arbitrary ones."""
    keys = query_keys(record)
    if not keys:
        return []
    s = source_record
    key = sa.func.unnest(s.c.block_keys).column_valued("k")
    shared = (
        sa.select(sa.func.count())
        .where(key == sa.any_(sa.cast(sa.literal(keys), ARRAY(sa.Text))))
        .scalar_subquery()
    )
    sharing = (
        sa.select(s, shared.label("shared"))
        .join(golden_record, golden_record.c.id == s.c.golden_id)
        .where(
            s.c.block_keys.overlap(keys), s.c.active, golden_record.c.active, s.c.id != record.id
        )
        .limit(limit * RANKED_PER_KEPT)
        .subquery()
    )
    q = (
        sa.select(*(sharing.c[c.name] for c in s.columns))
        .order_by(sharing.c.shared.desc())
        .limit(limit)
    )
    rows = (await conn.execute(q)).mappings()
    return [source_from_row(r) for r in rows]


#: Below this many source records, name frequencies are too noisy to adjust on.
TF_MIN_POPULATION = 1000


async def family_frequency(conn: AsyncConnection, record: SourceRecord) -> float | None:
    """Share of source records whose family name sounds like ``record``'s (None when the
    index is too small for the share to mean anything)."""
    keys = source_values(record)["family_phon"]
    if not keys:
        return None
    # One round trip: the planner's row estimate (no count of the table) and the count of
    # the name's records on the GIN index.
    row = (
        await conn.execute(
            sa.text(
                "SELECT (SELECT reltuples::bigint FROM pg_class WHERE relname = 'source_record'),"
                " (SELECT count(*) FROM source_record WHERE family_phon && :keys)"
            ),
            {"keys": keys},
        )
    ).one()
    total, same = row
    if total is None or total < TF_MIN_POPULATION:
        return None
    return max(int(same), 1) / int(total)
