"""Set-based reads and COPY writes of the bulk load (service.bulk), on the unit of work's
own connection and transaction (asyncpg underneath SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.golden import GoldenRecord
from ..domain.identity import Identifier, SourceRecord
from .codec import golden_from_row, golden_snapshot, source_from_row, source_values
from .tables import golden_record, source_record

__all__ = [
    "bound_identifiers",
    "candidate_pairs",
    "copy_goldens",
    "copy_reviews",
    "copy_sources",
    "family_counts",
    "goldens_by_id",
    "ins_holders",
    "lock_golden_versions",
    "save_goldens",
    "settle",
    "source_versions_of_goldens",
    "sources_by_id",
]

_SOURCE_COLUMNS = [c.name for c in source_record.columns if c.name != "created_at"]


async def _driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection, inside the unit of work's transaction: SQLAlchemy's adapter
    sends BEGIN with its first statement, so one goes through it first (else the COPY
    would run in autocommit, outside the transaction)."""
    await conn.execute(sa.text("SELECT 1"))
    raw = await conn.get_raw_connection()
    return raw.driver_connection  # type: ignore[return-value]


async def bound_identifiers(
    conn: AsyncConnection, idents: Sequence[Identifier]
) -> set[tuple[str, str]]:
    """Which of these local identifiers already belong to a source record."""
    pg = await _driver(conn)
    rows = await pg.fetch(
        "SELECT i.system, i.value FROM identifier i "
        "JOIN unnest($1::text[], $2::text[]) AS u(system, value) USING (system, value)",
        [i.system for i in idents],
        [i.value for i in idents],
    )
    return {(r["system"], r["value"]) for r in rows}


async def candidate_pairs(
    conn: AsyncConnection,
    lookup_keys: Sequence[tuple[int, str]],
    written: Sequence[tuple[UUID, int, UUID]],
) -> tuple[list[tuple[int, UUID, int, UUID]], set[UUID]]:
    """Blocking of a batch against the index, set-based: (record, id, version, golden
    record) of each active source record of an active patient sharing a key with it —
    except those ``written`` (id, version, golden record) still are as written, which the
    caller blocks in memory; and which of ``written`` are no longer as written (changed,
    moved, inactive: not to be used from memory)."""
    pg = await _driver(conn)
    await pg.execute(
        "CREATE TEMP TABLE bulk_lookup (ord int, key text) ON COMMIT DROP;"
        "CREATE TEMP TABLE bulk_written (id uuid, version int, golden_id uuid) ON COMMIT DROP"
    )
    await pg.copy_records_to_table("bulk_lookup", records=lookup_keys)
    await pg.copy_records_to_table("bulk_written", records=written)
    await pg.execute("ANALYZE bulk_lookup; ANALYZE bulk_written")
    outer = await pg.fetch(
        "SELECT DISTINCT q.ord, s.id, s.version, s.golden_id FROM bulk_lookup q JOIN ("
        " SELECT s.id, s.version, s.golden_id, unnest(s.block_keys) AS key"
        " FROM source_record s JOIN golden_record g ON g.id = s.golden_id"
        " WHERE s.active AND g.active AND NOT EXISTS (SELECT 1 FROM bulk_written w"
        "  WHERE w.id = s.id AND w.version = s.version AND w.golden_id = s.golden_id)"
        ") s USING (key)"
    )
    stale = await pg.fetch(
        "SELECT w.id FROM bulk_written w LEFT JOIN source_record s ON s.id = w.id"
        " LEFT JOIN golden_record g ON g.id = s.golden_id"
        " WHERE s.id IS NULL OR s.version <> w.version OR s.golden_id <> w.golden_id"
        " OR NOT s.active OR NOT g.active"
    )
    await pg.execute("DROP TABLE bulk_lookup; DROP TABLE bulk_written")
    return [tuple(r) for r in outer], {r[0] for r in stale}  # type: ignore[misc]


async def sources_by_id(conn: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, SourceRecord]:
    if not ids:
        return {}
    # One array parameter (an IN list would exceed the 32,767 bind parameters of a batch).
    rows = (
        await conn.execute(
            sa.select(source_record).where(
                source_record.c.id
                == sa.func.any(sa.literal(list(ids), ARRAY(PgUUID(as_uuid=True))))
            )
        )
    ).mappings()
    return {r["id"]: source_from_row(r) for r in rows}


async def ins_holders(
    conn: AsyncConnection, matricules: Sequence[str]
) -> list[tuple[str, str, UUID, int, UUID]]:
    """(matricule, OID, id, version, golden record) of the active sources of active
    patients whose INS came from INSi (RECUP or QUAL), for these matricules."""
    if not matricules:
        return []
    pg = await _driver(conn)
    rows = await pg.fetch(
        "SELECT s.ins_matricule, s.ins_oid, s.id, s.version, s.golden_id FROM source_record s"
        " JOIN golden_record g ON g.id = s.golden_id"
        " WHERE s.ins_matricule = ANY($1::text[]) AND s.status IN ('RECUP', 'QUAL')"
        " AND s.active AND g.active ORDER BY s.created_at, s.id",
        list(matricules),
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def family_counts(conn: AsyncConnection, keys: Sequence[str]) -> tuple[dict[str, int], int]:
    """How many active source records carry each phonetic family key, and how many there are."""
    pg = await _driver(conn)
    rows = await pg.fetch(
        "SELECT k, count(*) AS n FROM source_record, unnest(family_phon) AS k "
        "WHERE k = ANY($1::text[]) GROUP BY k",
        list(keys),
    )
    total = await pg.fetchval("SELECT count(*) FROM source_record")
    return {r["k"]: r["n"] for r in rows}, int(total)


def _jsonb(value: Any) -> str:
    return orjson.dumps(value).decode()


async def copy_goldens(conn: AsyncConnection, goldens: Sequence[GoldenRecord]) -> None:
    pg = await _driver(conn)
    await pg.copy_records_to_table(
        "golden_record",
        columns=["id", "active", "replaced_by", "status", "record_of_truth", "version", "snapshot"],
        records=[
            (
                g.id,
                g.active,
                g.replaced_by,
                g.status.value,
                g.record_of_truth,
                g.version,
                _jsonb(golden_snapshot(g)),
            )
            for g in goldens
        ],
    )


async def copy_sources(
    conn: AsyncConnection, sources: Sequence[SourceRecord], block_keys: Sequence[list[str]]
) -> None:
    """Source records (with their blocking keys) and every one of their identifiers (the
    primary key of ``identifier`` still rejects one bound twice: the whole batch then
    fails, nothing is stored)."""
    pg = await _driver(conn)
    rows = []
    for s, keys in zip(sources, block_keys, strict=True):
        values = source_values(s, block_keys=keys)
        values["traits"] = _jsonb(values["traits"])
        values["other_identifiers"] = _jsonb(values["other_identifiers"])
        rows.append(tuple(values[c] for c in _SOURCE_COLUMNS))
    await pg.copy_records_to_table("source_record", columns=_SOURCE_COLUMNS, records=rows)
    await pg.copy_records_to_table(
        "identifier",
        columns=["system", "value", "source_id"],
        records=[(i.system, i.value, s.id) for s in sources for i in s.identifiers],
    )


async def copy_reviews(conn: AsyncConnection, items: Sequence[tuple[Any, ...]]) -> None:
    """Review items of new source records (id, source, candidate, score, contributions,
    reason): none can already be open for a source record created in the same batch."""
    if not items:
        return
    pg = await _driver(conn)
    await pg.copy_records_to_table(
        "review_item",
        columns=["id", "source_id", "candidate_id", "score", "contributions", "reason"],
        records=[(*item[:4], _jsonb(item[4]), item[5]) for item in items],
    )


def _uuids(ids: Sequence[UUID]) -> Any:
    return sa.literal(list(ids), ARRAY(PgUUID(as_uuid=True)))


async def lock_golden_versions(conn: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, int]:
    """Lock golden records in id order (as ``lock_goldens``: no deadlock); their versions."""
    pg = await _driver(conn)
    rows = await pg.fetch(
        "SELECT id, version FROM golden_record WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
        sorted(ids),
    )
    return {r["id"]: r["version"] for r in rows}


async def goldens_by_id(conn: AsyncConnection, ids: Sequence[UUID]) -> list[GoldenRecord]:
    if not ids:
        return []
    rows = (
        await conn.execute(
            sa.select(golden_record).where(golden_record.c.id == sa.func.any(_uuids(ids)))
        )
    ).mappings()
    return [golden_from_row(r) for r in rows]


async def source_versions_of_goldens(
    conn: AsyncConnection, ids: Sequence[UUID]
) -> list[tuple[UUID, UUID, int]]:
    """(golden record, source record, version) of every source of these golden records,
    oldest first (the order ``survive`` reads them in)."""
    pg = await _driver(conn)
    rows = await pg.fetch(
        "SELECT golden_id, id, version FROM source_record WHERE golden_id = ANY($1::uuid[]) "
        "ORDER BY created_at, id",
        list(ids),
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def settle(conn: AsyncConnection) -> None:
    """After a load: fresh planner statistics (the online match's plans were chosen on the
    index before it) and the GIN indexes' pending entries merged now, not by the
    registration that happens to cross ``gin_pending_list_limit`` (hundreds of ms)."""
    pg = await _driver(conn)
    await pg.execute("ANALYZE source_record; ANALYZE golden_record; ANALYZE identifier")
    await pg.execute(
        "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam"
        " WHERE i.indrelid = 'source_record'::regclass AND a.amname = 'gin'"
    )


async def save_goldens(conn: AsyncConnection, goldens: Sequence[GoldenRecord]) -> None:
    """New versions of golden records, in one statement."""
    if not goldens:
        return
    pg = await _driver(conn)
    await pg.execute(
        "UPDATE golden_record g SET status = u.status, version = u.version,"
        " snapshot = u.snapshot::jsonb, updated_at = now()"
        " FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[])"
        " AS u(id, status, version, snapshot) WHERE g.id = u.id",
        [g.id for g in goldens],
        [g.status.value for g in goldens],
        [g.version for g in goldens],
        [_jsonb(golden_snapshot(g)) for g in goldens],
    )
