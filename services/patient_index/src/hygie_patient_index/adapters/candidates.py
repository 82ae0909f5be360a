"""Blocking: the candidate source records a new identity is compared with.

Each rule is served by its own index (see the migration); their union is the candidate
set. A pair outside every block is never compared (it is presumed a non-match).

1. same phonetic family name (birth or used) and same birth year;
2. same birth date (or the day/month swapped) and same first given name initial;
3. same birth place INSEE code, same sex and same phonetic first given name.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.identity import SourceRecord
from .codec import source_from_row, source_values
from .tables import golden_record, source_record

__all__ = ["blocking_candidates", "family_frequency"]


def _swapped(d: date | None) -> date | None:
    if d is None or d.day > 12 or d.day == d.month:
        return None
    try:
        return d.replace(month=d.day, day=d.month)
    except ValueError:
        return None


async def blocking_candidates(
    conn: AsyncConnection, record: SourceRecord, *, limit: int = 200
) -> list[SourceRecord]:
    """Active source records of active golden records sharing a block with ``record``."""
    keys: dict[str, Any] = source_values(record)
    s = source_record
    rules = []
    if keys["family_phon"] and keys["birth_year"] is not None:
        rules.append(
            sa.and_(
                s.c.family_phon.overlap(keys["family_phon"]), s.c.birth_year == keys["birth_year"]
            )
        )
    if keys["birth_date"] is not None and keys["first_initial"]:
        dates = [d for d in (keys["birth_date"], _swapped(keys["birth_date"])) if d]
        rules.append(sa.and_(s.c.birth_date.in_(dates), s.c.first_initial == keys["first_initial"]))
    if keys["birth_place_code"] and keys["first_given_phon"] and keys["sex"] != "unknown":
        rules.append(
            sa.and_(
                s.c.birth_place_code == keys["birth_place_code"],
                s.c.sex == keys["sex"],
                s.c.first_given_phon == keys["first_given_phon"],
            )
        )
    if not rules:
        return []
    ids = sa.union(*[sa.select(s.c.id).where(rule) for rule in rules]).subquery()
    q = (
        sa.select(s)
        .join(ids, ids.c.id == s.c.id)
        .join(golden_record, golden_record.c.id == s.c.golden_id)
        .where(s.c.active, golden_record.c.active, s.c.id != record.id)
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
    total = (
        await conn.execute(
            sa.text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'source_record'")
        )
    ).scalar()
    if total is None or total < TF_MIN_POPULATION:
        return None
    same = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(source_record)
            .where(source_record.c.family_phon.overlap(keys))
        )
    ).scalar_one()
    return max(int(same), 1) / int(total)
