"""The writers of one generation, coordinated in PostgreSQL (``entrypoints.parallel``).

Every function runs in the writer's open transaction; the locks are transaction-scoped
advisory locks, released at its commit or rollback.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["asynchronous_commit", "bump_concept_epoch", "lock_persons", "writer_lock"]

_WRITER_LOCK = 0x4F4D4F50  # "OMOP": the two-key advisory lock (this, generation)


async def writer_lock(conn: AsyncConnection, schema: str, generation: int, *, alone: bool) -> int:
    """Take the generation's writer lock for the transaction (shared, or ``alone``); then
    the generation's translation epoch (bumped when cached translations drop)."""
    mode = "" if alone else "_shared"
    await conn.execute(
        text(f"SELECT pg_advisory_xact_lock{mode}(:k, :g)"), {"k": _WRITER_LOCK, "g": generation}
    )
    epoch = await conn.execute(text(f"SELECT last_value FROM {schema}.concept_epoch"))
    return int(epoch.scalar_one())


async def bump_concept_epoch(conn: AsyncConnection, schema: str) -> int:
    """Tell the other writers that cached translations were dropped."""
    epoch = await conn.execute(text(f"SELECT nextval('{schema}.concept_epoch')"))
    return int(epoch.scalar_one())


async def asynchronous_commit(conn: AsyncConnection) -> None:
    """This transaction's commit does not wait for its WAL to reach the disk."""
    await conn.execute(text("SELECT set_config('synchronous_commit', 'off', true)"))


async def lock_persons(conn: AsyncConnection, generation: int, person_ids: Iterable[int]) -> None:
    """Lock persons for the transaction, in order (no two writers deadlock on them)."""
    ids = sorted(person_ids)
    if ids:
        await conn.execute(
            text(
                "SELECT count(pg_advisory_xact_lock((CAST(:g AS bigint) << 32) | p)) FROM "
                "(SELECT unnest(CAST(:p AS integer[])) AS p ORDER BY 1) AS s"
            ),
            {"g": generation, "p": ids},
        )
