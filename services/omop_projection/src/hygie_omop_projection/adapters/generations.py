"""Generation schemas (blue/green, ARCHITECTURE §5) and the analysts' ``omop`` schema.

Each generation is a schema ``omop_g<n>`` holding the CDM tables and the projection's
state. Analysts read the schema ``omop``: one view per CDM table on the serving
generation; a swap replaces the views in one transaction.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .cdm import CDM_TABLES, generation_ddl

__all__ = [
    "ANALYST_ROLE",
    "Generation",
    "create_generation",
    "drop_generation",
    "generations",
    "make_durable",
    "make_durable_concurrently",
    "point_views",
    "reset_if_torn",
    "write_cdm_source",
]

ANALYST_ROLE = "hygie_analyst"


@dataclass(frozen=True)
class Generation:
    generation: int
    schema: str
    state: str
    started_at: datetime
    swapped_at: datetime | None
    events: int


async def generations(conn: AsyncConnection) -> list[Generation]:
    rows = await conn.execute(
        text(
            "SELECT generation, schema_name, state, started_at, swapped_at, events "
            "FROM omop_generation ORDER BY generation"
        )
    )
    return [Generation(*r) for r in rows.all()]


async def create_generation(
    conn: AsyncConnection, *, state: str, unlogged: bool = False
) -> Generation:
    """A new, empty generation schema (the next number). A generation is built LOGGED,
    its transactions committing asynchronously (``Projector.apply``): faster than building
    it UNLOGGED then rewriting every table durable at the swap (1,000,000 compositions:
    5,769/s against 4,803/s, see README), and a crash of PostgreSQL only costs the last
    batches, read again from their checkpoints. ``unlogged``: as earlier versions built
    them (tests of the swap of such a generation, made durable then)."""
    await conn.execute(text("LOCK TABLE omop_generation IN EXCLUSIVE MODE"))
    number = (
        await conn.execute(text("SELECT coalesce(max(generation), 0) + 1 FROM omop_generation"))
    ).scalar_one()
    schema = f"omop_g{number}"
    for statement in generation_ddl(schema, unlogged=unlogged):
        await conn.execute(text(statement))
    row = (
        await conn.execute(
            text(
                "INSERT INTO omop_generation (generation, schema_name, state) VALUES (:g, :s, :st)"
                " RETURNING generation, schema_name, state, started_at, swapped_at, events"
            ),
            {"g": number, "s": schema, "st": state},
        )
    ).one()
    return Generation(*row)


async def _unlogged(conn: AsyncConnection, schema: str) -> list[str]:
    """The unlogged tables of a schema, largest first."""
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind = 'r' AND c.relpersistence = 'u' "
            "ORDER BY pg_total_relation_size(c.oid) DESC, c.relname"
        ),
        {"s": schema},
    )
    return [r[0] for r in rows.all()]


async def make_durable(conn: AsyncConnection, schema: str) -> int:
    """``SET LOGGED`` every unlogged table of a generation, at its swap (generations are
    built logged; one built UNLOGGED by an earlier version is made durable here); the
    tables made logged. Until then a crash of PostgreSQL empties such a generation,
    checkpoints included, so its rebuild restarts from offset 0."""
    tables = await _unlogged(conn, schema)
    for table in tables:
        await conn.execute(text(f'ALTER TABLE {schema}."{table}" SET LOGGED'))
    return len(tables)


async def make_durable_concurrently(
    engine: AsyncEngine,
    schema: str,
    *,
    connections: int = 2,
    last: tuple[str, ...] = ("checkpoint",),
) -> dict[str, float]:
    """``SET LOGGED`` the unlogged tables of a generation but ``last``, largest first, on
    several connections at once (each table in its own transaction: the rewrites of a large
    generation take tens of seconds on one core); the swap makes ``last`` logged in its own
    transaction. A crash in between leaves some tables logged while the checkpoints are
    gone with the unlogged ones: ``reset_if_torn`` empties such a generation before its
    build starts again from offset 0, as after any crash during a rebuild. Returns the
    seconds each table took."""
    async with engine.connect() as conn:
        queue = [t for t in await _unlogged(conn, schema) if t not in last]
    took: dict[str, float] = {}

    async def worker() -> None:
        async with engine.connect() as conn:
            while queue:
                table = queue.pop(0)
                started = time.perf_counter()
                await conn.execute(text(f'ALTER TABLE {schema}."{table}" SET LOGGED'))
                await conn.commit()
                took[table] = round(time.perf_counter() - started, 2)

    await asyncio.gather(*(worker() for _ in range(max(1, connections))))
    return took


async def reset_if_torn(conn: AsyncConnection, schema: str) -> bool:
    """Before a generation's build (re)starts: without checkpoints (none yet, or emptied by
    a crash of PostgreSQL with the other unlogged tables), rows left in its logged tables
    (made durable just before a swap that did not happen) are removed, the whole build
    restarting from offset 0; whether anything was removed."""
    if (await conn.execute(text(f"SELECT 1 FROM {schema}.checkpoint LIMIT 1"))).first():
        return False
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind = 'r' AND c.relpersistence = 'p' "
            "AND c.relname <> 'cdm_source' ORDER BY c.relname"
        ),
        {"s": schema},
    )
    logged = [r[0] for r in rows.all()]
    if logged:
        tables = ", ".join(f'{schema}."{t}"' for t in logged)
        await conn.execute(text(f"TRUNCATE {tables}"))
    return bool(logged)


async def point_views(conn: AsyncConnection, schema: str) -> None:
    """Make ``omop.<table>`` read ``<schema>.<table>`` for every CDM table (one transaction)."""
    await conn.execute(text("DROP SCHEMA IF EXISTS omop CASCADE"))
    await conn.execute(text("CREATE SCHEMA omop"))
    for table in CDM_TABLES:
        await conn.execute(text(f"CREATE VIEW omop.{table} AS SELECT * FROM {schema}.{table}"))
    # The analyst role reads the views only (pseudonymised data); created when allowed.
    await conn.execute(
        text(
            "DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ANALYST_ROLE}') THEN "
            f"CREATE ROLE {ANALYST_ROLE} NOLOGIN; END IF; "
            f"GRANT USAGE ON SCHEMA omop TO {ANALYST_ROLE}; "
            f"GRANT SELECT ON ALL TABLES IN SCHEMA omop TO {ANALYST_ROLE}; "
            "EXCEPTION WHEN insufficient_privilege THEN NULL; END $$"
        )
    )


async def drop_generation(conn: AsyncConnection, generation: Generation) -> None:
    await conn.execute(text(f"DROP SCHEMA IF EXISTS {generation.schema} CASCADE"))
    await conn.execute(
        text("UPDATE omop_generation SET state = 'retired' WHERE generation = :g"),
        {"g": generation.generation},
    )


async def write_cdm_source(
    conn: AsyncConnection,
    schema: str,
    *,
    created: date,
    refreshed: datetime,
    vocabulary: str,
    etl: str,
) -> None:
    """The one ``cdm_source`` row: versions and how fresh the data is."""
    await conn.execute(text(f"DELETE FROM {schema}.cdm_source"))
    row: dict[str, Any] = {
        "n": "Hygie OMOP projection",
        "a": "HYGIE",
        "h": "the hospital running Hygie",
        "d": f"live projection of the Hygie clinical record; refreshed {refreshed.isoformat()}",
        "etl": etl[:255],
        "src": refreshed.astimezone(UTC).date(),
        "cdm": created,
        "v": vocabulary[:20],
    }
    await conn.execute(
        text(
            f"INSERT INTO {schema}.cdm_source (cdm_source_name, cdm_source_abbreviation, "
            "cdm_holder, source_description, cdm_etl_reference, source_release_date, "
            "cdm_release_date, cdm_version, cdm_version_concept_id, vocabulary_version) "
            "VALUES (:n, :a, :h, :d, :etl, :src, :cdm, '5.4', 756265, :v)"
        ),
        row,
    )
